//! Format detection: plain text, Markdown or HTML, judged by content with the file extension
//! as a hint.
//!
//! The extension wins when the content does not clearly contradict it (a `.md` file is
//! Markdown unless it is a whole HTML page). Without an extension (standard input, `notes`),
//! content decides. Only the start of the input is sampled, so detection costs the same for a
//! 50 MiB file as for a short one.

use std::path::Path;

use super::{SourceFormat, STDIN_ARG};

/// Detection looks at this many bytes from the start (rounded down to a character boundary).
const SAMPLE_BYTES: usize = 64 * 1024;
/// How many block-level tags make headerless input (a fragment) count as HTML.
const MIN_HTML_TAGS_FOR_FRAGMENT: usize = 3;
/// With this many block-level tags, HTML wins over Markdown signals in the same input.
const HTML_TAGS_THAT_OUTWEIGH_MARKDOWN: usize = 10;

/// Decides how `text` (read from `origin`, a path or `"-"`) should be extracted.
pub fn detect_format(origin: &str, text: &str) -> SourceFormat {
    let sample = head(text, SAMPLE_BYTES);
    let whole_page = starts_like_html_page(sample);
    let html_tags = count_block_tags(sample);

    match extension_hint(origin) {
        Some(SourceFormat::Html) if whole_page || html_tags > 0 || has_any_tag(sample) => {
            SourceFormat::Html
        }
        Some(SourceFormat::Html) => SourceFormat::Text,
        Some(hinted) if !whole_page => hinted,
        Some(_) => SourceFormat::Html,
        None => {
            if whole_page {
                return SourceFormat::Html;
            }
            let markdown = looks_like_markdown(sample);
            if html_tags >= HTML_TAGS_THAT_OUTWEIGH_MARKDOWN
                || (html_tags >= MIN_HTML_TAGS_FOR_FRAGMENT && !markdown)
            {
                SourceFormat::Html
            } else if markdown {
                SourceFormat::Markdown
            } else {
                SourceFormat::Text
            }
        }
    }
}

fn extension_hint(origin: &str) -> Option<SourceFormat> {
    if origin == STDIN_ARG {
        return None;
    }
    let extension = Path::new(origin)
        .extension()?
        .to_str()?
        .to_ascii_lowercase();
    match extension.as_str() {
        "html" | "htm" | "xhtml" | "shtml" => Some(SourceFormat::Html),
        "md" | "markdown" | "mdown" | "mkd" | "mkdn" => Some(SourceFormat::Markdown),
        "txt" | "text" => Some(SourceFormat::Text),
        _ => None,
    }
}

fn head(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `<!doctype html`, `<html`, or an XML declaration followed by one of them, possibly after
/// leading comments.
fn starts_like_html_page(sample: &str) -> bool {
    let mut rest = sample.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
    loop {
        if let Some(after_comment) = rest.strip_prefix("<!--") {
            match after_comment.find("-->") {
                Some(end) => rest = after_comment[end + 3..].trim_start(),
                None => return false,
            }
        } else if starts_with_ignore_case(rest, "<?xml") {
            match rest.find("?>") {
                Some(end) => rest = rest[end + 2..].trim_start(),
                None => return false,
            }
        } else {
            break;
        }
    }
    starts_with_ignore_case(rest, "<!doctype html") || starts_with_ignore_case(rest, "<html")
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Counts opening tags of elements that carry article structure.
fn count_block_tags(sample: &str) -> usize {
    const BLOCK_TAGS: &[&str] = &[
        "p",
        "div",
        "body",
        "article",
        "section",
        "main",
        "h1",
        "h2",
        "h3",
        "ul",
        "ol",
        "li",
        "br",
        "table",
        "blockquote",
    ];
    let bytes = sample.as_bytes();
    let mut count = 0;
    for (position, _) in sample.match_indices('<') {
        let name_start = position + 1;
        let name_len = bytes[name_start..]
            .iter()
            .take_while(|byte| byte.is_ascii_alphanumeric())
            .count();
        let name = &bytes[name_start..name_start + name_len];
        let closes_name = matches!(
            bytes.get(name_start + name_len),
            Some(b'>' | b' ' | b'\t' | b'\n' | b'\r' | b'/')
        );
        if closes_name
            && BLOCK_TAGS
                .iter()
                .any(|tag| name.eq_ignore_ascii_case(tag.as_bytes()))
        {
            count += 1;
        }
    }
    count
}

/// Any `<name` or `</name` at all: enough to treat a `.html` file as HTML.
fn has_any_tag(sample: &str) -> bool {
    sample.match_indices('<').any(|(position, _)| {
        let after = sample[position + 1..].trim_start_matches('/');
        after.starts_with(|c: char| c.is_ascii_alphabetic())
    })
}

/// One strong sign (heading, code fence, link syntax, front matter) or two weak ones (list
/// items, emphasis, block quotes, setext underlines).
fn looks_like_markdown(sample: &str) -> bool {
    let mut strong = sample.starts_with("---\n") || sample.starts_with("---\r\n");
    let (mut list_items, mut emphasis, mut quotes, mut underlines) = (0, false, false, false);
    for line in sample.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if indent <= 3 && is_atx_heading(trimmed) {
            strong = true;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            strong = true;
        }
        if has_inline_link(trimmed) {
            strong = true;
        }
        if trimmed.starts_with("- ") || trimmed.starts_with("* ") || trimmed.starts_with("+ ") {
            list_items += 1;
        }
        if trimmed.contains("**") || trimmed.contains("__") {
            emphasis = true;
        }
        if trimmed.starts_with("> ") {
            quotes = true;
        }
        if indent <= 3 && trimmed.len() >= 3 && (trimmed.trim_end().bytes().all(|b| b == b'=')) {
            underlines = true;
        }
        if strong {
            return true;
        }
    }
    let weak_signs = [list_items >= 2, emphasis, quotes, underlines];
    weak_signs.iter().filter(|&&sign| sign).count() >= 2
}

pub(super) fn is_atx_heading(trimmed_line: &str) -> bool {
    let hashes = trimmed_line.bytes().take_while(|&b| b == b'#').count();
    (1..=6).contains(&hashes)
        && matches!(trimmed_line.as_bytes().get(hashes), Some(b' ' | b'\t'))
        && !trimmed_line[hashes..].trim().is_empty()
}

/// `[text](target)` on one line.
fn has_inline_link(line: &str) -> bool {
    line.match_indices("](")
        .any(|(position, _)| line[..position].contains('[') && line[position + 2..].contains(')'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_pages_are_html_whatever_the_extension() {
        let page = "\u{FEFF}  <!DOCTYPE html>\n<html><body><p>Hi</p></body></html>";
        for origin in ["-", "page.html", "page.txt", "page.md", "page"] {
            assert_eq!(detect_format(origin, page), SourceFormat::Html, "{origin}");
        }
        assert_eq!(
            detect_format("-", "<!-- saved --><html lang=en>"),
            SourceFormat::Html
        );
        assert_eq!(
            detect_format("-", "<?xml version=\"1.0\"?>\n<html xmlns=\"x\">"),
            SourceFormat::Html
        );
    }

    #[test]
    fn fragments_with_several_block_tags_are_html() {
        let fragment = "<div class=story><p>One.</p><p>Two.</p></div>";
        assert_eq!(detect_format("-", fragment), SourceFormat::Html);
        assert_eq!(
            detect_format("-", "Use <p> for paragraphs."),
            SourceFormat::Text
        );
    }

    #[test]
    fn markdown_is_recognized_by_its_syntax() {
        assert_eq!(
            detect_format("-", "# Headline\n\nBody text."),
            SourceFormat::Markdown
        );
        assert_eq!(
            detect_format("-", "See [the report](https://x.org/r) today."),
            SourceFormat::Markdown
        );
        assert_eq!(
            detect_format("-", "Intro.\n\n- one\n- two\n\nSome **bold** claim."),
            SourceFormat::Markdown
        );
        assert_eq!(
            detect_format("-", "---\ntitle: x\n---\nBody."),
            SourceFormat::Markdown
        );
    }

    #[test]
    fn plain_prose_is_text() {
        let prose = "WASHINGTON (AP) — The U.S. Senate voted 51-49 on Tuesday.\n\n\
                     #hashtags are not headings, and 5 * 3 is not emphasis.";
        assert_eq!(detect_format("-", prose), SourceFormat::Text);
        assert_eq!(detect_format("story", prose), SourceFormat::Text);
    }

    #[test]
    fn extension_is_a_hint_that_content_can_overrule() {
        assert_eq!(
            detect_format("notes.md", "Just words."),
            SourceFormat::Markdown
        );
        assert_eq!(
            detect_format("notes.txt", "# Looks like a heading"),
            SourceFormat::Text
        );
        assert_eq!(
            detect_format("page.HTM", "<p>Short fragment</p>"),
            SourceFormat::Html
        );
        assert_eq!(
            detect_format("page.html", "no tags at all"),
            SourceFormat::Text
        );
    }

    #[test]
    fn sampling_never_splits_a_character() {
        let long = "é".repeat(SAMPLE_BYTES);
        assert_eq!(detect_format("-", &long), SourceFormat::Text);
    }
}
