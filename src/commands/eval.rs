//! `precis eval`: ROUGE and length statistics, either for existing predictions
//! (`--predictions`) or by summarizing every article of a dataset (`--data`).

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, Result};

use crate::cli::{EvalArgs, EvalFormat, EvalOutput};
use crate::eval::{self, RecordScore};
use crate::input::{Document, SourceFormat};
use crate::pipeline::Summarizer;
use crate::text;

/// Articles handed to the summarizer at once; it batches those of similar length through the model.
const EVAL_GROUP: usize = 32;

pub fn run(args: &EvalArgs) -> Result<()> {
    let (scores, elapsed) = match (&args.predictions, &args.data) {
        (Some(predictions), _) => {
            let records = eval::read_predictions(Path::new(predictions))?;
            let limit = args.limit.unwrap_or(usize::MAX);
            (records.iter().take(limit).map(|r| r.score()).collect::<Vec<_>>(), None)
        }
        (None, Some(data)) => {
            let (scores, elapsed) = summarize_and_score(args, data)?;
            (scores, Some(elapsed))
        }
        (None, None) => return Err(anyhow!("give --data FILE (summarize and score) or --predictions FILE (score existing outputs)")),
    };
    let report = eval::aggregate(&scores, elapsed, args.per_record);
    let rendered = match args.format {
        EvalFormat::Text => eval::render_text(&report),
        EvalFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
    };
    std::io::stdout().write_all(rendered.as_bytes())?;
    Ok(())
}

fn summarize_and_score(args: &EvalArgs, data: &str) -> Result<(Vec<RecordScore>, std::time::Duration)> {
    let reference_field = args.reference_field.clone().unwrap_or_else(|| match args.output {
        EvalOutput::Headline => eval::HEADLINE_REFERENCE_FIELD.to_string(),
        _ => eval::DEFAULT_REFERENCE_FIELD.to_string(),
    });
    let records = eval::read_dataset(Path::new(data), &reference_field)?;
    let limit = args.limit.unwrap_or(usize::MAX);
    let summarizer = Summarizer::new(super::summarize_options(&args.engine))?;
    if !args.engine.core.quiet {
        for notice in &summarizer.notices {
            eprintln!("{notice}");
        }
    }
    // Timed from here: model loading is not part of articles per second.
    let started = Instant::now();
    let mut scores = Vec::new();
    let records: Vec<_> = records.iter().take(limit).collect();
    // Whole groups at a time, so that the model sees articles of similar length together.
    for (group_index, group) in records.chunks(EVAL_GROUP).enumerate() {
        let first = group_index * EVAL_GROUP;
        let documents: Vec<Document> = group
            .iter()
            .enumerate()
            .map(|(offset, record)| Document {
                id: record.id.clone().unwrap_or_else(|| format!("line-{}", first + offset + 1)),
                title: None,
                text: record.article.clone(),
                origin: format!("{data} record {}", first + offset + 1),
                format: SourceFormat::Text,
                warnings: Vec::new(),
            })
            .collect();
        for (offset, ((record, document), summary)) in group.iter().zip(&documents).zip(summarizer.summarize_many(&documents)).enumerate() {
            let summary = summary.map_err(|e| anyhow!("{data} record {} ({}): {e:#}", first + offset + 1, document.id))?;
            // Multi-sentence outputs are scored one sentence per line, as published ROUGE-Lsum numbers are.
            let prediction = match args.output {
                EvalOutput::Headline => summary.headline,
                EvalOutput::Bullets => summary.bullets.join("\n"),
                EvalOutput::Abstract => {
                    let normalized = text::normalize(&summary.abstract_);
                    text::split_sentences(&normalized).into_iter().map(|s| s.text).collect::<Vec<_>>().join("\n")
                }
            };
            scores.push(record.score_prediction(&prediction));
        }
    }
    Ok((scores, started.elapsed()))
}
