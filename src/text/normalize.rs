//! Whitespace and control-character cleanup that every later text step relies on.
//!
//! The output keeps the author's characters (curly quotes, dashes, accents) and only
//! changes layout: one space between words, one `\n` between lines of a paragraph,
//! one blank line (`\n\n`) between paragraphs, nothing invisible.

/// Cleans `raw` text for sentence splitting and summarization.
///
/// - line endings (`\r\n`, `\r`, NEL, U+2028) become `\n`; U+2029 and form feed become a
///   paragraph break;
/// - control characters and invisible format characters (zero-width space, BOM, soft
///   hyphen, bidi overrides) are removed;
/// - every other kind of whitespace (tabs, no-break spaces, ideographic space…) becomes a
///   plain space, runs of spaces fold to one, and lines are trimmed;
/// - one or more blank lines become exactly one blank line, which marks a paragraph;
/// - the result has no leading or trailing whitespace.
///
/// Normalizing twice gives the same text as normalizing once.
pub fn normalize(raw: &str) -> String {
    let mut output = String::with_capacity(raw.len());
    // Newlines seen since the last word; only decides what separator the next word gets.
    let mut pending_newlines = 0usize;
    let mut pending_space = false;
    let mut chars = raw.chars().peekable();

    while let Some(c) = chars.next() {
        match classify(c) {
            CharClass::LineBreak => {
                // A Windows "\r\n" is one line break, not two.
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                pending_newlines += 1;
                pending_space = false;
            }
            CharClass::ParagraphBreak => {
                pending_newlines += 2;
                pending_space = false;
            }
            CharClass::Space => {
                if pending_newlines == 0 {
                    pending_space = true;
                }
            }
            CharClass::Invisible => {}
            CharClass::Visible => {
                if !output.is_empty() {
                    match pending_newlines {
                        0 if pending_space => output.push(' '),
                        0 => {}
                        1 => output.push('\n'),
                        _ => output.push_str("\n\n"),
                    }
                }
                pending_newlines = 0;
                pending_space = false;
                output.push(c);
            }
        }
    }
    output
}

enum CharClass {
    LineBreak,
    ParagraphBreak,
    Space,
    Invisible,
    Visible,
}

fn classify(c: char) -> CharClass {
    match c {
        '\n' | '\r' | '\u{0B}' | '\u{85}' | '\u{2028}' => CharClass::LineBreak,
        '\u{0C}' | '\u{2029}' => CharClass::ParagraphBreak,
        // Zero-width space, word joiner, BOM, soft hyphen, Mongolian vowel separator, and
        // bidi marks/embeddings/isolates: invisible, and they break word matching.
        '\u{200B}'
        | '\u{2060}'
        | '\u{FEFF}'
        | '\u{AD}'
        | '\u{180E}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}' => CharClass::Invisible,
        c if c.is_whitespace() => CharClass::Space,
        c if c.is_control() => CharClass::Invisible,
        _ => CharClass::Visible,
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn folds_spaces_and_tabs_and_trims_lines() {
        assert_eq!(
            normalize("  Hello \t  world  \n  next\tline  "),
            "Hello world\nnext line"
        );
    }

    #[test]
    fn blank_lines_become_one_paragraph_break() {
        let raw = "First para.\r\n\r\n\r\n  \t \nSecond para.\rSame para.";
        assert_eq!(normalize(raw), "First para.\n\nSecond para.\nSame para.");
    }

    #[test]
    fn strips_controls_and_invisible_characters() {
        let raw = "\u{FEFF}Zero\u{200B}width \u{7}bell\u{0}s and soft\u{AD}hyphen";
        assert_eq!(normalize(raw), "Zerowidth bells and softhyphen");
    }

    #[test]
    fn unicode_spaces_become_plain_spaces() {
        let raw = "No.\u{A0}10\u{2009}Downing\u{3000}St.";
        assert_eq!(normalize(raw), "No. 10 Downing St.");
    }

    #[test]
    fn unicode_line_and_paragraph_separators() {
        assert_eq!(normalize("a\u{2028}b\u{2029}c\u{0C}d"), "a\nb\n\nc\n\nd");
    }

    #[test]
    fn keeps_original_quotes_and_dashes() {
        let raw = "“Quoted” — it’s fine";
        assert_eq!(normalize(raw), raw);
    }

    #[test]
    fn empty_and_whitespace_only_input() {
        assert_eq!(normalize(""), "");
        assert_eq!(normalize(" \n\n\t \r\n "), "");
    }

    #[test]
    fn is_idempotent() {
        let samples = [
            "  a  b \n\n\n c\r\nd\u{2029}e \u{A0} f\t",
            "single",
            "\n\nlead and trail\n\n",
        ];
        for raw in samples {
            let once = normalize(raw);
            assert_eq!(normalize(&once), once, "input {raw:?}");
        }
    }
}
