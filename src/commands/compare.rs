//! `precis compare INPUT`: one article summarized at several lengths, set side by side.
//!
//! The budgets, the input and the reference are all checked before a model loads, so a bad
//! budget or a typo in a path fails fast. The lengths themselves are defined in `length`; the
//! work is `Summarizer::compare` (`variants`); printing is `render::write_compare`.

use std::io::{IsTerminal, Write};

use anyhow::{bail, Result};

use crate::cli::CompareArgs;
use crate::input;
use crate::length::{Budget, LengthPreset, NamedBudget};
use crate::pipeline::Summarizer;
use crate::render;

/// More lengths than this make an unreadable table and a long wait; several runs do better.
const MAX_VARIANTS: usize = 8;

pub fn run(args: &CompareArgs) -> Result<()> {
    let budgets = resolve_budgets(&args.lengths, &args.words, &args.sentences)?;
    if args.input == "-" && std::io::stdin().is_terminal() {
        bail!("no input: give an article file, or pipe an article into `precis compare -` (see `precis compare --help`)");
    }
    if args.reference.as_deref() == Some("-") && args.input == "-" {
        bail!("standard input (-) can be read only once: give the article or the --reference as a file");
    }
    let document = input::read_document(&args.input)?;
    let reference = match &args.reference {
        Some(path) => Some(input::read_document(path).map_err(|e| anyhow::anyhow!("--reference: {e:#}"))?),
        None => None,
    };
    let summarizer = Summarizer::abstract_only(super::model_options(&args.engine))?;
    if !args.engine.quiet {
        for notice in &summarizer.notices {
            eprintln!("{notice}");
        }
    }
    let record = summarizer.compare(&document, &budgets, reference.as_ref())?;
    for warning in record.warnings.iter().chain(record.variants.iter().flat_map(|v| &v.warnings)) {
        eprintln!("precis: warning: {warning}");
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    render::write_compare(&mut out, &record, args.format, render::table_width())?;
    out.flush()?;
    Ok(())
}

/// The lengths to compare, in the order given (presets, then word budgets, then sentence
/// budgets); the three presets when none is given.
pub fn resolve_budgets(lengths: &[LengthPreset], words: &[usize], sentences: &[usize]) -> Result<Vec<NamedBudget>> {
    let mut budgets: Vec<NamedBudget> = lengths.iter().map(|&preset| NamedBudget::preset(preset)).collect();
    budgets.extend(words.iter().map(|&count| NamedBudget::plain(Budget::Words(count))));
    budgets.extend(sentences.iter().map(|&count| NamedBudget::plain(Budget::Sentences(count))));
    if budgets.is_empty() {
        budgets = [LengthPreset::Short, LengthPreset::Medium, LengthPreset::Long].into_iter().map(NamedBudget::preset).collect();
    }
    for (index, budget) in budgets.iter().enumerate() {
        if let Some(earlier) = budgets[..index].iter().find(|earlier| earlier.budget == budget.budget) {
            bail!("{} and {} are the same budget ({}); give each length once", earlier.label, budget.label, budget.budget.describe());
        }
    }
    if budgets.len() > MAX_VARIANTS {
        bail!("{} lengths asked for; compare at most {MAX_VARIANTS} at a time", budgets.len());
    }
    Ok(budgets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_default_to_the_presets_and_keep_the_given_order() {
        let labels = |budgets: Vec<NamedBudget>| budgets.into_iter().map(|b| b.label).collect::<Vec<_>>();
        assert_eq!(labels(resolve_budgets(&[], &[], &[]).expect("default")), ["short", "medium", "long"]);
        let mixed = resolve_budgets(&[LengthPreset::Long], &[25, 60], &[1]).expect("mixed");
        assert_eq!(labels(mixed.clone()), ["long", "25 words", "60 words", "1 sentence"]);
        assert_eq!(mixed[0].budget, Budget::Words(160));
    }

    #[test]
    fn repeated_or_too_many_budgets_are_refused() {
        let same = resolve_budgets(&[LengthPreset::Medium], &[80], &[]).expect_err("same");
        assert!(same.to_string().contains("medium and 80 words are the same budget"), "{same}");
        let many = resolve_budgets(&[], &[1, 2, 3, 4, 5, 6, 7, 8, 9], &[]).expect_err("many");
        assert!(many.to_string().contains("at most 8"), "{many}");
    }
}
