//! Word tokens with byte offsets, for the faithfulness check.
//!
//! The check needs more than [`crate::text::TermExtractor`] gives: where each word is (to
//! report character offsets), how it was written (capitals, glued to a number as in `5m`,
//! joined by a hyphen as in `46-year-old`), and the symbols numbers depend on (`£`, `%`).
//! Stemming and stop words stay the project's own (`text::terms`).

/// What a token is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenShape {
    /// Starts with a letter: `Cameron`, `covid19`, `km`.
    Word,
    /// Starts with a digit; keeps separators between digits: `1,000`, `3.5`, `15:30`.
    Number,
    /// One character that matters to numbers or quotations: `£ $ € ¥ # %` and quote marks.
    Symbol,
}

/// One token of a text: `text[start..end]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub start: usize,
    pub end: usize,
    pub shape: TokenShape,
    /// Lower-cased text (symbols as written).
    pub lower: String,
    /// Written with a capital first letter.
    pub capitalized: bool,
    /// Written all in capitals (two letters or more): `BBC`, `UNK`.
    pub all_caps: bool,
    /// No character at all between this token and the previous one: the `m` of `5m`.
    pub glued: bool,
    /// Joined to the previous token by a hyphen: the `year` of `46-year`.
    pub hyphenated: bool,
}

impl Token {
    pub fn is_word(&self) -> bool {
        self.shape == TokenShape::Word
    }

    pub fn is_number(&self) -> bool {
        self.shape == TokenShape::Number
    }

    pub fn is_symbol(&self, symbols: &[char]) -> bool {
        self.shape == TokenShape::Symbol && self.lower.chars().next().is_some_and(|c| symbols.contains(&c))
    }
}

/// Currency signs (`#` is how some corpora mangle `£`) and the percent sign.
pub const CURRENCY: &[char] = &['£', '$', '€', '¥', '#'];
/// Quotation marks a quotation can open or close with.
pub const QUOTES: &[char] = &['"', '“', '”', '\'', '‘', '’', '«', '»'];

/// Tokens of `text`, in order. Never fails; an empty text gives no tokens.
pub fn tokenize(text: &str) -> Vec<Token> {
    tokens(text).collect()
}

/// The tokens of [`tokenize`], one at a time: nothing is held but the position, so a caller
/// can take a long text's tokens a window at a time.
pub fn tokens(text: &str) -> Tokens<'_> {
    Tokens { text, position: 0, previous_end: None }
}

pub struct Tokens<'a> {
    text: &'a str,
    /// Byte offset of the next character to look at.
    position: usize,
    /// Byte offset just past the previous token, to tell glued and hyphenated tokens.
    previous_end: Option<usize>,
}

impl Tokens<'_> {
    fn char_at(&self, offset: usize) -> Option<char> {
        self.text.get(offset..).and_then(|rest| rest.chars().next())
    }
}

impl Iterator for Tokens<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        let text = self.text;
        loop {
            let start = self.position;
            let c = self.char_at(start)?;
            let shape = if c.is_alphabetic() {
                TokenShape::Word
            } else if c.is_numeric() {
                TokenShape::Number
            } else if CURRENCY.contains(&c) || c == '%' || QUOTES.contains(&c) {
                TokenShape::Symbol
            } else {
                self.position += c.len_utf8();
                continue;
            };
            let mut end = start + c.len_utf8();
            match shape {
                TokenShape::Word => {
                    while let Some(next) = self.char_at(end).filter(|next| next.is_alphanumeric()) {
                        end += next.len_utf8();
                    }
                }
                TokenShape::Number => loop {
                    while let Some(next) = self.char_at(end).filter(|next| next.is_numeric()) {
                        end += next.len_utf8();
                    }
                    // A separator between digits stays inside the number: 1,000 · 3.5 · 15:30.
                    let mut after = text[end..].chars();
                    match (after.next(), after.next()) {
                        (Some(separator @ (',' | '.' | ':')), Some(digit)) if digit.is_numeric() => end += separator.len_utf8(),
                        _ => break,
                    }
                },
                TokenShape::Symbol => {}
            }
            let written = &text[start..end];
            let between = self.previous_end.map(|p| &text[p..start]);
            let letters = written.chars().filter(|c| c.is_alphabetic()).count();
            self.previous_end = Some(end);
            self.position = end;
            return Some(Token {
                start,
                end,
                shape,
                lower: written.to_lowercase(),
                capitalized: c.is_uppercase(),
                all_caps: letters >= 2 && written.chars().filter(|c| c.is_alphabetic()).all(char::is_uppercase),
                glued: between == Some(""),
                hyphenated: matches!(between, Some("-" | "‐" | "‑")),
            });
        }
    }
}

/// True when a text is written without capitals at the starts of its words (some systems'
/// outputs are lower-cased): no word other than an all-capitals one (`UNK`) starts with a
/// capital.
pub fn is_lowercased(tokens: &[Token]) -> bool {
    let mut words = tokens.iter().filter(|t| t.is_word() && !t.all_caps).peekable();
    words.peek().is_some() && !words.any(|t| t.capitalized)
}

/// A copy of `text` with the first ASCII letter of each sentence upper-cased, byte for byte the
/// same length, so that the project's sentence splitter (which wants a capital after a full
/// stop) can split a lower-cased summary and its offsets still point into `text`.
pub fn capitalize_sentence_starts(text: &str) -> String {
    let mut output = String::with_capacity(text.len());
    let mut at_start = true;
    let mut after_stop = false;
    for c in text.chars() {
        if at_start && c.is_ascii_lowercase() {
            output.push(c.to_ascii_uppercase());
            at_start = false;
            after_stop = false;
            continue;
        }
        output.push(c);
        if matches!(c, '.' | '!' | '?') {
            after_stop = true;
        } else if c.is_whitespace() {
            if after_stop {
                at_start = true;
            }
        } else if !QUOTES.contains(&c) && !matches!(c, ')' | ']' | '(' | '[') {
            after_stop = false;
            at_start = false;
        }
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(tokens: &[Token]) -> Vec<&str> {
        tokens.iter().map(|t| t.lower.as_str()).collect()
    }

    #[test]
    fn words_numbers_and_symbols_with_offsets() {
        let text = "Profits rose 3.5% to £1,130m, the 46-year-old said.";
        let tokens = tokenize(text);
        assert_eq!(texts(&tokens), ["profits", "rose", "3.5", "%", "to", "£", "1,130", "m", "the", "46", "year", "old", "said"]);
        for token in &tokens {
            assert_eq!(text[token.start..token.end].to_lowercase(), token.lower);
        }
        let m = &tokens[7];
        assert!(m.glued && !m.hyphenated);
        assert!(tokens[10].hyphenated && tokens[11].hyphenated);
        assert!(tokens[0].capitalized && !tokens[1].capitalized);
    }

    #[test]
    fn a_trailing_separator_is_not_part_of_the_number() {
        assert_eq!(texts(&tokenize("in 2015, and 3.")), ["in", "2015", "and", "3"]);
        assert_eq!(texts(&tokenize("at 15:30.")), ["at", "15:30"]);
    }

    #[test]
    fn lowercased_texts_are_recognized() {
        assert!(is_lowercased(&tokenize("manchester city won. UNK scored.")));
        assert!(!is_lowercased(&tokenize("Manchester City won. Aguero scored.")));
        assert!(!is_lowercased(&tokenize("Abe, aged 46, spoke.")));
        assert!(!is_lowercased(&tokenize("")));
    }

    #[test]
    fn sentence_starts_are_capitalized_in_place() {
        let text = "city won 2-0. aguero scored twice! 'it was great.' he said";
        let recased = capitalize_sentence_starts(text);
        assert_eq!(recased, "City won 2-0. Aguero scored twice! 'It was great.' He said");
        assert_eq!(recased.len(), text.len());
    }
}
