//! Extractive summarization without neural weights: headline, abstract and bullets are
//! built only from the article's own sentences.
//!
//! Scoring: every sentence gets a score from a position-biased LexRank, i.e. PageRank
//! over the TF-IDF cosine-similarity graph of the sentences whose random jumps land on
//! early sentences more often (news puts the essentials first). Selection is greedy
//! maximal marginal relevance (MMR), so a sentence that repeats a chosen one loses.
//!
//! This module owns the choice and light cleanup of sentences (datelines, leading
//! connectives, headline compression); splitting and normalization belong to
//! [`crate::text`], and length budgets to [`crate::length`].

use std::collections::HashMap;

use crate::length::{LengthPreset, DEFAULT_BULLETS, HEADLINE_MAX_WORDS};
use crate::text::{self, Sentence, TermExtractor};

/// What to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractiveOptions {
    /// Word budget of the abstract (see [`LengthPreset::target_words`]); whole sentences
    /// only, so the abstract is usually a little shorter.
    pub abstract_words: usize,
    /// Number of bullet points wanted; fewer come back when the article has fewer
    /// distinct sentences.
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

/// The extractive summary of one article. All fields are empty only when the input has
/// no word at all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtractiveSummary {
    /// At most [`HEADLINE_MAX_WORDS`] words, no final period.
    pub headline: String,
    /// Whole sentences in article order, together within the word budget when possible.
    pub abstract_sentences: Vec<String>,
    /// Distinct sentences, most important first.
    pub bullets: Vec<String>,
}

/// Summarizes normalized text (see [`crate::text::normalize`]).
pub fn summarize(normalized_text: &str, options: &ExtractiveOptions) -> ExtractiveSummary {
    summarize_sentences(&text::split_sentences(normalized_text), options)
}

/// Summarizes already split sentences, for callers that split once for several uses.
pub fn summarize_sentences(sentences: &[Sentence], options: &ExtractiveOptions) -> ExtractiveSummary {
    summarize_tuned(sentences, options, &Tuning::default())
}

#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct Tuning {
    pub damping: f64,
    pub position_decay: f64,
    pub position_scale: f64,
    pub quote_factor: f64,
    pub fill_ratio: f64,
    pub mmr_lambda: f64,
    pub min_words: usize,
    pub headline_target: usize,
    pub variant: u32,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            damping: 0.5,
            position_decay: 1.0,
            position_scale: 1.0,
            quote_factor: 1.0,
            fill_ratio: 0.8,
            mmr_lambda: 0.7,
            min_words: 6,
            headline_target: 10,
            variant: 0,
        }
    }
}

#[doc(hidden)]
pub fn summarize_tuned(sentences: &[Sentence], options: &ExtractiveOptions, tuning: &Tuning) -> ExtractiveSummary {
    let article = Article::analyse(sentences, tuning);
    if article.sentences.is_empty() {
        return ExtractiveSummary::default();
    }
    let scores = article.scores(tuning);
    let ranking = rank(&scores);
    let abstract_indices = article.select_abstract(&scores, &ranking, options.abstract_words, tuning);
    let bullet_indices = article.select_bullets(&scores, &ranking, options.bullets, tuning);
    ExtractiveSummary {
        headline: article.headline(&scores, tuning),
        abstract_sentences: abstract_indices
            .iter()
            .map(|&index| article.sentences[index].display.clone())
            .collect(),
        bullets: bullet_indices
            .iter()
            .map(|&index| bullet_text(&article.sentences[index].display))
            .collect(),
    }
}

/// One sentence prepared for scoring.
struct AnalysedSentence {
    /// Sentence text with any dateline removed; what the abstract shows.
    display: String,
    words: usize,
    /// L2-normalized TF-IDF weights, sorted by term id.
    vector: Vec<(usize, f64)>,
    /// Long enough and not page furniture; only these are chosen while any exist.
    eligible: bool,
}

struct Article {
    sentences: Vec<AnalysedSentence>,
    /// Cosine similarity of every pair, row-major.
    similarity: Vec<f64>,
}

impl Article {
    fn analyse(sentences: &[Sentence], tuning: &Tuning) -> Article {
        let extractor = TermExtractor::default();
        let mut term_ids: HashMap<String, usize> = HashMap::new();
        let mut term_counts: Vec<Vec<(usize, f64)>> = Vec::new();
        let mut displays = Vec::new();
        for sentence in sentences.iter().take(MAX_SENTENCES) {
            let display = strip_dateline(&sentence.text).to_string();
            if text::count_words(&display) == 0 {
                continue;
            }
            let mut counts: Vec<(usize, f64)> = Vec::new();
            for term in extractor.content_terms(&display) {
                let next_id = term_ids.len();
                let id = *term_ids.entry(term).or_insert(next_id);
                match counts.iter_mut().find(|(existing, _)| *existing == id) {
                    Some((_, count)) => *count += 1.0,
                    None => counts.push((id, 1.0)),
                }
            }
            counts.sort_by_key(|&(id, _)| id);
            term_counts.push(counts);
            displays.push(display);
        }

        let document_frequency = {
            let mut frequency = vec![0usize; term_ids.len()];
            for counts in &term_counts {
                for &(id, _) in counts {
                    frequency[id] += 1;
                }
            }
            frequency
        };
        let total = term_counts.len() as f64;
        let analysed: Vec<AnalysedSentence> = displays
            .into_iter()
            .zip(term_counts)
            .map(|(display, counts)| {
                let mut vector: Vec<(usize, f64)> = counts
                    .into_iter()
                    .map(|(id, count)| {
                        // Smoothed IDF: a term in every sentence still counts a little.
                        let idf = (1.0 + total / document_frequency[id] as f64).ln();
                        (id, (1.0 + count.ln()) * idf)
                    })
                    .collect();
                let norm = vector.iter().map(|(_, weight)| weight * weight).sum::<f64>().sqrt();
                if norm > 0.0 {
                    vector.iter_mut().for_each(|(_, weight)| *weight /= norm);
                }
                let words = text::count_words(&display);
                let eligible = words >= tuning.min_words && !is_page_furniture(&display);
                AnalysedSentence { display, words, vector, eligible }
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
        Article { sentences: analysed, similarity }
    }

    fn similarity(&self, i: usize, j: usize) -> f64 {
        self.similarity[i * self.sentences.len() + j]
    }

    /// Position-biased LexRank: PageRank whose teleport distribution favours early
    /// sentences. With no similarity at all it reduces to the position prior.
    fn scores(&self, tuning: &Tuning) -> Vec<f64> {
        let count = self.sentences.len();
        let eligible_any = self.sentences.iter().any(|s| s.eligible);
        let mut prior = vec![0.0; count];
        let mut rank_among_eligible = 0usize;
        for (index, sentence) in self.sentences.iter().enumerate() {
            if sentence.eligible || !eligible_any {
                prior[index] = 1.0 / (1.0 + rank_among_eligible as f64 / tuning.position_scale).powf(tuning.position_decay);
                if starts_with_quote(&sentence.display) {
                    prior[index] *= tuning.quote_factor;
                }
                rank_among_eligible += 1;
            }
        }
        let prior_total: f64 = prior.iter().sum();
        prior.iter_mut().for_each(|p| *p /= prior_total);

        let row_sums: Vec<f64> = (0..count)
            .map(|i| (0..count).map(|j| self.similarity(i, j)).sum())
            .collect();
        let mut scores = prior.clone();
        for _ in 0..PAGERANK_ITERATIONS {
            let mut next: Vec<f64> = prior.iter().map(|p| (1.0 - tuning.damping) * p).collect();
            for i in 0..count {
                if row_sums[i] <= 0.0 {
                    // A sentence sharing no term with any other passes its weight on
                    // through the prior, as in personalized PageRank.
                    for (j, p) in prior.iter().enumerate() {
                        next[j] += tuning.damping * scores[i] * p;
                    }
                    continue;
                }
                for j in 0..count {
                    let edge = self.similarity(i, j);
                    if edge > 0.0 {
                        next[j] += tuning.damping * scores[i] * edge / row_sums[i];
                    }
                }
            }
            scores = next;
        }
        for (score, sentence) in scores.iter_mut().zip(&self.sentences) {
            if eligible_any && !sentence.eligible {
                *score = 0.0;
            }
        }
        scores
    }

    /// Greedy MMR within the word budget; article order. A sentence that does not fit
    /// may be replaced by a shorter one only if that one is nearly as good: filling the
    /// budget with weak sentences makes a summary worse, not better.
    fn select_abstract(&self, scores: &[f64], ranking: &[usize], budget: usize, tuning: &Tuning) -> Vec<usize> {
        let mut chosen: Vec<usize> = Vec::new();
        let mut used = 0usize;
        let best = scores[ranking[0]].max(f64::MIN_POSITIVE);
        loop {
            let mut candidates: Vec<(usize, f64)> = ranking
                .iter()
                .copied()
                .filter(|index| !chosen.contains(index))
                .filter(|&index| scores[index] > 0.0 || chosen.is_empty())
                .map(|index| (index, self.marginal_relevance(index, scores[index] / best, &chosen, tuning)))
                .collect();
            candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let Some(&(_, top_value)) = candidates.first() else { break };
            let fitting = candidates
                .iter()
                .find(|(index, _)| used + self.sentences[*index].words <= budget);
            let Some(&(index, value)) = fitting else { break };
            let good_enough = chosen.is_empty() || value >= top_value - (1.0 - tuning.fill_ratio) * top_value.abs();
            if !good_enough {
                break;
            }
            used += self.sentences[index].words;
            chosen.push(index);
        }
        if chosen.is_empty() {
            // Even the best sentence is over budget: show it whole rather than cut it.
            chosen.push(ranking[0]);
        }
        chosen.sort_unstable();
        chosen
    }

    fn marginal_relevance(&self, index: usize, relevance: f64, chosen: &[usize], tuning: &Tuning) -> f64 {
        let redundancy = chosen.iter().map(|&other| self.similarity(index, other)).fold(0.0, f64::max);
        tuning.mmr_lambda * relevance - (1.0 - tuning.mmr_lambda) * redundancy
    }

    /// Top distinct sentences by MMR, most important first.
    fn select_bullets(&self, scores: &[f64], ranking: &[usize], wanted: usize, tuning: &Tuning) -> Vec<usize> {
        let mut chosen: Vec<usize> = Vec::new();
        let best = scores[ranking[0]].max(f64::MIN_POSITIVE);
        while chosen.len() < wanted {
            let candidate = ranking
                .iter()
                .copied()
                .filter(|index| !chosen.contains(index))
                .filter(|&index| scores[index] > 0.0 || chosen.is_empty())
                .filter(|&index| {
                    chosen.iter().all(|&other| {
                        self.similarity(index, other) < NEAR_DUPLICATE_SIMILARITY
                            && normalized_words(&self.sentences[index].display)
                                != normalized_words(&self.sentences[other].display)
                    })
                })
                .map(|index| (index, self.marginal_relevance(index, scores[index] / best, &chosen, tuning)))
                .fold(None::<(usize, f64)>, |best_so_far, (index, value)| match best_so_far {
                    Some((_, best_value)) if best_value >= value => best_so_far,
                    _ => Some((index, value)),
                });
            match candidate {
                Some((index, _)) => chosen.push(index),
                None => break,
            }
        }
        chosen
    }

    fn headline(&self, scores: &[f64], tuning: &Tuning) -> String {
        // The most central of the first few candidates: news headlines restate the lead.
        // Sentences opening with a pronoun or a quotation make poor headlines.
        let self_contained = |index: &usize| {
            let display = &self.sentences[*index].display;
            let first = display.split_whitespace().next().map(bare_lower).unwrap_or_default();
            !starts_with_quote(display) && !PRONOUNS.contains(&first.as_str())
        };
        let any_self_contained = (0..self.sentences.len())
            .filter(|&index| scores[index] > 0.0)
            .take(HEADLINE_CANDIDATES)
            .any(|index| self_contained(&index));
        let source = (0..self.sentences.len())
            .filter(|&index| scores[index] > 0.0)
            .take(if tuning.variant & 16 != 0 { 1 } else { HEADLINE_CANDIDATES })
            .filter(|index| !any_self_contained || self_contained(index))
            .fold(None::<usize>, |best, index| match best {
                Some(current) if scores[current] >= scores[index] => Some(current),
                _ => Some(index),
            })
            .unwrap_or(0);
        compress_to_headline(&self.sentences[source].display, tuning.headline_target, tuning.variant)
    }
}

fn starts_with_quote(sentence: &str) -> bool {
    sentence.starts_with(['"', '\'', '“', '‘', '«'])
}

/// Scoring is quadratic in sentences; later sentences of a huge input add nothing a
/// summary would use.
const MAX_SENTENCES: usize = 400;
const PAGERANK_ITERATIONS: usize = 30;
/// Bullets closer than this (cosine of TF-IDF vectors) say the same thing.
const NEAR_DUPLICATE_SIMILARITY: f64 = 0.5;
/// The headline comes from one of this many leading sentences.
const HEADLINE_CANDIDATES: usize = 3;

/// Sentence indices by descending score; ties go to the earlier sentence.
fn rank(scores: &[f64]) -> Vec<usize> {
    let mut ranking: Vec<usize> = (0..scores.len()).collect();
    ranking.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    ranking
}

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

fn normalized_words(s: &str) -> String {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Site chrome that pages leave in extracted text: calls to action, bylines, timestamps.
fn is_page_furniture(sentence: &str) -> bool {
    const MARKERS: &[&str] = &[
        "scroll down for",
        "click here",
        "read more",
        "sign up for",
        "subscribe",
        "subscribing",
        "newsletter",
        "follow us on",
        "all rights reserved",
        "copyright",
        "published:",
        "updated:",
        "last updated",
        "share this article",
        "advertisement",
        "cookies",
        "quality journalism",
    ];
    let lower = sentence.to_lowercase();
    MARKERS.iter().any(|marker| lower.contains(marker))
}

/// Removes a leading news dateline: `LONDON (Reuters) - `, `WASHINGTON — `, `(CNN) -- `,
/// `(CNN)They…`. Returns the input unchanged when there is none.
pub fn strip_dateline(sentence: &str) -> &str {
    let trimmed = sentence.trim_start();
    // `(CNN)` glued to the first word, or followed by a dash.
    if trimmed.starts_with('(') {
        if let Some(close) = trimmed.find(')') {
            let inside = &trimmed[1..close];
            if is_agency_name(inside) {
                let rest = strip_leading_dash(&trimmed[close + 1..]);
                if starts_sentence(rest) {
                    return rest;
                }
            }
        }
    }
    // `CITY, Country (Agency) - ` or `CITY — `: a short prefix before a dash.
    const MAX_DATELINE_WORDS: usize = 8;
    let mut offset = 0;
    for (position, token) in trimmed.split_whitespace().enumerate().take(MAX_DATELINE_WORDS + 1) {
        let token_start = match trimmed[offset..].find(token) {
            Some(found) => offset + found,
            None => return sentence,
        };
        offset = token_start + token.len();
        let dash_token = matches!(token, "-" | "--" | "—" | "–" | "―");
        let glued_dash = token.ends_with(")--") || token.ends_with(")—") || token.ends_with(")-");
        if position > 0 && (dash_token || glued_dash) {
            let prefix = &trimmed[..if glued_dash { offset } else { token_start }];
            let rest = trimmed[offset..].trim_start();
            if looks_like_dateline(prefix) && starts_sentence(rest) {
                return rest;
            }
            return sentence;
        }
    }
    sentence
}

fn is_agency_name(inside: &str) -> bool {
    let words: Vec<&str> = inside.split_whitespace().collect();
    !words.is_empty()
        && words.len() <= 3
        && words.iter().all(|w| w.chars().next().is_some_and(char::is_uppercase))
}

fn strip_leading_dash(s: &str) -> &str {
    s.trim_start().trim_start_matches(['-', '—', '–', '―']).trim_start()
}

fn starts_sentence(s: &str) -> bool {
    s.trim_start_matches(['"', '\'', '“', '‘'])
        .chars()
        .next()
        .is_some_and(|c| c.is_uppercase() || c.is_numeric())
}

fn looks_like_dateline(prefix: &str) -> bool {
    let has_agency = prefix.contains('(') && prefix.contains(')');
    let letters_all_caps = prefix
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphabetic))
        .take(1)
        .all(|w| w.chars().filter(|c| c.is_alphabetic()).all(char::is_uppercase));
    let first_word_letters = prefix.chars().take_while(|c| !c.is_whitespace() && *c != ',').filter(|c| c.is_alphabetic()).count();
    has_agency || (letters_all_caps && first_word_letters >= 2)
}

/// Words that link a sentence to the one before it; a bullet stands alone without them.
const LEADING_CONNECTIVES: &[&str] = &[
    "But", "And", "So", "Yet", "Or", "However,", "Meanwhile,", "Also,", "Still,", "Moreover,",
    "Furthermore,", "Additionally,", "Nevertheless,", "Nonetheless,", "Indeed,", "Instead,",
    "However", "Besides,", "Then,", "Now,", "Thus,", "Hence,", "Therefore,", "Plus,", "In addition,",
    "In fact,", "As a result,", "On the other hand,", "Of course,", "After all,",
];

fn strip_leading_connective(sentence: &str) -> &str {
    for connective in LEADING_CONNECTIVES {
        if let Some(rest) = sentence.strip_prefix(connective) {
            // Whole word only: "Andrew" is not "And".
            if rest.starts_with(char::is_whitespace) && rest.trim_start().chars().any(char::is_alphanumeric) {
                return rest.trim_start();
            }
        }
    }
    sentence
}

fn capitalize_first(s: &str) -> String {
    let mut output = String::with_capacity(s.len());
    let mut done = false;
    for c in s.chars() {
        if !done && c.is_alphanumeric() {
            output.extend(c.to_uppercase());
            done = true;
        } else {
            output.push(c);
        }
    }
    output
}

fn bullet_text(sentence: &str) -> String {
    capitalize_first(strip_leading_connective(strip_dateline(sentence)))
}

// ---------------------------------------------------------------------------------------
// Headline compression
// ---------------------------------------------------------------------------------------

/// Reporting verbs that make a clause an attribution: `, officials said`.
const ATTRIBUTION_VERBS: &[&str] = &[
    "said", "says", "say", "saying", "reported", "reports", "report", "reporting", "claim",
    "claims", "claimed", "announced", "announces", "revealed", "reveals", "confirmed",
    "confirms", "warned", "warns", "added", "adds", "told", "tells", "believe", "believes",
    "according", "suggests", "suggested", "show", "shows", "showed", "shown", "insisted",
    "insists", "stated", "states", "predicted", "predicts", "argued", "argues", "estimated",
    "estimates", "found", "finds", "indicate", "indicates", "indicated", "think", "thinks",
    "pledged", "promised", "vowed", "urged", "wrote", "writes", "explained", "stressed",
    "conceded", "acknowledged", "admitted", "admits", "declared", "noted", "heard",
];

/// Verbs of saying, for `X said that …` at the start of a sentence.
const SPEECH_VERBS: &[&str] = &[
    "said", "says", "told", "tells", "believes", "believe", "thinks", "think", "warned",
    "warns", "announced", "insisted", "insists", "predicted", "predicts", "estimated",
    "estimates", "confirmed", "revealed", "indicated", "admitted", "argued", "argues",
    "added", "stated", "suggested", "reported",
];

const PRONOUNS: &[&str] = &[
    "he", "she", "it", "they", "we", "i", "you", "his", "her", "its", "their", "our", "this",
    "these", "those", "there",
];

/// Words that open a subordinate clause or an afterthought after a comma.
const CLAUSE_OPENERS: &[&str] = &[
    "which", "who", "whose", "where", "while", "whilst", "as", "after", "but", "and",
    "with", "saying", "despite", "although", "though", "because", "amid", "including",
    "following", "according", "before", "when", "since", "adding", "prompting", "leaving",
    "making", "meaning", "bringing", "taking", "than", "if", "so", "thanks", "ahead",
    "in", "on", "at", "from", "for", "up", "down", "upsetting", "helped", "boosted", "hit",
    "a", "an", "the", "its", "his", "her", "their", "or", "not", "even", "just", "only",
];

/// Function words a headline must not end on.
const TRAILING_FUNCTION_WORDS: &[&str] = &[
    "a", "an", "the", "of", "to", "in", "on", "at", "for", "from", "by", "with", "and", "or",
    "but", "as", "that", "which", "who", "its", "his", "her", "their", "is", "are", "was",
    "were", "has", "have", "had", "be", "been", "will", "would", "than", "into", "over",
    "after", "before", "while", "about", "also", "said", "says", "could", "can", "may",
    "might", "should", "must", "being", "this", "these", "those", "such", "not", "more",
    "most", "very", "so", "if", "when", "where", "because", "amid", "despite", "during",
    "he", "she", "it", "they", "we", "i", "you", "there", "him", "them", "us",
];

const WEEKDAYS: &[&str] = &[
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
];

/// Turns a sentence into a headline: dateline, parentheticals, attributions, trailing
/// clauses and time phrases removed; written in headline style (no articles, `will` and
/// `is to` become `to`, `has been charged` becomes `charged`); at most
/// [`HEADLINE_MAX_WORDS`] words, preferably `target_words`; no final period.
/// Falls back to the sentence's first words when compression leaves nothing.
fn compress_to_headline(sentence: &str, target_words: usize, variant: u32) -> String {
    let cleaned = strip_leading_connective(strip_label(strip_dateline(sentence)));
    let without_brackets = remove_parentheticals(cleaned);
    let mut clauses = split_clauses(&without_brackets);
    drop_attribution_clauses(&mut clauses);
    let mut words = main_clause_words(&clauses, HEADLINE_MAX_WORDS);
    drop_leading_attribution(&mut words);
    if variant & 4 == 0 {
        drop_time_phrases(&mut words);
    }
    write_headline_style(&mut words, variant);
    trim_to_length(&mut words, target_words.min(HEADLINE_MAX_WORDS));
    let headline = finish_headline(&words);
    if !headline.is_empty() {
        return headline;
    }
    let mut fallback: Vec<String> = sentence.split_whitespace().map(str::to_string).collect();
    fallback.truncate(HEADLINE_MAX_WORDS);
    finish_headline(&fallback)
}

/// Removes `(…)` and `[…]` groups; unbalanced brackets are left alone.
fn remove_parentheticals(s: &str) -> String {
    let opens = s.chars().filter(|&c| c == '(' || c == '[').count();
    let closes = s.chars().filter(|&c| c == ')' || c == ']').count();
    if opens != closes {
        return s.to_string();
    }
    let mut output = String::with_capacity(s.len());
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => output.push(c),
            _ => {}
        }
    }
    output.split_whitespace().collect::<Vec<_>>().join(" ").replace(" ,", ",").replace(" .", ".")
}

/// Splits at commas, semicolons, spaced dashes, and colons that introduce a quotation,
/// keeping the words of each part. A colon inside a title (`Avengers: Age of Ultron`)
/// does not split.
fn split_clauses(s: &str) -> Vec<Vec<String>> {
    let tokens: Vec<&str> = s.split_whitespace().collect();
    let mut clauses: Vec<Vec<String>> = vec![Vec::new()];
    for (index, token) in tokens.iter().enumerate() {
        if matches!(*token, "-" | "--" | "—" | "–") {
            clauses.push(Vec::new());
            continue;
        }
        let word = token.trim_end_matches([',', ';', ':']);
        let next_is_quote = tokens.get(index + 1).is_some_and(|next| starts_with_quote(next));
        let ends_clause = !word.is_empty()
            && (token.ends_with([',', ';']) || (token.ends_with(':') && next_is_quote));
        // The clause keeps its punctuation so that rejoined clauses read as written.
        if let Some(last) = clauses.last_mut() {
            last.push(token.to_string());
        }
        if ends_clause {
            clauses.push(Vec::new());
        }
    }
    clauses.retain(|clause| !clause.is_empty());
    clauses
}

/// Removes a caption label such as `Vicious:` or `Bad memories:` from the start.
fn strip_label(sentence: &str) -> &str {
    const MAX_LABEL_WORDS: usize = 3;
    let Some(colon) = sentence.find(": ") else { return sentence };
    let label = &sentence[..colon];
    let rest = sentence[colon + 1..].trim_start();
    let label_words = label.split_whitespace().count();
    if label_words <= MAX_LABEL_WORDS && text::count_words(rest) >= 4 && starts_sentence(rest) {
        rest
    } else {
        sentence
    }
}

fn bare_lower(word: &str) -> String {
    word.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase()
}

fn is_auxiliary(word: &str) -> bool {
    matches!(
        word,
        "has" | "have" | "had" | "is" | "are" | "was" | "were" | "will" | "would" | "could"
            | "can" | "may" | "might" | "should" | "must" | "be" | "been" | "being"
    )
}

/// Drops trailing clauses that only say who said it: `…, a report says`,
/// `…, according to officials`, `…, the Financial Times has reported`.
fn drop_attribution_clauses(clauses: &mut Vec<Vec<String>>) {
    const MAX_ATTRIBUTION_WORDS: usize = 10;
    const MAX_WORDS_AFTER_VERB: usize = 3;
    const MAX_INVERTED_WORDS: usize = 6;
    while clauses.len() > 1 {
        let Some(last) = clauses.last() else { break };
        let lower: Vec<String> = last.iter().map(|w| bare_lower(w)).collect();
        let opener = lower.first().map(String::as_str).unwrap_or("");
        let verb = lower.iter().rposition(|w| ATTRIBUTION_VERBS.contains(&w.as_str()));
        // `…, says a report` / `…, said Mr Smith`: a bare reporting verb and its subject.
        let inverted = matches!(opener, "says" | "said" | "say" | "adds" | "added" | "reports")
            && last.len() <= MAX_INVERTED_WORDS;
        let is_attribution = opener == "according"
            || inverted
            || (last.len() <= MAX_ATTRIBUTION_WORDS
                && !is_auxiliary(opener)
                && !ATTRIBUTION_VERBS.contains(&opener)
                && verb.is_some_and(|v| last.len() - v - 1 <= MAX_WORDS_AFTER_VERB));
        if is_attribution {
            clauses.pop();
        } else {
            break;
        }
    }
}

/// The words of the main clause. An introductory phrase (`On Thursday, …`) and an
/// appositive after a short subject (`Parmalat, the Italian dairy company…, hopes to…`)
/// are skipped; clauses after the main one are kept only while the headline is short
/// and they do not open a subordinate clause.
fn main_clause_words(clauses: &[Vec<String>], max_words: usize) -> Vec<String> {
    const MAX_SUBJECT_WORDS: usize = 6;
    const MAX_APPOSITIVE_CLAUSES: usize = 3;
    const MIN_MAIN_CLAUSE_WORDS: usize = 4;
    let mut clauses: &[Vec<String>] = clauses;
    let Some(first) = clauses.first() else { return Vec::new() };

    let opener = first.first().map(|w| bare_lower(w)).unwrap_or_default();
    let introductory = INTRODUCTORY_WORDS.contains(&opener.as_str());
    if introductory && clauses.get(1).is_some_and(|next| next.len() >= MIN_MAIN_CLAUSE_WORDS) {
        clauses = &clauses[1..];
    }

    let mut words: Vec<String> = clauses[0].clone();
    let mut rest = &clauses[1..];
    let subject_only = words.len() <= MAX_SUBJECT_WORDS && !words.iter().any(|w| is_auxiliary(&bare_lower(w)));
    let opener_of = |clause: &Vec<String>| clause.first().map(|w| bare_lower(w)).unwrap_or_default();
    if subject_only && !rest.is_empty() {
        let appositive_first = APPOSITIVE_OPENERS.contains(&opener_of(&rest[0]).as_str());
        let verb_clause = rest.iter().take(MAX_APPOSITIVE_CLAUSES + 1).position(|clause| {
            let opener = opener_of(clause);
            looks_like_verb(&opener)
                || (appositive_first && !CLAUSE_OPENERS.contains(&opener.as_str()) && !starts_with_capital(clause))
        });
        if let Some(position) = verb_clause.filter(|&p| p > 0) {
            rest = &rest[position..];
            if let Some(last) = words.last_mut() {
                *last = last.trim_end_matches([',', ';', ':']).to_string();
            }
        }
    }
    for clause in rest {
        let opener = clause.first().map(|w| bare_lower(w)).unwrap_or_default();
        let starts_verb_phrase = looks_like_verb(&opener) && words.len() <= MAX_SUBJECT_WORDS;
        if (CLAUSE_OPENERS.contains(&opener.as_str()) && !starts_verb_phrase) || words.len() >= max_words {
            break;
        }
        words.extend(clause.iter().cloned());
    }
    words
}

/// Words that open an appositive after a subject: `Joss Stone, a 17-year-old singer, …`.
const APPOSITIVE_OPENERS: &[&str] = &[
    "the", "a", "an", "its", "his", "her", "their", "who", "whose", "which", "now", "once",
    "formerly", "currently", "also", "one", "both",
];

fn starts_with_capital(clause: &[String]) -> bool {
    clause.first().and_then(|w| w.chars().find(|c| c.is_alphanumeric())).is_some_and(char::is_uppercase)
}

/// Words that open a sentence-initial adverbial phrase: `In 2003, …`, `At the awards, …`.
const INTRODUCTORY_WORDS: &[&str] = &[
    "in", "at", "on", "after", "before", "during", "as", "while", "when", "although",
    "though", "despite", "following", "with", "without", "under", "for", "since", "if",
    "by", "amid", "meanwhile", "however", "now", "then", "speaking", "writing", "earlier",
    "later", "last", "this", "yesterday", "today",
];

/// An auxiliary or a word shaped like a finite verb, which ends a subject.
fn looks_like_verb(lower: &str) -> bool {
    is_auxiliary(lower) || is_participle(lower) || matches!(lower, "says" | "said" | "plans" | "wants" | "hopes" | "faces")
}

/// Past participles, for `has been charged` → `charged`.
fn is_participle(lower: &str) -> bool {
    const IRREGULAR: &[&str] = &[
        "put", "set", "hit", "cut", "held", "sold", "told", "found", "made", "won", "built",
        "brought", "bought", "caught", "taught", "thought", "left", "lost", "kept", "sent",
        "spent", "paid", "said", "struck", "hung", "shut", "quit", "led", "fed", "met", "run",
        "come", "become", "beaten", "begun", "done", "gone", "seen", "shown", "known",
        "grown", "thrown", "drawn", "flown", "torn", "worn", "sworn", "born", "borne",
    ];
    (lower.len() > 4 && (lower.ends_with("ed") || lower.ends_with("en"))) || IRREGULAR.contains(&lower)
}

/// `Officials said on Friday that prices will rise` → `prices will rise`.
fn drop_leading_attribution(words: &mut Vec<String>) {
    const MAX_ATTRIBUTION_WORDS: usize = 10;
    const MIN_WORDS_LEFT: usize = 4;
    let limit = words.len().min(MAX_ATTRIBUTION_WORDS);
    let verb = words[..limit].iter().position(|w| SPEECH_VERBS.contains(&bare_lower(w).as_str()));
    let Some(verb) = verb else { return };
    // Only `X said that …` / `X said on Friday that …`, not `X rejected claims that …`.
    let that = words[verb + 1..limit.max(verb + 1)]
        .iter()
        .take(3)
        .position(|w| bare_lower(w) == "that")
        .map(|p| p + verb + 1);
    let Some(that) = that else { return };
    // A pronoun left in front would lose who the headline is about.
    let starts_with_pronoun = words
        .get(that + 1)
        .is_some_and(|w| PRONOUNS.contains(&bare_lower(w).as_str()));
    if words.len() - that > MIN_WORDS_LEFT && !starts_with_pronoun {
        words.drain(..=that);
    }
}

/// Removes `on Thursday`, `this week`, `last year`, `yesterday`: headlines are read as
/// current, and these words rarely carry the story.
fn drop_time_phrases(words: &mut Vec<String>) {
    const RELATIVE: &[&str] = &["this", "last", "next", "earlier", "later"];
    const PERIODS: &[&str] = &[
        "week", "month", "year", "weekend", "morning", "afternoon", "evening", "night",
        "summer", "winter", "spring", "autumn",
    ];
    let mut index = 0;
    while index < words.len() {
        let word = bare_lower(&words[index]);
        let next = words.get(index + 1).map(|w| bare_lower(w)).unwrap_or_default();
        let after_next = words.get(index + 2).map(|w| bare_lower(w)).unwrap_or_default();
        let span = if word == "on" && WEEKDAYS.contains(&next.as_str()) {
            if PERIODS.contains(&after_next.as_str()) { 3 } else { 2 }
        } else if RELATIVE.contains(&word.as_str())
            && (PERIODS.contains(&next.as_str()) || WEEKDAYS.contains(&next.as_str()))
        {
            2
        } else if matches!(word.as_str(), "yesterday" | "today" | "tonight") || WEEKDAYS.contains(&word.as_str()) {
            1
        } else {
            0
        };
        // Keep words that end a clause: removing them would lose the punctuation.
        let keeps_punctuation = words[index..(index + span).min(words.len())]
            .last()
            .is_some_and(|w| w.ends_with(|c: char| !c.is_alphanumeric()));
        if span > 0 && !keeps_punctuation && words.len() > span + 2 {
            words.drain(index..index + span);
        } else {
            index += 1;
        }
    }
}

/// Headline register: no articles, `will`/`is to` → `to`, passive `has been` dropped.
fn write_headline_style(words: &mut Vec<String>, variant: u32) {
    let mut output: Vec<String> = Vec::with_capacity(words.len());
    let mut index = 0;
    // Verb rewrites apply to the main verb only, not inside `that …` clauses.
    let mut main_verb_seen = false;
    while index < words.len() {
        let word = &words[index];
        let lower = bare_lower(word);
        let next = words.get(index + 1).map(|w| bare_lower(w)).unwrap_or_default();
        let plain = !word.ends_with(|c: char| !c.is_alphanumeric());
        let first_verb = !main_verb_seen;
        if is_auxiliary(&lower) || matches!(lower.as_str(), "that" | "which" | "who" | "if" | "when") {
            main_verb_seen = true;
        }
        match lower.as_str() {
            // Articles go, unless the article is all that is left or ends a phrase.
            "a" | "an" | "the" if variant & 1 == 0 && word.len() == lower.len() && index + 1 < words.len() => {}
            // `is to recall` → `to recall`.
            "is" | "are" if variant & 2 == 0 && first_verb && plain && next == "to" => {}
            // `will unveil` → `to unveil`.
            "will" if variant & 2 == 0
                && first_verb
                && plain
                && next.chars().next().is_some_and(char::is_alphabetic)
                && !matches!(next.as_str(), "not" | "have" | "also" | "still") =>
            {
                output.push("to".to_string());
            }
            // `has been charged` → `charged`.
            "has" | "have" if variant & 8 == 0
                && first_verb
                && plain
                && next == "been"
                && words.get(index + 2).is_some_and(|w| is_participle(&bare_lower(w))) =>
            {
                index += 2;
                continue;
            }
            _ => output.push(word.clone()),
        }
        index += 1;
    }
    if output.iter().any(|w| w.chars().any(char::is_alphanumeric)) {
        *words = output;
    }
}

/// Cuts to about `target` words (never more than [`HEADLINE_MAX_WORDS`]) at the phrase
/// boundary nearest the target, then drops dangling function words.
fn trim_to_length(words: &mut Vec<String>, target: usize) {
    if words.len() > target {
        // Candidate cuts: before a preposition or conjunction, or the whole clause when
        // it is within the hard limit. Overshooting the target costs twice undershooting.
        let cost = |cut: usize| if cut <= target { target - cut } else { 2 * (cut - target) };
        let whole = (words.len() <= HEADLINE_MAX_WORDS).then_some(words.len());
        let boundary = (target.div_ceil(2)..words.len().min(HEADLINE_MAX_WORDS + 1))
            .filter(|&cut| {
                is_break_word(&bare_lower(&words[cut])) || words[cut - 1].ends_with([',', ';', ':'])
            })
            .chain(whole)
            .min_by_key(|&cut| (cost(cut), cut));
        words.truncate(boundary.unwrap_or(target));
    }
    while words.len() > 1
        && words.last().is_some_and(|w| TRAILING_FUNCTION_WORDS.contains(&bare_lower(w).as_str()))
    {
        words.pop();
    }
}

fn is_break_word(word: &str) -> bool {
    matches!(
        word,
        "in" | "on" | "at" | "for" | "from" | "after" | "with" | "by" | "over" | "during" | "since"
            | "as" | "while" | "and" | "but" | "because" | "despite" | "amid" | "which" | "who"
            | "than" | "following" | "before" | "when" | "including" | "into" | "under" | "against"
    )
}

fn finish_headline(words: &[String]) -> String {
    let joined = words.join(" ");
    let mut headline = joined.as_str();
    loop {
        let trimmed = headline.trim_end_matches(|c: char| {
            matches!(c, '.' | ',' | ';' | ':' | '-' | '—' | '–' | '!' | '…') || c.is_whitespace()
        });
        // A closing quote whose opening quote was cut away.
        let unbalanced_quote = ['"', '”', '’', '\''].iter().find(|&&quote| {
            trimmed.ends_with(quote) && !has_opening_quote_for(trimmed, quote)
        });
        headline = match unbalanced_quote {
            Some(quote) => &trimmed[..trimmed.len() - quote.len_utf8()],
            None => trimmed,
        };
        if unbalanced_quote.is_none() {
            break;
        }
    }
    capitalize_first(headline.trim())
}

/// Is there an opening quote earlier in `text` that `closing` (its last character) matches?
fn has_opening_quote_for(text: &str, closing: char) -> bool {
    let body = &text[..text.len() - closing.len_utf8()];
    match closing {
        '”' => body.contains('“'),
        '’' => body.contains('‘'),
        // Straight quotes pair with themselves; an apostrophe-s is not a quote.
        '"' => body.matches('"').count() % 2 == 1,
        _ => body.split_whitespace().any(|w| w.starts_with('\'')),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_datelines() {
        assert_eq!(strip_dateline("LONDON (Reuters) - Shares rose."), "Shares rose.");
        assert_eq!(strip_dateline("WASHINGTON — The Senate voted."), "The Senate voted.");
        assert_eq!(strip_dateline("(CNN)They may not be aliens."), "They may not be aliens.");
        assert_eq!(strip_dateline("(CNN) -- The storm hit."), "The storm hit.");
        assert_eq!(strip_dateline("NEW YORK, March 3 (Reuters) - Stocks fell."), "Stocks fell.");
        assert_eq!(strip_dateline("Mr Smith - who was there - left."), "Mr Smith - who was there - left.");
        assert_eq!(strip_dateline("word"), "word");
        assert_eq!(strip_dateline(""), "");
    }
}
