//! Feeds → items: RSS 2.0 (and RSS 1.0/RDF), Atom and JSON Feed.
//!
//! XML is parsed strictly (roxmltree), so a malformed feed is an error naming the feed and the
//! line and column, never a silently shorter batch. Each item keeps its full content when the
//! feed carries it (`content:encoded`, Atom `content`, JSON Feed `content_html`/`content_text`),
//! else its description or summary.

use anyhow::{anyhow, bail, Result};
use roxmltree::{Document as XmlDocument, Node};
use serde_json::Value;

use super::sources::{BatchItem, ItemBody};

const CONTENT_MODULE_NS: &str = "http://purl.org/rss/1.0/modules/content/";
const ATOM_NS: &str = "http://www.w3.org/2005/Atom";

/// The kinds of feed precis reads, as sniffed from the first element or JSON `version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    Rss,
    Atom,
    JsonFeed,
}

/// Name of the first element of an XML document (skipping the declaration, comments and the
/// doctype), or None when `text` does not start like XML markup.
pub fn first_element_name(text: &str) -> Option<&str> {
    let mut rest = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
    loop {
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.get(after.find("-->")? + 3..)?.trim_start();
        } else if rest.starts_with("<?") || rest.starts_with("<!") {
            rest = rest.get(rest.find('>')? + 1..)?.trim_start();
        } else {
            break;
        }
    }
    let name = rest.strip_prefix('<')?;
    let end = name.find(|c: char| c.is_whitespace() || c == '>' || c == '/').unwrap_or(name.len());
    Some(&name[..end])
}

/// Which feed an XML text is, by its root element; None for any other XML or HTML.
pub fn sniff_xml_feed(text: &str) -> Option<FeedKind> {
    match first_element_name(text)? {
        "rss" | "rdf:RDF" => Some(FeedKind::Rss),
        "feed" => Some(FeedKind::Atom),
        _ => None,
    }
}

/// True when a JSON text is a JSON Feed (a whole object with a jsonfeed.org `version`).
pub fn parse_json_feed_value(text: &str) -> Option<Value> {
    let value: Value = serde_json::from_str(text).ok()?;
    let version = value.get("version")?.as_str()?;
    version.contains("jsonfeed.org").then_some(value)
}

/// Parses an RSS or Atom feed read from `origin` into items.
pub fn parse_xml_feed(origin: &str, text: &str, kind: FeedKind) -> Result<Vec<BatchItem>> {
    let document = XmlDocument::parse(text).map_err(|error| {
        let position = error.pos();
        anyhow!(
            "feed {origin} is not well-formed XML at line {}, column {}: {error}; fix the feed (or drop it from the command)",
            position.row,
            position.col
        )
    })?;
    let root = document.root_element();
    let items = match kind {
        FeedKind::Rss => rss_items(origin, text, root)?,
        FeedKind::Atom => atom_items(origin, text, root)?,
        FeedKind::JsonFeed => bail!("feed {origin}: a JSON Feed is not XML"),
    };
    Ok(items)
}

/// Line and column of a node, for messages.
fn position(document_text: &str, node: Node) -> String {
    let offset = node.range().start.min(document_text.len());
    let before = &document_text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |last| last.chars().count()) + 1;
    format!("line {line}, column {column}")
}

fn child<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Option<Node<'a, 'input>> {
    node.children().find(|c| c.is_element() && c.tag_name().name() == name)
}

fn child_text(node: Node, name: &str) -> Option<String> {
    child(node, name).map(|c| all_text(c)).filter(|t| !t.is_empty())
}

/// The text content of an element, CDATA included, trimmed.
fn all_text(node: Node) -> String {
    node.descendants().filter(|d| d.is_text()).filter_map(|d| d.text()).collect::<String>().trim().to_string()
}

fn rss_items(origin: &str, text: &str, root: Node) -> Result<Vec<BatchItem>> {
    // RSS 2.0 keeps items in <channel>; RSS 1.0 (RDF) beside it.
    let container = match root.tag_name().name() {
        "rss" => child(root, "channel").ok_or_else(|| anyhow!("feed {origin} has no <channel> element ({}); it is not a valid RSS 2.0 feed", position(text, root)))?,
        _ => root,
    };
    let mut items = Vec::new();
    for (index, item) in container.children().filter(|c| c.is_element() && c.tag_name().name() == "item").enumerate() {
        let full_content = item
            .children()
            .find(|c| c.is_element() && c.tag_name().name() == "encoded" && c.tag_name().namespace() == Some(CONTENT_MODULE_NS))
            .map(all_text)
            .filter(|t| !t.is_empty());
        let content = full_content.or_else(|| child_text(item, "description"));
        let link = child_text(item, "link");
        items.push(BatchItem {
            id: child_text(item, "guid"),
            link: link.clone(),
            title: child_text(item, "title"),
            published: child_text(item, "pubDate").or_else(|| child_text(item, "date")),
            source: format!("{origin} item {} ({})", index + 1, position(text, item)),
            body: feed_body(content, link),
        });
    }
    Ok(items)
}

fn atom_items(origin: &str, text: &str, root: Node) -> Result<Vec<BatchItem>> {
    if root.tag_name().namespace() != Some(ATOM_NS) {
        bail!("feed {origin} has a <feed> root outside the Atom namespace ({ATOM_NS}); it is not an Atom feed");
    }
    let mut items = Vec::new();
    for (index, entry) in root.children().filter(|c| c.is_element() && c.tag_name().name() == "entry").enumerate() {
        let content = child(entry, "content").or_else(|| child(entry, "summary")).and_then(|element| atom_text_construct(text, element));
        let link = entry
            .children()
            .filter(|c| c.is_element() && c.tag_name().name() == "link")
            .find(|l| matches!(l.attribute("rel"), None | Some("alternate")))
            .and_then(|l| l.attribute("href"))
            .map(str::to_string);
        items.push(BatchItem {
            id: child_text(entry, "id"),
            link: link.clone(),
            title: child_text(entry, "title"),
            published: child_text(entry, "published").or_else(|| child_text(entry, "updated")),
            source: format!("{origin} entry {} ({})", index + 1, position(text, entry)),
            body: feed_body(content, link),
        });
    }
    Ok(items)
}

/// An Atom text construct as HTML: `type="xhtml"` keeps its markup (the source slice of the
/// wrapping div); `html` and `text` are their (unescaped) text.
fn atom_text_construct(document_text: &str, element: Node) -> Option<String> {
    let content = if element.attribute("type") == Some("xhtml") {
        let div = element.children().find(|c| c.is_element())?;
        document_text.get(div.range())?.to_string()
    } else {
        all_text(element)
    };
    (!content.trim().is_empty()).then_some(content)
}

/// A feed item's content is HTML (or plain text, which the HTML reader takes as is).
fn feed_body(content: Option<String>, link: Option<String>) -> ItemBody {
    match (content, link) {
        (Some(html), _) => ItemBody::Html(html),
        (None, Some(link)) => ItemBody::LinkOnly(link),
        (None, None) => ItemBody::Invalid("the feed item has no content, description or link".to_string()),
    }
}

/// Parses a JSON Feed (version 1 or 1.1) already read as JSON.
pub fn json_feed_items(origin: &str, feed: &Value) -> Result<Vec<BatchItem>> {
    let Some(entries) = feed.get("items").and_then(Value::as_array) else {
        bail!("feed {origin} is a JSON Feed without an `items` array; fix the feed (or drop it from the command)");
    };
    let text_field = |entry: &Value, name: &str| entry.get(name).and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
    let mut items = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let source = format!("{origin} item {}", index + 1);
        if !entry.is_object() {
            items.push(BatchItem { source, body: ItemBody::Invalid("a JSON Feed item must be an object".to_string()), ..BatchItem::default() });
            continue;
        }
        let link = text_field(entry, "url");
        let body = if let Some(html) = text_field(entry, "content_html") {
            ItemBody::Html(html)
        } else if let Some(text) = text_field(entry, "content_text") {
            ItemBody::Text(text)
        } else if let Some(summary) = text_field(entry, "summary") {
            ItemBody::Text(summary)
        } else {
            feed_body(None, link.clone())
        };
        let id = match entry.get("id") {
            Some(Value::String(id)) => Some(id.clone()),
            Some(Value::Number(id)) => Some(id.to_string()),
            _ => None,
        };
        items.push(BatchItem {
            id,
            link,
            title: text_field(entry, "title"),
            published: text_field(entry, "date_published").or_else(|| text_field(entry, "date_modified")),
            source,
            body,
        });
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_the_root_element_past_declaration_and_comments() {
        assert_eq!(sniff_xml_feed("<?xml version=\"1.0\"?>\n<!-- c -->\n<rss version=\"2.0\">"), Some(FeedKind::Rss));
        assert_eq!(sniff_xml_feed("\u{FEFF}<feed xmlns=\"http://www.w3.org/2005/Atom\">"), Some(FeedKind::Atom));
        assert_eq!(sniff_xml_feed("<!DOCTYPE html><html><body>"), None);
        assert_eq!(sniff_xml_feed("plain words"), None);
    }

    #[test]
    fn malformed_xml_names_feed_line_and_column() {
        let error = parse_xml_feed("bad.rss", "<rss><channel>\n<item><title>x</item>", FeedKind::Rss).unwrap_err().to_string();
        assert!(error.contains("bad.rss") && error.contains("line 2"), "{error}");
    }

    #[test]
    fn rss_prefers_full_content_over_description() {
        let feed = r#"<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
            <item><guid>a</guid><title>T</title><description>teaser</description><content:encoded><![CDATA[<p>Full text.</p>]]></content:encoded></item>
            <item><guid>b</guid><description>only a teaser</description></item>
            <item><link>https://example.org/c</link></item>
        </channel></rss>"#;
        let items = parse_xml_feed("f.rss", feed, FeedKind::Rss).unwrap();
        assert_eq!(items.len(), 3);
        assert!(matches!(&items[0].body, ItemBody::Html(h) if h == "<p>Full text.</p>"));
        assert!(matches!(&items[1].body, ItemBody::Html(h) if h == "only a teaser"));
        assert!(matches!(&items[2].body, ItemBody::LinkOnly(l) if l == "https://example.org/c"));
        assert_eq!(items[0].title.as_deref(), Some("T"));
    }
}
