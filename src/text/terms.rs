//! Content terms of English text: lower-cased alphanumeric words, stop words removed,
//! Snowball (Porter 2) stemmed, so "rose", "rising" and "rises" compare as one term.

use rust_stemmers::{Algorithm, Stemmer};

/// Turns text into the stemmed content terms that sentence similarity is computed on.
pub struct TermExtractor {
    stemmer: Stemmer,
}

impl Default for TermExtractor {
    fn default() -> Self {
        TermExtractor {
            stemmer: Stemmer::create(Algorithm::English),
        }
    }
}

impl TermExtractor {
    /// Stemmed content terms of `text`, in order, repeats kept.
    ///
    /// Words are split on anything that is not a letter or digit (as ROUGE does), so
    /// `Kilmarnock’s` gives `kilmarnock`; one-letter words and stop words are dropped.
    pub fn content_terms(&self, text: &str) -> Vec<String> {
        self.each_content_term(text).collect()
    }

    /// The terms of [`TermExtractor::content_terms`], one at a time (a long sentence's terms
    /// need not all be held at once).
    pub fn each_content_term<'a>(&'a self, text: &'a str) -> impl Iterator<Item = String> + 'a {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|word| word.chars().nth(1).is_some())
            .map(str::to_lowercase)
            .filter(|word| !is_stop_word(word))
            .map(|word| self.stemmer.stem(&word).into_owned())
    }

    /// The stem of one lower-cased word (whether or not it is a stop word).
    pub fn stem(&self, lowercase_word: &str) -> String {
        self.stemmer.stem(lowercase_word).into_owned()
    }
}

/// Is `lowercase_word` a function word that says nothing about the topic? News reporting
/// verbs ("said", "told") count as stop words: they appear in every quoted sentence.
pub fn is_stop_word(lowercase_word: &str) -> bool {
    STOP_WORDS.binary_search(&lowercase_word).is_ok()
}

/// Sorted, so lookups can binary-search (a test checks the order).
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "aren",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "cannot",
    "could",
    "couldn",
    "did",
    "didn",
    "do",
    "does",
    "doesn",
    "doing",
    "don",
    "down",
    "during",
    "each",
    "even",
    "ever",
    "few",
    "for",
    "from",
    "further",
    "get",
    "got",
    "had",
    "hadn",
    "has",
    "hasn",
    "have",
    "haven",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "however",
    "i",
    "if",
    "in",
    "into",
    "is",
    "isn",
    "it",
    "its",
    "itself",
    "just",
    "ll",
    "may",
    "me",
    "might",
    "more",
    "most",
    "mr",
    "mrs",
    "ms",
    "much",
    "must",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "one",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "re",
    "said",
    "same",
    "say",
    "says",
    "shall",
    "she",
    "should",
    "shouldn",
    "since",
    "so",
    "some",
    "still",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "though",
    "through",
    "to",
    "told",
    "too",
    "under",
    "until",
    "up",
    "upon",
    "us",
    "ve",
    "very",
    "was",
    "wasn",
    "we",
    "were",
    "weren",
    "what",
    "when",
    "where",
    "whether",
    "which",
    "while",
    "who",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "won",
    "would",
    "wouldn",
    "yet",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn extracts_stemmed_content_terms() {
        let terms = TermExtractor::default()
            .content_terms("Kilmarnock’s profits ROSE, he said; rising 24%!");
        assert_eq!(terms, ["kilmarnock", "profit", "rose", "rise", "24"]);
    }

    #[test]
    fn no_terms_from_function_words_or_symbols() {
        let extractor = TermExtractor::default();
        assert!(extractor.content_terms("").is_empty());
        assert!(extractor
            .content_terms("and the — of it, he said!")
            .is_empty());
    }
}
