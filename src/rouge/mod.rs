//! ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum, computed exactly as Google's `rouge-score`
//! 0.1.2 computes them with `use_stemmer=True`.
//!
//! The published baselines in `shared/eval/README.md` come from that package, so this module
//! reproduces its every step, including the parts that differ from the original Perl ROUGE:
//!
//! * Tokens: Unicode-lowercase the text, turn every character other than `[a-z0-9]` into a
//!   space, split on whitespace, and stem (NLTK's Porter stemmer, see [`porter`]) only the
//!   tokens longer than three characters.
//! * ROUGE-N: clipped n-gram overlap; precision and recall divide by `max(count, 1)`.
//! * ROUGE-L: longest common subsequence over the whole token sequence (newlines ignored).
//! * ROUGE-Lsum: summary-level LCS. The texts are split into sentences on `"\n"` only, so
//!   callers must put one sentence per line. For each reference sentence, the union of one
//!   LCS with each prediction sentence is taken (the particular LCS that `rouge-score`'s
//!   backtracking picks, which matters for the union), and hits are capped by how often each
//!   token occurs in either text so that no token is counted twice.
//!
//! F1 is `2PR / (P + R)` (0 when both are 0), with floating-point operations in the same
//! order as `rouge-score`, so the numbers agree to the last bit.

pub mod porter;

use std::collections::HashMap;

use serde::Serialize;

/// Precision, recall and F1 of one ROUGE variant, each in `[0, 1]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Score {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl Score {
    /// Score from the number of matched units and the totals on each side.
    ///
    /// Dividing by `max(total, 1)` is `rouge-score`'s n-gram formula; for the LCS variants
    /// it gives the same zeros that `rouge-score` returns early for empty inputs.
    fn from_overlap(overlap: usize, prediction_total: usize, reference_total: usize) -> Score {
        let precision = overlap as f64 / prediction_total.max(1) as f64;
        let recall = overlap as f64 / reference_total.max(1) as f64;
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        Score {
            precision,
            recall,
            f1,
        }
    }
}

/// The four ROUGE variants reported for one reference/prediction pair (or their means).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RougeScores {
    pub rouge1: Score,
    pub rouge2: Score,
    pub rouge_l: Score,
    pub rouge_lsum: Score,
}

/// Scores `prediction` against `reference`. Put one sentence per line in both texts:
/// ROUGE-Lsum splits sentences on `"\n"` (the other variants ignore line breaks).
pub fn score(reference: &str, prediction: &str) -> RougeScores {
    let mut vocabulary = Vocabulary::default();
    let reference = TokenizedText::new(reference, &mut vocabulary);
    let prediction = TokenizedText::new(prediction, &mut vocabulary);
    let vocabulary_size = vocabulary.len();

    RougeScores {
        rouge1: rouge1(&reference.tokens, &prediction.tokens, vocabulary_size),
        rouge2: rouge2(&reference.tokens, &prediction.tokens),
        rouge_l: Score::from_overlap(
            lcs_length(&reference.tokens, &prediction.tokens),
            prediction.tokens.len(),
            reference.tokens.len(),
        ),
        rouge_lsum: rouge_lsum(&reference, &prediction, vocabulary_size),
    }
}

/// The tokens `rouge-score` compares: lowercase, `[a-z0-9]+`, Porter-stemmed when longer
/// than three characters.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for_each_token(text, |token| tokens.push(token.to_owned()));
    tokens
}

/// Calls `visit` with each token of `text`, without collecting them.
fn for_each_token(text: &str, mut visit: impl FnMut(&str)) {
    let mut word = String::new();
    let mut finish_word = |word: &mut String| {
        if word.is_empty() {
            return;
        }
        if word.len() > 3 {
            let stemmed = porter::stem(word);
            // rouge-score drops anything that is not [a-z0-9]+ after stemming.
            if !stemmed.is_empty() {
                visit(&stemmed);
            }
        } else {
            visit(word);
        }
        word.clear();
    };
    for character in text.chars() {
        // Python's str.lower() is Unicode-aware: 'K' (Kelvin sign) becomes 'k' and 'İ'
        // becomes "i" plus a combining dot, so lowercase before filtering to ASCII.
        for lowercase in character.to_lowercase() {
            if lowercase.is_ascii_lowercase() || lowercase.is_ascii_digit() {
                word.push(lowercase);
            } else {
                finish_word(&mut word);
            }
        }
    }
    finish_word(&mut word);
}

/// Maps each distinct token of one scored pair to a small integer, so that the
/// comparisons below work on `u32`s and count tables can be plain vectors.
#[derive(Default)]
struct Vocabulary {
    ids: HashMap<String, u32>,
}

impl Vocabulary {
    fn id(&mut self, token: &str) -> u32 {
        if let Some(&id) = self.ids.get(token) {
            return id;
        }
        let id = self.ids.len() as u32;
        self.ids.insert(token.to_owned(), id);
        id
    }

    fn len(&self) -> usize {
        self.ids.len()
    }
}

/// A text as token ids, with the token range of each `"\n"`-separated line.
struct TokenizedText {
    tokens: Vec<u32>,
    line_ends: Vec<usize>,
}

impl TokenizedText {
    fn new(text: &str, vocabulary: &mut Vocabulary) -> TokenizedText {
        let mut tokens = Vec::new();
        let mut line_ends = Vec::new();
        // Only "\n" separates sentences (not "\r" or other breaks): rouge-score uses
        // text.split("\n"). Lines without tokens are harmless, so they are kept.
        for line in text.split('\n') {
            for_each_token(line, |token| tokens.push(vocabulary.id(token)));
            line_ends.push(tokens.len());
        }
        TokenizedText { tokens, line_ends }
    }

    fn lines(&self) -> impl Iterator<Item = &[u32]> + '_ {
        let starts = std::iter::once(0).chain(self.line_ends.iter().copied());
        starts
            .zip(self.line_ends.iter().copied())
            .map(|(start, end)| &self.tokens[start..end])
    }
}

fn token_counts(tokens: &[u32], vocabulary_size: usize) -> Vec<usize> {
    let mut counts = vec![0; vocabulary_size];
    for &token in tokens {
        counts[token as usize] += 1;
    }
    counts
}

fn rouge1(reference: &[u32], prediction: &[u32], vocabulary_size: usize) -> Score {
    let reference_counts = token_counts(reference, vocabulary_size);
    let prediction_counts = token_counts(prediction, vocabulary_size);
    let overlap = reference_counts
        .iter()
        .zip(&prediction_counts)
        .map(|(&in_reference, &in_prediction)| in_reference.min(in_prediction))
        .sum();
    Score::from_overlap(overlap, prediction.len(), reference.len())
}

fn rouge2(reference: &[u32], prediction: &[u32]) -> Score {
    // (count in reference, count in prediction) for each bigram.
    let mut counts: HashMap<(u32, u32), (usize, usize)> = HashMap::new();
    for pair in reference.windows(2) {
        counts.entry((pair[0], pair[1])).or_default().0 += 1;
    }
    for pair in prediction.windows(2) {
        counts.entry((pair[0], pair[1])).or_default().1 += 1;
    }
    let overlap = counts
        .values()
        .map(|&(in_reference, in_prediction)| in_reference.min(in_prediction))
        .sum();
    let bigram_count = |tokens: &[u32]| tokens.len().saturating_sub(1);
    Score::from_overlap(overlap, bigram_count(prediction), bigram_count(reference))
}

/// Length of the longest common subsequence, by the bit-parallel algorithm of Allison and
/// Dix (as refined by Hyyrö): O(n·m/64) time and O(vocabulary·m/64) memory, which keeps
/// article-length inputs cheap.
fn lcs_length(first: &[u32], second: &[u32]) -> usize {
    // The shorter sequence becomes the bit vector.
    let (short, long) = if first.len() <= second.len() {
        (first, second)
    } else {
        (second, first)
    };
    if short.is_empty() {
        return 0;
    }
    let words = short.len().div_ceil(64);

    // One bit mask per distinct token of `short`: bit i is set where short[i] is that token.
    let mut mask_row: HashMap<u32, usize> = HashMap::new();
    let mut masks: Vec<u64> = Vec::new();
    for (position, token) in short.iter().enumerate() {
        let row = *mask_row.entry(*token).or_insert_with(|| {
            masks.resize(masks.len() + words, 0);
            masks.len() / words - 1
        });
        masks[row * words + position / 64] |= 1 << (position % 64);
    }

    // A zero bit in `unmatched` marks a position of `short` that ends a longer common
    // subsequence; the number of zeros is the LCS length.
    let mut unmatched = vec![u64::MAX; words];
    for token in long {
        let Some(&row) = mask_row.get(token) else {
            continue;
        };
        let mask = &masks[row * words..(row + 1) * words];
        let mut carry = false;
        for (word, &match_bits) in unmatched.iter_mut().zip(mask) {
            let matched = *word & match_bits;
            let (sum, overflow_a) = word.overflowing_add(matched);
            let (sum, overflow_b) = sum.overflowing_add(u64::from(carry));
            carry = overflow_a || overflow_b;
            *word = sum | (*word & !matched);
        }
    }
    // Bits past the end of `short` never match and stay set.
    unmatched
        .iter()
        .map(|word| word.count_zeros() as usize)
        .sum()
}

/// Reusable scratch space for the sentence-level LCS tables of ROUGE-Lsum.
#[derive(Default)]
struct LcsTable {
    cells: Vec<u32>,
}

impl LcsTable {
    /// Marks in `in_union` the positions of `reference` that belong to the LCS of
    /// `reference` and `prediction` that rouge-score's `_backtrack_norec` reads out.
    /// Which LCS is picked changes the union, so its tie-breaking is copied exactly.
    fn mark_lcs(&mut self, reference: &[u32], prediction: &[u32], in_union: &mut [bool]) {
        if reference.is_empty() || prediction.is_empty() {
            return;
        }
        let columns = prediction.len() + 1;
        self.cells.clear();
        self.cells.resize((reference.len() + 1) * columns, 0);
        let cells = &mut self.cells;
        for i in 1..=reference.len() {
            for j in 1..=prediction.len() {
                cells[i * columns + j] = if reference[i - 1] == prediction[j - 1] {
                    cells[(i - 1) * columns + j - 1] + 1
                } else {
                    cells[(i - 1) * columns + j].max(cells[i * columns + j - 1])
                };
            }
        }

        let (mut i, mut j) = (reference.len(), prediction.len());
        while i > 0 && j > 0 {
            if reference[i - 1] == prediction[j - 1] {
                in_union[i - 1] = true;
                i -= 1;
                j -= 1;
            } else if cells[i * columns + j - 1] > cells[(i - 1) * columns + j] {
                j -= 1;
            } else {
                i -= 1;
            }
        }
    }
}

fn rouge_lsum(
    reference: &TokenizedText,
    prediction: &TokenizedText,
    vocabulary_size: usize,
) -> Score {
    // How many of each token are still available to match, so a token that appears in
    // several sentence unions is not counted more often than it occurs in either text.
    let mut reference_remaining = token_counts(&reference.tokens, vocabulary_size);
    let mut prediction_remaining = token_counts(&prediction.tokens, vocabulary_size);

    let mut table = LcsTable::default();
    let mut in_union = Vec::new();
    let mut hits = 0;
    for reference_sentence in reference.lines() {
        in_union.clear();
        in_union.resize(reference_sentence.len(), false);
        for prediction_sentence in prediction.lines() {
            table.mark_lcs(reference_sentence, prediction_sentence, &mut in_union);
        }
        for (&token, _) in reference_sentence
            .iter()
            .zip(&in_union)
            .filter(|(_, &in_union)| in_union)
        {
            let token = token as usize;
            if reference_remaining[token] > 0 && prediction_remaining[token] > 0 {
                hits += 1;
                reference_remaining[token] -= 1;
                prediction_remaining[token] -= 1;
            }
        }
    }
    Score::from_overlap(hits, prediction.tokens.len(), reference.tokens.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    const VECTORS_PATH: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/eval/rouge-vectors.jsonl"
    );

    #[derive(Deserialize)]
    struct ExpectedScore {
        precision: f64,
        recall: f64,
        fmeasure: f64,
    }

    #[derive(Deserialize)]
    struct ExpectedScores {
        rouge1: ExpectedScore,
        rouge2: ExpectedScore,
        #[serde(rename = "rougeL")]
        rouge_l: ExpectedScore,
        #[serde(rename = "rougeLsum")]
        rouge_lsum: ExpectedScore,
    }

    #[derive(Deserialize)]
    struct Vector {
        reference: String,
        prediction: String,
        scores: ExpectedScores,
    }

    #[test]
    fn agrees_with_rouge_score_on_every_vector() {
        let text = std::fs::read_to_string(VECTORS_PATH).expect("read rouge-vectors.jsonl");
        let mut records = 0;
        let mut worst_difference: f64 = 0.0;
        for (index, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let vector: Vector = serde_json::from_str(line).expect("parse vector");
            let actual = score(&vector.reference, &vector.prediction);
            let pairs = [
                ("rouge1", actual.rouge1, &vector.scores.rouge1),
                ("rouge2", actual.rouge2, &vector.scores.rouge2),
                ("rougeL", actual.rouge_l, &vector.scores.rouge_l),
                ("rougeLsum", actual.rouge_lsum, &vector.scores.rouge_lsum),
            ];
            for (name, actual, expected) in pairs {
                for (field, actual, expected) in [
                    ("precision", actual.precision, expected.precision),
                    ("recall", actual.recall, expected.recall),
                    ("f1", actual.f1, expected.fmeasure),
                ] {
                    let difference = (actual - expected).abs();
                    worst_difference = worst_difference.max(difference);
                    assert!(
                        difference <= 1e-6,
                        "vector on line {}: {name} {field} is {actual}, rouge-score says {expected}",
                        index + 1
                    );
                }
            }
            records += 1;
        }
        assert_eq!(records, 235, "rouge-vectors.jsonl should hold 235 records");
        println!("{records} vectors matched; worst absolute difference {worst_difference:e}");
    }

    #[test]
    fn empty_prediction_scores_zero() {
        let scores = score("The cat sat on the mat.", "");
        assert_eq!(scores, RougeScores::default());
        assert_eq!(score("", "The cat sat."), RougeScores::default());
        assert_eq!(score("", ""), RougeScores::default());
    }

    #[test]
    fn identical_texts_score_one() {
        let text = "Police arrested two men on Friday.\nThe men were released on bail.";
        let perfect = Score {
            precision: 1.0,
            recall: 1.0,
            f1: 1.0,
        };
        let scores = score(text, text);
        assert_eq!(scores.rouge1, perfect);
        assert_eq!(scores.rouge2, perfect);
        assert_eq!(scores.rouge_l, perfect);
        assert_eq!(scores.rouge_lsum, perfect);
    }

    #[test]
    fn tokenizes_like_rouge_score() {
        // Observed from rouge_score.tokenizers.DefaultTokenizer(use_stemmer=True).
        assert_eq!(
            tokenize("The 39-year-old's players RUNNING, café's 3.5bn!"),
            ["the", "39", "year", "old", "s", "player", "run", "caf", "s", "3", "5bn"]
        );
        // Unicode lowercasing can produce ASCII letters.
        assert_eq!(tokenize("\u{212A}ING İs"), ["king", "i", "s"]);
        assert!(tokenize("— … ©").is_empty());
    }

    #[test]
    fn bigram_score_counts_clipped_overlap() {
        // Reference bigrams: "the cat", "cat the", "the cat" (twice "the cat");
        // prediction bigrams: "the cat" once, "cat sat" once.
        let scores = score("the cat the cat", "the cat sat");
        assert_eq!(scores.rouge2.precision, 0.5);
        assert_eq!(scores.rouge2.recall, 1.0 / 3.0);
    }

    #[test]
    fn bit_parallel_lcs_matches_dynamic_programming() {
        fn reference_lcs(a: &[u32], b: &[u32]) -> usize {
            let mut table = vec![vec![0usize; b.len() + 1]; a.len() + 1];
            for i in 1..=a.len() {
                for j in 1..=b.len() {
                    table[i][j] = if a[i - 1] == b[j - 1] {
                        table[i - 1][j - 1] + 1
                    } else {
                        table[i - 1][j].max(table[i][j - 1])
                    };
                }
            }
            table[a.len()][b.len()]
        }
        // A small deterministic generator; lengths cross the 64-bit word boundary.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        for _ in 0..300 {
            let alphabet = 1 + next(12);
            let a: Vec<u32> = (0..next(200)).map(|_| next(alphabet) as u32).collect();
            let b: Vec<u32> = (0..next(200)).map(|_| next(alphabet) as u32).collect();
            assert_eq!(lcs_length(&a, &b), reference_lcs(&a, &b), "a={a:?} b={b:?}");
        }
    }
}
