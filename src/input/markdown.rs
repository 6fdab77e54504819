//! Markdown → prose: a line-based stripper, not a full CommonMark parser.
//!
//! What a summarizer needs is the words in reading order, so the markup goes and the text
//! stays: the first `# ` heading becomes the title; other headings, list items, table rows
//! and block quotes each become a paragraph of their own; links keep their text; images,
//! code blocks, front matter, reference definitions, rules and inline HTML tags are dropped.
//!
//! Every step is a single left-to-right pass (bracket and parenthesis matching use explicit
//! stacks), so pathological input such as a megabyte of `[` costs linear time.

use super::detect::is_atx_heading;
use super::{normalize_paragraph, Extracted};

/// An inline HTML tag or autolink is at most this long; a `<` without a `>` this close is text.
const MAX_INLINE_TAG_BYTES: usize = 1000;
/// A reference label in `[text][label]` is at most this long.
const MAX_REFERENCE_LABEL_BYTES: usize = 200;

pub(super) fn extract(text: &str) -> Extracted {
    let lines: Vec<&str> = text.lines().collect();
    let (front_matter_title, body_start) = front_matter(&lines);
    let mut builder = Builder::default();

    for line in &lines[body_start..] {
        builder.line(line);
    }
    builder.flush();

    Extracted {
        title: builder.title.or(front_matter_title),
        paragraphs: builder.paragraphs,
        warnings: Vec::new(),
    }
}

/// YAML front matter (`---` … `---` or `...`) at the very top: skipped, but its `title:`
/// is used when the body has no `# ` heading.
fn front_matter(lines: &[&str]) -> (Option<String>, usize) {
    let opens = lines
        .first()
        .is_some_and(|first| first.trim_start_matches('\u{FEFF}').trim_end() == "---");
    if !opens {
        return (None, 0);
    }
    let Some(close_offset) = lines[1..]
        .iter()
        .position(|line| matches!(line.trim_end(), "---" | "..."))
    else {
        return (None, 0);
    };
    let close = close_offset + 1;
    let title = lines[1..close].iter().find_map(|line| {
        let value = line
            .strip_prefix("title:")?
            .trim()
            .trim_matches(|c| c == '"' || c == '\'');
        let title = normalize_paragraph(value);
        (!title.is_empty()).then_some(title)
    });
    (title, close + 1)
}

#[derive(Default)]
struct Builder {
    title: Option<String>,
    paragraphs: Vec<String>,
    /// Raw Markdown of the paragraph being collected (lines joined with spaces).
    current: String,
    /// Inside a fenced code block: the fence character and run length that close it.
    fence: Option<(char, usize)>,
    quote_depth: usize,
}

impl Builder {
    fn line(&mut self, line: &str) {
        let (quote_depth, content) = strip_quote_markers(line);
        if let Some((fence_char, fence_len)) = self.fence {
            if is_closing_fence(content.trim(), fence_char, fence_len) {
                self.fence = None;
            }
            return;
        }
        if quote_depth != self.quote_depth {
            self.flush();
            self.quote_depth = quote_depth;
        }
        let trimmed = content.trim_start();
        let indent = content.len() - trimmed.len();
        if trimmed.trim_end().is_empty() {
            self.flush();
            return;
        }
        if indent <= 3 && self.block_construct(trimmed) {
            return;
        }
        self.current.push(' ');
        self.current.push_str(trimmed);
    }

    /// Handles a line that opens or is a block construct; false for an ordinary text line.
    fn block_construct(&mut self, trimmed: &str) -> bool {
        if let Some(fence) = opening_fence(trimmed) {
            self.flush();
            self.fence = Some(fence);
        } else if is_atx_heading(trimmed) {
            self.flush();
            let level = trimmed.bytes().take_while(|&b| b == b'#').count();
            let heading = trimmed[level..].trim().trim_end_matches('#');
            self.heading(level, heading);
        } else if !self.current.is_empty() && is_setext_underline(trimmed, '=') {
            let heading = std::mem::take(&mut self.current);
            self.heading(1, &heading);
        } else if (!self.current.is_empty() && is_setext_underline(trimmed, '-'))
            || is_thematic_break(trimmed)
            || is_reference_definition(trimmed)
            || is_table_separator(trimmed)
        {
            // A level-2 setext underline ends its paragraph (kept as text); rules, reference
            // definitions and table separators carry no words.
            self.flush();
        } else if let Some(item) = list_item_content(trimmed) {
            self.flush();
            self.current.push_str(strip_task_box(item));
        } else if let Some(row) = trimmed.strip_prefix('|') {
            self.flush();
            let cells: Vec<&str> = row
                .trim_end()
                .trim_end_matches('|')
                .split('|')
                .map(str::trim)
                .collect();
            self.current.push_str(&cells.join("; "));
            self.flush();
        } else {
            return false;
        }
        true
    }

    fn heading(&mut self, level: usize, raw_heading: &str) {
        let heading = normalize_paragraph(&strip_inline(raw_heading));
        if heading.is_empty() {
            return;
        }
        if level == 1 && self.title.is_none() && self.quote_depth == 0 {
            self.title = Some(heading);
        } else {
            self.paragraphs.push(heading);
        }
    }

    fn flush(&mut self) {
        if self.current.is_empty() {
            return;
        }
        let paragraph = normalize_paragraph(&strip_inline(&self.current));
        if !paragraph.is_empty() {
            self.paragraphs.push(paragraph);
        }
        self.current.clear();
    }
}

fn strip_quote_markers(line: &str) -> (usize, &str) {
    let mut depth = 0;
    let mut rest = line;
    loop {
        let trimmed = rest.trim_start();
        match trimmed.strip_prefix('>') {
            Some(after) => {
                depth += 1;
                rest = after.strip_prefix(' ').unwrap_or(after);
            }
            None => return (depth, rest),
        }
    }
}

fn opening_fence(trimmed: &str) -> Option<(char, usize)> {
    let fence_char = trimmed.chars().next().filter(|&c| c == '`' || c == '~')?;
    let run = trimmed.chars().take_while(|&c| c == fence_char).count();
    // A backtick fence's info string may not contain backticks (that would be inline code).
    let info = &trimmed[run..];
    (run >= 3 && !(fence_char == '`' && info.contains('`'))).then_some((fence_char, run))
}

fn is_closing_fence(trimmed: &str, fence_char: char, fence_len: usize) -> bool {
    trimmed.chars().count() >= fence_len && trimmed.chars().all(|c| c == fence_char)
}

fn is_setext_underline(trimmed: &str, underline_char: char) -> bool {
    let line = trimmed.trim_end();
    !line.is_empty() && line.chars().all(|c| c == underline_char)
}

/// `***`, `---`, `___`, also with spaces between.
fn is_thematic_break(trimmed: &str) -> bool {
    let marks: Vec<char> = trimmed.chars().filter(|c| !c.is_whitespace()).collect();
    marks.len() >= 3 && matches!(marks[0], '*' | '-' | '_') && marks.iter().all(|&c| c == marks[0])
}

/// `[label]: https://…`
fn is_reference_definition(trimmed: &str) -> bool {
    let Some(rest) = trimmed.strip_prefix('[') else {
        return false;
    };
    match rest.find("]:") {
        Some(end) => end > 0 && !rest[..end].contains(']') && !rest[end + 2..].trim().is_empty(),
        None => false,
    }
}

/// `|---|:---:|` or `--- | ---`.
fn is_table_separator(trimmed: &str) -> bool {
    let line = trimmed.trim_end();
    line.contains('|')
        && line.contains('-')
        && line
            .chars()
            .all(|c| matches!(c, '|' | '-' | ':' | ' ' | '\t'))
}

/// The text of a list item line (`- x`, `* x`, `+ x`, `1. x`, `2) x`), without its marker.
fn list_item_content(trimmed: &str) -> Option<&str> {
    let bytes = trimmed.as_bytes();
    let marker_len = match bytes.first()? {
        b'-' | b'*' | b'+' => 1,
        _ => {
            // Up to three digits: a four-digit number ("1990. That year …") is far more
            // likely a wrapped sentence than list item number 1990.
            let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
            if !(1..=3).contains(&digits) || !matches!(bytes.get(digits), Some(b'.' | b')')) {
                return None;
            }
            digits + 1
        }
    };
    match bytes.get(marker_len) {
        Some(b' ' | b'\t') => Some(trimmed[marker_len..].trim_start()),
        None => Some(""),
        _ => None,
    }
}

fn strip_task_box(item: &str) -> &str {
    for task_box in ["[ ] ", "[x] ", "[X] "] {
        if let Some(rest) = item.strip_prefix(task_box) {
            return rest;
        }
    }
    item
}

/// Removes inline markup from one paragraph: links → their text, images dropped, inline
/// HTML tags dropped (autolinks keep their address), emphasis and code marks dropped,
/// backslash escapes resolved.
fn strip_inline(raw: &str) -> String {
    let without_links = strip_links_and_images(raw);
    let without_tags = strip_inline_html(&without_links);
    strip_emphasis_and_escapes(&without_tags)
}

fn is_escaped(bytes: &[u8], position: usize) -> bool {
    position > 0 && bytes[position - 1] == b'\\'
}

fn strip_links_and_images(text: &str) -> String {
    let bytes = text.as_bytes();

    // Pass 1: for every `(` that directly follows a `]`, its matching `)`.
    let mut destination_close = std::collections::HashMap::new();
    let mut open_parens: Vec<(usize, bool)> = Vec::new();
    for (position, &byte) in bytes.iter().enumerate() {
        if is_escaped(bytes, position) {
            continue;
        }
        match byte {
            b'(' => open_parens.push((position, position > 0 && bytes[position - 1] == b']')),
            b')' => {
                if let Some((open, follows_bracket)) = open_parens.pop() {
                    if follows_bracket {
                        destination_close.insert(open, position);
                    }
                }
            }
            _ => {}
        }
    }

    // Pass 2: pair brackets and collect the byte ranges (inclusive) to delete.
    let mut deletions: Vec<(usize, usize)> = Vec::new();
    let mut open_brackets: Vec<usize> = Vec::new();
    for (position, &byte) in bytes.iter().enumerate() {
        if is_escaped(bytes, position) {
            continue;
        }
        match byte {
            b'[' => open_brackets.push(position),
            b']' => {
                let Some(open) = open_brackets.pop() else {
                    continue;
                };
                let is_image = open > 0 && bytes[open - 1] == b'!' && !is_escaped(bytes, open - 1);
                let Some(target_end) = link_target_end(bytes, position, &destination_close) else {
                    continue;
                };
                if is_image {
                    deletions.push((open - 1, target_end));
                } else {
                    deletions.push((open, open));
                    deletions.push((position, target_end));
                }
            }
            _ => {}
        }
    }
    delete_ranges(text, deletions)
}

/// Where the target of a link whose text closes at `close_bracket` ends: `(url "title")` or
/// `[label]`. None when the brackets are just brackets.
fn link_target_end(
    bytes: &[u8],
    close_bracket: usize,
    destination_close: &std::collections::HashMap<usize, usize>,
) -> Option<usize> {
    match bytes.get(close_bracket + 1)? {
        b'(' => destination_close.get(&(close_bracket + 1)).copied(),
        b'[' => {
            let label_start = close_bracket + 2;
            let window_end = bytes.len().min(label_start + MAX_REFERENCE_LABEL_BYTES);
            let label_len = bytes[label_start..window_end]
                .iter()
                .position(|&b| b == b']')?;
            let label = &bytes[label_start..label_start + label_len];
            (!label.contains(&b'[')).then_some(label_start + label_len)
        }
        _ => None,
    }
}

/// Copies `text` without the given inclusive byte ranges (which may overlap or nest).
fn delete_ranges(text: &str, mut deletions: Vec<(usize, usize)>) -> String {
    if deletions.is_empty() {
        return text.to_string();
    }
    deletions.sort_unstable();
    let mut kept = String::with_capacity(text.len());
    let mut copy_from = 0;
    for (start, end_inclusive) in deletions {
        if start > copy_from {
            kept.push_str(&text[copy_from..start]);
        }
        copy_from = copy_from.max(end_inclusive + 1);
    }
    if copy_from < text.len() {
        kept.push_str(&text[copy_from..]);
    }
    kept
}

/// Drops `<tag …>`, `</tag>` and `<!-- … -->`; `<https://…>` autolinks keep their address.
fn strip_inline_html(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut kept = String::with_capacity(text.len());
    let mut copy_from = 0;
    let mut position = 0;
    // The next `>` at or after some point, remembered so that many `<` share one search.
    let mut next_close: Option<usize> = None;
    while let Some(offset) = bytes[position..].iter().position(|&b| b == b'<') {
        let open = position + offset;
        position = open + 1;
        let starts_tag = match bytes.get(open + 1) {
            Some(b'/' | b'!') => true,
            Some(byte) => byte.is_ascii_alphabetic(),
            None => false,
        };
        if !starts_tag || is_escaped(bytes, open) {
            continue;
        }
        if next_close.is_none_or(|close| close < open) {
            next_close = bytes[open..]
                .iter()
                .position(|&b| b == b'>')
                .map(|found| open + found);
        }
        let Some(close) = next_close else { break };
        if close - open > MAX_INLINE_TAG_BYTES {
            continue;
        }
        let inside = &text[open + 1..close];
        kept.push_str(&text[copy_from..open]);
        if is_autolink(inside) {
            kept.push_str(inside);
        }
        copy_from = close + 1;
        position = close + 1;
    }
    kept.push_str(&text[copy_from..]);
    kept
}

fn is_autolink(inside: &str) -> bool {
    let lower = inside.to_ascii_lowercase();
    (lower.starts_with("http://")
        || lower.starts_with("https://")
        || lower.starts_with("mailto:")
        || (inside.contains('@') && !inside.contains(char::is_whitespace)))
        && !inside.contains(char::is_whitespace)
}

/// Drops emphasis (`*`, `_`, `~~`) and code (`` ` ``) delimiters, keeping literal uses such
/// as `5 * 3` and `snake_case`, and resolves backslash escapes.
fn strip_emphasis_and_escapes(text: &str) -> String {
    let mut kept = String::with_capacity(text.len());
    let mut position = 0;
    while position < text.len() {
        let rest = &text[position..];
        let Some(character) = rest.chars().next() else {
            break;
        };
        if character == '\\' {
            if let Some(escaped) = rest[1..].chars().next().filter(char::is_ascii_punctuation) {
                kept.push(escaped);
                position += 2;
                continue;
            }
        }
        if !matches!(character, '*' | '_' | '~' | '`') {
            kept.push(character);
            position += character.len_utf8();
            continue;
        }
        let run_len = rest.chars().take_while(|&c| c == character).count();
        let before = text[..position].chars().next_back();
        let after = rest[run_len..].chars().next();
        let run = &rest[..run_len];
        if !is_literal_delimiter_run(character, run_len, before, after) {
            // Markup: drop it.
        } else {
            kept.push_str(run);
        }
        position += run_len;
    }
    kept
}

fn is_literal_delimiter_run(
    delimiter: char,
    run_len: usize,
    before: Option<char>,
    after: Option<char>,
) -> bool {
    let is_space = |c: Option<char>| c.is_none_or(char::is_whitespace);
    let is_punct = |c: Option<char>| {
        c.is_some_and(|c| c.is_ascii_punctuation() || (!c.is_alphanumeric() && !c.is_whitespace()))
    };
    let left_flanking =
        !is_space(after) && (!is_punct(after) || is_space(before) || is_punct(before));
    let right_flanking =
        !is_space(before) && (!is_punct(before) || is_space(after) || is_punct(after));
    let between = |test: fn(&char) -> bool| {
        before.as_ref().is_some_and(test) && after.as_ref().is_some_and(test)
    };
    match delimiter {
        '`' => false,
        '~' => run_len < 2 || !(left_flanking || right_flanking),
        '_' => between(|c| c.is_alphanumeric()) || !(left_flanking || right_flanking),
        _ => between(|c| c.is_ascii_digit()) || !(left_flanking || right_flanking),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_markup_and_keeps_the_words() {
        let markdown = "---\ntitle: \"From front matter\"\nlayout: post\n---\n\
            # Council Passes **$4.2 Billion** Budget\n\n\
            The vote was *7-2* after a __long__ debate, said [Dr. Ruth Adler](https://example.org/adler \"bio\").\n\
            It was ~~close~~ tight.\n\n\
            ![A photo of the chamber](chamber.jpg)\n\n\
            ## What changes\n\n\
            - Property tax rises 2.5%\n\
            * [ ] New buses for Route No. 3\n\
            1. Parks get $1.1 million\n\n\
            > \"We did our job,\" said Mayor J.R. Ortiz.\n> It took months.\n\n\
            ```rust\nfn main() {}\n```\n\n\
            ***\n\n\
            Read the [full report][report] or mail <info@example.org>. Use `snake_case` and 5 * 3.\n\n\
            [report]: https://example.org/report.pdf\n";
        let extracted = extract(markdown);
        assert_eq!(
            extracted.title.as_deref(),
            Some("Council Passes $4.2 Billion Budget")
        );
        assert_eq!(
            extracted.paragraphs,
            [
                "The vote was 7-2 after a long debate, said Dr. Ruth Adler. It was close tight.",
                "What changes",
                "Property tax rises 2.5%",
                "New buses for Route No. 3",
                "Parks get $1.1 million",
                "\"We did our job,\" said Mayor J.R. Ortiz. It took months.",
                "Read the full report or mail info@example.org. Use snake_case and 5 * 3.",
            ]
        );
    }

    #[test]
    fn front_matter_title_is_the_fallback_and_setext_headings_work() {
        let extracted = extract("---\ntitle: Quiet Day\n---\nNothing happened.\n");
        assert_eq!(extracted.title.as_deref(), Some("Quiet Day"));
        assert_eq!(extracted.paragraphs, ["Nothing happened."]);

        let setext = extract("Big News\n========\n\nSubhead\n-------\nBody text.\n");
        assert_eq!(setext.title.as_deref(), Some("Big News"));
        assert_eq!(setext.paragraphs, ["Subhead", "Body text."]);
    }

    #[test]
    fn only_the_first_h1_is_the_title() {
        let extracted = extract("# One\n\ntext\n\n# Two\n");
        assert_eq!(extracted.title.as_deref(), Some("One"));
        assert_eq!(extracted.paragraphs, ["text", "Two"]);
    }

    #[test]
    fn tables_become_one_paragraph_per_row() {
        let extracted = extract("| City | Rain |\n|---|---:|\n| Dayton | 3.2 in |\n");
        assert_eq!(extracted.paragraphs, ["City; Rain", "Dayton; 3.2 in"]);
    }

    #[test]
    fn unclosed_fence_drops_the_rest_and_does_not_panic() {
        let extracted = extract("Before.\n\n~~~\ncode\n");
        assert_eq!(extracted.paragraphs, ["Before."]);
    }

    #[test]
    fn pathological_brackets_are_linear_and_safe() {
        let brackets = "[".repeat(200_000) + &"](".repeat(100_000) + &"*_`~<".repeat(50_000);
        let extracted = extract(&brackets);
        assert_eq!(extracted.paragraphs.len(), 1);
        let nested_images = "![".repeat(10_000) + "x" + &"](y)".repeat(10_000) + " tail";
        assert_eq!(extract(&nested_images).paragraphs, ["tail"]);
    }

    #[test]
    fn multibyte_text_next_to_markup_is_kept_intact() {
        let extracted = extract("**Zürich**: “Grüße” — _naïve_ [café](x) ~~ü~~ `ß` \\*literal\\*");
        assert_eq!(
            extracted.paragraphs,
            ["Zürich: “Grüße” — naïve café ü ß *literal*"]
        );
    }
}
