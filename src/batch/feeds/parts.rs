//! A feed's text cut into its items and the rest, so that each can be parsed on its own: a
//! parsed document takes about six bytes of memory a byte of XML, and a feed of a million
//! items parsed whole held all of them at once.
//!
//! `split` scans the tags (skipping comments, CDATA, processing instructions, the DOCTYPE and
//! quoted attribute values), checks that every end tag closes the open element, and records
//! where the root's start tag is and where each item is: an `item` child of the root or of a
//! root's `channel` (RSS and RDF), or an `entry` child of the root (Atom). Anything it does
//! not expect gives None, and the caller parses the document whole, which names the defect.
//! It judges structure only: whether an element is really an item (its namespace), and every
//! other rule of XML, are the parser's, applied to each part.

use std::ops::Range;

/// Where a feed's items are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedParts {
    /// The root element's start tag (text before it is the prolog).
    pub root_tag: Range<usize>,
    pub root_name: String,
    /// The items in document order.
    pub items: Vec<ItemPart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemPart {
    /// The whole element, start tag to end tag.
    pub range: Range<usize>,
    /// The start tag and qualified name of the `channel` it is in; None for a child of the root.
    pub channel: Option<(Range<usize>, String)>,
}

/// The items of a feed's text: `item_name_of_root` gives, for the root element's qualified
/// name, the local name of its items (`item`, which may also be in a `channel`, or `entry`),
/// or None when the document is not to be split. None also for a text whose tags do not nest
/// (left to the parser to report).
pub fn split(text: &str, item_name_of_root: impl Fn(&str) -> Option<&'static str>) -> Option<FeedParts> {
    let bytes = text.as_bytes();
    let mut at = 0;
    let mut open: Vec<(&str, usize)> = Vec::new();
    let mut root: Option<(Range<usize>, String)> = None;
    let mut item_name = "";
    let mut channel: Option<(Range<usize>, String)> = None;
    // The open item: where it starts, its channel, its depth.
    let mut item_start: Option<(usize, Option<(Range<usize>, String)>, usize)> = None;
    let mut items = Vec::new();
    while let Some(found) = memchr(b'<', &bytes[at..]) {
        let start = at + found;
        let rest = &text[start..];
        if rest.starts_with("<!--") {
            at = start + 4 + rest[4..].find("-->")? + 3;
        } else if rest.starts_with("<![CDATA[") {
            at = start + 9 + rest[9..].find("]]>")? + 3;
        } else if rest.starts_with("<?") {
            at = start + 2 + rest[2..].find("?>")? + 2;
        } else if rest.starts_with("<!") {
            if root.is_some() {
                return None;
            }
            at = start + declaration_length(rest)?;
        } else if let Some(after) = rest.strip_prefix("</") {
            let name = tag_name(after);
            let close = start + 2 + name.len() + after[name.len()..].find('>')? + 1;
            let (open_name, depth) = open.pop()?;
            if open_name != name {
                return None;
            }
            if item_start.as_ref().is_some_and(|(_, _, item_depth)| *item_depth == depth) {
                if let Some((item_from, item_channel, _)) = item_start.take() {
                    items.push(ItemPart { range: item_from..close, channel: item_channel });
                }
            }
            if depth == 2 && local(name) == "channel" {
                channel = None;
            }
            at = close;
        } else {
            let name = tag_name(&rest[1..]);
            if name.is_empty() {
                return None;
            }
            let end = start + 1 + name.len() + tag_end(&rest[1 + name.len()..])?;
            let self_closing = bytes[end - 2] == b'/';
            let depth = open.len() + 1;
            match depth {
                1 => {
                    if root.is_some() {
                        return None;
                    }
                    item_name = item_name_of_root(name)?;
                    root = Some((start..end, name.to_string()));
                }
                2 if item_name == "item" && local(name) == "channel" && !self_closing => channel = Some((start..end, name.to_string())),
                _ => {}
            }
            let is_item = local(name) == item_name && item_start.is_none() && (depth == 2 || (depth == 3 && channel.is_some() && local(open[1].0) == "channel"));
            if is_item {
                let item_channel = if depth == 3 { channel.clone() } else { None };
                if self_closing {
                    items.push(ItemPart { range: start..end, channel: item_channel });
                } else {
                    item_start = Some((start, item_channel, depth));
                }
            }
            if !self_closing {
                open.push((name, depth));
            }
            at = end;
        }
    }
    let (root_tag, root_name) = root?;
    open.is_empty().then_some(FeedParts { root_tag, root_name, items })
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&byte| byte == needle)
}

/// The qualified name at the start of a tag (after `<` or `</`).
fn tag_name(text: &str) -> &str {
    let end = text.find(|c: char| c.is_whitespace() || matches!(c, '>' | '/')).unwrap_or(text.len());
    &text[..end]
}

/// The local part of a qualified name (`atom:entry` → `entry`).
pub(super) fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// Length of a start tag's rest (after its name) up to and including `>`, past quoted
/// attribute values.
fn tag_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut quote = None;
    for (index, &byte) in bytes.iter().enumerate() {
        match (quote, byte) {
            (None, b'"' | b'\'') => quote = Some(byte),
            (Some(open), _) if byte == open => quote = None,
            (None, b'>') => return Some(index + 1),
            (None, b'<') => return None,
            _ => {}
        }
    }
    None
}

/// Length of a `<!…>` declaration (a DOCTYPE with its internal subset), past quoted strings
/// and comments inside the brackets.
fn declaration_length(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut index = 2;
    let mut brackets = 0usize;
    let mut quote = None;
    while index < bytes.len() {
        let byte = bytes[index];
        match (quote, byte) {
            (Some(open), _) if byte == open => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(byte),
            (None, b'<') if text[index..].starts_with("<!--") => {
                index += 4 + text[index + 4..].find("-->")? + 2;
            }
            (None, b'[') => brackets += 1,
            (None, b']') => brackets = brackets.checked_sub(1)?,
            (None, b'>') if brackets == 0 => return Some(index + 1),
            _ => {}
        }
        index += 1;
    }
    None
}
