//! Faithfulness: does a summary say only what its source says?
//!
//! Given a source text and a summary, every summary sentence is aligned with the source
//! sentences that best support it, and its checkable parts are looked up there:
//!
//! * **numbers** in every form ([`numbers`]: digits, words, money, percentages, dates and times,
//!   ages, ordinals, quantities with units), compared by value;
//! * **names**: capitalised words and runs of them (`Shinzo Abe`); in a lower-cased summary, the
//!   words the source writes with a capital (and the unknown words next to them: `tony` in
//!   `tony abbott`); a run of names must also stand together in the source (`Paul Sheerin` is
//!   not supported by a `Paul Hartley` and a `Jim Sheerin`);
//! * **quotations** of two words or more, which must be in the source word for word;
//! * **content words** (not stop words; stemmed, so `rose` supports `rising`).
//!
//! A part found in the aligned sentences (or their neighbours) is supported. A part found
//! only elsewhere in the source is flagged as out of place (a name or number moved to another
//! fact is a common error of abstractive models); a part not in the source at all is flagged
//! as unsupported. Each flagged span has a kind, character offsets into the summary and a
//! one-line reason.
//!
//! **Score.** Each flagged span adds its weight to its sentence's penalty ([`Weights`]: a
//! content word 0.5, a number, name or quotation 1, a quarter of that when the part is in the
//! source but not near the aligned sentences); a sentence stitched together from several
//! separate pieces of the source adds 0.1 for every piece after the first. A sentence scores
//! `1 / (1 + penalty)`, the summary the mean over its sentences (the share of sentences a
//! reader can trust, as human judgements count it). A summary copied from its source scores 1.
//!
//! What a lexical check cannot see: a relation between supported words that the source does
//! not state (`A beat B` from `B beat A`), a negation added or dropped, a pronoun that points
//! to the wrong person. Those errors go unflagged.
//!
//! This module owns the check and the guard on model outputs ([`guard`]); it knows nothing of
//! models, commands or output formats, and reads no files.

pub mod correlation;
pub mod guard;
pub mod marking;
mod numbers;
mod tokens;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use serde::Serialize;

use crate::text::{self, is_stop_word, TermExtractor};
use numbers::{find_numbers, find_numbers_between, NumberForm, NumberKey, NumberMention};
use tokens::{capitalize_sentence_starts, is_lowercased, tokenize, Token, QUOTES};

/// How much each kind of flagged span costs a sentence. The one definition of the defaults;
/// `bench/faithfulness.sh` shows how they were chosen (a small grid, cross-validated by article
/// on human judgements of real system summaries; README "Faithfulness").
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Weights {
    /// A content word (or a run of them) per word.
    pub word: f64,
    /// A number, a name or a quotation.
    pub fact: f64,
    /// Multiplies the above when the part is in the source, but not near the aligned sentences.
    pub elsewhere: f64,
    /// Each piece of the source after the first that a sentence is stitched from.
    pub splice: f64,
}

pub const DEFAULT_WEIGHTS: Weights = Weights { word: 0.5, fact: 1.0, elsewhere: 0.25, splice: 0.1 };

/// Source sentences a summary sentence is aligned with, at most.
const MAX_SUPPORT: usize = 3;
/// Sentences on each side of an aligned sentence that still count as near it (pronouns and
/// details often sit in the sentence before or after).
const NEIGHBOURS: usize = 1;
/// Shortest quotation checked word for word (one quoted word is checked as a word).
const MIN_QUOTE_WORDS: usize = 2;
/// Placeholders some systems write for words outside their vocabulary.
const UNKNOWN_WORD_MARKERS: &[&str] = &["unk", "<unk>"];

/// The kind of a flagged span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SpanKind {
    Number,
    Money,
    Percent,
    Date,
    Time,
    Age,
    Ordinal,
    Quantity,
    Name,
    Quote,
    Word,
}

impl SpanKind {
    /// Numbers (every form) and names: what `--guard drop` acts on.
    pub fn is_number_or_name(self) -> bool {
        !matches!(self, SpanKind::Quote | SpanKind::Word)
    }

    pub fn label(self) -> &'static str {
        match self {
            SpanKind::Number => "number",
            SpanKind::Money => "money",
            SpanKind::Percent => "percentage",
            SpanKind::Date => "date",
            SpanKind::Time => "time",
            SpanKind::Age => "age",
            SpanKind::Ordinal => "ordinal",
            SpanKind::Quantity => "quantity",
            SpanKind::Name => "name",
            SpanKind::Quote => "quotation",
            SpanKind::Word => "word",
        }
    }

    fn of_number(form: NumberForm) -> SpanKind {
        match form {
            NumberForm::Number => SpanKind::Number,
            NumberForm::Money => SpanKind::Money,
            NumberForm::Percent => SpanKind::Percent,
            NumberForm::Date => SpanKind::Date,
            NumberForm::Time => SpanKind::Time,
            NumberForm::Age => SpanKind::Age,
            NumberForm::Ordinal => SpanKind::Ordinal,
            NumberForm::Quantity => SpanKind::Quantity,
        }
    }
}

/// A part of the summary the source does not support.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Span {
    pub kind: SpanKind,
    pub text: String,
    /// Offsets in characters (Unicode scalar values) into the checked summary: `start..end`.
    pub start: usize,
    pub end: usize,
    /// One line for a reader.
    pub reason: String,
    /// The part is in the source, only not near the sentences this one is aligned with.
    pub elsewhere_in_source: bool,
    /// What it costs its sentence (see [`Weights`]).
    pub weight: f64,
}

/// One summary sentence, checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentenceCheck {
    pub text: String,
    /// Offsets in characters into the checked summary.
    pub start: usize,
    pub end: usize,
    /// In `[0, 1]`; 1 when nothing is flagged and it is one piece of the source.
    pub score: f64,
    pub penalty: f64,
    /// Pieces of the source (runs of consecutive words) the sentence is made of, greedily.
    pub pieces: usize,
    /// The source sentences it is aligned with (0-based), best first.
    pub support: Vec<usize>,
    pub unsupported: Vec<Span>,
}

/// A summary, checked against its source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Mean of the sentence scores, in `[0, 1]`.
    pub score: f64,
    pub sentences: Vec<SentenceCheck>,
}

impl Check {
    pub fn spans(&self) -> impl Iterator<Item = &Span> {
        self.sentences.iter().flat_map(|s| &s.unsupported)
    }

    pub fn is_flagged(&self) -> bool {
        self.spans().next().is_some()
    }
}

/// Why a text could not be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("the summary is empty")]
    EmptySummary,
    #[error("the source is empty")]
    EmptySource,
    #[error("the source is over 4 GiB")]
    SourceTooLong,
}

/// Checks `summary` against `source` with the default weights.
pub fn check(source: &str, summary: &str) -> Result<Check, CheckError> {
    Source::new(source)?.check(summary)
}

/// Where something was found in the source, relative to a summary sentence's alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Near,
    Elsewhere,
    Absent,
}

/// A source text indexed for checking: built once, checks any number of summaries.
pub struct Source {
    /// The sentences' texts one after another; sentence `i` ends at `ends[i]` (a string per
    /// sentence would cost more than a short sentence's text).
    text: String,
    ends: Vec<u32>,
    terms: TermExtractor,
    /// Stem → its id; `stem_postings[id]`: the source sentences holding it (ascending, once each).
    stem_ids: HashMap<String, u32>,
    stem_postings: Vec<Vec<u32>>,
    /// Per word id (`vocabulary`): the source sentences holding the word.
    word_postings: Vec<Vec<u32>>,
    numbers: HashMap<NumberKey, Vec<u32>>,
    /// Lower-cased words the source writes with a capital and never without: its names.
    names: HashSet<String>,
    /// The whole source as word ids (numbers and words, lower-cased), for quotations and pieces.
    sequence: Vec<u32>,
    /// Lower-cased word (or number) → its id, the one copy of each word the index keeps.
    vocabulary: HashMap<String, u32>,
    positions: Vec<Vec<u32>>,
}

/// A sentence's tokens are read this many at a time, so that one huge sentence (a page of text
/// with no full stop) never has all its tokens in memory at once.
const TOKEN_WINDOW: usize = 4096;
/// Tokens kept after the part of a window whose number mentions are settled: more than any
/// number phrase of a real text looks ahead.
const NUMBER_LOOKAHEAD: usize = 64;

/// What indexing learns on the way: capitalization by word id, to decide the names at the end,
/// and per word id its stem's id (`None` for a word that is not a content word).
#[derive(Default)]
struct Indexing {
    capitalized: HashSet<u32>,
    lowercase: HashSet<u32>,
    stem_of_word: Vec<Option<u32>>,
}

impl Source {
    /// Indexes `text` (normalized and split into sentences by [`crate::text`]), one sentence
    /// at a time.
    pub fn new(text: &str) -> Result<Source, CheckError> {
        Source::from_normalized(&text::normalize(text))
    }

    /// [`Source::new`] for a text the caller is done with: it is freed once normalized, so that
    /// a long article is not held once more while it is indexed.
    pub fn from_owned(text: String) -> Result<Source, CheckError> {
        let normalized = text::normalize(&text);
        drop(text);
        Source::from_normalized(&normalized)
    }

    fn from_normalized(normalized: &str) -> Result<Source, CheckError> {
        // The sentences' texts are never longer than the text they were split from.
        Source::index(text::sentences(normalized).map(|sentence| sentence.text), normalized.len())
    }

    /// Indexes sentences already split by [`crate::text::split_sentences`].
    pub fn from_sentences(sentences: &[text::Sentence]) -> Result<Source, CheckError> {
        let length = sentences.iter().map(|sentence| sentence.text.len()).sum();
        Source::index(sentences.iter().map(|sentence| sentence.text.as_str()), length)
    }

    /// `text_length`: an upper bound of the sentences' total length, reserved at once rather
    /// than reached by doubling.
    fn index<T: AsRef<str>>(sentences: impl Iterator<Item = T>, text_length: usize) -> Result<Source, CheckError> {
        let mut source = Source {
            text: String::with_capacity(text_length),
            ends: Vec::new(),
            terms: TermExtractor::default(),
            stem_ids: HashMap::new(),
            stem_postings: Vec::new(),
            word_postings: Vec::new(),
            numbers: HashMap::new(),
            names: HashSet::new(),
            sequence: Vec::new(),
            vocabulary: HashMap::new(),
            positions: Vec::new(),
        };
        let mut indexing = Indexing::default();
        for (index, sentence) in sentences.enumerate() {
            let sentence = sentence.as_ref();
            source.text.push_str(sentence);
            source.ends.push(u32::try_from(source.text.len()).map_err(|_| CheckError::SourceTooLong)?);
            source.index_sentence(sentence, index as u32, &mut indexing);
        }
        if source.ends.is_empty() {
            return Err(CheckError::EmptySource);
        }
        source.text.shrink_to_fit();
        source.names = source
            .vocabulary
            .iter()
            .filter(|(word, id)| indexing.capitalized.contains(id) && !indexing.lowercase.contains(id) && !is_stop_word(word))
            .map(|(word, _)| word.clone())
            .collect();
        Ok(source)
    }

    /// Adds one sentence's numbers and words, reading its tokens a window at a time: each
    /// window's number mentions are settled up to `NUMBER_LOOKAHEAD` tokens before its end (or
    /// to the end of the sentence), and the next window starts one token before where the scan
    /// goes on, so the mentions are those of the sentence's tokens all at once.
    fn index_sentence(&mut self, sentence: &str, index: u32, indexing: &mut Indexing) {
        let mut stream = tokens::tokens(sentence).peekable();
        let mut window: Vec<Token> = Vec::new();
        // Where, in `window`, the number scan and the word indexing go on from.
        let (mut scan_from, mut words_from) = (0, 0);
        loop {
            window.extend(stream.by_ref().take(TOKEN_WINDOW.saturating_sub(window.len()).max(NUMBER_LOOKAHEAD + 1)));
            let at_end = stream.peek().is_none();
            let settled = if at_end { window.len() } else { window.len() - NUMBER_LOOKAHEAD };
            let (mentions, scan_stopped) = find_numbers_between(&window, scan_from, settled, false);
            for key in mentions.into_iter().flat_map(|mention| mention.keys) {
                add_posting(self.numbers.entry(key).or_default(), index);
            }
            for token in window[words_from..settled].iter().filter(|t| t.shape != tokens::TokenShape::Symbol) {
                let (id, new_word) = self.push_sequence(&token.lower);
                if new_word {
                    // Whether a word is a content word, and its stem, depend on the word alone.
                    let stem = is_content_word(token).then(|| self.stem_id(self.terms.stem(&token.lower)));
                    indexing.stem_of_word.push(stem);
                }
                if token.is_word() {
                    if token.capitalized {
                        indexing.capitalized.insert(id);
                    } else {
                        indexing.lowercase.insert(id);
                    }
                }
                add_posting(&mut self.word_postings[id as usize], index);
                if let Some(stem) = indexing.stem_of_word[id as usize] {
                    add_posting(&mut self.stem_postings[stem as usize], index);
                }
            }
            if at_end {
                return;
            }
            let keep_from = scan_stopped.min(settled).saturating_sub(numbers::NUMBER_LOOKBEHIND);
            window.drain(..keep_from);
            (scan_from, words_from) = (scan_stopped - keep_from, settled - keep_from);
        }
    }

    /// Appends a word to the sequence; its id, and whether the word is new.
    fn push_sequence(&mut self, word: &str) -> (u32, bool) {
        let (id, new_word) = match self.vocabulary.get(word) {
            Some(&id) => (id, false),
            None => {
                let id = self.vocabulary.len() as u32;
                self.vocabulary.insert(word.to_string(), id);
                self.positions.push(Vec::new());
                self.word_postings.push(Vec::new());
                (id, true)
            }
        };
        self.positions[id as usize].push(self.sequence.len() as u32);
        self.sequence.push(id);
        (id, new_word)
    }

    /// The id of a stem, given one (with no postings yet) when it is new.
    fn stem_id(&mut self, stem: String) -> u32 {
        let next_id = self.stem_postings.len() as u32;
        let id = *self.stem_ids.entry(stem).or_insert(next_id);
        if id == next_id {
            self.stem_postings.push(Vec::new());
        }
        id
    }

    /// The source sentences holding a lower-cased word (or number), ascending.
    fn word_postings(&self, lower: &str) -> Option<&Vec<u32>> {
        self.vocabulary.get(lower).map(|&id| &self.word_postings[id as usize])
    }

    /// The source sentences holding a stem, ascending.
    fn stem_postings(&self, stem: &str) -> Option<&Vec<u32>> {
        self.stem_ids.get(stem).map(|&id| &self.stem_postings[id as usize])
    }

    /// How many sentences the source has.
    pub fn sentence_count(&self) -> usize {
        self.ends.len()
    }

    /// Source sentence `index` (0-based, as the check numbers them), if there is one.
    pub fn sentence(&self, index: usize) -> Option<&str> {
        let end = *self.ends.get(index)? as usize;
        let start = index.checked_sub(1).map_or(0, |previous| self.ends[previous] as usize);
        self.text.get(start..end)
    }

    /// Checks `summary` with the default weights.
    pub fn check(&self, summary: &str) -> Result<Check, CheckError> {
        self.check_with(summary, &DEFAULT_WEIGHTS)
    }

    pub fn check_with(&self, summary: &str, weights: &Weights) -> Result<Check, CheckError> {
        if summary.trim().is_empty() {
            return Err(CheckError::EmptySummary);
        }
        let all_tokens = tokenize(summary);
        let lowercased = is_lowercased(&all_tokens);
        // The project's splitter wants a capital after a full stop; give a lower-cased summary
        // one, in a copy of the same length, so the offsets still point into `summary`.
        let split_text = if lowercased { capitalize_sentence_starts(summary) } else { summary.to_string() };
        let offsets = CharOffsets::new(summary);
        let mut sentences = Vec::new();
        for sentence in text::split_sentences(&split_text) {
            let Some(written) = summary.get(sentence.start..sentence.end) else { continue };
            let mut tokens = tokenize(written);
            for token in &mut tokens {
                token.start += sentence.start;
                token.end += sentence.start;
            }
            let mut checked = self.check_sentence(summary, &tokens, lowercased, weights, &offsets);
            checked.text = written.to_string();
            checked.start = offsets.chars(sentence.start);
            checked.end = offsets.chars(sentence.end);
            sentences.push(checked);
        }
        if sentences.is_empty() {
            return Err(CheckError::EmptySummary);
        }
        let score = sentences.iter().map(|s| s.score).sum::<f64>() / sentences.len() as f64;
        Ok(Check { score, sentences })
    }

    fn check_sentence(&self, summary: &str, tokens: &[Token], lowercased: bool, weights: &Weights, offsets: &CharOffsets) -> SentenceCheck {
        let numbers = find_numbers(tokens, lowercased);
        let mut in_number = vec![false; tokens.len()];
        for mention in &numbers {
            in_number[mention.first..=mention.last].iter_mut().for_each(|flag| *flag = true);
        }
        let stems: Vec<Option<String>> = tokens
            .iter()
            .zip(&in_number)
            .map(|(token, &number)| (!number && is_content_word(token)).then(|| self.terms.stem(&token.lower)))
            .collect();
        let names = self.name_tokens(summary, tokens, &in_number, lowercased);
        let support = self.align(&stems, &names, &numbers);
        let near = |sentence: u32| support.iter().any(|&aligned| (sentence as usize).abs_diff(aligned) <= NEIGHBOURS);
        let found = |postings: Option<&Vec<u32>>| match postings {
            None => Found::Absent,
            Some(list) if list.iter().any(|&i| near(i)) => Found::Near,
            Some(_) => Found::Elsewhere,
        };
        // A number must be in the aligned sentences themselves: the number of the sentence
        // next door is a classic mix-up.
        let found_number = |postings: Option<&Vec<u32>>| match postings {
            None => Found::Absent,
            Some(list) if list.iter().any(|&i| support.contains(&(i as usize))) => Found::Near,
            Some(_) => Found::Elsewhere,
        };
        let span_text = |first: usize, last: usize| summary[tokens[first].start..tokens[last].end].to_string();
        let mut spans: Vec<Span> = Vec::new();
        let mut push = |kind: SpanKind, first: usize, last: usize, where_: Found, reason: String, weight: f64| {
            let weight = if where_ == Found::Elsewhere { weight * weights.elsewhere } else { weight };
            spans.push(Span {
                kind,
                text: span_text(first, last),
                start: offsets.chars(tokens[first].start),
                end: offsets.chars(tokens[last].end),
                reason,
                elsewhere_in_source: where_ == Found::Elsewhere,
                weight,
            });
        };

        // Numbers: supported when any reading of the value is in the source.
        for mention in &numbers {
            let where_ = mention
                .keys
                .iter()
                .map(|key| found_number(self.numbers.get(key)))
                .min_by_key(|f| *f as u8)
                .unwrap_or(Found::Absent);
            if where_ != Found::Near {
                let kind = SpanKind::of_number(mention.form);
                push(kind, mention.first, mention.last, where_, reason(kind, where_), weights.fact);
            }
        }

        // Quotations: word for word in the source.
        let mut in_flagged_quote = vec![false; tokens.len()];
        for (open, close) in quotations(tokens) {
            let quoted: Vec<&Token> = tokens[open + 1..close].iter().filter(|t| !t.is_symbol(QUOTES)).collect();
            if quoted.iter().filter(|t| t.is_word()).count() < MIN_QUOTE_WORDS {
                continue;
            }
            let words: Vec<&str> = quoted.iter().map(|t| t.lower.as_str()).collect();
            if self.contains_run(&words) {
                continue;
            }
            let all_there = words.iter().all(|w| self.vocabulary.contains_key(*w));
            let where_ = if all_there { Found::Elsewhere } else { Found::Absent };
            let why = if all_there {
                "the source has these words, but never says them together".to_string()
            } else {
                "the source has no such quotation".to_string()
            };
            push(SpanKind::Quote, open + 1, close - 1, where_, why, weights.fact);
            in_flagged_quote[open + 1..close].iter_mut().for_each(|flag| *flag = true);
        }

        // Names, then the remaining content words.
        let mut index = 0;
        while index < tokens.len() {
            if !names[index] || in_flagged_quote[index] {
                index += 1;
                continue;
            }
            let first = index;
            while index + 1 < tokens.len() && names[index + 1] && !in_flagged_quote[index + 1] && only_space_between(summary, &tokens[index], &tokens[index + 1]) {
                index += 1;
            }
            let last = index;
            index += 1;
            let standing: Vec<Found> = (first..=last).map(|position| self.find_word(&tokens[position].lower, stems[position].as_deref(), &found)).collect();
            let all_found = standing.iter().all(|f| *f != Found::Absent);
            // Neighbouring words of a name with the same standing are one flagged name.
            let mut position = 0;
            while position < standing.len() {
                let mut end = position;
                while end + 1 < standing.len() && standing[end + 1] == standing[position] {
                    end += 1;
                }
                if standing[position] != Found::Near {
                    push(SpanKind::Name, first + position, first + end, standing[position], reason(SpanKind::Name, standing[position]), weights.fact);
                }
                position = end + 1;
            }
            if all_found && last > first {
                let run: Vec<&str> = tokens[first..=last].iter().map(|t| t.lower.as_str()).collect();
                if !self.contains_in_order(&run) {
                    push(SpanKind::Name, first, last, Found::Absent, "the source never names these together".to_string(), weights.fact);
                }
            }
        }
        let mut index = 0;
        while index < tokens.len() {
            let Some(stem) = stems[index].as_deref().filter(|_| !names[index] && !in_flagged_quote[index]) else {
                index += 1;
                continue;
            };
            let unknown = UNKNOWN_WORD_MARKERS.contains(&tokens[index].lower.as_str());
            let where_ = if unknown { Found::Absent } else { found(self.stem_postings(stem)) };
            if where_ == Found::Near {
                index += 1;
                continue;
            }
            // A run of flagged words of the same standing is one span.
            let first = index;
            let mut words = 1;
            while index + 1 < tokens.len()
                && !names[index + 1]
                && !in_flagged_quote[index + 1]
                && !UNKNOWN_WORD_MARKERS.contains(&tokens[index + 1].lower.as_str())
                && !unknown
                && stems[index + 1].as_deref().is_some_and(|next| found(self.stem_postings(next)) == where_)
                && only_space_between(summary, &tokens[index], &tokens[index + 1])
            {
                index += 1;
                words += 1;
            }
            let why = if unknown {
                "a placeholder for a word the system could not write, not a word of the source".to_string()
            } else {
                reason(SpanKind::Word, where_)
            };
            push(SpanKind::Word, first, index, where_, why, weights.word * words as f64);
            index += 1;
        }
        spans.sort_by_key(|s| (s.start, s.end));

        let pieces = self.pieces(tokens);
        let penalty = spans.iter().map(|s| s.weight).sum::<f64>() + weights.splice * pieces.saturating_sub(1) as f64;
        SentenceCheck {
            text: String::new(),
            start: 0,
            end: 0,
            score: 1.0 / (1.0 + penalty),
            penalty,
            pieces,
            support,
            unsupported: spans,
        }
    }

    /// The source sentences that best support a summary sentence: the one sharing the most
    /// (rare) terms, then up to [`MAX_SUPPORT`] in all that each add terms not covered yet, at
    /// least two of them and not only names and numbers (a name or a date alone does not make
    /// a sentence the source of a fact: that is how a swapped name or a moved date looks).
    fn align(&self, stems: &[Option<String>], names: &[bool], numbers: &[NumberMention]) -> Vec<usize> {
        struct Term<'a> {
            postings: &'a [u32],
            weight: f64,
            /// A name or a number.
            fact: bool,
        }
        let count = self.sentence_count() as f64;
        let idf = |postings: &[u32]| ((count + 1.0) / (postings.len() as f64 + 0.5)).ln().max(0.0);
        let mut terms: Vec<Term> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        for (stem, &name) in stems.iter().zip(names) {
            let Some(stem) = stem else { continue };
            if seen.insert(stem.as_str()) {
                if let Some(postings) = self.stem_postings(stem) {
                    terms.push(Term { postings, weight: idf(postings), fact: name });
                }
            }
        }
        let mut seen_keys: HashSet<NumberKey> = HashSet::new();
        for key in numbers.iter().flat_map(|m| m.keys.first()) {
            if seen_keys.insert(*key) {
                if let Some(postings) = self.numbers.get(key) {
                    terms.push(Term { postings, weight: idf(postings), fact: true });
                }
            }
        }
        let mut covered = vec![false; terms.len()];
        let mut chosen: Vec<usize> = Vec::new();
        while chosen.len() < MAX_SUPPORT {
            let first = chosen.is_empty();
            // Each source sentence's gain (weight of the uncovered terms it holds, how many, how
            // many are not facts), sentence by sentence in ascending order from a merge of the
            // terms' postings: no table as long as the source, however many sentences it has.
            // Equal sentences come off the heap in term order, so each gain is summed as a
            // per-sentence table would sum it.
            let mut heads: BinaryHeap<Reverse<(u32, usize, usize)>> = BinaryHeap::new();
            for (term_index, term) in terms.iter().enumerate().filter(|&(term_index, _)| !covered[term_index]) {
                if let Some(&sentence) = term.postings.first() {
                    heads.push(Reverse((sentence, term_index, 0)));
                }
            }
            let mut best: Option<(usize, f64)> = None;
            let mut current: Option<(u32, (f64, usize, usize))> = None;
            let mut consider = |sentence: u32, gain: (f64, usize, usize)| {
                let sentence = sentence as usize;
                let eligible = !chosen.contains(&sentence) && gain.0 > 0.0 && (first || (gain.1 >= 2 && gain.2 >= 1));
                // The highest weight; among equal weights the earliest sentence.
                if eligible && best.is_none_or(|(_, weight)| gain.0 > weight) {
                    best = Some((sentence, gain.0));
                }
            };
            while let Some(Reverse((sentence, term_index, position))) = heads.pop() {
                let term = &terms[term_index];
                match &mut current {
                    Some((at, gain)) if *at == sentence => {
                        gain.0 += term.weight;
                        gain.1 += 1;
                        gain.2 += usize::from(!term.fact);
                    }
                    _ => {
                        if let Some((at, gain)) = current.take() {
                            consider(at, gain);
                        }
                        current = Some((sentence, (term.weight, 1, usize::from(!term.fact))));
                    }
                }
                if let Some(&next) = term.postings.get(position + 1) {
                    heads.push(Reverse((next, term_index, position + 1)));
                }
            }
            if let Some((at, gain)) = current {
                consider(at, gain);
            }
            let Some((sentence, _)) = best else { break };
            chosen.push(sentence);
            for (term, done) in terms.iter().zip(covered.iter_mut()) {
                if term.postings.binary_search(&(sentence as u32)).is_ok() {
                    *done = true;
                }
            }
        }
        chosen
    }

    /// Which tokens are names (see the module docs).
    fn name_tokens(&self, summary: &str, tokens: &[Token], in_number: &[bool], lowercased: bool) -> Vec<bool> {
        let first_word = tokens.iter().position(|t| t.is_word());
        let candidate = |index: usize| {
            let token = &tokens[index];
            token.is_word() && !in_number[index] && token.lower.chars().count() >= 2 && !UNKNOWN_WORD_MARKERS.contains(&token.lower.as_str())
        };
        let mut names: Vec<bool> = (0..tokens.len())
            .map(|index| {
                if !candidate(index) {
                    return false;
                }
                let token = &tokens[index];
                if lowercased {
                    return self.names.contains(&token.lower);
                }
                if !token.capitalized || is_stop_word(&token.lower) {
                    return false;
                }
                if Some(index) != first_word {
                    return true;
                }
                // A capital at the start of a sentence says nothing by itself.
                let next_capitalized = tokens.get(index + 1).is_some_and(|next| next.is_word() && next.capitalized && !is_stop_word(&next.lower));
                self.names.contains(&token.lower) || next_capitalized
            })
            .collect();
        if lowercased {
            // An unknown word right beside a known name is part of it: `tony` in `tony abbott`.
            for index in 0..tokens.len() {
                if names[index] || !candidate(index) || is_stop_word(&tokens[index].lower) || self.vocabulary.contains_key(&tokens[index].lower) {
                    continue;
                }
                let beside_name = (index > 0 && names[index - 1] && only_space_between(summary, &tokens[index - 1], &tokens[index]))
                    || (index + 1 < tokens.len() && names[index + 1] && self.names.contains(&tokens[index + 1].lower) && only_space_between(summary, &tokens[index], &tokens[index + 1]));
                if beside_name {
                    names[index] = true;
                }
            }
        }
        names
    }

    fn find_word(&self, lower: &str, stem: Option<&str>, found: &impl Fn(Option<&Vec<u32>>) -> Found) -> Found {
        match found(self.word_postings(lower)) {
            Found::Absent => stem.map_or(Found::Absent, |stem| found(self.stem_postings(stem))),
            other => other,
        }
    }

    /// Is `words` a run of consecutive words of the source?
    fn contains_run(&self, words: &[&str]) -> bool {
        let Some(ids) = words.iter().map(|w| self.vocabulary.get(*w).copied()).collect::<Option<Vec<u32>>>() else {
            return false;
        };
        self.positions[ids[0] as usize].iter().any(|&start| {
            let start = start as usize;
            self.sequence.get(start..start + ids.len()).is_some_and(|run| run == ids.as_slice())
        })
    }

    /// Do `words` occur in this order, close together (at most two other words between two of
    /// them: `Barack Hussein Obama` supports `Barack Obama`)?
    fn contains_in_order(&self, words: &[&str]) -> bool {
        const GAP: usize = 2;
        let Some(ids) = words.iter().map(|w| self.vocabulary.get(*w).copied()).collect::<Option<Vec<u32>>>() else {
            return false;
        };
        self.positions[ids[0] as usize].iter().any(|&start| {
            let mut at = start as usize;
            ids[1..].iter().all(|&id| {
                let window = self.sequence.get(at + 1..(at + 2 + GAP).min(self.sequence.len())).unwrap_or(&[]);
                match window.iter().position(|&w| w == id) {
                    Some(offset) => {
                        at += offset + 1;
                        true
                    }
                    None => false,
                }
            })
        })
    }

    /// Greedy count of the runs of consecutive source words that make up the sentence (words
    /// the source lacks are not counted).
    fn pieces(&self, tokens: &[Token]) -> usize {
        let ids: Vec<Option<u32>> = tokens
            .iter()
            .filter(|t| t.shape != tokens::TokenShape::Symbol)
            .map(|t| self.vocabulary.get(&t.lower).copied())
            .collect();
        let mut pieces = 0;
        let mut index = 0;
        while index < ids.len() {
            let Some(id) = ids[index] else {
                index += 1;
                continue;
            };
            let longest = self.positions[id as usize]
                .iter()
                .map(|&start| {
                    let start = start as usize;
                    (0..ids.len() - index).take_while(|&k| ids[index + k].is_some() && self.sequence.get(start + k).copied() == ids[index + k]).count()
                })
                .max()
                .unwrap_or(1)
                .max(1);
            pieces += 1;
            index += longest;
        }
        pieces
    }
}

fn add_posting(postings: &mut Vec<u32>, sentence: u32) {
    if postings.last() != Some(&sentence) {
        postings.push(sentence);
    }
}

/// A word worth looking up: two letters or more, not a stop word.
fn is_content_word(token: &Token) -> bool {
    token.is_word() && token.lower.chars().nth(1).is_some() && !is_stop_word(&token.lower)
}

fn only_space_between(text: &str, left: &Token, right: &Token) -> bool {
    text.get(left.end..right.start).is_some_and(|gap| gap.chars().all(char::is_whitespace))
}

fn reason(kind: SpanKind, where_: Found) -> String {
    let what = match kind {
        SpanKind::Word => "this word",
        SpanKind::Name => "this name",
        SpanKind::Quote => "this quotation",
        _ => "this value",
    };
    match where_ {
        Found::Elsewhere => format!("{what} is in the source, but not near the sentences this one draws on"),
        _ => match kind {
            SpanKind::Word => "the source never uses this word".to_string(),
            SpanKind::Name => "the source never names this".to_string(),
            SpanKind::Quote => "the source has no such quotation".to_string(),
            _ => format!("the source never gives this {}", kind.label()),
        },
    }
}

/// Pairs (opening, closing) of quotation-mark token indices in a sentence.
fn quotations(tokens: &[Token]) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    let mut open: Option<(usize, char)> = None;
    for (index, token) in tokens.iter().enumerate() {
        if !token.is_symbol(QUOTES) {
            continue;
        }
        let Some(mark) = token.lower.chars().next() else { continue };
        let next_glued = tokens.get(index + 1).is_some_and(|next| next.glued && !next.is_symbol(QUOTES));
        let single = matches!(mark, '\'' | '‘' | '’');
        // An apostrophe inside or at the end of a word (`don't`, `Jones'`) is not a quotation mark.
        if single && token.glued && next_glued {
            continue;
        }
        match open {
            None => {
                let can_open = next_glued && (matches!(mark, '"' | '“' | '«' | '‘') || (mark == '\'' && !token.glued));
                if can_open {
                    open = Some((index, mark));
                }
            }
            Some((start, opening)) => {
                let closes = match opening {
                    '"' => mark == '"',
                    '“' => matches!(mark, '”' | '"'),
                    '«' => mark == '»',
                    _ => matches!(mark, '’' | '\'') && token.glued,
                };
                if closes {
                    pairs.push((start, index));
                    open = None;
                }
            }
        }
    }
    pairs
}

/// Byte offset → character offset in one text.
struct CharOffsets {
    /// `chars[b]` = characters before byte `b`, for every char boundary `b` (and the end).
    chars: Vec<u32>,
}

impl CharOffsets {
    fn new(text: &str) -> CharOffsets {
        let mut chars = vec![0u32; text.len() + 1];
        let mut count = 0u32;
        let mut boundaries = text.char_indices().map(|(b, _)| b).chain(std::iter::once(text.len())).peekable();
        while let Some(boundary) = boundaries.next() {
            chars[boundary] = count;
            // Bytes inside a character map to the character they belong to.
            if let Some(&next) = boundaries.peek() {
                for inside in boundary + 1..next {
                    chars[inside] = count;
                }
            }
            count += 1;
        }
        CharOffsets { chars }
    }

    fn chars(&self, byte: usize) -> usize {
        self.chars.get(byte).copied().unwrap_or_else(|| self.chars.last().copied().unwrap_or(0)) as usize
    }
}

#[cfg(test)]
mod tests;
