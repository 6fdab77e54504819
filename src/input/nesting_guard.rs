//! Keeps hostile or broken HTML from making the HTML parser slow or memory-hungry.
//!
//! html5ever has no nesting limit, and several of its per-tag steps scan the whole stack of
//! open elements: 100,000 nested `<div>`s take minutes to parse. Unclosed formatting tags
//! (`<b>`, `<font>`, …) are worse: the parser re-opens every one of them in each later
//! paragraph. So before parsing we run a cheap, linear tokenizer that tracks an approximation
//! of the parser's open elements and drops start tags (with their end tags) beyond
//! [`MAX_NESTING_DEPTH`] open elements or [`MAX_OPEN_FORMATTING`] open formatting tags.
//! Dropping a tag never drops its text, so extraction still sees every word; where the
//! approximation over-counts (it ignores some of the parser's implicit closes), the cost is a
//! lost `<b>`, never a lost word. Ordinary pages stay far below both limits and are passed
//! through untouched (no copy).
//!
//! Empty elements cost the parser and the extractor a few hundred bytes each while saying
//! nothing, so a page of a million `<span></span>`s would take 30 times its size in memory.
//! The same pass drops inline elements closed right after they open (`<span class=x></span>`)
//! and keeps only the first of a run of empty `<div>`s or `<p>`s (one block boundary says as
//! much as many). Neither holds text, so no word is lost.

use std::borrow::Cow;
use std::collections::HashMap;

/// Real pages nest 20–60 elements deep; the parser stays fast well beyond this.
pub(super) const MAX_NESTING_DEPTH: usize = 256;
/// Each open formatting element is re-created in every later paragraph; keep that small.
pub(super) const MAX_OPEN_FORMATTING: usize = 12;

/// [`cap_nesting`], saying in `warnings` (naming `input_name`) when tags were ignored.
pub(super) fn cap_nesting_warned<'a>(input_name: &str, html: &'a str, warnings: &mut Vec<String>) -> Cow<'a, str> {
    let guarded = cap_nesting(html);
    if matches!(guarded, Cow::Owned(_)) {
        warnings.push(format!(
            "{input_name} nests its HTML elements unusually deeply; tags more than {MAX_NESTING_DEPTH} levels deep \
             (or {MAX_OPEN_FORMATTING} open formatting tags) were ignored, their text kept"
        ));
    }
    guarded
}

/// Returns `html` unchanged when it is within the limits, else a copy without the offending
/// tags.
pub(super) fn cap_nesting(html: &str) -> Cow<'_, str> {
    let mut guard = Guard::new(html);
    guard.run();
    match guard.output {
        None => Cow::Borrowed(html),
        Some(mut output) => {
            output.push_str(&html[guard.copied_up_to..]);
            Cow::Owned(output)
        }
    }
}

struct Guard<'a> {
    html: &'a str,
    bytes: &'a [u8],
    /// Names of the elements we believe are open, innermost last.
    open_elements: Vec<String>,
    /// Formatting elements opened and not yet closed by their own end tag.
    open_formatting: Vec<String>,
    /// How many start tags of each name were dropped, so their end tags are dropped too.
    dropped: HashMap<String, usize>,
    /// Built only once the first tag is dropped.
    output: Option<String>,
    copied_up_to: usize,
    /// Where the last empty block element (`<div></div>`) kept or dropped ends: an empty block
    /// starting right there repeats it.
    empty_block_end: Option<usize>,
}

enum Tag<'a> {
    Start {
        name: String,
        end: usize,
        self_closing: bool,
        raw_name: &'a str,
    },
    End {
        name: String,
        end: usize,
    },
    /// Comment, doctype, processing instruction, CDATA: copied as they are.
    Other {
        end: usize,
    },
}

impl<'a> Guard<'a> {
    fn new(html: &'a str) -> Self {
        Guard {
            html,
            bytes: html.as_bytes(),
            open_elements: Vec::new(),
            open_formatting: Vec::new(),
            dropped: HashMap::new(),
            output: None,
            copied_up_to: 0,
            empty_block_end: None,
        }
    }

    fn run(&mut self) {
        let mut position = 0;
        while let Some(offset) = self.bytes[position..].iter().position(|&b| b == b'<') {
            let start = position + offset;
            position = match self.tag_at(start) {
                None => start + 1,
                Some(Tag::Other { end }) => end,
                Some(Tag::End { name, end }) => {
                    self.end_tag(name, start, end);
                    end
                }
                Some(Tag::Start {
                    name,
                    end,
                    self_closing,
                    raw_name,
                }) => self.start_tag(name, raw_name, start, end, self_closing),
            };
        }
    }

    /// Handles a start tag spanning `start..end`; returns where scanning continues.
    fn start_tag(
        &mut self,
        name: String,
        raw_name: &str,
        start: usize,
        end: usize,
        self_closing: bool,
    ) -> usize {
        let raw_text_end = RAW_TEXT_ELEMENTS
            .contains(&name.as_str())
            .then(|| self.raw_text_end(end, raw_name));
        let in_foreign_content = self
            .open_elements
            .iter()
            .any(|open| open == "svg" || open == "math");
        if VOID_ELEMENTS.contains(&name.as_str()) || (self_closing && in_foreign_content) {
            return end;
        }
        self.close_implied_by(&name);

        let is_formatting = FORMATTING_ELEMENTS.contains(&name.as_str());
        let too_deep = self.open_elements.len() >= MAX_NESTING_DEPTH;
        let too_much_formatting =
            is_formatting && self.open_formatting.len() >= MAX_OPEN_FORMATTING;
        if too_deep || too_much_formatting {
            match raw_text_end {
                // A dropped <script> must take its content along, or the content would be
                // parsed as markup and text.
                Some(content_end) => {
                    let close_end = self.tag_end_after(content_end);
                    self.drop_range(start, close_end);
                    return close_end;
                }
                None => {
                    *self.dropped.entry(name).or_insert(0) += 1;
                    self.drop_range(start, end);
                    return end;
                }
            }
        }
        if raw_text_end.is_none() && !self_closing {
            if let Some(close_end) = self.end_tag_at(end, &name) {
                let name = name.as_str();
                // A new <a> closes an open one, so it is not quite nothing then.
                let droppable_inline = EMPTY_INLINE_DROPPED.contains(&name)
                    && !(name == "a" && self.open_formatting.iter().any(|open| open == "a"));
                let repeated_block = EMPTY_BLOCKS_COLLAPSED.contains(&name) && self.empty_block_end == Some(start);
                if EMPTY_BLOCKS_COLLAPSED.contains(&name) {
                    self.empty_block_end = Some(close_end);
                }
                if droppable_inline || repeated_block {
                    self.drop_range(start, close_end);
                }
                return close_end;
            }
        }
        if is_formatting {
            // A new <a> closes an unclosed earlier one (the parser's adoption agency).
            if name == "a" {
                self.open_formatting.retain(|open| open != "a");
            }
            self.open_formatting.push(name.clone());
        }
        self.open_elements.push(name);
        raw_text_end.unwrap_or(end)
    }

    fn end_tag(&mut self, name: String, start: usize, end: usize) {
        if let Some(count) = self.dropped.get_mut(&name) {
            if *count > 0 {
                *count -= 1;
                self.drop_range(start, end);
                return;
            }
        }
        if let Some(index) = self.open_formatting.iter().rposition(|open| *open == name) {
            self.open_formatting.remove(index);
        }
        if let Some(index) = self.open_elements.iter().rposition(|open| *open == name) {
            self.open_elements.truncate(index);
        }
    }

    /// The parser closes some elements implicitly; mirroring the common cases keeps sloppy
    /// but ordinary pages (unclosed `<p>` and `<li>`) from looking deep.
    fn close_implied_by(&mut self, name: &str) {
        if self.open_elements.last().is_some_and(|top| top == "p") && CLOSES_P.contains(&name) {
            self.open_elements.pop();
        }
        let (same_kind, boundaries): (&[&str], &[&str]) = match name {
            "li" => (&["li"], &["ul", "ol", "menu"]),
            "dt" | "dd" => (&["dt", "dd"], &["dl"]),
            "tr" => (&["tr"], &["table", "tbody", "thead", "tfoot"]),
            "td" | "th" => (&["td", "th"], &["tr", "table"]),
            "option" => (&["option"], &["select", "datalist"]),
            _ => return,
        };
        for index in (0..self.open_elements.len()).rev() {
            let open = self.open_elements[index].as_str();
            if same_kind.contains(&open) {
                self.open_elements.truncate(index);
                return;
            }
            if boundaries.contains(&open) {
                return;
            }
        }
    }

    /// The end of `</name>` (any case, optional space before `>`) if it starts at `position`.
    fn end_tag_at(&self, position: usize, name: &str) -> Option<usize> {
        let rest = self.bytes.get(position..)?;
        let after_name = rest.get(2 + name.len()..)?;
        let matches = rest.starts_with(b"</")
            && rest[2..2 + name.len()].eq_ignore_ascii_case(name.as_bytes())
            && after_name.first().is_some_and(|&b| b == b'>' || b.is_ascii_whitespace());
        matches.then(|| self.tag_end_after(position))
    }

    fn drop_range(&mut self, start: usize, end: usize) {
        let output = self
            .output
            .get_or_insert_with(|| String::with_capacity(self.html.len()));
        output.push_str(&self.html[self.copied_up_to..start]);
        self.copied_up_to = end;
    }

    /// Parses the tag starting at `start` (a `<`), or None if it is just a `<` in text.
    fn tag_at(&self, start: usize) -> Option<Tag<'a>> {
        let bytes = self.bytes;
        match bytes.get(start + 1)? {
            b'!' => {
                let end = if bytes[start..].starts_with(b"<!--") {
                    find(bytes, start + 4, b"-->").map_or(bytes.len(), |found| found + 3)
                } else if bytes[start..].starts_with(b"<![CDATA[") {
                    find(bytes, start + 9, b"]]>").map_or(bytes.len(), |found| found + 3)
                } else {
                    self.tag_end_after(start)
                };
                Some(Tag::Other { end })
            }
            b'?' => Some(Tag::Other {
                end: self.tag_end_after(start),
            }),
            b'/' => {
                if !bytes.get(start + 2)?.is_ascii_alphabetic() {
                    return Some(Tag::Other {
                        end: self.tag_end_after(start),
                    });
                }
                let (name, _) = self.tag_name(start + 2);
                Some(Tag::End {
                    name,
                    end: self.tag_end_after(start),
                })
            }
            byte if byte.is_ascii_alphabetic() => {
                let (name, name_end) = self.tag_name(start + 1);
                let (end, self_closing) = self.attributes_end(name_end);
                Some(Tag::Start {
                    name,
                    end,
                    self_closing,
                    raw_name: &self.html[start + 1..name_end],
                })
            }
            _ => None,
        }
    }

    fn tag_name(&self, name_start: usize) -> (String, usize) {
        let name_len = self.bytes[name_start..]
            .iter()
            .take_while(|&&b| !b.is_ascii_whitespace() && b != b'/' && b != b'>')
            .count();
        let name_end = name_start + name_len;
        (
            self.html[name_start..name_end].to_ascii_lowercase(),
            name_end,
        )
    }

    /// Walks attributes the way the HTML tokenizer does (quotes only count after `=`), and
    /// returns the position after the closing `>` and whether the tag ended in `/>`.
    fn attributes_end(&self, mut position: usize) -> (usize, bool) {
        let bytes = self.bytes;
        loop {
            while position < bytes.len() && bytes[position].is_ascii_whitespace() {
                position += 1;
            }
            let Some(&byte) = bytes.get(position) else {
                return (bytes.len(), false);
            };
            match byte {
                b'>' => return (position + 1, false),
                b'/' => {
                    if bytes.get(position + 1) == Some(&b'>') {
                        return (position + 2, true);
                    }
                    position += 1;
                }
                _ => {
                    // Attribute name; its first character may be anything but space, / or >.
                    position += 1;
                    while position < bytes.len()
                        && !matches!(bytes[position], b'=' | b'>' | b'/')
                        && !bytes[position].is_ascii_whitespace()
                    {
                        position += 1;
                    }
                    while position < bytes.len() && bytes[position].is_ascii_whitespace() {
                        position += 1;
                    }
                    if bytes.get(position) == Some(&b'=') {
                        position = self.attribute_value_end(position + 1);
                    }
                }
            }
        }
    }

    fn attribute_value_end(&self, mut position: usize) -> usize {
        let bytes = self.bytes;
        while position < bytes.len() && bytes[position].is_ascii_whitespace() {
            position += 1;
        }
        match bytes.get(position) {
            Some(&quote @ (b'"' | b'\'')) => bytes[position + 1..]
                .iter()
                .position(|&b| b == quote)
                .map_or(bytes.len(), |found| position + 1 + found + 1),
            _ => {
                while position < bytes.len()
                    && bytes[position] != b'>'
                    && !bytes[position].is_ascii_whitespace()
                {
                    position += 1;
                }
                position
            }
        }
    }

    fn tag_end_after(&self, position: usize) -> usize {
        self.bytes[position..]
            .iter()
            .position(|&b| b == b'>')
            .map_or(self.bytes.len(), |found| position + found + 1)
    }

    /// Where the content of a raw-text element (script, style, …) ends: at its end tag.
    fn raw_text_end(&self, content_start: usize, raw_name: &str) -> usize {
        if raw_name.eq_ignore_ascii_case("plaintext") {
            return self.bytes.len();
        }
        let closing = format!("</{}", raw_name.to_ascii_lowercase());
        find_ignore_ascii_case(self.bytes, content_start, closing.as_bytes())
            .unwrap_or(self.bytes.len())
    }
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|found| from + found)
}

fn find_ignore_ascii_case(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle))
        .map(|found| from + found)
}

/// Inline elements that, empty, change nothing in the text: dropped.
const EMPTY_INLINE_DROPPED: &[&str] = &[
    "a", "abbr", "b", "big", "cite", "del", "em", "font", "i", "ins", "label", "mark", "s", "small",
    "span", "strike", "strong", "sub", "sup", "time", "tt", "u", "var",
];
/// Block elements that, empty, still separate paragraphs: the first of a run is kept.
const EMPTY_BLOCKS_COLLAPSED: &[&str] = &["div", "p"];
const VOID_ELEMENTS: &[&str] = &[
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "img", "input",
    "keygen", "link", "meta", "param", "source", "track", "wbr", "image",
];
const RAW_TEXT_ELEMENTS: &[&str] = &[
    "script",
    "style",
    "textarea",
    "title",
    "xmp",
    "iframe",
    "noembed",
    "noframes",
    "noscript",
    "plaintext",
];
const FORMATTING_ELEMENTS: &[&str] = &[
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u",
];
const CLOSES_P: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "li",
    "main",
    "menu",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "ul",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capping_is_said_once_naming_the_input_and_the_limits() {
        let mut warnings = Vec::new();
        let deep = format!("{}<p>text</p>{}", "<div>".repeat(300), "</div>".repeat(300));
        let capped = cap_nesting_warned("page.html", &deep, &mut warnings);
        assert!(matches!(capped, Cow::Owned(_)));
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("page.html nests its HTML elements unusually deeply"), "{warnings:?}");
        assert!(warnings[0].contains("256 levels deep") && warnings[0].contains("12 open formatting tags"), "{warnings:?}");
        let mut none = Vec::new();
        assert!(matches!(cap_nesting_warned("plain.html", "<div><p>text</p></div>", &mut none), Cow::Borrowed(_)));
        assert!(none.is_empty());
    }

    #[test]
    fn ordinary_pages_pass_through_without_a_copy() {
        let page = "<!doctype html><html><body><div class='a'><p>One<p>Two<ul><li>x<li>y</ul>\
                    <script>if (a < b && c > d) { x = '</div>'; }</script><svg><path/></svg></div>";
        assert!(matches!(cap_nesting(page), Cow::Borrowed(_)));
    }

    #[test]
    fn deep_nesting_is_capped_and_text_kept() {
        let depth = 10_000;
        let page = format!(
            "{}deep text{}",
            "<div>".repeat(depth),
            "</div>".repeat(depth)
        );
        let capped = cap_nesting(&page);
        assert_eq!(capped.matches("<div>").count(), MAX_NESTING_DEPTH);
        assert_eq!(capped.matches("</div>").count(), MAX_NESTING_DEPTH);
        assert!(capped.contains("deep text"));
    }

    #[test]
    fn self_closing_html_tags_still_nest() {
        let page = "<div/>".repeat(1_000);
        assert_eq!(
            cap_nesting(&page).matches("<div/>").count(),
            MAX_NESTING_DEPTH
        );
    }

    #[test]
    fn unclosed_formatting_tags_are_capped() {
        let page: String = (0..100)
            .map(|i| format!("<p><b id={i}>bold {i}</p>"))
            .collect();
        let capped = cap_nesting(&page);
        assert_eq!(capped.matches("<b ").count(), MAX_OPEN_FORMATTING);
        assert!(capped.contains("bold 99"));
    }

    #[test]
    fn dropped_script_takes_its_content_along() {
        let page = format!(
            "{}<script>var hidden = '<p>no</p>';</script>visible",
            "<div>".repeat(300)
        );
        let capped = cap_nesting(&page);
        assert!(!capped.contains("hidden"));
        assert!(capped.contains("visible"));
    }

    #[test]
    fn empty_inline_elements_are_dropped_and_runs_of_empty_blocks_collapsed() {
        let page = format!(
            "<p>One<span class='icon'></span> two<I></i>.</p>{}<p>Three</p>{}<div>x<a href=1>in<a></a>out</a></div>",
            "<span></span>".repeat(1000),
            "<div></div><P></P >".repeat(1000),
        );
        let capped = cap_nesting(&page);
        assert!(capped.starts_with("<p>One two.</p><p>Three</p><div></div><div>x<a href=1>in<a></a>out</a></div>"), "{capped}");
        let nothing_empty = "<p>One <span> </span><b>bold</b></p><div> </div><div> </div>";
        assert!(matches!(cap_nesting(nothing_empty), Cow::Borrowed(_)));
    }

    #[test]
    fn truncated_tags_do_not_panic() {
        for page in [
            "<",
            "<div",
            "<div class=\"x",
            "</",
            "</div",
            "<!--",
            "<![CDATA[",
            "<?x",
            "<script>x",
            "<a b='",
        ] {
            let _ = cap_nesting(page);
            let _ = cap_nesting(&page.repeat(400));
        }
    }
}
