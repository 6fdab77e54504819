//! Output formats (text, json, jsonl, markdown) and the serialized summary types.
//!
//! The JSON schema documented in the README is exactly the serde form of `SummaryRecord`;
//! nothing else defines it.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use crate::length::LengthPreset;

/// Which engine produced an output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    Abstractive,
    Extractive,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutputEngines {
    pub headline: EngineKind,
    #[serde(rename = "abstract")]
    pub abstract_: EngineKind,
    pub bullets: EngineKind,
}

/// A model that took part, and for which outputs.
#[derive(Debug, Clone, Serialize)]
pub struct ModelUsed {
    pub role: String,
    pub id: String,
    pub revision: String,
    pub license: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub engine: String,
    pub length: LengthPreset,
    pub target_words: usize,
    pub bullets: usize,
    /// Decoding settings actually used, per output (absent for extractive outputs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub input_words: usize,
    pub input_sentences: usize,
    /// Tokens of the whole input for the abstract model (null for the extractive engine).
    pub input_tokens: Option<usize>,
    /// Tokens the abstract model actually read.
    pub tokens_used: Option<usize>,
    /// The model window in tokens.
    pub window: Option<usize>,
    /// True only when part of the input was not read by the model.
    pub truncated: bool,
    pub dropped_tokens: usize,
    /// Window-sized chunks of the first pass (1 when the input fits; null for the extractive engine).
    pub chunks: Option<usize>,
    /// Model passes that produced the abstract: 1 when the input fits, more when chunk summaries
    /// were summarized again.
    pub passes: Option<usize>,
    /// Sentences longer than the window, split at word boundaries to be read.
    pub split_sentences: usize,
    pub output_words: usize,
    /// Documents whose inputs went through the abstract model together in one padded batch (1 when
    /// alone; null for the extractive engine). Their `timings_ms` are each one's share of the batch.
    pub batch_size: Option<usize>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub load: u64,
    /// Summarizing the chunks of a long input (0 when it fits the window).
    pub chunks: u64,
    pub headline: u64,
    /// Generating the abstract — and the bullets' text too, when a model writes both: they share
    /// one encoder pass, so their decoding is timed together here.
    #[serde(rename = "abstract")]
    pub abstract_: u64,
    /// Choosing the bullets (and any extractive top-up); their generation is under `abstract`.
    pub bullets: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputInfo {
    pub id: String,
    pub origin: String,
    pub title: Option<String>,
    pub format: String,
}

/// One summarized document: the JSON object precis prints.
#[derive(Debug, Clone, Serialize)]
pub struct SummaryRecord {
    pub input: InputInfo,
    pub headline: String,
    #[serde(rename = "abstract")]
    pub abstract_: String,
    pub bullets: Vec<String>,
    pub engine: OutputEngines,
    pub models: Vec<ModelUsed>,
    pub settings: Settings,
    pub stats: Stats,
    pub timings_ms: Timings,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Readable text for a terminal.
    Text,
    /// One JSON object per input (an array when there are several).
    Json,
    /// One JSON object per line.
    Jsonl,
    /// Markdown: headline as a heading, bullets as a list.
    Markdown,
}

pub fn write_records(out: &mut impl Write, records: &[SummaryRecord], format: Format, width: usize) -> Result<()> {
    match format {
        Format::Json => {
            if records.len() == 1 {
                serde_json::to_writer_pretty(&mut *out, &records[0])?;
            } else {
                serde_json::to_writer_pretty(&mut *out, records)?;
            }
            writeln!(out)?;
        }
        Format::Jsonl => {
            for record in records {
                serde_json::to_writer(&mut *out, record)?;
                writeln!(out)?;
            }
        }
        Format::Text => {
            for (i, record) in records.iter().enumerate() {
                if i > 0 {
                    writeln!(out, "\n{}\n", "─".repeat(width.min(60)))?;
                }
                write_text(out, record, width, records.len() > 1)?;
            }
        }
        Format::Markdown => {
            for (i, record) in records.iter().enumerate() {
                if i > 0 {
                    writeln!(out, "\n---\n")?;
                }
                write_markdown(out, record)?;
            }
        }
    }
    Ok(())
}

fn write_text(out: &mut impl Write, record: &SummaryRecord, width: usize, show_source: bool) -> Result<()> {
    if show_source {
        writeln!(out, "[{}]", record.input.origin)?;
    }
    writeln!(out, "{}", record.headline)?;
    writeln!(out)?;
    for line in wrap(&record.abstract_, width) {
        writeln!(out, "{line}")?;
    }
    writeln!(out)?;
    for bullet in &record.bullets {
        let lines = wrap(bullet, width.saturating_sub(4).max(20));
        for (i, line) in lines.iter().enumerate() {
            let marker = if i == 0 { "  • " } else { "    " };
            writeln!(out, "{marker}{line}")?;
        }
    }
    writeln!(out)?;
    writeln!(out, "{}", footer(record))?;
    Ok(())
}

fn footer(record: &SummaryRecord) -> String {
    let mut parts = Vec::new();
    let engines = &record.engine;
    if record.models.is_empty() {
        parts.push("extractive engine".to_string());
    } else {
        for model in &record.models {
            parts.push(format!("{} ({})", model.id, model.role));
        }
        if engines.headline == EngineKind::Extractive || engines.abstract_ == EngineKind::Extractive || engines.bullets == EngineKind::Extractive {
            parts.push("some outputs extractive".to_string());
        }
    }
    let stats = &record.stats;
    let mut input = format!("{} words", stats.input_words);
    if let (Some(tokens), Some(used)) = (stats.input_tokens, stats.tokens_used) {
        input.push_str(&format!(", {tokens} tokens"));
        if stats.truncated {
            input.push_str(&format!(" (TRUNCATED: read {used}, dropped {})", stats.dropped_tokens));
        } else if let (Some(chunks), Some(passes)) = (stats.chunks, stats.passes) {
            if chunks > 1 {
                input.push_str(&format!(", read whole in {chunks} chunks, {passes} passes"));
            }
        }
    }
    parts.push(input);
    parts.push(format!("{:.1} s", record.timings_ms.total as f64 / 1000.0));
    format!("— {}", parts.join(" · "))
}

fn write_markdown(out: &mut impl Write, record: &SummaryRecord) -> Result<()> {
    writeln!(out, "## {}\n", record.headline)?;
    writeln!(out, "{}\n", record.abstract_)?;
    for bullet in &record.bullets {
        writeln!(out, "- {bullet}")?;
    }
    writeln!(out, "\n<sub>{}</sub>", footer(record).trim_start_matches("— "))?;
    Ok(())
}

/// Greedy word wrap; a word longer than the width gets a line of its own.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(20);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Terminal width for text output: $COLUMNS when set, else 80, capped for readability.
pub fn terminal_width() -> usize {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse::<usize>().ok()).unwrap_or(80).clamp(40, 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_every_word_in_order_within_width() {
        let text = "Prime Minister Shinzo Abe agreed Thursday with his British counterpart to boost security cooperation.";
        let lines = wrap(text, 30);
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{lines:?}");
        assert_eq!(lines.join(" "), text);
    }
}
