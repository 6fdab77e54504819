//! Flagged spans made visible in text output: ANSI colour on a terminal (red: not in the
//! source; yellow: in the source, but not where the sentence draws on), plain brackets
//! elsewhere (`[Merkel]`), so that a pipe or a file still shows them.

use std::io::IsTerminal;

use super::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkStyle {
    Brackets,
    Colour,
}

impl MarkStyle {
    /// Colour when standard output is a terminal and `NO_COLOR` is not set (no-color.org).
    pub fn for_stdout() -> MarkStyle {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if std::io::stdout().is_terminal() && !no_color {
            MarkStyle::Colour
        } else {
            MarkStyle::Brackets
        }
    }
}

const RED: &str = "\x1b[1;31m";
const YELLOW: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";

/// `text` with every span (character offsets into `text`) marked; a span overlapping an
/// earlier one is left unmarked.
pub fn mark(text: &str, spans: &[Span], style: MarkStyle) -> String {
    let byte_of: Vec<usize> = text.char_indices().map(|(b, _)| b).chain(std::iter::once(text.len())).collect();
    let mut sorted: Vec<&Span> = spans.iter().collect();
    sorted.sort_by_key(|s| (s.start, std::cmp::Reverse(s.end)));
    let mut output = String::with_capacity(text.len() + spans.len() * 12);
    let mut at = 0usize;
    for span in sorted {
        let (Some(&start), Some(&end)) = (byte_of.get(span.start), byte_of.get(span.end)) else { continue };
        if start < at || end <= start {
            continue;
        }
        output.push_str(&text[at..start]);
        match style {
            MarkStyle::Brackets => {
                output.push('[');
                output.push_str(&text[start..end]);
                output.push(']');
            }
            MarkStyle::Colour => {
                output.push_str(if span.elsewhere_in_source { YELLOW } else { RED });
                output.push_str(&text[start..end]);
                output.push_str(RESET);
            }
        }
        at = end;
    }
    output.push_str(&text[at..]);
    output
}

#[cfg(test)]
mod tests {
    use super::super::SpanKind;
    use super::*;

    fn span(start: usize, end: usize, elsewhere: bool) -> Span {
        Span { kind: SpanKind::Name, text: String::new(), start, end, reason: String::new(), elsewhere_in_source: elsewhere, weight: 1.0 }
    }

    #[test]
    fn brackets_and_colours_around_character_offsets() {
        let text = "Abé met Merkel in 2014.";
        let spans = [span(8, 14, false), span(18, 22, true)];
        assert_eq!(mark(text, &spans, MarkStyle::Brackets), "Abé met [Merkel] in [2014].");
        assert_eq!(mark(text, &spans, MarkStyle::Colour), "Abé met \x1b[1;31mMerkel\x1b[0m in \x1b[33m2014\x1b[0m.");
        // Overlapping spans: the first (longest) wins; nothing is lost from the text.
        assert_eq!(mark(text, &[span(4, 14, false), span(8, 14, false)], MarkStyle::Brackets), "Abé [met Merkel] in 2014.");
    }
}
