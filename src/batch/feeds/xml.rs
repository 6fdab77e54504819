//! XML feeds → items: RSS 0.90–2.0, RSS 1.0 (RDF), Atom 0.3 and 1.0, and Atom entry documents.
//!
//! The text is first repaired where feed readers are tolerant (`repair`), then parsed strictly
//! by roxmltree (DTDs read, never fetched), so a feed broken in its structure is an error
//! naming the feed, the line and column of the file and the defect. Elements are matched by
//! local name and, where names collide, namespace; unknown namespaces are ignored. Each item's
//! text fields go to `content::choose`.

use anyhow::{anyhow, Result};
use roxmltree::{Document, Node, ParsingOptions};

use super::super::item::BatchItem;
use super::content::{self, Candidate, ItemFields, Markup, Unusable};
use super::repair::{self, RepairedXml};
use super::FeedRead;

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
const ATOM_03_NS: &str = "http://purl.org/atom/ns#";
const CONTENT_NS: &str = "http://purl.org/rss/1.0/modules/content/";
const DUBLIN_CORE_NS: &str = "http://purl.org/dc/elements/1.1/";
const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";
const ITUNES_NS: &str = "http://www.itunes.com/dtds/podcast-1.0.dtd";
const XHTML_NS: &str = "http://www.w3.org/1999/xhtml";
const RDF_NS: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
const RSS_090_NS: &str = "http://my.netscape.com/rdf/simple/0.9/";
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Undeclared prefixes declared by the repair before giving up.
const MAX_DECLARED_PREFIXES: usize = 32;

/// What the root element says the document is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlKind {
    Rss,
    Rdf,
    Atom,
    AtomEntry,
    /// Microsoft's Channel Definition Format, which precis does not read.
    Cdf,
    Opml,
    /// An XHTML page: an article, not a feed.
    Xhtml,
    /// Any other XML; the root element's name.
    Other(String),
}

/// The kind of an XML text by its root element's (qualified) name.
pub fn kind_of_root(name: &str) -> XmlKind {
    let local = name.rsplit(':').next().unwrap_or(name);
    match local {
        "rss" => XmlKind::Rss,
        "RDF" => XmlKind::Rdf,
        "feed" => XmlKind::Atom,
        "entry" => XmlKind::AtomEntry,
        "CHANNEL" => XmlKind::Cdf,
        "opml" => XmlKind::Opml,
        _ if local.eq_ignore_ascii_case("html") => XmlKind::Xhtml,
        _ => XmlKind::Other(name.to_string()),
    }
}

/// Parses a feed (its root already known to be RSS, RDF, Atom or an Atom entry) into items.
/// `base_url` resolves relative links (the feed's own address when it was downloaded).
pub fn read(origin: &str, text: &str, base_url: Option<&str>) -> Result<FeedRead> {
    let mut repaired = repair::repair(text);
    let options = ParsingOptions { allow_dtd: true, ..ParsingOptions::default() };
    let mut declared = 0;
    loop {
        let prefix = match Document::parse_with_options(&repaired.text, options) {
            Ok(_) => break,
            Err(roxmltree::Error::UnknownNamespace(prefix, _)) if declared < MAX_DECLARED_PREFIXES => prefix,
            Err(error) => return Err(parse_error(origin, text, &repaired, &error)),
        };
        if !repaired.declare_prefix(&prefix) {
            return Err(anyhow!("feed {origin} uses the namespace prefix `{prefix}:` without declaring it; declare it (xmlns:{prefix}=\"…\") or fix the feed"));
        }
        declared += 1;
    }
    // Parsed again: the successful parse above borrows a text the loop may still change.
    let document = Document::parse_with_options(&repaired.text, options).map_err(|error| parse_error(origin, text, &repaired, &error))?;
    let reader = Reader { origin, original: text, repaired: &repaired, base_url, positions: Default::default() };
    let root = document.root_element();
    let (format, items) = match kind_of_root(root.tag_name().name()) {
        XmlKind::Rss => (rss_version(root), reader.rss_items(root)),
        XmlKind::Rdf => {
            let format = if root.children().any(|c| c.is_element() && c.tag_name().namespace() == Some(RSS_090_NS)) { "RSS 0.90" } else { "RSS 1.0" };
            (format.to_string(), reader.rss_items(root))
        }
        XmlKind::Atom => (atom_version(root), reader.atom_entries(root)),
        XmlKind::AtomEntry => (format!("{} entry", atom_version(root)), vec![reader.atom_entry(root, 0)]),
        other => return Err(anyhow!("feed {origin}: {other:?} is not a feed root")),
    };
    let warnings = repaired.warnings.iter().map(|warning| format!("feed {origin}: {warning}")).collect();
    Ok(FeedRead { format, items, warnings })
}

fn rss_version(root: Node) -> String {
    match root.attribute("version") {
        Some(version) if !version.trim().is_empty() => format!("RSS {}", version.trim()),
        _ => "RSS".to_string(),
    }
}

fn atom_version(root: Node) -> String {
    match root.tag_name().namespace() {
        Some(ATOM_NS) => "Atom 1.0".to_string(),
        Some(ATOM_03_NS) => "Atom 0.3".to_string(),
        _ if root.attribute("version") == Some("0.3") => "Atom 0.3".to_string(),
        _ => "Atom".to_string(),
    }
}

/// A parse error in words, at the line and column of the original file.
fn parse_error(origin: &str, original: &str, repaired: &RepairedXml, error: &roxmltree::Error) -> anyhow::Error {
    use roxmltree::Error as E;
    let (line, column) = if matches!(error, E::UnclosedRootNode | E::NoRootNode) {
        line_and_column(original, original.trim_end().len())
    } else {
        let position = error.pos();
        let offset = offset_of(&repaired.text, position.row, position.col);
        line_and_column(original, repaired.original_offset(offset))
    };
    let defect = match error {
        E::UnclosedRootNode => {
            let root = repair::root_start_tag(original).map_or("root", |root| root.name);
            return anyhow!("feed {origin} is truncated: it ends at line {line}, column {column} before its <{root}> element is closed; download it again or fix the feed");
        }
        E::NoRootNode => format!("it has no root element"),
        E::UnexpectedCloseTag(expected, actual, _) => format!("the end tag </{actual}> does not close the open element <{expected}>"),
        E::UnknownEntityReference(name, _) => format!("the entity &{name}; is not defined"),
        E::EntityReferenceLoop(_) => "its entities refer to each other too deeply (an entity loop or expansion bomb)".to_string(),
        E::DuplicatedAttribute(name, _) => format!("the attribute {name} appears twice in one element"),
        E::InvalidAttributeValue(_) => "an attribute value contains a '<'".to_string(),
        E::UnknownNamespace(prefix, _) => format!("the namespace prefix `{prefix}:` is not declared"),
        other => {
            // roxmltree's messages end with its own position in the repaired text.
            let message = other.to_string();
            match message.rfind(" at ") {
                Some(at) => message[..at].to_string(),
                None => message,
            }
        }
    };
    anyhow!("feed {origin} is not well-formed XML at line {line}, column {column}: {defect}; fix the feed (or drop it from the command)")
}

/// Byte offset of a 1-based row and character column.
fn offset_of(text: &str, row: u32, column: u32) -> usize {
    let line_start: usize = text.split_inclusive('\n').take(row.saturating_sub(1) as usize).map(str::len).sum();
    let line = &text[line_start.min(text.len())..];
    line_start + line.char_indices().nth(column.saturating_sub(1) as usize).map_or(line.len(), |(index, _)| index)
}

/// 1-based line and character column of a byte offset.
pub fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |last| last.chars().count()) + 1;
    (line, column)
}

struct Reader<'a> {
    origin: &'a str,
    original: &'a str,
    repaired: &'a RepairedXml,
    base_url: Option<&'a str>,
    /// Items are visited in document order, so each item's position is counted on from the
    /// last one: linear in the file, however many items (counting from the start for each
    /// item would be quadratic).
    positions: std::cell::RefCell<PositionCursor>,
}

/// Line and column of byte offsets of one text, counted on from the previous offset asked.
#[derive(Debug, Default)]
struct PositionCursor {
    offset: usize,
    line: usize,
    column: usize,
}

impl PositionCursor {
    /// 1-based line and character column of `offset` in `text` (as `line_and_column`).
    fn at(&mut self, text: &str, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        if offset < self.offset || self.line == 0 {
            *self = PositionCursor { offset: 0, line: 1, column: 1 };
        }
        let between = &text[self.offset..offset];
        match between.rfind('\n') {
            Some(last) => {
                self.line += between.matches('\n').count();
                self.column = between[last + 1..].chars().count() + 1;
            }
            None => self.column += between.chars().count(),
        }
        self.offset = offset;
        (self.line, self.column)
    }
}

fn local<'a>(node: Node<'a, '_>) -> &'a str {
    node.tag_name().name()
}

fn elements<'a, 'input>(node: Node<'a, 'input>) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children().filter(Node::is_element)
}

/// A child with this local name in one of the namespaces (None stands for "no namespace").
fn child<'a, 'input>(node: Node<'a, 'input>, name: &str, namespaces: &[Option<&str>]) -> Option<Node<'a, 'input>> {
    elements(node).find(|c| local(*c) == name && namespaces.contains(&c.tag_name().namespace()))
}

/// RSS elements: no namespace, RSS 1.0's or RSS 0.90's (and any other, as feeds put RSS
/// elements in odd namespaces; a namespace of a known extension is never taken).
fn is_rss_element(node: Node, name: &str) -> bool {
    local(node) == name && !matches!(node.tag_name().namespace(), Some(ATOM_NS | ATOM_03_NS | CONTENT_NS | DUBLIN_CORE_NS | MEDIA_NS | ITUNES_NS | XHTML_NS | RDF_NS))
}

fn is_atom_element(node: Node, name: &str) -> bool {
    local(node) == name && !matches!(node.tag_name().namespace(), Some(CONTENT_NS | DUBLIN_CORE_NS | MEDIA_NS | ITUNES_NS | XHTML_NS | RDF_NS))
}

/// The text of an element (CDATA included), trimmed; None when empty.
fn text_of(node: Node) -> Option<String> {
    let text: String = node.descendants().filter(|d| d.is_text()).filter_map(|d| d.text()).collect();
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// An element's content as HTML: its text when it has no child elements (escaped HTML or
/// CDATA), else its children serialized (inline XHTML, or markup a feed forgot to escape).
fn content_html(node: Node) -> String {
    if elements(node).next().is_none() {
        return text_of(node).unwrap_or_default();
    }
    let mut html = String::new();
    for child in node.children() {
        serialize_html(child, &mut html);
    }
    html
}

/// XHTML → HTML: local names, attributes without namespace declarations, text escaped.
fn serialize_html(node: Node, out: &mut String) {
    if node.is_text() {
        let text = node.text().unwrap_or_default();
        out.push_str(&text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;"));
        return;
    }
    if !node.is_element() {
        return;
    }
    let name = local(node);
    out.push('<');
    out.push_str(name);
    for attribute in node.attributes() {
        out.push(' ');
        out.push_str(attribute.name());
        out.push_str("=\"");
        out.push_str(&attribute.value().replace('&', "&amp;").replace('"', "&quot;"));
        out.push('"');
    }
    out.push('>');
    const VOID: &[&str] = &["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"];
    if VOID.contains(&name) {
        return;
    }
    for child in node.children() {
        serialize_html(child, out);
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

impl Reader<'_> {
    /// "news.rss item 3 (line 40, column 5)": positions of the original file.
    fn source(&self, what: &str, index: usize, node: Node) -> String {
        let offset = self.repaired.original_offset(node.range().start);
        let (line, column) = self.positions.borrow_mut().at(self.original, offset);
        format!("{} {what} {} (line {line}, column {column})", self.origin, index + 1)
    }

    /// The base URL for links in `node`: `xml:base` attributes from the root down, over the
    /// feed's own address.
    fn base_of(&self, node: Node) -> Option<url::Url> {
        let mut bases: Vec<&str> = node.ancestors().filter_map(|a| a.attribute((XML_NS, "base"))).collect();
        bases.reverse();
        let mut base = self.base_url.and_then(|url| url::Url::parse(url).ok());
        for value in bases {
            base = match &base {
                Some(base) => base.join(value).ok(),
                None => url::Url::parse(value).ok(),
            }
            .or(base);
        }
        base
    }

    /// A link as written, made absolute when a base is known.
    fn resolve(&self, node: Node, link: &str) -> String {
        let link = link.trim();
        match self.base_of(node).and_then(|base| base.join(link).ok()) {
            Some(url) => url.to_string(),
            None => link.to_string(),
        }
    }

    fn rss_items(&self, root: Node) -> Vec<BatchItem> {
        // RSS 2.0 keeps items in <channel>; RSS 0.90 and 1.0 beside it.
        let mut items = Vec::new();
        let containers = std::iter::once(root).chain(elements(root).filter(|c| is_rss_element(*c, "channel")));
        for container in containers {
            for item in elements(container).filter(|c| is_rss_element(*c, "item")) {
                items.push(self.rss_item(item, items.len()));
            }
        }
        items
    }

    fn rss_item(&self, item: Node, index: usize) -> BatchItem {
        let title = elements(item)
            .find(|c| is_rss_element(*c, "title"))
            .or_else(|| child(item, "title", &[Some(DUBLIN_CORE_NS)]))
            .and_then(text_of)
            .and_then(|t| content::plain_title(&t, false));
        let guid = elements(item).find(|c| is_rss_element(*c, "guid"));
        let about = item.attribute((RDF_NS, "about")).map(str::to_string);
        let permalink = guid.filter(|g| g.attribute("isPermaLink") != Some("false")).and_then(text_of).filter(|g| g.starts_with("http://") || g.starts_with("https://"));
        let link = elements(item)
            .find(|c| is_rss_element(*c, "link") && c.tag_name().namespace() != Some(ATOM_NS))
            .and_then(text_of)
            .or_else(|| self.atom_link(item))
            .or(permalink)
            .or_else(|| about.clone().filter(|a| a.starts_with("http")))
            .map(|link| self.resolve(item, &link));
        let published = ["pubDate", "date", "published", "updated", "issued", "modified"]
            .iter()
            .find_map(|name| elements(item).find(|c| local(*c) == *name).and_then(text_of));

        let mut fields = ItemFields { title: title.clone(), link: link.clone(), ..ItemFields::default() };
        for element in elements(item) {
            let namespace = element.tag_name().namespace();
            match (namespace, local(element)) {
                (Some(CONTENT_NS), "encoded") => fields.candidates.push(Candidate { field: "content:encoded".into(), text: content_html(element), markup: Markup::Html }),
                (Some(XHTML_NS), "body") => fields.candidates.push(Candidate { field: "xhtml:body".into(), text: content_html(element), markup: Markup::Html }),
                (Some(ATOM_NS | ATOM_03_NS), "content" | "summary") => self.text_construct(element, &mut fields),
                (Some(DUBLIN_CORE_NS), "description") => fields.candidates.push(Candidate { field: "dc:description".into(), text: content_html(element), markup: Markup::PlainOrHtml }),
                (Some(ITUNES_NS), name @ ("summary" | "subtitle")) => fields.candidates.push(Candidate { field: format!("itunes:{name}"), text: content_html(element), markup: Markup::PlainOrHtml }),
                (Some(MEDIA_NS), _) => self.media(element, &mut fields),
                (_, "description") if is_rss_element(element, "description") => fields.candidates.push(Candidate { field: "description".into(), text: content_html(element), markup: Markup::Html }),
                (_, "enclosure") => fields.has_media = true,
                _ => {}
            }
        }
        // Full content before a description on a tie.
        fields.candidates.sort_by_key(|candidate| !matches!(candidate.field.as_str(), "content:encoded" | "xhtml:body" | "content"));
        let (body, warnings) = content::choose(fields);
        BatchItem {
            id: guid.and_then(text_of).or(about),
            link,
            title,
            published,
            source: self.source("item", index, item),
            body,
            warnings,
        }
    }

    /// Media RSS inside an item: descriptions (also inside `media:group` and `media:content`)
    /// are text; content, thumbnails and players are media.
    fn media(&self, element: Node, fields: &mut ItemFields) {
        match local(element) {
            "description" => {
                let markup = if element.attribute("type") == Some("html") { Markup::Html } else { Markup::PlainOrHtml };
                fields.candidates.push(Candidate { field: "media:description".into(), text: content_html(element), markup });
            }
            "group" | "content" => {
                fields.has_media |= local(element) == "content";
                for inner in elements(element).filter(|c| c.tag_name().namespace() == Some(MEDIA_NS)) {
                    self.media(inner, fields);
                }
            }
            "thumbnail" | "player" => fields.has_media = true,
            _ => {}
        }
    }

    /// The alternate link of an Atom entry (or an `atom:link` in an RSS item).
    fn atom_link(&self, entry: Node) -> Option<String> {
        let links: Vec<Node> = elements(entry).filter(|c| local(*c) == "link" && c.attribute("href").is_some()).collect();
        let alternate = links.iter().find(|l| matches!(l.attribute("rel").map(str::trim), None | Some("alternate"))).or_else(|| links.iter().find(|l| l.attribute("rel") != Some("self")))?;
        Some(self.resolve(*alternate, alternate.attribute("href")?))
    }

    fn atom_entries(&self, root: Node) -> Vec<BatchItem> {
        elements(root).filter(|c| is_atom_element(*c, "entry")).enumerate().map(|(index, entry)| self.atom_entry(entry, index)).collect()
    }

    fn atom_entry(&self, entry: Node, index: usize) -> BatchItem {
        let title = child_atom(entry, "title").and_then(|t| self.text_construct_title(t));
        let link = self.atom_link(entry);
        let published = ["published", "updated", "issued", "modified", "created"].iter().find_map(|name| child_atom(entry, name).and_then(text_of));
        let mut fields = ItemFields { title: title.clone(), link: link.clone(), ..ItemFields::default() };
        for element in elements(entry) {
            match (element.tag_name().namespace(), local(element)) {
                (Some(MEDIA_NS), _) => self.media(element, &mut fields),
                (Some(ITUNES_NS), name @ ("summary" | "subtitle")) => fields.candidates.push(Candidate { field: format!("itunes:{name}"), text: content_html(element), markup: Markup::PlainOrHtml }),
                (_, "content" | "summary") if is_atom_element(element, local(element)) => self.text_construct(element, &mut fields),
                (_, "link") if element.attribute("rel") == Some("enclosure") => fields.has_media = true,
                _ => {}
            }
        }
        fields.candidates.sort_by_key(|candidate| candidate.field != "content");
        let (body, warnings) = content::choose(fields);
        BatchItem {
            id: child_atom(entry, "id").and_then(text_of),
            link,
            title,
            published,
            source: self.source("entry", index, entry),
            body,
            warnings,
        }
    }

    fn text_construct_title(&self, element: Node) -> Option<String> {
        let kind = TextKind::of(element);
        if elements(element).next().is_some() {
            return content::plain_title(&content_html(element), true);
        }
        let text = text_of(element)?;
        match kind {
            TextKind::Html => content::plain_title(&text, true),
            TextKind::Base64(_) => content::decode_base64(&text).and_then(|b| String::from_utf8(b).ok()).and_then(|t| content::plain_title(&t, false)),
            _ => content::plain_title(&text, false),
        }
    }

    /// An Atom text construct (`content`, `summary`; Atom 1.0 `type`, Atom 0.3 `type`
    /// and `mode`) as a candidate, or as unusable when it is base64 that is not text.
    fn text_construct(&self, element: Node, fields: &mut ItemFields) {
        let field = local(element).to_string();
        if field == "content" {
            if let Some(source) = element.attribute("src") {
                fields.content_source = Some(self.resolve(element, source));
            }
        }
        let kind = TextKind::of(element);
        let candidate = |text: String, markup: Markup| Candidate { field: field.clone(), text, markup };
        match kind {
            TextKind::Base64(media_type) => {
                let Some(encoded) = text_of(element) else { return };
                let decoded = content::decode_base64(&encoded).map(String::from_utf8);
                let is_text = media_type.starts_with("text/") || media_type.contains("xml") || media_type.contains("html");
                match decoded {
                    Some(Ok(text)) if is_text => {
                        let markup = if media_type.contains("html") { Markup::Html } else { Markup::Plain };
                        fields.candidates.push(candidate(text, markup));
                    }
                    Some(_) => fields.unusable.push(Unusable { field, reason: format!("it is base64-encoded {media_type}, not text") }),
                    None => fields.unusable.push(Unusable { field, reason: format!("it is declared base64-encoded ({media_type}) but is not valid base64") }),
                }
            }
            _ if elements(element).next().is_some() => fields.candidates.push(candidate(content_html(element), Markup::Html)),
            TextKind::Html => fields.candidates.push(candidate(text_of(element).unwrap_or_default(), Markup::Html)),
            TextKind::Text | TextKind::Xhtml => fields.candidates.push(candidate(text_of(element).unwrap_or_default(), Markup::Plain)),
        }
    }
}

fn child_atom<'a, 'input>(entry: Node<'a, 'input>, name: &str) -> Option<Node<'a, 'input>> {
    elements(entry).find(|c| is_atom_element(*c, name))
}

/// How an Atom text construct is written.
enum TextKind {
    Text,
    Html,
    Xhtml,
    /// Base64 of this media type (Atom 0.3 `mode="base64"`, Atom 1.0 non-text types).
    Base64(String),
}

impl TextKind {
    fn of(element: Node) -> TextKind {
        let media_type = element.attribute("type").map(|t| t.trim().to_ascii_lowercase()).unwrap_or_default();
        if element.attribute("mode").map(str::trim) == Some("base64") {
            return TextKind::Base64(if media_type.is_empty() { "text/plain".to_string() } else { media_type });
        }
        let escaped = element.attribute("mode").map(str::trim) == Some("escaped");
        match media_type.as_str() {
            "" | "text" | "text/plain" => TextKind::Text,
            "html" | "text/html" => TextKind::Html,
            "xhtml" | "application/xhtml+xml" if escaped => TextKind::Html,
            "xhtml" | "application/xhtml+xml" => TextKind::Xhtml,
            other if other.starts_with("text/") => TextKind::Text,
            other if other.ends_with("+xml") || other.ends_with("/xml") => TextKind::Xhtml,
            // RFC 4287 4.1.3.3: any other media type is base64 inline.
            other => TextKind::Base64(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{line_and_column, PositionCursor};

    #[test]
    fn the_position_cursor_agrees_with_counting_from_the_start_in_any_order() {
        let text = "ab\ncdé\n\n日本語 x\nlast line";
        let mut cursor = PositionCursor::default();
        let offsets: Vec<usize> = (0..=text.len() + 2).chain([5, 0, 9, 3, 100, 1]).collect();
        for offset in offsets {
            assert_eq!(cursor.at(text, offset), line_and_column(text, offset), "offset {offset}");
        }
    }
}
