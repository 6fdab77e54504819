//! Plain-text handling shared by every engine: whitespace normalization, sentence
//! splitting, word counting, and the content terms (stop words removed, stemmed) that
//! sentence similarity is computed on.
//!
//! This module knows English text, not documents or summaries: it never decides what is
//! important, only where sentences and words are.

mod normalize;
mod sentences;
mod terms;

pub use normalize::normalize;
pub use sentences::{split_sentences, Sentence};
pub use terms::{is_stop_word, TermExtractor};

/// Number of words in `s`: whitespace-separated tokens holding at least one letter or
/// digit, so `—` or `"` alone do not count.
pub fn count_words(s: &str) -> usize {
    s.split_whitespace().filter(|token| token.chars().any(char::is_alphanumeric)).count()
}

/// True when `s` ends like a finished sentence: `.`, `!`, `?` or `…`, possibly followed by
/// closing quotes or brackets.
pub fn ends_with_terminal_punctuation(s: &str) -> bool {
    s.trim_end()
        .trim_end_matches([')', ']', '}', '"', '\'', '”', '’', '»', '›'])
        .ends_with(['.', '!', '?', '…', '。', '！', '？', '‽'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_words_with_letters_or_digits() {
        assert_eq!(count_words(""), 0);
        assert_eq!(count_words("  — \" "), 0);
        assert_eq!(count_words("Profits rose 3.5% — to $1.13bn."), 5);
        assert_eq!(count_words("one"), 1);
        assert_eq!(count_words("Ünïcödé wörds ok"), 3);
    }

    #[test]
    fn terminal_punctuation() {
        assert!(ends_with_terminal_punctuation("He left."));
        assert!(ends_with_terminal_punctuation("“Is it?” "));
        assert!(ends_with_terminal_punctuation("(Really!)"));
        assert!(!ends_with_terminal_punctuation("Markets rally"));
        assert!(!ends_with_terminal_punctuation("Said:"));
        assert!(!ends_with_terminal_punctuation(""));
    }
}
