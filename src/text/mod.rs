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
pub use sentences::{sentences, split_sentences, Sentence, Sentences};
pub use terms::{is_stop_word, TermExtractor};

/// Number of words in `s`: whitespace-separated tokens holding at least one letter or
/// digit, so `—` or `"` alone do not count.
pub fn count_words(s: &str) -> usize {
    s.split_whitespace()
        .filter(|token| token.chars().any(char::is_alphanumeric))
        .count()
}

/// True when `s` ends like a finished sentence: `.`, `!`, `?` or `…`, possibly followed by
/// closing quotes or brackets.
pub fn ends_with_terminal_punctuation(s: &str) -> bool {
    s.trim_end()
        .trim_end_matches([')', ']', '}', '"', '\'', '”', '’', '»', '›'])
        .ends_with(['.', '!', '?', '…', '。', '！', '？', '‽'])
}

/// Share of a summary's word bigrams that do not occur in the source: 0 for a summary copied
/// sentence by sentence, near 1 for one written in other words. Words are lowercased runs of
/// letters and digits; bigrams are taken within each summary sentence (two extracted sentences
/// side by side do not make a new bigram) and anywhere in the source. Counted per occurrence.
/// `None` when the summary has no bigram.
pub fn novel_bigram_share(source: &str, summary_sentences: &[String]) -> Option<f64> {
    use std::collections::HashSet;
    fn words(text: &str) -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
    }
    let source_words = words(source);
    let source_bigrams: HashSet<(&str, &str)> = source_words.windows(2).map(|pair| (pair[0].as_str(), pair[1].as_str())).collect();
    let (mut total, mut novel) = (0usize, 0usize);
    for sentence in summary_sentences {
        let sentence_words = words(sentence);
        for pair in sentence_words.windows(2) {
            total += 1;
            if !source_bigrams.contains(&(pair[0].as_str(), pair[1].as_str())) {
                novel += 1;
            }
        }
    }
    (total > 0).then(|| novel as f64 / total as f64)
}

/// Inputs shared by the tests of this module and of the engines.
#[cfg(test)]
pub(crate) mod test_inputs {
    /// The article the project was founded on (samples/abe-cameron-summit.txt).
    pub(crate) fn seed_article() -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/abe-cameron-summit.txt");
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
    }

    /// Deterministic pseudo-random strings built from the characters the rules look at.
    pub(crate) fn tricky_strings(count: usize) -> Vec<String> {
        #[rustfmt::skip]
        const PIECES: &[&str] = &[
            "a", "The", "U.S.", "Mr.", "No.", "J.", "1.", "3.5%", "$1.13bn", ".", "..", "...",
            "…", "?", "!", "\"", "“", "”", "‘", "’", "'", "(", ")", "-", "—", ",", ":", " ",
            " ", " ", "\n", "\n\n", "\t", "\r\n", "\u{A0}", "\u{200B}", "é", "日本", "\u{1F600}",
            "\u{301}", "e.g.", "said", "he", "word", "fight\".Jon", "Inc.", "St.", "-", "•",
            "*",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..count)
            .map(|_| {
                let length = (next() % 40) as usize;
                (0..length)
                    .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }
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
    fn novel_bigrams_count_new_word_pairs() {
        let source = "The council approved the budget on Tuesday. Residents were pleased.";
        let copied = vec!["The council approved the budget on Tuesday.".to_string(), "Residents were pleased.".to_string()];
        assert_eq!(novel_bigram_share(source, &copied), Some(0.0));
        // "council passed", "passed the" are new; "the budget" is not: 2 of 3.
        let rewritten = vec!["Council passed the budget.".to_string()];
        assert_eq!(novel_bigram_share(source, &rewritten), Some(2.0 / 3.0));
        assert_eq!(novel_bigram_share(source, &["Pleased.".to_string()]), None);
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
