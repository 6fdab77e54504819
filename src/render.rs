//! Output formats (text, json, jsonl, markdown) and the serialized summary types.
//!
//! The JSON schema documented in the README is exactly the serde form of `SummaryRecord`;
//! nothing else defines it.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use crate::engine::placement::Precision;
use crate::generation::GenerationSettings;
use crate::faithfulness::guard::{Faithfulness, OutputCheck};
use crate::faithfulness::marking::{mark, MarkStyle};
use crate::length::{Budget, LengthPreset};
use crate::rouge::RougeScores;

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
    /// How this model's products ran (`--precision`: precis's BART at it; T5, PEGASUS and rust-bert's networks in fp32).
    pub precision: Precision,
}

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub engine: String,
    pub length: LengthPreset,
    pub target_words: usize,
    pub bullets: usize,
    /// `--precision`: how the models' weights are stored and multiplied (each model's own is in
    /// `models[].precision`).
    pub precision: Precision,
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
    /// The check of the outputs a model wrote against the article (`--guard`); null for the
    /// extractive engine and under `--guard off`.
    pub faithfulness: Option<Faithfulness>,
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
    // Flagged spans are marked before wrapping; colour codes only make lines shorter.
    let checks = record.faithfulness.as_ref();
    let style = MarkStyle::for_stdout();
    let marked = |text: &str, check: Option<&OutputCheck>| check.map_or_else(|| text.to_string(), |c| mark(text, &c.unsupported, style));
    writeln!(out, "{}", marked(&record.headline, checks.and_then(|f| f.headline.as_ref())))?;
    writeln!(out)?;
    if record.abstract_.is_empty() && checks.is_some_and(|f| !f.dropped.is_empty()) {
        writeln!(out, "(no abstract: --guard drop removed every sentence of it; see the warnings)")?;
    }
    for line in wrap(&marked(&record.abstract_, checks.and_then(|f| f.abstract_.as_ref())), width) {
        writeln!(out, "{line}")?;
    }
    writeln!(out)?;
    for (index, bullet) in record.bullets.iter().enumerate() {
        let bullet = marked(bullet, checks.and_then(|f| f.bullets.as_ref()).and_then(|b| b.get(index)));
        let lines = wrap(&bullet, width.saturating_sub(4).max(20));
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
    if let Some(faithfulness) = &record.faithfulness {
        let flagged = faithfulness.headline.iter().chain(&faithfulness.abstract_).chain(faithfulness.bullets.iter().flatten()).map(|c| c.unsupported.len()).sum::<usize>();
        let mut part = format!("faithfulness {:.2}, {flagged} flagged", faithfulness.score);
        if !faithfulness.dropped.is_empty() {
            part.push_str(&format!(", {} dropped", faithfulness.dropped.len()));
        }
        parts.push(part);
    }
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

/// One article summarized at several lengths: the JSON object `precis compare` prints.
#[derive(Debug, Clone, Serialize)]
pub struct CompareRecord {
    pub input: InputInfo,
    /// The engine that wrote every variant.
    pub engine: EngineKind,
    /// The model used (empty for the extractive engine).
    pub models: Vec<ModelUsed>,
    /// The reference file the variants were scored against (`--reference`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    pub stats: CompareStats,
    pub timings_ms: CompareTimings,
    pub variants: Vec<VariantRecord>,
    /// About the input as a whole (each variant has its own).
    pub warnings: Vec<String>,
}

/// The input, counted once for every variant.
#[derive(Debug, Clone, Serialize)]
pub struct CompareStats {
    pub input_words: usize,
    pub input_sentences: usize,
    /// Tokens of the whole input for the model (null for the extractive engine).
    pub input_tokens: Option<usize>,
    pub tokens_used: Option<usize>,
    pub window: Option<usize>,
    /// The model's tokens per word of this input: how word budgets become token limits.
    pub tokens_per_word: Option<f64>,
    pub truncated: bool,
    pub dropped_tokens: usize,
    pub chunks: Option<usize>,
    pub passes: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CompareTimings {
    pub load: u64,
    /// Work shared by every variant: condensing a long input and the encoder pass (model), or
    /// scoring the sentences (extractive).
    pub prepare: u64,
    pub total: u64,
}

/// One length of the summary.
#[derive(Debug, Clone, Serialize)]
pub struct VariantRecord {
    /// "short", "medium", "long", or the budget ("25 words", "3 sentences").
    pub label: String,
    pub budget: Budget,
    /// The summary as one paragraph.
    pub text: String,
    /// The same text, one sentence per item (what ROUGE-Lsum reads, one per line).
    pub sentence_texts: Vec<String>,
    pub words: usize,
    pub sentences: usize,
    /// Tokens of the text in the model's tokenizer (null for the extractive engine).
    pub tokens: Option<usize>,
    /// Output words / input words.
    pub compression: f64,
    /// Share of the summary's word bigrams not found in the input (null with under two words).
    pub novel_bigrams: Option<f64>,
    /// This variant's own work: its decoding and trimming (model), or choosing its sentences
    /// (extractive); shared work is `timings_ms.prepare`.
    pub time_ms: u64,
    /// Whether the budget held (see `warnings` when not).
    pub budget_met: bool,
    /// ROUGE F1 against `--reference`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rouge: Option<RougeF1>,
    pub engine: EngineKind,
    /// The decoding settings used (absent for the extractive engine).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<GenerationSettings>,
    /// The text checked against the article (`--guard`; null for the extractive engine).
    pub faithfulness: Option<OutputCheck>,
    pub warnings: Vec<String>,
}

/// ROUGE F1 scores of one variant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RougeF1 {
    pub rouge1: f64,
    pub rouge2: f64,
    #[serde(rename = "rougeLsum")]
    pub rouge_lsum: f64,
}

impl From<RougeScores> for RougeF1 {
    fn from(scores: RougeScores) -> RougeF1 {
        RougeF1 { rouge1: scores.rouge1.f1, rouge2: scores.rouge2.f1, rouge_lsum: scores.rouge_lsum.f1 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompareFormat {
    /// A table that fits the terminal: variants side by side when they fit, else one after another.
    Text,
    /// One JSON object with every number and text.
    Json,
    /// A Markdown table of the numbers, then each text under a heading.
    Markdown,
}

/// Narrowest column a variant's text is set in side by side; narrower terminals get them stacked.
const MIN_SIDE_BY_SIDE_COLUMN: usize = 24;
/// Width of the first column (row names) of the side-by-side table.
const ROW_NAME_WIDTH: usize = 14;
const COLUMN_GAP: &str = "  ";

pub fn write_compare(out: &mut impl Write, record: &CompareRecord, format: CompareFormat, width: usize) -> Result<()> {
    match format {
        CompareFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, record)?;
            writeln!(out)?;
        }
        CompareFormat::Markdown => write_compare_markdown(out, record)?,
        CompareFormat::Text => {
            let columns = record.variants.len().max(1);
            let column = width.saturating_sub(ROW_NAME_WIDTH + COLUMN_GAP.len() * columns) / columns;
            if column >= MIN_SIDE_BY_SIDE_COLUMN {
                write_side_by_side(out, record, column)?;
            } else {
                write_stacked(out, record, width)?;
            }
            let footer = compare_footer(record);
            for line in wrap_hard(&footer, width) {
                writeln!(out, "{line}")?;
            }
        }
    }
    Ok(())
}

/// The numbers of one variant, as (row name, value) pairs, in table order.
fn variant_rows(variant: &VariantRecord, with_rouge: bool) -> Vec<(&'static str, String)> {
    let percent = |share: f64| format!("{:.1}%", share * 100.0);
    let mut rows = vec![
        ("budget", variant.budget.describe()),
        ("words", variant.words.to_string()),
        ("sentences", variant.sentences.to_string()),
        ("tokens", variant.tokens.map_or("—".to_string(), |t| t.to_string())),
        ("compression", percent(variant.compression)),
        ("novel bigrams", variant.novel_bigrams.map_or("—".to_string(), percent)),
        ("time", format!("{} ms", variant.time_ms)),
        ("budget met", if variant.budget_met { "yes".to_string() } else { "NO (see warnings)".to_string() }),
    ];
    if with_rouge {
        let score = |pick: fn(&RougeF1) -> f64| variant.rouge.as_ref().map_or("—".to_string(), |r| format!("{:.2}", pick(r) * 100.0));
        rows.push(("ROUGE-1", score(|r| r.rouge1)));
        rows.push(("ROUGE-2", score(|r| r.rouge2)));
        rows.push(("ROUGE-Lsum", score(|r| r.rouge_lsum)));
    }
    rows
}

fn pad(text: &str, width: usize) -> String {
    let length = text.chars().count();
    format!("{text}{}", " ".repeat(width.saturating_sub(length)))
}

fn write_side_by_side(out: &mut impl Write, record: &CompareRecord, column: usize) -> Result<()> {
    let with_rouge = record.reference.is_some();
    let line = |first: &str, cells: Vec<String>| -> String {
        let mut text = pad(first, ROW_NAME_WIDTH);
        for cell in cells {
            text.push_str(COLUMN_GAP);
            text.push_str(&pad(&cell, column));
        }
        text.trim_end().to_string()
    };
    let cell = |text: &str| wrap_hard(text, column).into_iter().next().unwrap_or_default();
    writeln!(out, "{}", line("", record.variants.iter().map(|v| cell(&v.label)).collect()))?;
    let rows: Vec<Vec<(&str, String)>> = record.variants.iter().map(|v| variant_rows(v, with_rouge)).collect();
    let row_count = rows.first().map_or(0, Vec::len);
    for row in 0..row_count {
        let name = rows[0][row].0;
        writeln!(out, "{}", line(name, rows.iter().map(|r| cell(&r[row].1)).collect()))?;
    }
    writeln!(out)?;
    let texts: Vec<Vec<String>> = record.variants.iter().map(|v| wrap_hard(&marked_variant(v), column)).collect();
    let height = texts.iter().map(Vec::len).max().unwrap_or(0);
    for index in 0..height {
        writeln!(out, "{}", line("", texts.iter().map(|t| t.get(index).cloned().unwrap_or_default()).collect()))?;
    }
    writeln!(out)?;
    Ok(())
}

fn write_stacked(out: &mut impl Write, record: &CompareRecord, width: usize) -> Result<()> {
    let with_rouge = record.reference.is_some();
    for variant in &record.variants {
        let heading = format!("── {} ", variant.label);
        let rule = width.saturating_sub(heading.chars().count());
        for line in wrap_hard(&format!("{heading}{}", "─".repeat(rule)), width) {
            writeln!(out, "{line}")?;
        }
        // The numbers go on as few lines as fit, never breaking one "name value" pair.
        let mut line = String::new();
        for (name, value) in variant_rows(variant, with_rouge) {
            let item = format!("{name} {value}");
            if !line.is_empty() && line.chars().count() + 3 + item.chars().count() > width {
                writeln!(out, "{line}")?;
                line.clear();
            }
            if !line.is_empty() {
                line.push_str(" · ");
            }
            line.push_str(&item);
        }
        for piece in wrap_hard(&line, width) {
            writeln!(out, "{piece}")?;
        }
        writeln!(out)?;
        for line in wrap_hard(&marked_variant(variant), width) {
            writeln!(out, "{line}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// A variant's text with its flagged spans in brackets (never colour: the table's columns are
/// measured in characters).
fn marked_variant(variant: &VariantRecord) -> String {
    variant.faithfulness.as_ref().map_or_else(|| variant.text.clone(), |check| mark(&variant.text, &check.unsupported, MarkStyle::Brackets))
}

fn compare_footer(record: &CompareRecord) -> String {
    let mut parts = Vec::new();
    match record.models.first() {
        Some(model) => parts.push(model.id.clone()),
        None => parts.push("extractive engine".to_string()),
    }
    let stats = &record.stats;
    let mut input = format!("input {} words, {} sentences", stats.input_words, stats.input_sentences);
    if let Some(tokens) = stats.input_tokens {
        input.push_str(&format!(", {tokens} tokens"));
        if let Some(ratio) = stats.tokens_per_word {
            input.push_str(&format!(" ({ratio:.2} per word)"));
        }
        if stats.truncated {
            input.push_str(&format!(" (TRUNCATED: dropped {})", stats.dropped_tokens));
        } else if let (Some(chunks), Some(passes)) = (stats.chunks, stats.passes) {
            if chunks > 1 {
                input.push_str(&format!(", read whole in {chunks} chunks, {passes} passes"));
            }
        }
    }
    parts.push(input);
    if let Some(reference) = &record.reference {
        parts.push(format!("ROUGE F1 ×100 against {reference}"));
    }
    let timings = &record.timings_ms;
    parts.push(format!("load {} ms, shared {} ms, total {} ms", timings.load, timings.prepare, timings.total));
    format!("— {}", parts.join(" · "))
}

fn write_compare_markdown(out: &mut impl Write, record: &CompareRecord) -> Result<()> {
    let with_rouge = record.reference.is_some();
    let cell = |text: &str| text.replace('|', "\\|");
    let header: Vec<String> = record.variants.iter().map(|v| cell(&v.label)).collect();
    writeln!(out, "| | {} |", header.join(" | "))?;
    writeln!(out, "|---|{}", "---|".repeat(record.variants.len()))?;
    let rows: Vec<Vec<(&str, String)>> = record.variants.iter().map(|v| variant_rows(v, with_rouge)).collect();
    let row_count = rows.first().map_or(0, Vec::len);
    for row in 0..row_count {
        let values: Vec<String> = rows.iter().map(|r| cell(&r[row].1)).collect();
        writeln!(out, "| {} | {} |", rows[0][row].0, values.join(" | "))?;
    }
    for variant in &record.variants {
        let budget = variant.budget.describe();
        if variant.label == budget {
            writeln!(out, "\n### {}\n", variant.label)?;
        } else {
            writeln!(out, "\n### {} ({budget})\n", variant.label)?;
        }
        writeln!(out, "{}", variant.text)?;
    }
    writeln!(out, "\n<sub>{}</sub>", compare_footer(record).trim_start_matches("— "))?;
    Ok(())
}

/// Word wrap that never exceeds `width`: a word longer than a line is split across lines.
pub fn wrap_hard(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut length = 0usize;
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if length > 0 {
                lines.push(std::mem::take(&mut line));
                length = 0;
            }
            let rest = word.split_off(width);
            lines.push(word.into_iter().collect());
            word = rest;
        }
        if length > 0 && length + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
            length = 0;
        }
        if length > 0 {
            line.push(' ');
            length += 1;
        }
        length += word.len();
        line.extend(word);
    }
    if length > 0 {
        lines.push(line);
    }
    lines
}

/// Terminal width for tables: $COLUMNS when set, else 80 (at least 40).
pub fn table_width() -> usize {
    std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok()).unwrap_or(80).clamp(40, 400)
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

    #[test]
    fn hard_wrap_splits_words_longer_than_the_line() {
        let lines = wrap_hard("a lenlenlenlenlenlen b", 5);
        assert_eq!(lines, vec!["a", "lenle", "nlenl", "enlen", "len b"]);
        assert!(wrap_hard("", 5).is_empty());
        assert_eq!(wrap_hard("one two three", 7), vec!["one two", "three"]);
    }
}
