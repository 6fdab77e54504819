//! Extractive summarization without neural weights: headline, abstract and bullets made
//! only from the article's own sentences.
//!
//! How sentences are scored: a position-biased LexRank. Sentences are nodes, TF-IDF
//! cosine similarity (stop words removed, stemmed) weighs the edges, and PageRank's random
//! jump lands on early sentences more often than late ones, because news puts the
//! essentials first. Half of a sentence's score comes from its position, half from how
//! much the rest of the article echoes it.
//!
//! How sentences are chosen: greedy maximal marginal relevance (MMR), so a sentence that
//! repeats one already chosen loses. The abstract stops when the next best sentence does
//! not fit the word budget and no nearly-as-good shorter one does: padding a summary with
//! weak sentences makes it worse.
//!
//! This module owns choosing and lightly cleaning sentences (`cleanup`) and compressing
//! one into a headline (`headline`). Normalization and sentence splitting belong to
//! [`crate::text`], length presets to [`crate::length`].

#[path = "extractive/cleanup.rs"]
mod cleanup;
#[path = "extractive/headline.rs"]
mod headline;

use std::collections::HashMap;

use crate::length::{Budget, LengthPreset, DEFAULT_BULLETS};
use crate::text::{self, Sentence, TermExtractor};

/// What to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractiveOptions {
    /// Word budget of the abstract, normally [`LengthPreset::target_words`]. Whole
    /// sentences only, so the abstract usually stays below it.
    pub abstract_words: usize,
    /// How many bullet points to return at most; fewer come back when the article has
    /// fewer distinct sentences.
    pub bullets: usize,
}

impl Default for ExtractiveOptions {
    fn default() -> Self {
        ExtractiveOptions {
            abstract_words: LengthPreset::Medium.target_words(),
            bullets: DEFAULT_BULLETS,
        }
    }
}

/// The extractive summary of one article. Every field is non-empty whenever the input
/// holds at least one word.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtractiveSummary {
    /// A compressed lead sentence: at most [`crate::length::HEADLINE_MAX_WORDS`] words,
    /// no final period.
    pub headline: String,
    /// Whole sentences in article order, within the word budget unless even the best
    /// sentence alone exceeds it (then that one sentence, uncut).
    pub abstract_sentences: Vec<String>,
    /// Distinct whole sentences, most important first, each standing alone (no dateline,
    /// no leading "But"/"However,", capitalised).
    pub bullets: Vec<String>,
}

/// Summarizes normalized text (see [`crate::text::normalize`]).
pub fn summarize(normalized_text: &str, options: &ExtractiveOptions) -> ExtractiveSummary {
    summarize_sentences(&text::split_sentences(normalized_text), options)
}

/// Summarizes sentences already split by [`crate::text::split_sentences`], for callers
/// that need the sentences for something else too.
pub fn summarize_sentences(
    sentences: &[Sentence],
    options: &ExtractiveOptions,
) -> ExtractiveSummary {
    let article = Article::analyse(sentences);
    if article.sentences.is_empty() {
        return ExtractiveSummary::default();
    }
    let scores = article.scores();
    let ranking = rank(&scores);
    ExtractiveSummary {
        headline: article.headline(&scores),
        abstract_sentences: article
            .select_abstract(&scores, &ranking, options.abstract_words)
            .into_iter()
            .map(|index| article.sentences[index].display.clone())
            .collect(),
        bullets: article
            .select_bullets(&scores, &ranking, options.bullets)
            .into_iter()
            .map(|index| cleanup::bullet_text(&article.sentences[index].display))
            .collect(),
    }
}

/// An article scored once, for abstracts at several budgets (scoring is the costly part).
pub struct ScoredArticle {
    article: Article,
    scores: Vec<f64>,
    ranking: Vec<usize>,
}

impl ScoredArticle {
    pub fn new(sentences: &[Sentence]) -> ScoredArticle {
        let article = Article::analyse(sentences);
        let scores = article.scores();
        let ranking = rank(&scores);
        ScoredArticle { article, scores, ranking }
    }

    /// Whole sentences in article order. A word budget is a ceiling, as for
    /// [`summarize_sentences`] (unless not even one sentence fits: then the best one, whole);
    /// a sentence budget is a count, fewer only when the article has fewer sentences to choose.
    pub fn abstract_within(&self, budget: Budget) -> Vec<String> {
        if self.article.sentences.is_empty() {
            return Vec::new();
        }
        let (max_words, max_sentences) = match budget {
            Budget::Words(words) => (words, usize::MAX),
            Budget::Sentences(count) => (usize::MAX, count),
        };
        self.article
            .select_within(&self.scores, &self.ranking, max_words, max_sentences)
            .into_iter()
            .map(|index| self.article.sentences[index].display.clone())
            .collect()
    }
}

// The few tuned numbers. They were set on CNN/DailyMail and BBC development articles and
// chosen from flat regions, so neighbouring values give nearly the same quality.

/// Share of a sentence's score that flows through the similarity graph; the rest comes
/// from the position prior `1 / (1 + rank)`.
const PAGERANK_DAMPING: f64 = 0.5;
const PAGERANK_ITERATIONS: usize = 30;
/// MMR weight of relevance against redundancy with sentences already chosen.
const MMR_RELEVANCE_WEIGHT: f64 = 0.7;
/// When the best next sentence does not fit the budget, a shorter one may stand in only
/// if its MMR value is at least this share of the best's.
const STAND_IN_RATIO: f64 = 0.8;
/// Shorter sentences (captions, "He agreed.") are chosen only when nothing else exists.
const MIN_SENTENCE_WORDS: usize = 6;
/// Longer sentences make poor bullets; they are used only when nothing else exists.
const MAX_BULLET_WORDS: usize = 45;
/// Bullets this similar (cosine of TF-IDF vectors) say the same thing.
const NEAR_DUPLICATE_SIMILARITY: f64 = 0.5;
/// The headline comes from the best of this many leading sentences.
const HEADLINE_CANDIDATES: usize = 3;
/// Scoring is quadratic in sentences; a summary never needs sentences past this many.
const MAX_SENTENCES: usize = 400;
/// How many leading sentences the engine reads; callers need not keep more.
pub const SENTENCES_READ: usize = MAX_SENTENCES;

/// One sentence prepared for scoring.
struct AnalysedSentence {
    /// The sentence without any dateline; what the abstract shows.
    display: String,
    words: usize,
    /// L2-normalized TF-IDF weights by term id, sorted by id.
    vector: Vec<(usize, f64)>,
    /// Long enough and not page furniture. Only eligible sentences are chosen while any
    /// exist.
    eligible: bool,
}

struct Article {
    sentences: Vec<AnalysedSentence>,
    /// Cosine similarity of every pair of sentences, row-major, zero on the diagonal.
    similarity: Vec<f64>,
}

impl Article {
    fn analyse(sentences: &[Sentence]) -> Article {
        let extractor = TermExtractor::default();
        // Term ids in order of first appearance, so nothing depends on hash order.
        let mut term_ids: HashMap<String, usize> = HashMap::new();
        let mut term_counts: Vec<Vec<(usize, f64)>> = Vec::new();
        let mut displays: Vec<String> = Vec::new();
        for sentence in sentences.iter().take(MAX_SENTENCES) {
            let display = cleanup::strip_dateline(&sentence.text);
            if text::count_words(display) == 0 {
                continue;
            }
            let mut counts: Vec<(usize, f64)> = Vec::new();
            for term in extractor.each_content_term(display) {
                let next_id = term_ids.len();
                let id = *term_ids.entry(term).or_insert(next_id);
                match counts.iter_mut().find(|(existing, _)| *existing == id) {
                    Some((_, count)) => *count += 1.0,
                    None => counts.push((id, 1.0)),
                }
            }
            counts.sort_by_key(|&(id, _)| id);
            term_counts.push(counts);
            displays.push(display.to_string());
        }

        let mut document_frequency = vec![0usize; term_ids.len()];
        for counts in &term_counts {
            for &(id, _) in counts {
                document_frequency[id] += 1;
            }
        }
        let sentence_count = term_counts.len() as f64;
        let analysed: Vec<AnalysedSentence> = displays
            .into_iter()
            .zip(term_counts)
            .map(|(display, counts)| {
                let mut vector: Vec<(usize, f64)> = counts
                    .into_iter()
                    .map(|(id, count)| {
                        // Smoothed IDF keeps a term found in every sentence above zero;
                        // sublinear TF stops one repeated word from dominating.
                        let idf = (1.0 + sentence_count / document_frequency[id] as f64).ln();
                        (id, (1.0 + count.ln()) * idf)
                    })
                    .collect();
                let norm = vector
                    .iter()
                    .map(|(_, weight)| weight * weight)
                    .sum::<f64>()
                    .sqrt();
                if norm > 0.0 {
                    vector.iter_mut().for_each(|(_, weight)| *weight /= norm);
                }
                let words = text::count_words(&display);
                let eligible = words >= MIN_SENTENCE_WORDS && !cleanup::is_page_furniture(&display);
                AnalysedSentence {
                    display,
                    words,
                    vector,
                    eligible,
                }
            })
            .collect();

        let count = analysed.len();
        let mut similarity = vec![0.0; count * count];
        for i in 0..count {
            for j in (i + 1)..count {
                let value = cosine(&analysed[i].vector, &analysed[j].vector);
                similarity[i * count + j] = value;
                similarity[j * count + i] = value;
            }
        }
        Article {
            sentences: analysed,
            similarity,
        }
    }

    fn similarity(&self, i: usize, j: usize) -> f64 {
        self.similarity[i * self.sentences.len() + j]
    }

    /// True if sentence `index` may be chosen: eligible, or nothing is eligible.
    fn choosable(&self, index: usize, any_eligible: bool) -> bool {
        self.sentences[index].eligible || !any_eligible
    }

    /// Position-biased LexRank: personalized PageRank whose jump distribution is the
    /// position prior. Sentences that may not be chosen score zero but still pass on
    /// their share, so they shape the scores of the others.
    fn scores(&self) -> Vec<f64> {
        let count = self.sentences.len();
        let any_eligible = self.sentences.iter().any(|s| s.eligible);
        let mut prior = vec![0.0; count];
        let mut position = 0usize;
        for (index, slot) in prior.iter_mut().enumerate() {
            if self.choosable(index, any_eligible) {
                *slot = 1.0 / (1.0 + position as f64);
                position += 1;
            }
        }
        let prior_total: f64 = prior.iter().sum();
        if prior_total > 0.0 {
            prior.iter_mut().for_each(|p| *p /= prior_total);
        }

        let row_sums: Vec<f64> = (0..count)
            .map(|i| self.similarity[i * count..(i + 1) * count].iter().sum())
            .collect();
        let mut scores = prior.clone();
        for _ in 0..PAGERANK_ITERATIONS {
            let mut next: Vec<f64> = prior.iter().map(|p| (1.0 - PAGERANK_DAMPING) * p).collect();
            for i in 0..count {
                let share = PAGERANK_DAMPING * scores[i];
                if row_sums[i] <= 0.0 {
                    // A sentence that shares no term with any other jumps like the prior.
                    next.iter_mut()
                        .zip(&prior)
                        .for_each(|(n, p)| *n += share * p);
                    continue;
                }
                let row = &self.similarity[i * count..(i + 1) * count];
                for (n, edge) in next.iter_mut().zip(row) {
                    *n += share * edge / row_sums[i];
                }
            }
            scores = next;
        }
        for (index, score) in scores.iter_mut().enumerate() {
            if !self.choosable(index, any_eligible) {
                *score = 0.0;
            }
        }
        scores
    }

    /// MMR value of adding sentence `index` to `chosen`.
    fn marginal_relevance(&self, index: usize, relevance: f64, chosen: &[usize]) -> f64 {
        let redundancy = chosen
            .iter()
            .map(|&other| self.similarity(index, other))
            .fold(0.0, f64::max);
        MMR_RELEVANCE_WEIGHT * relevance - (1.0 - MMR_RELEVANCE_WEIGHT) * redundancy
    }

    /// Remaining choosable sentences by descending MMR value; ties go to the earlier one.
    fn by_marginal_relevance(
        &self,
        scores: &[f64],
        ranking: &[usize],
        chosen: &[usize],
    ) -> Vec<(usize, f64)> {
        let best = ranking
            .first()
            .map_or(0.0, |&top| scores[top])
            .max(f64::MIN_POSITIVE);
        let mut candidates: Vec<(usize, f64)> = ranking
            .iter()
            .copied()
            .filter(|&index| scores[index] > 0.0 && !chosen.contains(&index))
            .map(|index| {
                (
                    index,
                    self.marginal_relevance(index, scores[index] / best, chosen),
                )
            })
            .collect();
        candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        candidates
    }

    /// Sentence indices of the abstract, in article order.
    fn select_abstract(&self, scores: &[f64], ranking: &[usize], budget: usize) -> Vec<usize> {
        self.select_within(scores, ranking, budget, usize::MAX)
    }

    /// Sentence indices, in article order, within `max_words` and `max_sentences`.
    fn select_within(
        &self,
        scores: &[f64],
        ranking: &[usize],
        budget: usize,
        max_sentences: usize,
    ) -> Vec<usize> {
        let mut chosen: Vec<usize> = Vec::new();
        let mut used = 0usize;
        while chosen.len() < max_sentences {
            let candidates = self.by_marginal_relevance(scores, ranking, &chosen);
            let Some(&(_, top_value)) = candidates.first() else {
                break;
            };
            let nearly_as_good = top_value - (1.0 - STAND_IN_RATIO) * top_value.abs();
            let pick = candidates.iter().find(|&&(index, value)| {
                used.saturating_add(self.sentences[index].words) <= budget
                    && (chosen.is_empty() || value >= nearly_as_good)
            });
            let Some(&(index, _)) = pick else { break };
            used += self.sentences[index].words;
            chosen.push(index);
        }
        if chosen.is_empty() {
            // Nothing fits: the best sentence whole rather than a cut one.
            chosen.extend(ranking.first());
        }
        chosen.sort_unstable();
        chosen
    }

    /// Sentence indices of the bullets, most important first, no two alike.
    fn select_bullets(&self, scores: &[f64], ranking: &[usize], wanted: usize) -> Vec<usize> {
        let short_enough = |index: usize| self.sentences[index].words <= MAX_BULLET_WORDS;
        let any_short = ranking
            .iter()
            .any(|&index| scores[index] > 0.0 && short_enough(index));
        let mut chosen: Vec<usize> = Vec::new();
        while chosen.len() < wanted {
            let next = self
                .by_marginal_relevance(scores, ranking, &chosen)
                .into_iter()
                .map(|(index, _)| index)
                .filter(|&index| short_enough(index) || !any_short)
                .find(|&index| {
                    chosen
                        .iter()
                        .all(|&other| !self.near_duplicates(index, other))
                });
            match next {
                Some(index) => chosen.push(index),
                None => break,
            }
        }
        if chosen.is_empty() && wanted > 0 {
            chosen.extend(ranking.first());
        }
        chosen
    }

    fn near_duplicates(&self, a: usize, b: usize) -> bool {
        self.similarity(a, b) >= NEAR_DUPLICATE_SIMILARITY
            || same_words(&self.sentences[a].display, &self.sentences[b].display)
    }

    /// The most central of the first few choosable sentences, compressed. Sentences that
    /// open with a pronoun or a quotation are passed over when another candidate exists.
    fn headline(&self, scores: &[f64]) -> String {
        let candidates: Vec<usize> = (0..self.sentences.len())
            .filter(|&index| scores[index] > 0.0)
            .take(HEADLINE_CANDIDATES)
            .collect();
        let self_contained: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&index| headline::is_self_contained(&self.sentences[index].display))
            .collect();
        let pool = if self_contained.is_empty() {
            &candidates
        } else {
            &self_contained
        };
        let source = pool
            .iter()
            .copied()
            .reduce(|best, index| {
                if scores[index] > scores[best] {
                    index
                } else {
                    best
                }
            })
            .unwrap_or(0);
        headline::compress_to_headline(&self.sentences[source].display)
    }
}

/// Sentence indices by descending score; ties go to the earlier sentence.
fn rank(scores: &[f64]) -> Vec<usize> {
    let mut ranking: Vec<usize> = (0..scores.len()).collect();
    ranking.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    ranking
}

/// Dot product of two L2-normalized sparse vectors sorted by term id.
fn cosine(a: &[(usize, f64)], b: &[(usize, f64)]) -> f64 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

/// Same words ignoring case and punctuation; catches duplicates made only of stop words.
fn same_words(a: &str, b: &str) -> bool {
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    words(a) == words(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::length::HEADLINE_MAX_WORDS;
    use crate::text::{count_words, normalize};

    fn summary(raw: &str, abstract_words: usize) -> ExtractiveSummary {
        summarize(
            &normalize(raw),
            &ExtractiveOptions {
                abstract_words,
                bullets: 4,
            },
        )
    }


    fn assert_well_formed(result: &ExtractiveSummary, source: &str) {
        assert!(!result.headline.is_empty(), "empty headline for {source:?}");
        assert!(count_words(&result.headline) <= HEADLINE_MAX_WORDS);
        assert!(!result.headline.ends_with('.'));
        assert!(!result.abstract_sentences.is_empty());
        assert!(!result.bullets.is_empty());
        for sentence in result.abstract_sentences.iter().chain(&result.bullets) {
            assert!(!sentence.trim().is_empty());
        }
    }

    #[test]
    fn seed_article_summary() {
        let raw = crate::text::test_inputs::seed_article();
        let result = summary(&raw, LengthPreset::Medium.target_words());
        assert_well_formed(&result, "seed");
        let abstract_words: usize = result
            .abstract_sentences
            .iter()
            .map(|s| count_words(s))
            .sum();
        assert!(abstract_words <= 80, "{abstract_words} words");
        assert!(
            result.abstract_sentences[0].starts_with("Prime Minister Shinzo Abe agreed Thursday")
        );
        assert!(result.headline.contains("Abe"), "{}", result.headline);
        // The subscription plea at the end is page furniture, never summary material.
        for sentence in result.abstract_sentences.iter().chain(&result.bullets) {
            assert!(!sentence.contains("subscribing") && !sentence.contains("quality journalism"));
        }
        assert_eq!(result.bullets.len(), 4);
    }

    #[test]
    fn abstract_is_in_article_order_within_budget() {
        let raw = crate::text::test_inputs::seed_article();
        let text = normalize(&raw);
        for budget in [20, 40, 80, 160] {
            let result = summarize(
                &text,
                &ExtractiveOptions {
                    abstract_words: budget,
                    bullets: 3,
                },
            );
            let words: usize = result
                .abstract_sentences
                .iter()
                .map(|s| count_words(s))
                .sum();
            assert!(words <= budget || result.abstract_sentences.len() == 1);
            let positions: Vec<usize> = result
                .abstract_sentences
                .iter()
                .filter_map(|s| text.find(s.as_str()))
                .collect();
            assert_eq!(
                positions.len(),
                result.abstract_sentences.len(),
                "sentences are verbatim"
            );
            assert!(positions.windows(2).all(|pair| pair[0] < pair[1]));
        }
    }

    #[test]
    fn several_budgets_from_one_scoring() {
        let raw = crate::text::test_inputs::seed_article();
        let sentences = text::split_sentences(&normalize(&raw));
        let budgets = [
            Budget::Words(25),
            Budget::Words(80),
            Budget::Sentences(1),
            Budget::Sentences(3),
        ];
        let scored = ScoredArticle::new(&sentences);
        let abstracts: Vec<Vec<String>> = budgets.iter().map(|&b| scored.abstract_within(b)).collect();
        let words = |sentences: &[String]| -> usize { sentences.iter().map(|s| count_words(s)).sum() };
        assert!(words(&abstracts[0]) <= 25 && !abstracts[0].is_empty(), "{:?}", abstracts[0]);
        assert!(words(&abstracts[1]) <= 80 && words(&abstracts[1]) > words(&abstracts[0]));
        assert_eq!(abstracts[2].len(), 1);
        assert_eq!(abstracts[3].len(), 3);
        // A word budget gives what `summarize_sentences` gives for the same budget.
        let options = ExtractiveOptions { abstract_words: 80, bullets: 4 };
        assert_eq!(abstracts[1], summarize_sentences(&sentences, &options).abstract_sentences);
    }

    #[test]
    fn over_budget_best_sentence_is_kept_whole() {
        let long = format!(
            "{} ends here.",
            "Officials counted the many ballots slowly".repeat(5)
        );
        let result = summary(&long, 10);
        assert_eq!(result.abstract_sentences, vec![long.clone()]);
    }

    #[test]
    fn bullets_are_distinct_and_cleaned() {
        let raw =
            "WASHINGTON — The Senate passed the budget bill on Tuesday after a long debate.\n\n\
                   But the House is expected to reject the budget bill next week, leaders said.\n\n\
                   The Senate passed the budget bill on Tuesday after a long debate.\n\n\
                   However, some members hope for a compromise on spending before the deadline.";
        let result = summary(raw, 80);
        assert!(result.bullets.contains(
            &"The Senate passed the budget bill on Tuesday after a long debate.".to_string()
        ));
        assert!(result.bullets.contains(
            &"The House is expected to reject the budget bill next week, leaders said.".to_string()
        ));
        assert!(result.bullets.contains(
            &"Some members hope for a compromise on spending before the deadline.".to_string()
        ));
        assert_eq!(
            result.bullets.len(),
            3,
            "the repeated sentence appears once: {:?}",
            result.bullets
        );
    }

    #[test]
    fn degenerate_inputs_give_sensible_output() {
        assert_eq!(summary("", 80), ExtractiveSummary::default());
        assert_eq!(summary("  \n\n — … ", 80), ExtractiveSummary::default());
        // Symbols and emoji are not words.
        assert_eq!(
            summary("\u{1F600} \u{1F600}!", 80),
            ExtractiveSummary::default()
        );

        let one_word = summary("Hello", 80);
        assert_eq!(one_word.headline, "Hello");
        assert_eq!(one_word.abstract_sentences, ["Hello"]);
        assert_eq!(one_word.bullets, ["Hello"]);

        for input in [
            "The council approved the new park on Monday.",
            "The council approved the new park. Residents were pleased.",
            "no punctuation at all just a long run of lower case words about a council meeting",
            "x",
            "Mr. Dr. St. No. Inc.",
            "\u{1F600} smile \u{1F600}",
            "日本語のテキストです。もう一つの文です。",
        ] {
            let result = summary(input, 80);
            assert_well_formed(&result, input);
        }
        let result = summary("Zero budget still gives one whole sentence.", 0);
        assert_eq!(
            result.abstract_sentences,
            ["Zero budget still gives one whole sentence."]
        );
        let no_bullets = summarize(
            "Some text here.",
            &ExtractiveOptions {
                abstract_words: 80,
                bullets: 0,
            },
        );
        assert!(no_bullets.bullets.is_empty());
    }

    #[test]
    fn random_inputs_never_panic() {
        for input in crate::text::test_inputs::tricky_strings(1500) {
            let result = summary(&input, 40);
            if count_words(&input) > 0 {
                assert_well_formed(&result, &input);
            }
        }
    }

    #[test]
    fn huge_input_is_handled() {
        let paragraph =
            "The regional council met again to discuss the budget for roads and schools. ";
        let huge = paragraph.repeat(5_000);
        let result = summary(&huge, 80);
        assert_well_formed(&result, "huge");
        let unpunctuated = "word ".repeat(100_000);
        let result = summary(&unpunctuated, 80);
        assert_eq!(result.abstract_sentences.len(), 1);
        assert!(count_words(&result.headline) <= HEADLINE_MAX_WORDS);
    }

    #[test]
    fn output_is_deterministic() {
        let raw = crate::text::test_inputs::seed_article();
        let first = summary(&raw, 80);
        for _ in 0..5 {
            assert_eq!(summary(&raw, 80), first);
        }
    }

    #[test]
    fn summarize_sentences_matches_summarize() {
        let raw = crate::text::test_inputs::seed_article();
        let text = normalize(&raw);
        let options = ExtractiveOptions::default();
        assert_eq!(
            summarize_sentences(&text::split_sentences(&text), &options),
            summarize(&text, &options)
        );
    }
}
