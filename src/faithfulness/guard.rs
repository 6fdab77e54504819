//! The guard on model outputs (`--guard flag|drop|off`): every headline, abstract and bullet a
//! model wrote is checked against the article it came from, and the result goes into the
//! output (the `faithfulness` object). `drop` also removes each abstract sentence or bullet
//! holding a number or a name the article does not contain, and says so; the headline is
//! never dropped, only flagged. Out-of-place parts (in the article, but not near the sentences
//! the output draws on) are flagged, not dropped: they are often a fair fusion of two facts.
//!
//! This module only sees texts and an indexed source; the pipeline decides which outputs a
//! model wrote.

use serde::Serialize;

use super::{Check, Source, Span};

/// What to do with what the check finds in model outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum GuardMode {
    /// Check every output a model wrote and report unsupported spans (text marks them).
    Flag,
    /// As flag, and remove each abstract sentence or bullet with a number or name the article
    /// does not contain (said in warnings and `faithfulness.dropped`).
    Drop,
    /// No check.
    Off,
}

/// The default of `--guard`, for every command that summarizes.
pub const DEFAULT_GUARD: GuardMode = GuardMode::Flag;

/// One output, checked: offsets are into the output's text as printed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputCheck {
    pub score: f64,
    pub unsupported: Vec<Span>,
}

impl OutputCheck {
    pub fn from_check(check: &Check) -> OutputCheck {
        OutputCheck { score: check.score, unsupported: check.spans().cloned().collect() }
    }
}

/// A sentence `--guard drop` removed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dropped {
    /// `abstract`, `bullet` or a compare length's label.
    pub output: String,
    pub text: String,
    pub reason: String,
}

/// The `faithfulness` object of a summary record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Faithfulness {
    pub guard: GuardMode,
    /// Mean score of every checked sentence (headline, abstract, bullets): the share of the
    /// written sentences a reader can trust.
    pub score: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headline: Option<OutputCheck>,
    #[serde(rename = "abstract", skip_serializing_if = "Option::is_none")]
    pub abstract_: Option<OutputCheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bullets: Option<Vec<OutputCheck>>,
    pub dropped: Vec<Dropped>,
}

/// The outputs of one summary a model wrote (`None`: not written by a model, not checked).
pub struct ModelOutputs<'a> {
    pub headline: Option<&'a mut String>,
    pub abstract_: Option<&'a mut String>,
    pub bullets: Option<&'a mut Vec<String>>,
}

/// Checks (and under `drop`, prunes) the outputs; `None` under `off` or when nothing was
/// written by a model. Every removal is added to `warnings`.
pub fn guard(source: &Source, mode: GuardMode, outputs: ModelOutputs<'_>, warnings: &mut Vec<String>) -> Option<Faithfulness> {
    if mode == GuardMode::Off {
        return None;
    }
    let mut dropped = Vec::new();
    let mut sentence_scores: Vec<f64> = Vec::new();
    let mut checked_any = false;

    let headline = outputs.headline.and_then(|headline| {
        checked_any = true;
        let check = source.check(headline).ok()?;
        sentence_scores.extend(check.sentences.iter().map(|s| s.score));
        Some(OutputCheck::from_check(&check))
    });

    let abstract_ = outputs.abstract_.and_then(|abstract_| {
        checked_any = true;
        let mut check = source.check(abstract_).ok()?;
        if mode == GuardMode::Drop {
            let (kept, removed): (Vec<_>, Vec<_>) = check.sentences.iter().partition(|s| droppable(&s.unsupported).is_none());
            if !removed.is_empty() {
                for sentence in &removed {
                    let reason = droppable(&sentence.unsupported).unwrap_or_default();
                    warnings.push(format!("--guard drop removed an abstract sentence: {reason}: \"{}\"", sentence.text));
                    dropped.push(Dropped { output: "abstract".to_string(), text: sentence.text.clone(), reason });
                }
                *abstract_ = kept.iter().map(|s| s.text.trim()).collect::<Vec<_>>().join(" ");
                if abstract_.is_empty() {
                    warnings.push(format!(
                        "--guard drop removed all {} sentences of the abstract (each had a number or name the article does not contain): the abstract is empty",
                        removed.len()
                    ));
                    return None;
                }
                check = source.check(abstract_).ok()?;
            }
        }
        sentence_scores.extend(check.sentences.iter().map(|s| s.score));
        Some(OutputCheck::from_check(&check))
    });

    let bullets = outputs.bullets.map(|bullets| {
        checked_any = true;
        let before = bullets.len();
        let checks = guard_items(source, mode, bullets, "bullet", &mut dropped, warnings);
        if before > 0 && bullets.is_empty() {
            warnings.push(format!("--guard drop removed all {before} bullets (each had a number or name the article does not contain): there are no bullets"));
        }
        for check in &checks {
            sentence_scores.push(check.score);
        }
        checks
    });

    if !checked_any {
        return None;
    }
    let score = if sentence_scores.is_empty() { 0.0 } else { sentence_scores.iter().sum::<f64>() / sentence_scores.len() as f64 };
    Some(Faithfulness { guard: mode, score, headline, abstract_, bullets, dropped })
}

/// Checks each item (a bullet, or one sentence of a longer text); under `drop` removes those
/// with an unsupported number or name first. Returns the checks of the items kept.
pub fn guard_items(source: &Source, mode: GuardMode, items: &mut Vec<String>, output: &str, dropped: &mut Vec<Dropped>, warnings: &mut Vec<String>) -> Vec<OutputCheck> {
    let mut checks = Vec::with_capacity(items.len());
    let mut kept = Vec::with_capacity(items.len());
    for item in items.drain(..) {
        let Ok(check) = source.check(&item) else {
            // Nothing to check in an empty item: nothing unsupported.
            checks.push(OutputCheck { score: 1.0, unsupported: Vec::new() });
            kept.push(item);
            continue;
        };
        if mode == GuardMode::Drop {
            if let Some(reason) = check.sentences.iter().find_map(|s| droppable(&s.unsupported)) {
                warnings.push(format!("--guard drop removed a {output}: {reason}: \"{item}\""));
                dropped.push(Dropped { output: output.to_string(), text: item, reason });
                continue;
            }
        }
        checks.push(OutputCheck::from_check(&check));
        kept.push(item);
    }
    *items = kept;
    checks
}

/// Why a sentence with these spans must go under `drop`: the first number or name the source
/// does not contain at all.
fn droppable(spans: &[Span]) -> Option<String> {
    spans
        .iter()
        .find(|span| span.kind.is_number_or_name() && !span.elsewhere_in_source)
        .map(|span| format!("{} \"{}\": {}", span.kind.label(), span.text, span.reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARTICLE: &str = "Prime Minister Shinzo Abe met David Cameron in London on Thursday. \
        The two leaders agreed to boost security cooperation. Japan will buy 20 British jets.";

    #[test]
    fn drop_removes_sentences_with_unsupported_names_and_says_so() {
        let source = Source::new(ARTICLE).expect("source");
        let mut abstract_ = "Shinzo Abe met David Cameron in London. Barack Obama joined the talks.".to_string();
        let mut bullets = vec!["Japan will buy 20 British jets.".to_string(), "Japan will buy 45 jets.".to_string()];
        let mut warnings = Vec::new();
        let outputs = ModelOutputs { headline: None, abstract_: Some(&mut abstract_), bullets: Some(&mut bullets) };
        let result = guard(&source, GuardMode::Drop, outputs, &mut warnings).expect("checked");
        assert_eq!(abstract_, "Shinzo Abe met David Cameron in London.");
        assert_eq!(bullets, ["Japan will buy 20 British jets."]);
        assert_eq!(result.dropped.len(), 2, "{:?}", result.dropped);
        assert!(result.dropped[0].reason.starts_with("name \"Barack Obama\""), "{:?}", result.dropped[0]);
        assert!(result.dropped[1].reason.starts_with("number \"45\""), "{:?}", result.dropped[1]);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(result.abstract_.as_ref().is_some_and(|a| a.unsupported.is_empty()));
    }

    #[test]
    fn flag_keeps_everything_and_an_emptied_abstract_is_explained() {
        let source = Source::new(ARTICLE).expect("source");
        let mut abstract_ = "Barack Obama joined the talks.".to_string();
        let mut warnings = Vec::new();
        let flagged = guard(&source, GuardMode::Flag, ModelOutputs { headline: None, abstract_: Some(&mut abstract_), bullets: None }, &mut warnings).expect("checked");
        assert_eq!(abstract_, "Barack Obama joined the talks.");
        assert!(flagged.abstract_.as_ref().is_some_and(|a| a.unsupported.iter().any(|s| s.text == "Barack Obama")));
        assert!(warnings.is_empty());

        let dropped = guard(&source, GuardMode::Drop, ModelOutputs { headline: None, abstract_: Some(&mut abstract_), bullets: None }, &mut warnings).expect("checked");
        assert!(abstract_.is_empty());
        assert!(dropped.abstract_.is_none());
        assert!(warnings.iter().any(|w| w.contains("the abstract is empty")), "{warnings:?}");
        assert!(guard(&source, GuardMode::Off, ModelOutputs { headline: None, abstract_: Some(&mut abstract_), bullets: None }, &mut warnings).is_none());
    }
}
