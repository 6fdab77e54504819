//! Batch inputs → items. Each argument is detected by content: an RSS/RDF/Atom/JSON Feed in
//! any encoding, JSONL (`id`, optional `title`, one of `text`/`html`/`url`), a directory of
//! `.txt`/`.md`/`.html` files, `-` for JSONL on standard input, or any other file as one
//! article. XML that is not a feed (or a feed format precis does not read) is refused, naming
//! what it is, rather than summarized as an article.
//!
//! A feed or input that cannot be read at all is an error for the whole batch (before any
//! work starts); one bad item inside an input becomes an item that fails, is recorded with its
//! error, and lets the batch go on. Repairs made to read a feed are warnings, given once.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use super::feeds::{self, Classified, FeedRead};
use super::item::{BatchItem, ItemBody};
use crate::input::decode;

/// One input file, feed or URL is refused past this size.
pub const MAX_SOURCE_BYTES: u64 = 256 * 1024 * 1024;
/// File extensions read from a directory input.
const ARTICLE_EXTENSIONS: &[&str] = &["txt", "md", "markdown", "html", "htm"];

/// The items of the inputs, and what to tell the user once about reading them.
#[derive(Debug, Default)]
pub struct InputItems {
    pub items: Vec<BatchItem>,
    /// Repairs and guesses made to read an input (each names it); every item of that input
    /// carries them too.
    pub warnings: Vec<String>,
    /// Inputs that hold no items (a feed with no items).
    pub notices: Vec<String>,
}

impl InputItems {
    fn of(items: Vec<BatchItem>) -> InputItems {
        InputItems { items, ..InputItems::default() }
    }

    fn extend(&mut self, other: InputItems) {
        // The first input's items are taken as they are: copied into an empty list, a large
        // feed's items were held twice for a moment.
        if self.items.is_empty() {
            self.items = other.items;
        } else {
            self.items.extend(other.items);
        }
        self.warnings.extend(other.warnings);
        self.notices.extend(other.notices);
    }
}

/// Reads every input argument into items, in order. Standard input may be given once.
pub fn read_inputs(inputs: &[String]) -> Result<InputItems> {
    if inputs.iter().filter(|i| i.as_str() == "-").count() > 1 {
        bail!("standard input (-) can be read only once; give it at most one time");
    }
    let mut read = InputItems::default();
    for input in inputs {
        read.extend(read_input(input)?);
    }
    Ok(read)
}

fn read_input(input: &str) -> Result<InputItems> {
    if input == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().lock().take(MAX_SOURCE_BYTES + 1).read_to_end(&mut bytes).context("cannot read standard input")?;
        if bytes.len() as u64 > MAX_SOURCE_BYTES {
            bail!("standard input is over the {} MiB batch input limit; split it", MAX_SOURCE_BYTES / (1024 * 1024));
        }
        let decoded = decode::decode("standard input", &bytes).map_err(|error| anyhow!("{error}"))?;
        let mut read = InputItems::of(jsonl_items("<standard input>", &decoded.text));
        read.warnings = decoded.warnings;
        return Ok(read);
    }
    if input.starts_with("http://") || input.starts_with("https://") {
        let (bytes, charset) = fetch_source(input)?;
        return read_bytes(input, bytes, Some(Served { charset: charset.as_deref() }));
    }
    let path = Path::new(input);
    let metadata = std::fs::metadata(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => anyhow!("input {input} not found; check the path (batch reads feeds, JSONL, directories, or - for JSONL on standard input)"),
        _ => anyhow!("cannot read input {input}: {error}"),
    })?;
    if metadata.is_dir() {
        return directory_items(path).map(InputItems::of);
    }
    if metadata.len() > MAX_SOURCE_BYTES {
        bail!("input {input} is {} bytes, over the {} MiB batch input limit; split it", metadata.len(), MAX_SOURCE_BYTES / (1024 * 1024));
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read input {input}"))?;
    items_from_bytes(input, bytes)
}

/// How a downloaded input was served.
struct Served<'a> {
    /// The `charset` of its `Content-Type`, when given.
    charset: Option<&'a str>,
}

/// The items of one input file already in memory: a feed's items, JSONL lines, or else the
/// whole file as one article (also when it cannot be decoded: the article reader says why).
/// Public so that the fuzz targets run exactly this.
pub fn items_from_bytes(origin: &str, bytes: Vec<u8>) -> Result<InputItems> {
    read_bytes(origin, bytes, None)
}

/// Decodes an input (its own declaration, byte-order mark or HTTP charset decides) and reads
/// what it is. A downloaded input must be a feed or JSONL.
fn read_bytes(origin: &str, bytes: Vec<u8>, served: Option<Served>) -> Result<InputItems> {
    let downloaded = served.is_some();
    let decoded = match decode::decode_with_charset(origin, &bytes, served.as_ref().and_then(|s| s.charset)) {
        Ok(decoded) => decoded,
        Err(error) if downloaded => bail!("feed {origin} cannot be read: {error}"),
        // XML that cannot be decoded is a feed (or other XML) that cannot be read, not an article.
        Err(error) if looks_like_xml(origin, &bytes) => bail!("{error}"),
        Err(_) => return Ok(InputItems::of(vec![file_item(origin, bytes)])),
    };
    match feeds::classify(origin, &decoded.text) {
        // The bytes are needed again only for an article; a feed's are let go before parsing.
        Classified::XmlFeed => {
            drop(bytes);
            let read = feeds::read_xml_feed(origin, &decoded.text, downloaded.then_some(origin))?;
            Ok(feed_items(origin, read, decoded.warnings))
        }
        Classified::JsonFeed(feed) => Ok(feed_items(origin, feeds::read_json_feed(origin, &feed)?, decoded.warnings)),
        Classified::BrokenJsonFeed(error) => Err(error),
        Classified::Json => {
            drop(bytes);
            let mut read = InputItems::of(jsonl_items(origin, &decoded.text));
            read.warnings = decoded.warnings;
            Ok(read)
        }
        Classified::NotAFeed(message) => Err(anyhow!("{message}")),
        Classified::Other if downloaded => Err(not_a_feed(origin, &decoded.text)),
        Classified::Other => Ok(InputItems::of(vec![file_item(origin, bytes)])),
    }
}

/// Bytes that are XML (a feed or not) by their first element, read as if they were UTF-8.
fn looks_like_xml(origin: &str, bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(64 * 1024)]);
    matches!(feeds::classify(origin, &head), Classified::XmlFeed | Classified::NotAFeed(_))
}

/// A feed's items, each carrying the warnings about how the feed was read.
fn feed_items(origin: &str, read: FeedRead, decoding_warnings: Vec<String>) -> InputItems {
    let mut warnings = decoding_warnings;
    warnings.extend(read.warnings);
    let mut items = read.items;
    for item in &mut items {
        item.warnings.splice(0..0, warnings.iter().cloned());
    }
    let notices = if items.is_empty() { vec![format!("feed {origin} ({}) has no items", read.format)] } else { Vec::new() };
    InputItems { items, warnings, notices }
}

/// A URL given as an input must be a feed (or JSONL): an HTML page there is usually a login,
/// error or home page served instead of the feed, and summarizing it would hide that.
fn not_a_feed(url: &str, text: &str) -> anyhow::Error {
    let what = if crate::input::detect_format(url, text) == crate::input::SourceFormat::Html { "an HTML page" } else { "text" };
    let opening: String = text.split_whitespace().take(20).collect::<Vec<_>>().join(" ").chars().take(80).collect();
    anyhow!("feed {url} answered with {what}, not an RSS, Atom or JSON feed (it begins: {opening:?}); check the feed's address")
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
    let mut item = BatchItem { id: id.clone(), link: link.clone(), title: string("title"), published: string("published"), source: source.clone(), body: ItemBody::default(), warnings: Vec::new() };
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
/// Returns the bytes and the `charset` of the `Content-Type`, when it has one.
fn fetch_source(url: &str) -> Result<(Vec<u8>, Option<String>)> {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(15))
        .timeout_read(Duration::from_secs(30))
        .redirects(5)
        .user_agent(&format!("precis/{} (batch)", env!("CARGO_PKG_VERSION")))
        .build();
    let response = agent.get(url).call().map_err(|error| anyhow!("cannot download feed {url}: {error}"))?;
    let charset = response.header("Content-Type").and_then(decode::charset_of_content_type);
    let mut bytes = Vec::new();
    response.into_reader().take(MAX_SOURCE_BYTES + 1).read_to_end(&mut bytes).with_context(|| format!("cannot download feed {url}"))?;
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        bail!("feed {url} is over the {} MiB batch input limit", MAX_SOURCE_BYTES / (1024 * 1024));
    }
    Ok((bytes, charset))
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

    #[test]
    fn xml_that_is_not_a_feed_is_refused_and_html_is_an_article() {
        let error = items_from_bytes("catalog.xml", b"<?xml version=\"1.0\"?>\n<catalog><book/></catalog>".to_vec()).unwrap_err();
        assert!(error.to_string().contains("root element is <catalog>"), "{error}");
        let read = items_from_bytes("page.html", b"<!DOCTYPE html><html><body><p>Words.</p></body></html>".to_vec()).unwrap();
        assert!(matches!(read.items[0].body, ItemBody::File { .. }));
    }

    #[test]
    fn a_feed_in_latin1_is_read_as_a_feed() {
        let bytes = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><item><title>Inova\xE7\xE3o</title><description>Not\xEDcia do dia.</description></item></channel></rss>".to_vec();
        let read = items_from_bytes("latin1.rss", bytes).unwrap();
        assert_eq!(read.items.len(), 1);
        assert_eq!(read.items[0].title.as_deref(), Some("Inovação"));
        assert!(read.warnings.is_empty(), "{:?}", read.warnings);
    }

    #[test]
    fn an_empty_feed_is_a_notice() {
        let read = items_from_bytes("empty.rss", b"<rss version=\"2.0\"><channel><title>Nothing yet</title></channel></rss>".to_vec()).unwrap();
        assert!(read.items.is_empty());
        assert_eq!(read.notices, ["feed empty.rss (RSS 2.0) has no items"]);
    }
}
