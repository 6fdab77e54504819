//! Which of a feed item's text fields is summarized, and in what form.
//!
//! Feeds carry an item's text in several places at once (full content, a description or
//! summary, Media RSS and iTunes descriptions, an XHTML body), and any of them may be empty,
//! a placeholder ("…") or a teaser. The rule is one for every format: the longest by visible
//! text of the fields that have letters or digits, the earlier field on a tie. What was found instead (an image only, base64
//! that is not text, a placeholder) becomes the reason the item is skipped.
//!
//! It must not know the feed formats: `xml` and `json` name the fields and their markup.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

use super::super::item::ItemBody;

/// How a field's text is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    /// HTML (escaped or serialized from inline XHTML).
    Html,
    /// Plain text: markup characters in it are text (`type="text"`).
    Plain,
    /// Plain by definition but often HTML in practice (iTunes summaries, Media RSS
    /// descriptions): HTML when it contains HTML tags.
    PlainOrHtml,
}

/// One field of an item that may hold its text.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The field's name as the feed writes it (`content:encoded`, `description`, …), for messages.
    pub field: String,
    pub text: String,
    pub markup: Markup,
}

/// A field that holds something that cannot be summarized, and why.
#[derive(Debug, Clone)]
pub struct Unusable {
    pub field: String,
    pub reason: String,
}

/// What an item offers: its text fields in order of preference, the unusable ones, and
/// what else it has.
#[derive(Debug, Default)]
pub struct ItemFields {
    pub candidates: Vec<Candidate>,
    pub unusable: Vec<Unusable>,
    pub title: Option<String>,
    pub link: Option<String>,
    /// An out-of-line content address (Atom `content src`), used like a link.
    pub content_source: Option<String>,
    /// It carries an image or other media (an enclosure, `media:content`, JSON Feed `image`).
    pub has_media: bool,
}

/// The item's body (what to summarize, a link to fetch, or why there is nothing) and
/// warnings about fields that could not be used.
pub fn choose(fields: ItemFields) -> (ItemBody, Vec<String>) {
    let mut best: Option<(usize, Candidate)> = None;
    let mut placeholder: Option<String> = None;
    let mut markup_only = false;
    for candidate in fields.candidates {
        let markup = resolve_markup(&candidate);
        let visible = normalize_space(&match markup {
            Markup::Html => visible_text(&candidate.text),
            _ => candidate.text.clone(),
        });
        if visible.is_empty() {
            markup_only |= !candidate.text.trim().is_empty();
            continue;
        }
        if !visible.chars().any(char::is_alphanumeric) {
            placeholder.get_or_insert(visible);
            continue;
        }
        let length = visible.chars().count();
        if best.as_ref().is_none_or(|(best_length, _)| length > *best_length) {
            best = Some((length, Candidate { markup, ..candidate }));
        }
    }
    let warnings: Vec<String> = fields.unusable.iter().map(|unusable| format!("{} was not used: {}", unusable.field, unusable.reason)).collect();
    if let Some((_, chosen)) = best {
        let body = match chosen.markup {
            Markup::Html => ItemBody::ContentHtml(chosen.text),
            _ => ItemBody::ContentText(chosen.text),
        };
        return (body, warnings);
    }
    if let Some(link) = fields.link.or(fields.content_source) {
        return (ItemBody::LinkOnly(link), warnings);
    }
    let reason = if let Some(unusable) = fields.unusable.first() {
        format!("its only content ({}) cannot be summarized: {}", unusable.field, unusable.reason)
    } else if let Some(placeholder) = placeholder {
        format!("its only text is a placeholder ({placeholder:?})")
    } else if markup_only {
        "its content has no text (only images or markup)".to_string()
    } else if fields.has_media {
        "it has only media (an image, audio or video), no text".to_string()
    } else if fields.title.is_some() {
        "it has a title but no text".to_string()
    } else {
        "it has no title, text or link".to_string()
    };
    (ItemBody::Nothing(reason), Vec::new())
}

fn resolve_markup(candidate: &Candidate) -> Markup {
    match candidate.markup {
        Markup::PlainOrHtml if looks_like_html(&candidate.text) => Markup::Html,
        Markup::PlainOrHtml => Markup::Plain,
        markup => markup,
    }
}

/// True when a text contains an HTML start or end tag of a common element.
pub fn looks_like_html(text: &str) -> bool {
    const TAGS: &[&str] = &["p", "br", "div", "a", "b", "i", "em", "strong", "span", "img", "ul", "ol", "li", "h1", "h2", "h3", "h4", "blockquote", "table", "pre", "code", "hr", "figure", "iframe", "font", "u", "small", "sup", "sub"];
    let lower = text.to_ascii_lowercase();
    lower.match_indices('<').any(|(at, _)| {
        let rest = lower[at + 1..].trim_start_matches('/');
        let length = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
        let after = rest[length..].chars().next();
        TAGS.contains(&&rest[..length]) && matches!(after, Some('>' | ' ' | '/' | '\n' | '\t' | '\r'))
    })
}

/// The text a browser would show for an HTML fragment (scripts and styles excluded).
pub fn visible_text(html: &str) -> String {
    let fragment = scraper::Html::parse_fragment(html);
    let mut text = String::new();
    for node in fragment.root_element().descendants() {
        if let Some(piece) = node.value().as_text() {
            let hidden = node.ancestors().any(|ancestor| ancestor.value().as_element().is_some_and(|element| matches!(element.name(), "script" | "style" | "template")));
            if !hidden {
                text.push_str(piece);
                text.push(' ');
            }
        }
    }
    text
}

/// Whitespace runs folded to one space, trimmed.
pub fn normalize_space(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A title as plain text: tags removed when it is HTML.
pub fn plain_title(text: &str, is_html: bool) -> Option<String> {
    let text = if is_html || looks_like_html(text) { visible_text(text) } else { text.to_string() };
    let title = normalize_space(&text);
    (!title.is_empty()).then_some(title)
}

/// Base64 as feeds write it: line breaks and spaces anywhere, padding optional.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let engine = GeneralPurpose::new(&base64::alphabet::STANDARD, GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent));
    engine.decode(compact.as_bytes()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(field: &str, text: &str, markup: Markup) -> Candidate {
        Candidate { field: field.to_string(), text: text.to_string(), markup }
    }

    #[test]
    fn the_longest_real_text_wins_and_placeholders_do_not() {
        let fields = ItemFields {
            candidates: vec![
                candidate("content:encoded", "<p>...</p>", Markup::Html),
                candidate("description", "<p>The council approved the budget on Monday.</p>", Markup::Html),
                candidate("itunes:summary", "Budget approved.", Markup::PlainOrHtml),
            ],
            title: Some("Budget".into()),
            ..ItemFields::default()
        };
        let (body, warnings) = choose(fields);
        assert!(matches!(&body, ItemBody::ContentHtml(html) if html.contains("council")), "{body:?}");
        assert!(warnings.is_empty());
    }

    #[test]
    fn plain_text_stays_plain_and_tagged_itunes_text_is_html() {
        let (body, _) = choose(ItemFields { candidates: vec![candidate("content", "Use <b> for bold text in HTML.", Markup::Plain)], ..ItemFields::default() });
        assert!(matches!(&body, ItemBody::ContentText(text) if text.contains("<b>")), "{body:?}");
        let (body, _) = choose(ItemFields { candidates: vec![candidate("itunes:summary", "<p>An episode about tides.</p>", Markup::PlainOrHtml)], ..ItemFields::default() });
        assert!(matches!(body, ItemBody::ContentHtml(_)), "{body:?}");
        let (body, _) = choose(ItemFields { candidates: vec![candidate("itunes:summary", "If a < b and c > d, then what?", Markup::PlainOrHtml)], ..ItemFields::default() });
        assert!(matches!(body, ItemBody::ContentText(_)), "{body:?}");
    }

    #[test]
    fn items_without_text_say_why() {
        let reason = |fields: ItemFields| match choose(fields).0 {
            ItemBody::Nothing(reason) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(reason(ItemFields { title: Some("Only a title".into()), ..ItemFields::default() }), "it has a title but no text");
        assert!(reason(ItemFields { candidates: vec![candidate("content", "<p><img src=\"a.jpg\"></p>", Markup::Html)], ..ItemFields::default() }).contains("only images"));
        assert!(reason(ItemFields { candidates: vec![candidate("description", "…", Markup::Html)], ..ItemFields::default() }).contains("placeholder"));
        let fields = ItemFields { unusable: vec![Unusable { field: "content".into(), reason: "it is base64-encoded image/png".into() }], ..ItemFields::default() };
        assert!(reason(fields).contains("base64-encoded image/png"));
        let (body, _) = choose(ItemFields { link: Some("https://example.org/a".into()), ..ItemFields::default() });
        assert!(matches!(body, ItemBody::LinkOnly(_)));
    }

    #[test]
    fn base64_with_line_breaks_and_without_padding() {
        assert_eq!(decode_base64("SGVs\nbG8gd29y bGQ").as_deref(), Some(&b"Hello world"[..]));
        assert_eq!(decode_base64("not base64 !"), None);
    }
}
