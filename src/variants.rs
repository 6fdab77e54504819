//! One document's abstract at several lengths (`precis compare`): length budgets → decoding
//! settings, one encoder pass shared by every variant, overshoot trimmed at sentence boundaries,
//! and the numbers that set variants side by side (words, sentences, tokens, compression, novel
//! bigrams, ROUGE against a reference).
//!
//! The input is read, cleaned, split and tokenized once; a long input is condensed once (the
//! same `--long` handling as `summarize`) and every variant is generated from that.
//!
//! How a budget becomes decoding settings for a model ([`settings_for_budget`]): the model's
//! own tokens-per-word ratio is measured on this input with its tokenizer; a word budget of W
//! asks for at least 0.85·W and at most 1.5·W words' worth of tokens (plus the output's special
//! tokens), so the model can finish the sentence it is in; the output is then cut back at a
//! sentence boundary to at most 1.15·W words ([`fit_to_budget`]). A sentence budget of N uses
//! N × the input's mean sentence length as W and keeps the first N sentences. A budget the
//! output still misses is reported, never hidden.

use std::time::Instant;

use anyhow::{bail, Result};

use crate::engine::extractive;
use crate::generation::GenerationSettings;
use crate::faithfulness::guard::{guard_items, GuardMode, OutputCheck};
use crate::faithfulness::Source;
use crate::input::Document;
use crate::length::{Budget, NamedBudget, ABSTRACTIVE_WORD_TOLERANCE};
use crate::pipeline::{complete_sentences, model_used, Summarizer};
use crate::render::{CompareRecord, CompareStats, CompareTimings, EngineKind, InputInfo, RougeF1, Stats, Timings, VariantRecord};
use crate::rouge;
use crate::text;

/// A model may write up to this multiple of a word budget before its output is trimmed back at a
/// sentence boundary: room to finish the sentence that crosses the budget's upper bound.
pub const GENERATION_HEADROOM: f64 = 1.5;
/// Words per sentence assumed for a sentence budget, whatever the input's sentences are like.
const SENTENCE_WORDS_RANGE: (f64, f64) = (12.0, 30.0);

impl Summarizer {
    /// Abstracts of `document` for every budget, with their measures; ROUGE against
    /// `reference` when one is given.
    pub fn compare(&self, document: &Document, budgets: &[NamedBudget], reference: Option<&Document>) -> Result<CompareRecord> {
        let started = Instant::now();
        let normalized = text::normalize(&document.text);
        let sentences = text::split_sentences(&normalized);
        if sentences.is_empty() {
            bail!("{}: no text to summarize", document.origin);
        }
        let input_words = text::count_words(&normalized);
        let mut stats = Stats { input_words, input_sentences: sentences.len(), ..Stats::default() };
        let mut timings = Timings::default();
        let mut warnings = document.warnings.clone();
        let reference_lines = reference.map(|reference| {
            let normalized = text::normalize(&reference.text);
            text::split_sentences(&normalized).into_iter().map(|s| s.text.trim().to_string()).collect::<Vec<_>>().join("\n")
        });

        let mut generated: Vec<Generated> = Vec::with_capacity(budgets.len());
        let prepare_ms;
        let (engine, models, tokens_per_word) = match &self.abstract_model {
            Some(loaded) => {
                let model = &loaded.model;
                let step = Instant::now();
                let encoder_input = self.abstract_model_input(loaded, document, &sentences, &mut stats, &mut timings, &mut warnings)?;
                let input_time = step.elapsed();
                // The ratio is the model's own (its tokenizer) on this very text, from the
                // encoding already made (less the prefix and special tokens every input gets).
                let whole_tokens = stats.input_tokens.unwrap_or(0);
                let text_tokens = whole_tokens.saturating_sub(model.count_tokens("")).max(1);
                let tokens_per_word = text_tokens as f64 / input_words.max(1) as f64;
                let words_per_sentence = input_words as f64 / sentences.len() as f64;
                let settings: Vec<GenerationSettings> = budgets
                    .iter()
                    .map(|named| {
                        settings_for_budget(
                            named.budget,
                            &loaded.generation.settings.abstract_,
                            tokens_per_word,
                            words_per_sentence,
                            model.special_output_tokens(),
                            model.window(),
                        )
                    })
                    .collect();
                let timed = model.generate_variants_timed(&[encoder_input], &settings)?;
                // Condensing a long input and the one encoder pass are shared by every variant.
                prepare_ms = (input_time + timed.encode).as_millis() as u64;
                for ((named, outputs), (settings, decode_time)) in budgets.iter().zip(&timed.outputs).zip(settings.iter().zip(&timed.decode)) {
                    let step = Instant::now();
                    let raw = outputs.first().map(|ids| model.decode(ids)).unwrap_or_default();
                    let mut fitted = fit_to_budget(&raw, named.budget);
                    let asked = settings_for_budget(named.budget, settings, tokens_per_word, words_per_sentence, model.special_output_tokens(), usize::MAX);
                    if asked.max_tokens > settings.max_tokens {
                        fitted.notes.push(format!(
                            "the budget asks for up to {} output tokens at this input's {tokens_per_word:.2} tokens per word; the model writes at most {} (its window)",
                            asked.max_tokens, settings.max_tokens
                        ));
                    }
                    let tokens = model.count_text_tokens(&fitted.sentences.join(" "));
                    let time_ms = (decode_time.as_millis() + step.elapsed().as_millis()) as u64;
                    generated.push(Generated { fitted, tokens: Some(tokens), time_ms, generation: Some(*settings) });
                }
                (EngineKind::Abstractive, vec![model_used("abstract", loaded)], Some(tokens_per_word))
            }
            None => {
                let step = Instant::now();
                // Scoring the sentences is shared by every variant; choosing them is per budget.
                let scored = extractive::ScoredArticle::new(&sentences);
                prepare_ms = step.elapsed().as_millis() as u64;
                for named in budgets {
                    let step = Instant::now();
                    let fitted = check_extractive(scored.abstract_within(named.budget), named.budget);
                    generated.push(Generated { fitted, tokens: None, time_ms: step.elapsed().as_millis() as u64, generation: None });
                }
                (EngineKind::Extractive, Vec::new(), None)
            }
        };

        let source = (engine == EngineKind::Abstractive && self.options.guard != GuardMode::Off).then(|| Source::from_sentences(&sentences).ok()).flatten();
        let variants = budgets
            .iter()
            .zip(generated)
            .map(|(named, mut generated)| {
                let faithfulness = source.as_ref().and_then(|source| self.guard_variant(source, named.budget, &mut generated.fitted));
                let text = generated.fitted.sentences.join(" ");
                let words = text::count_words(&text);
                let rouge = reference_lines.as_deref().map(|reference| RougeF1::from(rouge::score(reference, &generated.fitted.sentences.join("\n"))));
                VariantRecord {
                    label: named.label.clone(),
                    budget: named.budget,
                    words,
                    sentences: generated.fitted.sentences.len(),
                    tokens: generated.tokens,
                    compression: words as f64 / input_words.max(1) as f64,
                    novel_bigrams: text::novel_bigram_share(&normalized, &generated.fitted.sentences),
                    time_ms: generated.time_ms,
                    budget_met: generated.fitted.met,
                    rouge,
                    engine,
                    generation: generated.generation,
                    faithfulness,
                    warnings: generated.fitted.notes.iter().map(|note| format!("{}: {note}", named.label)).collect(),
                    text,
                    sentence_texts: generated.fitted.sentences,
                }
            })
            .collect();
        Ok(CompareRecord {
            input: InputInfo { id: document.id.clone(), origin: document.origin.clone(), title: document.title.clone(), format: document.format.as_str().to_string() },
            engine,
            models,
            reference: reference.map(|r| r.origin.clone()),
            stats: CompareStats {
                input_words,
                input_sentences: stats.input_sentences,
                input_tokens: stats.input_tokens,
                tokens_used: stats.tokens_used,
                window: stats.window,
                tokens_per_word,
                truncated: stats.truncated,
                dropped_tokens: stats.dropped_tokens,
                chunks: stats.chunks,
                passes: stats.passes,
            },
            timings_ms: CompareTimings {
                load: self.load_ms,
                prepare: prepare_ms,
                total: started.elapsed().as_millis() as u64 + self.load_ms,
            },
            variants,
            warnings,
        })
    }
}

impl Summarizer {
    /// `--guard` on one length's text: its sentences checked against the article, and under
    /// `drop` those with a number or name the article does not contain removed (the budget is
    /// judged again on what is left, and the notes say what went).
    fn guard_variant(&self, source: &Source, budget: Budget, fitted: &mut Fitted) -> Option<OutputCheck> {
        let before = fitted.sentences.len();
        let mut dropped = Vec::new();
        let mut notes = Vec::new();
        guard_items(source, self.options.guard, &mut fitted.sentences, "sentence", &mut dropped, &mut notes);
        if fitted.sentences.len() < before {
            fitted.notes.extend(notes);
            fitted.met = match budget {
                Budget::Words(_) => {
                    let (lower, upper) = budget.abstractive_word_range().unwrap_or((0, usize::MAX));
                    (lower..=upper).contains(&fitted.sentences.iter().map(|s| text::count_words(s)).sum())
                }
                Budget::Sentences(count) => fitted.sentences.len() == count,
            };
            if fitted.sentences.is_empty() {
                fitted.notes.push("--guard drop removed every sentence (each had a number or name the article does not contain): the text is empty".to_string());
                return None;
            }
        }
        source.check(&fitted.sentences.join(" ")).ok().map(|check| OutputCheck::from_check(&check))
    }
}

struct Generated {
    fitted: Fitted,
    tokens: Option<usize>,
    time_ms: u64,
    generation: Option<GenerationSettings>,
}

/// Decoding settings for one budget: the preset's search settings (beams, length penalty,
/// no-repeat n-grams) with token limits from the budget. See the module docs for the mapping.
pub fn settings_for_budget(
    budget: Budget,
    preset: &GenerationSettings,
    tokens_per_word: f64,
    words_per_sentence: f64,
    special_tokens: u32,
    window: usize,
) -> GenerationSettings {
    let target_words = match budget {
        Budget::Words(words) => words as f64,
        Budget::Sentences(count) => count as f64 * words_per_sentence.clamp(SENTENCE_WORDS_RANGE.0, SENTENCE_WORDS_RANGE.1),
    };
    let tokens = |words: f64| (words * tokens_per_word).round() as u32 + special_tokens;
    // The decoder has as many positions as the encoder window; never ask for more.
    let ceiling = u32::try_from(window).unwrap_or(u32::MAX).max(special_tokens + 1);
    let max_tokens = tokens(target_words * GENERATION_HEADROOM).min(ceiling);
    let min_tokens = tokens(target_words * (1.0 - ABSTRACTIVE_WORD_TOLERANCE)).min(max_tokens - 1);
    GenerationSettings { min_tokens, max_tokens, ..*preset }
}

/// A variant's sentences after fitting, and whether the budget was met.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    pub sentences: Vec<String>,
    pub met: bool,
    /// Why the budget was not met, or what was trimmed.
    pub notes: Vec<String>,
}

/// Cuts a model's output back to its budget at a sentence boundary: the longest run of leading
/// complete sentences within the budget (a word budget's upper tolerance, or the sentence
/// count). A sentence is never cut. When even the first sentence is over, it is kept whole and
/// the budget is reported as missed; so is an output that stays under a word budget's lower
/// tolerance, or one with no complete sentence at all.
pub fn fit_to_budget(generated: &str, budget: Budget) -> Fitted {
    let all = complete_sentences(generated);
    let mut notes = Vec::new();
    let Some(first) = all.first() else {
        return Fitted { sentences: Vec::new(), met: false, notes: vec!["the model wrote no text".to_string()] };
    };
    if !text::ends_with_terminal_punctuation(first) {
        // complete_sentences keeps an unfinished sentence only when it is all there is.
        let words = text::count_words(first);
        return Fitted {
            sentences: all,
            met: false,
            notes: vec![format!("the model wrote no complete sentence; its {words}-word output is shown as written, not cut")],
        };
    }
    let kept: Vec<String> = match budget {
        Budget::Sentences(count) => all.iter().take(count).cloned().collect(),
        Budget::Words(_) => {
            let (_, upper) = budget.abstractive_word_range().unwrap_or((0, usize::MAX));
            let mut used = 0usize;
            let mut kept = Vec::new();
            for sentence in &all {
                let words = text::count_words(sentence);
                if used + words > upper {
                    break;
                }
                used += words;
                kept.push(sentence.clone());
            }
            if kept.is_empty() {
                notes.push(format!(
                    "the first sentence has {} words, over the {upper}-word upper bound; it is kept whole rather than cut",
                    text::count_words(first)
                ));
                kept.push(first.clone());
            }
            kept
        }
    };
    if kept.len() < all.len() {
        let dropped: usize = all[kept.len()..].iter().map(|s| text::count_words(s)).sum();
        notes.push(format!("trimmed {} trailing sentence(s) ({dropped} words) to fit the budget", all.len() - kept.len()));
    }
    let words: usize = kept.iter().map(|s| text::count_words(s)).sum();
    let met = match budget {
        Budget::Words(_) => {
            let (lower, upper) = budget.abstractive_word_range().unwrap_or((0, usize::MAX));
            if words < lower {
                notes.push(format!("{words} words in complete sentences, under the {lower}–{upper} words of the budget"));
            }
            (lower..=upper).contains(&words)
        }
        Budget::Sentences(count) => {
            if kept.len() < count {
                notes.push(format!("the model wrote {} complete sentence(s) of the {count} asked for", kept.len()));
            }
            kept.len() == count
        }
    };
    Fitted { sentences: kept, met, notes }
}

/// Whether extractive sentences meet their budget: a word budget is a ceiling, a sentence
/// budget a count.
fn check_extractive(sentences: Vec<String>, budget: Budget) -> Fitted {
    let words: usize = sentences.iter().map(|s| text::count_words(s)).sum();
    let mut notes = Vec::new();
    let met = match budget {
        Budget::Words(limit) => {
            if words > limit {
                notes.push(format!("no sentence of the article fits in {limit} words; the best one ({words} words) is kept whole rather than cut"));
            }
            words <= limit
        }
        Budget::Sentences(count) => {
            if sentences.len() < count {
                notes.push(format!("the article has only {} sentences to choose from", sentences.len()));
            }
            sentences.len() == count
        }
    };
    Fitted { sentences, met, notes }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRESET: GenerationSettings = GenerationSettings { min_tokens: 56, max_tokens: 142, beams: 4, length_penalty: 2.0, no_repeat_ngram: 3, early_stopping: true };

    #[test]
    fn word_budgets_map_to_token_limits_by_the_models_ratio() {
        // 100 words at 1.3 tokens a word: at least 85 words' worth, at most 150, plus 3 special tokens.
        let settings = settings_for_budget(Budget::Words(100), &PRESET, 1.3, 20.0, 3, 1024);
        assert_eq!((settings.min_tokens, settings.max_tokens), (111 + 3, 195 + 3));
        assert_eq!((settings.beams, settings.length_penalty, settings.no_repeat_ngram), (4, 2.0, 3));
        // Sentences use the input's mean sentence length, within 12–30 words.
        let three = settings_for_budget(Budget::Sentences(3), &PRESET, 1.0, 50.0, 2, 1024);
        assert_eq!(three.max_tokens, (3.0f64 * 30.0 * 1.5).round() as u32 + 2);
        // Never beyond the window, and min stays below max.
        let huge = settings_for_budget(Budget::Words(1000), &PRESET, 1.3, 20.0, 3, 256);
        assert_eq!(huge.max_tokens, 256);
        assert!(huge.min_tokens < huge.max_tokens);
        assert!(huge.validate("huge").is_ok());
    }

    fn words_of(fitted: &Fitted) -> usize {
        fitted.sentences.iter().map(|s| text::count_words(s)).sum()
    }

    #[test]
    fn overshoot_is_trimmed_at_a_sentence_boundary() {
        // Three sentences of 10 words and an unfinished one: a 20-word budget (17–23) keeps two.
        let ten = "One two three four five six seven eight nine ten.";
        let generated = format!("{ten} {ten} {ten} Eleven twelve thirteen");
        let fitted = fit_to_budget(&generated, Budget::Words(20));
        assert_eq!(fitted.sentences, vec![ten.to_string(), ten.to_string()]);
        assert!(fitted.met, "{:?}", fitted.notes);
        assert!(fitted.notes.iter().any(|n| n.contains("trimmed 1 trailing sentence(s) (10 words)")), "{:?}", fitted.notes);
        // 25 words (22–28): 20 is under the tolerance, 30 over it, so two sentences and a miss.
        let fitted = fit_to_budget(&generated, Budget::Words(25));
        assert_eq!(words_of(&fitted), 20);
        assert!(!fitted.met);
        assert!(fitted.notes.iter().any(|n| n.contains("under the 22–28 words")), "{:?}", fitted.notes);
        // 30 words (26–34): all three finished sentences; the unfinished one was never kept.
        let fitted = fit_to_budget(&generated, Budget::Words(30));
        assert_eq!((words_of(&fitted), fitted.met), (30, true));
        assert!(fitted.sentences.iter().all(|s| text::ends_with_terminal_punctuation(s)));
    }

    #[test]
    fn a_first_sentence_over_budget_is_kept_whole_and_reported() {
        let fitted = fit_to_budget("One two three four five six seven eight nine ten. Eleven.", Budget::Words(5));
        assert_eq!(fitted.sentences, vec!["One two three four five six seven eight nine ten.".to_string()]);
        assert!(!fitted.met);
        assert!(fitted.notes[0].contains("kept whole rather than cut"), "{:?}", fitted.notes);
    }

    #[test]
    fn sentence_budgets_keep_the_first_sentences() {
        let generated = "First one here. Second one here. Third one here.";
        let fitted = fit_to_budget(generated, Budget::Sentences(2));
        assert_eq!(fitted.sentences, vec!["First one here.".to_string(), "Second one here.".to_string()]);
        assert!(fitted.met);
        let fitted = fit_to_budget(generated, Budget::Sentences(5));
        assert_eq!((fitted.sentences.len(), fitted.met), (3, false));
        assert!(fitted.notes.iter().any(|n| n.contains("3 complete sentence(s) of the 5")));
    }

    #[test]
    fn output_without_a_complete_sentence_is_shown_and_flagged() {
        let fitted = fit_to_budget("lenlen effor scri summ effor", Budget::Words(3));
        assert_eq!(fitted.sentences, vec!["lenlen effor scri summ effor".to_string()]);
        assert!(!fitted.met);
        assert!(fitted.notes[0].contains("no complete sentence"), "{:?}", fitted.notes);
        assert!(!fit_to_budget("", Budget::Words(3)).met);
    }

    #[test]
    fn extractive_budgets_are_ceilings_and_counts() {
        let sentences = vec!["Five words are right here.".to_string(), "And four more here.".to_string()];
        assert!(check_extractive(sentences.clone(), Budget::Words(9)).met);
        let over = check_extractive(vec![sentences[0].clone()], Budget::Words(3));
        assert!(!over.met && over.notes[0].contains("kept whole"));
        assert!(check_extractive(sentences.clone(), Budget::Sentences(2)).met);
        assert!(!check_extractive(sentences, Budget::Sentences(3)).met);
    }
}
