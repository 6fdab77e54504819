//! Batch inputs → items. Each argument is detected by content: an RSS/Atom/JSON Feed, JSONL
//! (`id`, optional `title`, one of `text`/`html`/`url`), a directory of `.txt`/`.md`/`.html`
//! files, `-` for JSONL on standard input, or any other file as one article.
//!
//! A feed or input that cannot be read at all is an error for the whole batch (before any
//! work starts); one bad item inside an input becomes an item that fails, is recorded with its
//! error, and lets the batch go on.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use super::feeds;

/// One input file, feed or URL is refused past this size.
pub const MAX_SOURCE_BYTES: u64 = 256 * 1024 * 1024;
/// File extensions read from a directory input.
const ARTICLE_EXTENSIONS: &[&str] = &["txt", "md", "markdown", "html", "htm"];

/// One thing to summarize, with what its source says about it.
#[derive(Debug, Clone, Default)]
pub struct BatchItem {
    /// The guid / id given by the source, if any.
    pub id: Option<String>,
    pub link: Option<String>,
    /// The original title.
    pub title: Option<String>,
    /// The publication date as the source wrote it.
    pub published: Option<String>,
    /// Where it is, for messages and records: "news.rss item 3 (line 40, column 5)", "a.jsonl line 7".
    pub source: String,
    pub body: ItemBody,
}

/// What an item carries to summarize.
#[derive(Debug, Clone)]
pub enum ItemBody {
    /// HTML (a feed item's content, a JSONL `html` field).
    Html(String),
    /// Plain text (JSONL `text`, JSON Feed `content_text`).
    Text(String),
    /// A whole article file: bytes and its path (whose extension hints the format).
    File { path: String, bytes: Vec<u8> },
    /// Only a link to the article: it must be downloaded (`--fetch`) to be summarized.
    LinkOnly(String),
    /// The source entry could not be read; the item is recorded as failed with this reason.
    Invalid(String),
}

impl Default for ItemBody {
    fn default() -> Self {
        ItemBody::Invalid(String::new())
    }
}

/// Reads every input argument into items, in order. Standard input may be given once.
pub fn read_inputs(inputs: &[String]) -> Result<Vec<BatchItem>> {
    if inputs.iter().filter(|i| i.as_str() == "-").count() > 1 {
        bail!("standard input (-) can be read only once; give it at most one time");
    }
    let mut items = Vec::new();
    for input in inputs {
        items.extend(read_input(input)?);
    }
    Ok(items)
}

fn read_input(input: &str) -> Result<Vec<BatchItem>> {
    if input == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().lock().take(MAX_SOURCE_BYTES + 1).read_to_end(&mut bytes).context("cannot read standard input")?;
        let text = decode_source("standard input", &bytes)?;
        return Ok(jsonl_items("<standard input>", &text));
    }
    if input.starts_with("http://") || input.starts_with("https://") {
        let bytes = fetch_source(input)?;
        let text = decode_source(input, &bytes)?;
        return items_from_text(input, &text).unwrap_or_else(|| Err(not_a_feed(input, &text)));
    }
    let path = Path::new(input);
    let metadata = std::fs::metadata(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => anyhow!("input {input} not found; check the path (batch reads feeds, JSONL, directories, or - for JSONL on standard input)"),
        _ => anyhow!("cannot read input {input}: {error}"),
    })?;
    if metadata.is_dir() {
        return directory_items(path);
    }
    if metadata.len() > MAX_SOURCE_BYTES {
        bail!("input {input} is {} bytes, over the {} MiB batch input limit; split it", metadata.len(), MAX_SOURCE_BYTES / (1024 * 1024));
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read input {input}"))?;
    items_from_bytes(input, bytes)
}

/// The items of one input file already in memory: a feed's items, JSONL lines, or else the
/// whole file as one article (also when it is not UTF-8: it may be an article in another
/// encoding). Public so that the fuzz targets run exactly this.
pub fn items_from_bytes(origin: &str, bytes: Vec<u8>) -> Result<Vec<BatchItem>> {
    let items = match std::str::from_utf8(&bytes) {
        Ok(text) => items_from_text(origin, text),
        Err(_) => None,
    };
    items.unwrap_or_else(|| Ok(vec![file_item(origin, bytes)]))
}

/// Detects what a text is by its content and reads its items; None when it is neither a feed
/// nor JSONL.
fn items_from_text(origin: &str, text: &str) -> Option<Result<Vec<BatchItem>>> {
    if let Some(kind) = feeds::sniff_xml_feed(text) {
        return Some(feeds::parse_xml_feed(origin, text, kind));
    }
    let trimmed = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
    if !trimmed.starts_with('{') {
        return None;
    }
    if let Some(feed) = feeds::parse_json_feed_value(trimmed) {
        return Some(feeds::json_feed_items(origin, &feed));
    }
    if looks_like_json_feed(trimmed) {
        // Say where the JSON is broken rather than reading a broken feed as JSONL.
        if let Err(error) = serde_json::from_str::<Value>(trimmed) {
            return Some(Err(anyhow!("feed {origin} is not valid JSON at line {}, column {}: {error}; fix the feed (or drop it from the command)", error.line(), error.column())));
        }
    }
    Some(Ok(jsonl_items(origin, text)))
}

/// A URL given as an input must be a feed (or JSONL): an HTML page there is usually a login,
/// error or home page served instead of the feed, and summarizing it would hide that.
fn not_a_feed(url: &str, text: &str) -> anyhow::Error {
    let what = if crate::input::detect_format(url, text) == crate::input::SourceFormat::Html { "an HTML page" } else { "text" };
    let opening: String = text.split_whitespace().take(20).collect::<Vec<_>>().join(" ").chars().take(80).collect();
    anyhow!("feed {url} answered with {what}, not an RSS, Atom or JSON feed (it begins: {opening:?}); check the feed's address")
}

/// A JSON text that announces itself as a JSON Feed in its first kilobyte.
fn looks_like_json_feed(text: &str) -> bool {
    let head: String = text.chars().take(1024).collect();
    head.contains("jsonfeed.org")
}

fn decode_source(origin: &str, bytes: &[u8]) -> Result<String> {
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        bail!("input {origin} is over the {} MiB batch input limit; split it", MAX_SOURCE_BYTES / (1024 * 1024));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    String::from_utf8(bytes.to_vec()).map_err(|error| anyhow!("input {origin} is not UTF-8 (byte {}); convert it to UTF-8 first", error.utf8_error().valid_up_to()))
}

fn file_item(path: &str, bytes: Vec<u8>) -> BatchItem {
    BatchItem { id: Some(path.to_string()), source: path.to_string(), body: ItemBody::File { path: path.to_string(), bytes }, ..BatchItem::default() }
}

/// Every `.txt`/`.md`/`.html` file under a directory (recursively), in path order.
fn directory_items(directory: &Path) -> Result<Vec<BatchItem>> {
    let mut files = Vec::new();
    collect_article_files(directory, &mut files)?;
    files.sort();
    let mut items = Vec::new();
    for file in files {
        let name = file.to_string_lossy().into_owned();
        // Refused unread: an article over the limit would be refused after reading anyway.
        let size = std::fs::metadata(&file).map(|metadata| metadata.len()).unwrap_or(0);
        if size > crate::input::MAX_INPUT_BYTES as u64 {
            let reason = format!("the file is {size} bytes, and precis reads articles of at most {} MiB; pass only the article text", crate::input::MAX_INPUT_BYTES / (1024 * 1024));
            items.push(BatchItem { id: Some(name.clone()), source: name, body: ItemBody::Invalid(reason), ..BatchItem::default() });
            continue;
        }
        match std::fs::read(&file) {
            Ok(bytes) => items.push(file_item(&name, bytes)),
            Err(error) => items.push(BatchItem { id: Some(name.clone()), source: name, body: ItemBody::Invalid(format!("cannot read the file: {error}")), ..BatchItem::default() }),
        }
    }
    Ok(items)
}

fn collect_article_files(directory: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(directory).with_context(|| format!("cannot list directory {}", directory.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list directory {}", directory.display()))?;
        let path = entry.path();
        let file_type = entry.file_type().with_context(|| format!("cannot read {}", path.display()))?;
        if file_type.is_dir() {
            collect_article_files(&path, files)?;
        } else if path.extension().and_then(|e| e.to_str()).is_some_and(|e| ARTICLE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())) {
            files.push(path);
        }
    }
    Ok(())
}

/// JSONL items: one object per non-blank line. A line that is not such an object is an item
/// that fails (with its line number), so one bad line does not stop the batch.
pub fn jsonl_items(origin: &str, text: &str) -> Vec<BatchItem> {
    let mut items = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let source = format!("{origin} line {}", index + 1);
        items.push(jsonl_item(source, line));
    }
    items
}

fn jsonl_item(source: String, line: &str) -> BatchItem {
    let invalid = |reason: String| BatchItem { source: source.clone(), body: ItemBody::Invalid(reason), ..BatchItem::default() };
    let value: Value = match serde_json::from_str(line) {
        Ok(value) => value,
        Err(error) => return invalid(format!("not valid JSON at column {}: {error}; each line must be one JSON object", error.column())),
    };
    let Some(object) = value.as_object() else {
        return invalid("the line is JSON but not an object; each line must be an object with `id` and `text`, `html` or `url`".to_string());
    };
    let string = |name: &str| object.get(name).and_then(Value::as_str).map(str::to_string);
    let id = match object.get("id") {
        Some(Value::String(id)) if !id.trim().is_empty() => Some(id.clone()),
        Some(Value::Number(id)) => Some(id.to_string()),
        _ => None,
    };
    let link = string("url").or_else(|| string("link"));
    let mut item = BatchItem { id: id.clone(), link: link.clone(), title: string("title"), published: string("published"), source: source.clone(), body: ItemBody::default() };
    item.body = if id.is_none() {
        ItemBody::Invalid("the record has no `id` (a non-empty string or a number)".to_string())
    } else if let Some(text) = string("text") {
        ItemBody::Text(text)
    } else if let Some(html) = string("html") {
        ItemBody::Html(html)
    } else if let Some(url) = string("url") {
        ItemBody::LinkOnly(url)
    } else {
        ItemBody::Invalid("the record has none of `text`, `html` or `url`".to_string())
    };
    item
}

/// Downloads a feed given as a URL: http(s) only, timeouts, a redirect limit, a size cap.
fn fetch_source(url: &str) -> Result<Vec<u8>> {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(15))
        .timeout_read(Duration::from_secs(30))
        .redirects(5)
        .user_agent(&format!("precis/{} (batch)", env!("CARGO_PKG_VERSION")))
        .build();
    let response = agent.get(url).call().map_err(|error| anyhow!("cannot download feed {url}: {error}"))?;
    let mut bytes = Vec::new();
    response.into_reader().take(MAX_SOURCE_BYTES + 1).read_to_end(&mut bytes).with_context(|| format!("cannot download feed {url}"))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_line_needs_an_id_and_one_content_field() {
        assert!(matches!(jsonl_item("l1".into(), r#"{"id":"a","text":"Words."}"#).body, ItemBody::Text(_)));
        assert!(matches!(jsonl_item("l1".into(), r#"{"id":7,"url":"https://example.org/x"}"#).body, ItemBody::LinkOnly(_)));
        assert!(matches!(jsonl_item("l1".into(), r#"{"text":"Words."}"#).body, ItemBody::Invalid(_)));
        assert!(matches!(jsonl_item("l1".into(), r#"{"id":"a"}"#).body, ItemBody::Invalid(_)));
        assert!(matches!(jsonl_item("l1".into(), "{not json").body, ItemBody::Invalid(_)));
    }
}
