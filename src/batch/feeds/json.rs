//! JSON Feed 1.0 and 1.1 → items (<https://www.jsonfeed.org/version/1.1/>).
//!
//! A JSON text is a JSON Feed when it is one object whose `version` names jsonfeed.org. An
//! item's text is the longest of `content_html`, `content_text` and `summary` (`content::choose`).

use anyhow::{anyhow, bail, Result};
use serde_json::Value;

use super::super::item::{BatchItem, ItemBody};
use super::content::{self, Candidate, ItemFields, Markup};
use super::{json_feed_format, Classified, FeedRead};

/// A JSON Feed, JSON that says it is one but is broken, or other JSON (JSONL).
pub fn classify(origin: &str, text: &str) -> Classified {
    // Only `version` is kept while checking, so a giant JSONL line is not built into a tree
    // (and then thrown away) just to learn that it is not a feed.
    let is_json_feed = |probe: &VersionProbe| probe.version.as_ref().and_then(Value::as_str).is_some_and(|v| v.contains("jsonfeed.org"));
    match serde_json::from_str::<VersionProbe>(text).and_then(|probe| if is_json_feed(&probe) { serde_json::from_str::<Value>(text).map(Some) } else { Ok(None) }) {
        Ok(Some(feed)) => Classified::JsonFeed(feed),
        // Say where a feed's JSON is broken rather than reading it as JSONL.
        Err(error) if announces_json_feed(text) => Classified::BrokenJsonFeed(if error.is_eof() {
            anyhow!("feed {origin} is truncated: its JSON ends at line {}, column {} before it is complete; download it again or fix the feed", error.line(), error.column())
        } else {
            anyhow!("feed {origin} is not valid JSON at line {}, column {}: {error}; fix the feed (or drop it from the command)", error.line(), error.column())
        }),
        _ => Classified::Json,
    }
}

/// The `version` member of a JSON object; every other member is skipped unread.
#[derive(serde::Deserialize)]
struct VersionProbe {
    #[serde(default)]
    version: Option<Value>,
}

/// A `"version": "https://jsonfeed.org/…"` member in the first kilobyte.
fn announces_json_feed(text: &str) -> bool {
    let head: String = text.chars().take(1024).collect();
    head.match_indices("\"version\"").any(|(at, key)| {
        let value = head[at + key.len()..].trim_start().strip_prefix(':').map(str::trim_start);
        value.and_then(|v| v.strip_prefix('"')).is_some_and(|v| v.split('"').next().is_some_and(|v| v.contains("jsonfeed.org")))
    })
}

pub fn read(origin: &str, feed: &Value) -> Result<FeedRead> {
    let version = feed.get("version").and_then(Value::as_str).unwrap_or_default();
    let entries = match feed.get("items") {
        Some(Value::Array(entries)) => entries.as_slice(),
        None => &[],
        Some(_) => bail!("feed {origin} is a JSON Feed whose `items` is not an array; fix the feed (or drop it from the command)"),
    };
    let text = |entry: &Value, name: &str| entry.get(name).and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
    let mut items = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let source = format!("{origin} item {}", index + 1);
        if !entry.is_object() {
            items.push(BatchItem { source, body: ItemBody::Invalid("a JSON Feed item must be an object".to_string()), ..BatchItem::default() });
            continue;
        }
        let title = text(entry, "title").and_then(|t| content::plain_title(&t, false));
        let link = text(entry, "url").or_else(|| text(entry, "external_url"));
        let mut fields = ItemFields {
            title: title.clone(),
            link: link.clone(),
            has_media: ["image", "banner_image", "attachments"].iter().any(|name| entry.get(name).is_some_and(|v| !v.is_null())),
            ..ItemFields::default()
        };
        for (name, markup) in [("content_html", Markup::Html), ("content_text", Markup::Plain), ("summary", Markup::Plain)] {
            if let Some(value) = text(entry, name) {
                fields.candidates.push(Candidate { field: name.to_string(), text: value, markup });
            }
        }
        let (body, warnings) = content::choose(fields);
        let id = match entry.get("id") {
            Some(Value::String(id)) if !id.trim().is_empty() => Some(id.clone()),
            Some(Value::Number(id)) => Some(id.to_string()),
            _ => None,
        };
        items.push(BatchItem {
            id,
            link,
            title,
            published: text(entry, "date_published").or_else(|| text(entry, "date_modified")),
            source,
            body,
            warnings,
        });
    }
    Ok(FeedRead { format: json_feed_format(version), items, warnings: Vec::new() })
}
