//! Plain text: paragraphs and an optional headline.
//!
//! Paragraphs are separated by blank lines; lines inside a paragraph are hard wraps and are
//! joined with a space. A file without any blank line is taken as one paragraph per line
//! (the other common convention, e.g. text copied from a web page). A short first line
//! without closing punctuation, followed by more text, is taken as the headline.

use super::{normalize_paragraph, Extracted};

/// A headline is at most this long; anything longer is prose.
const MAX_HEADLINE_CHARS: usize = 150;
const MAX_HEADLINE_WORDS: usize = 20;

pub(super) fn extract(text: &str) -> Extracted {
    let paragraphs = split_paragraphs(text);
    let (title, paragraphs) = take_headline(paragraphs);
    Extracted {
        title,
        paragraphs,
        warnings: Vec::new(),
    }
}

pub(super) fn split_paragraphs(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let has_blank_line = lines.iter().any(|line| line.trim().is_empty());
    let mut paragraphs = Vec::new();
    if has_blank_line {
        let mut current = String::new();
        for line in lines {
            if line.trim().is_empty() {
                push_normalized(&mut paragraphs, &current);
                current.clear();
            } else {
                current.push(' ');
                current.push_str(line);
            }
        }
        push_normalized(&mut paragraphs, &current);
    } else {
        for line in lines {
            push_normalized(&mut paragraphs, line);
        }
    }
    paragraphs
}

fn push_normalized(paragraphs: &mut Vec<String>, raw: &str) {
    let paragraph = normalize_paragraph(raw);
    if !paragraph.is_empty() {
        paragraphs.push(paragraph);
    }
}

/// Splits off the first paragraph as a headline when it reads like one.
pub(super) fn take_headline(mut paragraphs: Vec<String>) -> (Option<String>, Vec<String>) {
    let is_headline = match paragraphs.first() {
        Some(first) => paragraphs.len() >= 2 && reads_like_headline(first),
        None => false,
    };
    if is_headline {
        let headline = paragraphs.remove(0);
        (Some(headline), paragraphs)
    } else {
        (None, paragraphs)
    }
}

fn reads_like_headline(paragraph: &str) -> bool {
    let ends_like_prose =
        paragraph.ends_with(['.', '!', '?', ',', ';', ':', '"', '”', '\'', '’', ')']);
    paragraph.chars().count() <= MAX_HEADLINE_CHARS
        && paragraph.split_whitespace().count() <= MAX_HEADLINE_WORDS
        && paragraph.chars().any(char::is_alphabetic)
        && !ends_like_prose
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_separate_paragraphs_and_wraps_are_joined() {
        let extracted = extract("The council met\non Tuesday.\n\n  It voted 7-2.  \n\n\n");
        assert_eq!(
            extracted.paragraphs,
            ["The council met on Tuesday.", "It voted 7-2."]
        );
        assert_eq!(extracted.title, None);
    }

    #[test]
    fn without_blank_lines_each_line_is_a_paragraph() {
        let extracted = extract("First paragraph.\r\nSecond paragraph.\r\nThird.");
        assert_eq!(
            extracted.paragraphs,
            ["First paragraph.", "Second paragraph.", "Third."]
        );
    }

    #[test]
    fn headline_like_first_line_becomes_the_title() {
        let extracted =
            extract("Council Approves $4.2 Billion Budget\n\nThe vote was 7-2.\n\nMore text.");
        assert_eq!(
            extracted.title.as_deref(),
            Some("Council Approves $4.2 Billion Budget")
        );
        assert_eq!(extracted.paragraphs, ["The vote was 7-2.", "More text."]);
    }

    #[test]
    fn prose_first_line_is_not_a_title() {
        let extracted = extract("Prime Minister Shinzo Abe agreed Thursday.\n\nMore.");
        assert_eq!(extracted.title, None);
        let single = extract("Only a short line");
        assert_eq!(single.title, None);
        assert_eq!(single.paragraphs, ["Only a short line"]);
    }
}
