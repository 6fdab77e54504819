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
use super::parts::{self, FeedParts, ItemPart};
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
    let local = parts::local(name);
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
///
/// A feed is parsed in parts (`parts`): the document without its items, then its items a few
/// hundred kilobytes at a time, each part with the document's prolog, root and channel start
/// tags around it, so memory follows the part and not the feed. When a part does not parse,
/// the document is parsed whole, which reports the defect at its line and column.
pub fn read(origin: &str, text: &str, base_url: Option<&str>) -> Result<FeedRead> {
    let mut repaired = repair::repair(text);
    let mut declared = 0;
    let mut whole = false;
    let (format, items) = loop {
        let parts = if whole { None } else { parts::split(&repaired.text, item_name_of_root) };
        let outcome = match &parts {
            Some(parts) => read_in_parts(origin, text, &repaired, base_url, parts, PART_BYTES),
            None => read_whole(origin, text, &repaired, base_url),
        };
        let error = match outcome {
            Ok(read) => break read,
            Err(ReadError::NotAFeed(kind)) => return Err(anyhow!("feed {origin}: {kind:?} is not a feed root")),
            Err(ReadError::Xml(error)) => error,
        };
        match error {
            roxmltree::Error::UnknownNamespace(prefix, _) if declared < MAX_DECLARED_PREFIXES => {
                if !repaired.declare_prefix(&prefix) {
                    return Err(anyhow!("feed {origin} uses the namespace prefix `{prefix}:` without declaring it; declare it (xmlns:{prefix}=\"…\") or fix the feed"));
                }
                declared += 1;
            }
            // A part's position is not the file's: the whole document names the defect.
            _ if parts.is_some() => whole = true,
            error => return Err(parse_error(origin, text, &repaired, &error)),
        }
    };
    let warnings = repaired.warnings.iter().map(|warning| format!("feed {origin}: {warning}")).collect();
    Ok(FeedRead { format, items, warnings })
}

/// Bytes of items parsed together (at least four times the prolog, which each part repeats).
const PART_BYTES: usize = 256 * 1024;

fn parsing_options() -> ParsingOptions {
    ParsingOptions { allow_dtd: true, ..ParsingOptions::default() }
}

enum ReadError {
    Xml(roxmltree::Error),
    NotAFeed(XmlKind),
}

impl From<roxmltree::Error> for ReadError {
    fn from(error: roxmltree::Error) -> Self {
        ReadError::Xml(error)
    }
}

/// The local name of a feed's items by its root's name (None: not split, an entry document).
fn item_name_of_root(root_name: &str) -> Option<&'static str> {
    match kind_of_root(root_name) {
        XmlKind::Rss | XmlKind::Rdf => Some("item"),
        XmlKind::Atom => Some("entry"),
        _ => None,
    }
}

/// The feed parsed as one document: its format and items.
fn read_whole(origin: &str, original: &str, repaired: &RepairedXml, base_url: Option<&str>) -> Result<(String, Vec<BatchItem>), ReadError> {
    let document = Document::parse_with_options(&repaired.text, parsing_options())?;
    let positions = Default::default();
    let reader = Reader { origin, original, repaired, base_url, positions: &positions, first_index: 0, part_offsets: Vec::new() };
    let root = document.root_element();
    Ok(match kind_of_root(root.tag_name().name()) {
        XmlKind::Rss => (rss_version(root), reader.rss_items(root)),
        XmlKind::Rdf => (rdf_version(root).to_string(), reader.rss_items(root)),
        XmlKind::Atom => (atom_version(root), reader.atom_entries(root)),
        XmlKind::AtomEntry => (format!("{} entry", atom_version(root)), vec![reader.atom_entry(root, 0)]),
        other => return Err(ReadError::NotAFeed(other)),
    })
}

fn rdf_version(root: Node) -> &'static str {
    if root.children().any(|c| c.is_element() && c.tag_name().namespace() == Some(RSS_090_NS)) {
        "RSS 0.90"
    } else {
        "RSS 1.0"
    }
}

/// The feed parsed in parts (see `read`): the same format and items as `read_whole`.
/// `part_bytes`: bytes of items parsed together (`PART_BYTES`; tests make parts smaller).
fn read_in_parts(origin: &str, original: &str, repaired: &RepairedXml, base_url: Option<&str>, parts: &FeedParts, part_bytes: usize) -> Result<(String, Vec<BatchItem>), ReadError> {
    let full = repaired.text.as_str();
    let options = parsing_options();
    // The document without its items: its format, and every part of it checked.
    let mut rest = String::with_capacity(full.len() - parts.items.iter().map(|item| item.range.len()).sum::<usize>());
    let mut copied = 0;
    for item in &parts.items {
        rest.push_str(&full[copied..item.range.start]);
        copied = item.range.end;
    }
    rest.push_str(&full[copied..]);
    let document = Document::parse_with_options(&rest, options)?;
    let root = document.root_element();
    let kind = kind_of_root(root.tag_name().name());
    let mut format = match &kind {
        XmlKind::Rss => rss_version(root),
        XmlKind::Rdf => rdf_version(root).to_string(),
        XmlKind::Atom => atom_version(root),
        other => return Err(ReadError::NotAFeed(other.clone())),
    };
    drop(document);
    drop(rest);

    let prolog = &full[..parts.root_tag.start];
    let budget = part_bytes.max(4 * prolog.len());
    let positions = Default::default();
    let mut items = Vec::with_capacity(parts.items.len());
    // The root's items before the channels' (the order `rss_items` reads them in).
    let in_order = parts.items.iter().filter(|item| item.channel.is_none()).chain(parts.items.iter().filter(|item| item.channel.is_some()));
    let mut group: Vec<&ItemPart> = Vec::new();
    let mut group_bytes = 0;
    let mut read_group = |group: &[&ItemPart], items: &mut Vec<BatchItem>| -> Result<(), ReadError> {
        let Some(first) = group.first() else { return Ok(()) };
        let mut part = String::with_capacity(budget + prolog.len() + 256);
        part.push_str(prolog);
        part.push_str(&full[parts.root_tag.clone()]);
        if let Some((channel_tag, _)) = &first.channel {
            part.push_str(&full[channel_tag.clone()]);
        }
        let mut part_offsets = Vec::with_capacity(group.len());
        for item in group {
            part_offsets.push((part.len(), item.range.start));
            part.push_str(&full[item.range.clone()]);
        }
        if let Some((_, channel_name)) = &first.channel {
            part.push_str("</");
            part.push_str(channel_name);
            part.push('>');
        }
        part.push_str("</");
        part.push_str(&parts.root_name);
        part.push('>');
        let document = Document::parse_with_options(&part, options)?;
        let root = document.root_element();
        let reader = Reader { origin, original, repaired, base_url, positions: &positions, first_index: items.len(), part_offsets };
        if kind == XmlKind::Atom {
            items.extend(reader.atom_entries(root));
        } else {
            if kind == XmlKind::Rdf && rdf_version(root) == "RSS 0.90" {
                format = "RSS 0.90".to_string();
            }
            items.extend(reader.rss_items(root));
        }
        Ok(())
    };
    for item in in_order {
        let same_container = group.last().is_none_or(|last| last.channel == item.channel);
        if !group.is_empty() && (!same_container || group_bytes + item.range.len() > budget) {
            read_group(&group, &mut items)?;
            group.clear();
            group_bytes = 0;
        }
        group.push(item);
        group_bytes += item.range.len();
    }
    read_group(&group, &mut items)?;
    Ok((format, items))
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
    /// item would be quadratic). Shared by the parts of one feed.
    positions: &'a std::cell::RefCell<PositionCursor>,
    /// The number of the first item read by this reader (items of earlier parts before it).
    first_index: usize,
    /// For a part: where each piece of it starts in the part and in the repaired text.
    part_offsets: Vec<(usize, usize)>,
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
        let offset = self.repaired.original_offset(self.repaired_offset(node.range().start));
        let (line, column) = self.positions.borrow_mut().at(self.original, offset);
        format!("{} {what} {} (line {line}, column {column})", self.origin, index + 1)
    }

    /// The offset in the repaired text of an offset in the parsed text (the same when the
    /// document was parsed whole).
    fn repaired_offset(&self, offset: usize) -> usize {
        match self.part_offsets.partition_point(|&(part_start, _)| part_start <= offset) {
            0 => offset,
            index => {
                let (part_start, repaired_start) = self.part_offsets[index - 1];
                repaired_start + (offset - part_start)
            }
        }
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
                items.push(self.rss_item(item, self.first_index + items.len()));
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
        elements(root).filter(|c| is_atom_element(*c, "entry")).enumerate().map(|(index, entry)| self.atom_entry(entry, self.first_index + index)).collect()
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
    use super::*;

    /// Every XML feed of the shared corpus (feed-rs's fixtures) reads the same in parts of
    /// about one kilobyte as whole: format, items (their positions included) and errors.
    #[test]
    fn feeds_read_in_parts_equal_feeds_read_whole() {
        let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/feeds/feed-rs");
        let Ok(entries) = std::fs::read_dir(&directory) else {
            eprintln!("SKIPPED: the shared feed corpus is not at {}", directory.display());
            return;
        };
        let mut paths: Vec<_> = entries.filter_map(|entry| entry.ok().map(|entry| entry.path())).collect();
        paths.sort();
        let (mut split, mut whole_only, mut multi_part) = (0, 0, 0);
        for path in paths {
            let Ok(bytes) = std::fs::read(&path) else { continue };
            let name = path.display().to_string();
            let Ok(decoded) = crate::input::decode::decode(&name, &bytes) else { continue };
            if !matches!(super::super::classify(&name, &decoded.text), super::super::Classified::XmlFeed) {
                continue;
            }
            let repaired = repair::repair(&decoded.text);
            let whole = read_whole(&name, &decoded.text, &repaired, None);
            let Some(parts) = parts::split(&repaired.text, item_name_of_root) else {
                whole_only += 1;
                continue;
            };
            split += 1;
            multi_part += usize::from(parts.items.iter().map(|item| item.range.len()).sum::<usize>() > 1024);
            let in_parts = read_in_parts(&name, &decoded.text, &repaired, None, &parts, 1024);
            match (whole, in_parts) {
                (Ok(whole), Ok(in_parts)) => assert_eq!(format!("{whole:?}"), format!("{in_parts:?}"), "{name}"),
                (Err(ReadError::Xml(_)), Err(ReadError::Xml(_))) => {}
                (Ok(_), Err(ReadError::Xml(error))) => {
                    // Allowed only for what `read` repairs and retries (an undeclared prefix).
                    assert!(matches!(error, roxmltree::Error::UnknownNamespace(..)), "{name}: {error}")
                }
                (Err(ReadError::Xml(error)), Ok(_)) => panic!("{name} reads in parts but not whole: {error}"),
                (_, _) => panic!("{name}: not a feed root"),
            }
        }
        eprintln!("{split} feeds split ({multi_part} into several parts), {whole_only} parsed whole");
        assert!(split >= 50 && multi_part >= 10, "{split} split, {multi_part} in several parts");
    }

    #[test]
    fn items_of_the_root_and_of_channels_are_found_past_comments_cdata_and_quoted_markup() {
        let text = r#"<?xml version="1.0"?>
<!DOCTYPE rss [ <!ENTITY x "<item>not one</item>"> ]>
<rss version="2.0" a='>'><!-- <item> --><channel x="</item>"><title><![CDATA[<item>]]></title>
<item><title>a</title><item>inner</item></item><item/><c:item xmlns:c="urn:c">c</c:item>
</channel><item>root</item></rss>"#;
        let parts = parts::split(text, item_name_of_root).expect("splits");
        assert_eq!(parts.root_name, "rss");
        assert_eq!(&text[parts.root_tag.clone()], r#"<rss version="2.0" a='>'>"#);
        let items: Vec<(&str, bool)> = parts.items.iter().map(|item| (&text[item.range.clone()], item.channel.is_some())).collect();
        assert_eq!(
            items,
            [("<item><title>a</title><item>inner</item></item>", true), ("<item/>", true), (r#"<c:item xmlns:c="urn:c">c</c:item>"#, true), ("<item>root</item>", false)]
        );
        // Tags that do not nest, or an unfinished comment: left to the parser.
        assert!(parts::split("<rss><channel><item></channel></rss>", item_name_of_root).is_none());
        assert!(parts::split("<rss><channel><!-- </channel></rss>", item_name_of_root).is_none());
        assert!(parts::split("<rss><channel>", item_name_of_root).is_none());
        // An Atom entry document is one item: not split.
        assert!(parts::split(r#"<entry xmlns="http://www.w3.org/2005/Atom"><title>t</title></entry>"#, item_name_of_root).is_none());
    }

    /// A defect inside an item is reported where it is in the file, as when the feed was parsed whole.
    #[test]
    fn an_error_inside_a_part_names_the_line_and_column_of_the_file() {
        let items: String = (0..2_000).map(|i| format!("<item><title>{i}</title></item>\n")).collect();
        let feed = format!("<rss version=\"2.0\"><channel>\n{items}<item><title a=\"1\" a=\"2\">x</title></item>\n</channel></rss>");
        let error = read("bad.rss", &feed, None).unwrap_err().to_string();
        assert!(error.contains("line 2002, column 20") && error.contains("attribute a appears twice"), "{error}");
    }

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
