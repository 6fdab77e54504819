//! Feed item content → paragraphs, read whole.
//!
//! A feed has already chosen an item's text, so nothing here is selected or dropped as page
//! furniture (that is `html`'s job for whole pages, and its main-block choice would drop the
//! loose text of a fragment such as `Intro.<br><br><p>More.</p>`). An HTML fragment gives one
//! paragraph per block element and per run of text between line breaks; scripts, styles and
//! embedded objects are not text. Plain text gives its blank-line-separated paragraphs. No
//! headline is taken from the content: the item's title is the feed's.

use ego_tree::iter::Edge;
use scraper::{Html, Node};

use super::nesting_guard;
use super::{normalize_paragraph, plain, Extracted};

/// Elements whose content is not readable text.
const HIDDEN: &[&str] = &["script", "style", "template", "noscript", "svg", "math", "iframe", "object", "embed", "head", "title", "select", "button"];
/// Elements that start and end a paragraph.
const BLOCKS: &[&str] = &[
    "p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "blockquote", "pre", "ul", "ol", "li", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tfoot", "tr", "caption", "figure", "figcaption", "hr", "br", "address", "details", "summary", "form", "fieldset", "center", "body", "html",
];

pub(super) fn extract_html(input_name: &str, html: &str) -> Extracted {
    let mut warnings = Vec::new();
    let guarded = nesting_guard::cap_nesting_warned(input_name, html, &mut warnings);
    let fragment = Html::parse_fragment(&guarded);
    let mut paragraphs = Vec::new();
    let mut current = String::new();
    let mut hidden_depth = 0usize;
    let flush = |current: &mut String, paragraphs: &mut Vec<String>| {
        let paragraph = normalize_paragraph(current);
        if !paragraph.is_empty() {
            paragraphs.push(paragraph);
        }
        current.clear();
    };
    // `traverse` walks the tree without recursion, however deep the fragment nests.
    for edge in fragment.root_element().traverse() {
        match edge {
            Edge::Open(node) => match node.value() {
                Node::Element(element) if HIDDEN.contains(&element.name()) => hidden_depth += 1,
                Node::Element(element) if hidden_depth == 0 && BLOCKS.contains(&element.name()) => flush(&mut current, &mut paragraphs),
                Node::Element(element) if hidden_depth == 0 && matches!(element.name(), "td" | "th" | "img") => current.push(' '),
                Node::Text(text) if hidden_depth == 0 => current.push_str(text),
                _ => {}
            },
            Edge::Close(node) => match node.value() {
                Node::Element(element) if HIDDEN.contains(&element.name()) => hidden_depth = hidden_depth.saturating_sub(1),
                Node::Element(element) if hidden_depth == 0 && BLOCKS.contains(&element.name()) => flush(&mut current, &mut paragraphs),
                Node::Element(element) if hidden_depth == 0 && matches!(element.name(), "td" | "th") => current.push(' '),
                _ => {}
            },
        }
    }
    flush(&mut current, &mut paragraphs);
    Extracted { title: None, paragraphs, warnings }
}

pub(super) fn extract_text(text: &str) -> Extracted {
    Extracted { title: None, paragraphs: plain::split_paragraphs(text), warnings: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_text_beside_paragraphs_is_kept_and_hidden_parts_are_not() {
        let extracted = extract_html("item", "Die wichtigsten Nachrichten. <br><br><p>See <a href=\"x\">the notes</a> for more.</p><script>var a = 1;</script><ul><li>One</li><li>Two</li></ul>");
        assert_eq!(extracted.paragraphs, ["Die wichtigsten Nachrichten.", "See the notes for more.", "One", "Two"]);
        assert!(extracted.title.is_none());
    }

    #[test]
    fn plain_text_keeps_its_first_line() {
        let extracted = extract_text("Short first line\n\nThen the story goes on for a while.");
        assert_eq!(extracted.paragraphs, ["Short first line", "Then the story goes on for a while."]);
        assert!(extracted.title.is_none());
    }

    #[test]
    fn deep_nesting_is_capped_with_a_warning() {
        let html = "<div>".repeat(5000) + "deep words" + &"</div>".repeat(5000);
        let extracted = extract_html("item", &html);
        assert_eq!(extracted.paragraphs, ["deep words"]);
        assert_eq!(extracted.warnings.len(), 1);
    }
}
