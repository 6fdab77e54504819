//! `precis check`: a summary checked against its article (`--article` and `--summary`), or every
//! record of a JSON Lines file (`--data`), with the aggregate and its correlation with a human
//! judgement. The check itself is `faithfulness`; this file reads inputs and prints.
//!
//! Bad lines of `--data` are named on stderr (file, line, what is wrong) and in `--format jsonl`
//! as `{"line": N, "error": "…"}`; the other lines are still checked, and the exit status is 1.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::cli::{CheckArgs, CheckFormat};
use crate::faithfulness::correlation::{pearson, spearman};
use crate::faithfulness::marking::{mark, MarkStyle};
use crate::faithfulness::{Check, Source};
use crate::input;

/// A `--data` file larger than this is refused before it is read.
const MAX_DATA_BYTES: u64 = 1 << 30;

pub fn run(args: &CheckArgs) -> Result<()> {
    match (&args.data, &args.article, &args.summary) {
        (Some(data), _, _) => run_data(args, data),
        (None, Some(article), Some(summary)) => run_pair(args, article, summary),
        _ => bail!("give --article FILE and --summary FILE, or --data FILE.jsonl (see `precis check --help`)"),
    }
}

fn run_pair(args: &CheckArgs, article: &str, summary: &str) -> Result<()> {
    if article == "-" && summary == "-" {
        bail!("standard input (-) can be read only once: give the article or the summary as a file");
    }
    if (article == "-" || summary == "-") && std::io::stdin().is_terminal() {
        bail!("no input on standard input: pipe the {} into `precis check`, or give a file", if article == "-" { "article" } else { "summary" });
    }
    let article_document = input::read_document(article).map_err(|e| anyhow!("--article: {e}"))?;
    let summary_document = input::read_document(summary).map_err(|e| anyhow!("--summary: {e}"))?;
    let source = Source::from_owned(article_document.text).map_err(|e| anyhow!("--article {}: {e}", article_document.origin))?;
    let check = source.check(&summary_document.text).map_err(|e| anyhow!("--summary {}: {e}", summary_document.origin))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        CheckFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &check)?;
            writeln!(out)?;
        }
        CheckFormat::Jsonl => {
            serde_json::to_writer(&mut out, &PairRecord::new(None, None, &check, None, None))?;
            writeln!(out)?;
        }
        CheckFormat::Text => write_pair_text(&mut out, &summary_document.text, &check, &source, MarkStyle::for_stdout())?,
    }
    out.flush()?;
    Ok(())
}

/// Text output of one check: the summary with flagged spans marked, sentence by sentence.
fn write_pair_text(out: &mut impl Write, summary: &str, check: &Check, source: &Source, style: MarkStyle) -> Result<()> {
    let spans = check.spans().count();
    writeln!(out, "faithfulness {:.2} · {} sentence(s) · {} flagged span(s)", check.score, check.sentences.len(), spans)?;
    let chars: Vec<char> = summary.chars().collect();
    for (number, sentence) in check.sentences.iter().enumerate() {
        writeln!(out)?;
        let text: String = chars[sentence.start..sentence.end].iter().collect();
        // Spans are offsets into the whole summary; shift them to this sentence.
        let local: Vec<_> = sentence
            .unsupported
            .iter()
            .map(|span| crate::faithfulness::Span { start: span.start - sentence.start, end: span.end - sentence.start, ..span.clone() })
            .collect();
        writeln!(out, "{}. [{:.2}] {}", number + 1, sentence.score, mark(&text, &local, style).replace('\n', " "))?;
        for span in &sentence.unsupported {
            let standing = if span.elsewhere_in_source { "out of place" } else { "not in the article" };
            writeln!(out, "   {} \"{}\" ({standing}): {}", span.kind.label(), span.text, span.reason)?;
        }
        match sentence.support.first().and_then(|&best| Some((best, source.sentence(best)?))) {
            Some((best, text)) => {
                let shown: String = text.chars().take(100).collect();
                let ellipsis = if text.chars().count() > 100 { "…" } else { "" };
                writeln!(out, "   best support: article sentence {}: \"{shown}{ellipsis}\"", best + 1)?;
            }
            None => writeln!(out, "   best support: none (no content word of this sentence is in the article)")?,
        }
    }
    Ok(())
}

/// One `--format jsonl` line.
#[derive(Serialize)]
struct PairRecord<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Value>,
    faithfulness: f64,
    /// Any span flagged.
    flagged: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    human: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    sentences: &'a [crate::faithfulness::SentenceCheck],
}

impl<'a> PairRecord<'a> {
    fn new(line: Option<usize>, id: Option<&'a Value>, check: &'a Check, human: Option<f64>, group: Option<&'a str>) -> PairRecord<'a> {
        PairRecord { line, id, faithfulness: check.score, flagged: check.is_flagged(), human, group, sentences: &check.sentences }
    }
}

/// What one good `--data` line holds.
struct DataRecord {
    id: Option<Value>,
    article: String,
    summary: String,
    human: Option<f64>,
    group: Option<String>,
}

fn run_data(args: &CheckArgs, data: &str) -> Result<()> {
    let started = Instant::now();
    let text = read_data(data)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut totals = Totals::default();
    let mut bad_lines = 0usize;
    let mut lines = 0usize;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_THREADS);
    let numbered: Vec<(usize, &str)> = text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()).map(|(index, line)| (index + 1, line)).collect();
    // Blocks of lines are checked on every core, then written in input order.
    for block in numbered.chunks(BLOCK_LINES) {
        lines += block.len();
        for (&(number, _), outcome) in block.iter().zip(check_block(block, args, threads)) {
            match outcome {
                Ok((record, check)) => {
                    totals.add(record.group.as_deref(), check.score, check.is_flagged(), record.human);
                    if args.format == CheckFormat::Jsonl {
                        serde_json::to_writer(&mut out, &PairRecord::new(Some(number), record.id.as_ref(), &check, record.human, record.group.as_deref()))?;
                        writeln!(out)?;
                    }
                }
                Err(problem) => {
                    bad_lines += 1;
                    eprintln!("precis: error: {data} line {number}: {problem}");
                    if args.format == CheckFormat::Jsonl {
                        serde_json::to_writer(&mut out, &serde_json::json!({ "line": number, "error": problem }))?;
                        writeln!(out)?;
                    }
                }
            }
        }
    }
    if lines == 0 {
        bail!("{data}: no records (the file is empty or has only blank lines)");
    }
    let seconds = started.elapsed().as_secs_f64();
    let report = totals.report(data, args, bad_lines, seconds);
    match args.format {
        CheckFormat::Jsonl => {}
        CheckFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        CheckFormat::Text => write_report_text(&mut out, &report)?,
    }
    out.flush()?;
    if bad_lines > 0 {
        bail!("{bad_lines} of {lines} lines of {data} could not be checked (see the messages above)");
    }
    Ok(())
}

/// Lines checked between two writes of the output.
const BLOCK_LINES: usize = 1024;
const MAX_THREADS: usize = 8;

/// Every line of `block` parsed and checked, in order, on `threads` threads (each takes a run of
/// consecutive lines). A line with the same article as the line before reuses its indexed
/// source: datasets often pair one article with several summaries.
fn check_block(block: &[(usize, &str)], args: &CheckArgs, threads: usize) -> Vec<Result<(DataRecord, Check), String>> {
    let check_run = |run: &[(usize, &str)]| {
        let mut last: Option<(String, Source)> = None;
        run.iter()
            .map(|(_, line)| {
                let record = parse_record(line, args)?;
                if last.as_ref().is_none_or(|(article, _)| *article != record.article) {
                    let source = Source::new(&record.article).map_err(|e| format!("field \"{}\": {e}", args.article_field))?;
                    last = Some((record.article.clone(), source));
                }
                let source = &last.as_ref().ok_or_else(|| "internal error: no source".to_string())?.1;
                let check = source.check(&record.summary).map_err(|e| format!("field \"{}\": {e}", args.summary_field))?;
                Ok((record, check))
            })
            .collect::<Vec<_>>()
    };
    let per_thread = block.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = block.chunks(per_thread).map(|run| (run.len(), scope.spawn(move || check_run(run)))).collect();
        handles
            .into_iter()
            .flat_map(|(len, handle)| handle.join().unwrap_or_else(|_| (0..len).map(|_| Err("internal error: the check panicked on this line".to_string())).collect()))
            .collect()
    })
}

fn read_data(data: &str) -> Result<String> {
    let mut bytes = Vec::new();
    if data == "-" {
        if std::io::stdin().is_terminal() {
            bail!("no input on standard input: pipe JSON Lines into `precis check --data -`, or give a file");
        }
        std::io::stdin().lock().take(MAX_DATA_BYTES + 1).read_to_end(&mut bytes).context("cannot read standard input")?;
    } else {
        let size = std::fs::metadata(data).with_context(|| format!("cannot read --data {data}"))?.len();
        if size > MAX_DATA_BYTES {
            bail!("--data {data} is {size} bytes, over the limit of {MAX_DATA_BYTES}; split it into smaller files");
        }
        bytes = std::fs::read(data).with_context(|| format!("cannot read --data {data}"))?;
    }
    if bytes.len() as u64 > MAX_DATA_BYTES {
        bail!("--data {data} is over the limit of {MAX_DATA_BYTES} bytes; split it into smaller files");
    }
    String::from_utf8(bytes).map_err(|e| anyhow!("--data {data} is not UTF-8 text (first bad byte at offset {})", e.utf8_error().valid_up_to()))
}

/// One line as a record, or what is wrong with it (said for the person who wrote the file).
fn parse_record(line: &str, args: &CheckArgs) -> Result<DataRecord, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| {
        let message = e.to_string();
        let message = message.rfind(" at line ").map_or(message.as_str(), |at| &message[..at]).to_string();
        format!("invalid JSON: {message} (column {})", e.column())
    })?;
    let Value::Object(object) = value else {
        return Err("expected a JSON object with the article and the summary".to_string());
    };
    let article = string_field(&object, &args.article_field, "--article-field")?;
    let summary = string_field(&object, &args.summary_field, "--summary-field")?;
    if summary.trim().is_empty() {
        return Err(format!("field \"{}\" is empty: there is no summary to check", args.summary_field));
    }
    if article.trim().is_empty() {
        return Err(format!("field \"{}\" is empty: there is no article to check against", args.article_field));
    }
    let human = match &args.human_field {
        None => None,
        Some(name) => match object.get(name) {
            None => return Err(format!("missing field \"{name}\" (--human-field)")),
            Some(Value::Null) => None,
            Some(Value::Number(number)) => number.as_f64(),
            Some(other) => return Err(format!("field \"{name}\" (--human-field) must be a number or null, found {}", type_name(other))),
        },
    };
    let group = match &args.group_field {
        None => None,
        Some(name) => match object.get(name) {
            None => return Err(format!("missing field \"{name}\" (--group-field)")),
            Some(Value::String(text)) => Some(text.clone()),
            Some(Value::Number(number)) => Some(number.to_string()),
            Some(Value::Bool(flag)) => Some(flag.to_string()),
            Some(other) => return Err(format!("field \"{name}\" (--group-field) must be a string or a number, found {}", type_name(other))),
        },
    };
    Ok(DataRecord { id: object.get("id").cloned(), article, summary, human, group })
}

fn string_field(object: &Map<String, Value>, name: &str, flag: &str) -> Result<String, String> {
    match object.get(name) {
        Some(Value::String(text)) => Ok(text.clone()),
        None => Err(format!("missing field \"{name}\" (rename it with {flag})")),
        Some(other) => Err(format!("field \"{name}\" must be a string, found {}", type_name(other))),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[derive(Default)]
struct Totals {
    all: GroupTotals,
    groups: BTreeMap<String, GroupTotals>,
}

#[derive(Default)]
struct GroupTotals {
    scores: Vec<f64>,
    flagged: usize,
    /// (score, human judgement) of the records that have one.
    judged: Vec<(f64, f64)>,
}

impl GroupTotals {
    fn add(&mut self, score: f64, flagged: bool, human: Option<f64>) {
        self.scores.push(score);
        self.flagged += usize::from(flagged);
        if let Some(human) = human {
            self.judged.push((score, human));
        }
    }

    fn report(&self, group: Option<String>, with_human: bool) -> GroupReport {
        let records = self.scores.len();
        let (scores, human): (Vec<f64>, Vec<f64>) = self.judged.iter().copied().unzip();
        GroupReport {
            group,
            records,
            mean_faithfulness: self.scores.iter().sum::<f64>() / records.max(1) as f64,
            flagged_share: self.flagged as f64 / records.max(1) as f64,
            judged: with_human.then_some(self.judged.len()),
            pearson: if with_human { pearson(&scores, &human) } else { None },
            spearman: if with_human { spearman(&scores, &human) } else { None },
        }
    }
}

impl Totals {
    fn add(&mut self, group: Option<&str>, score: f64, flagged: bool, human: Option<f64>) {
        self.all.add(score, flagged, human);
        if let Some(group) = group {
            self.groups.entry(group.to_string()).or_default().add(score, flagged, human);
        }
    }

    fn report(&self, data: &str, args: &CheckArgs, bad_lines: usize, seconds: f64) -> DataReport {
        let with_human = args.human_field.is_some();
        DataReport {
            data: data.to_string(),
            bad_lines,
            human_field: args.human_field.clone(),
            group_field: args.group_field.clone(),
            all: self.all.report(None, with_human),
            groups: self.groups.iter().map(|(name, totals)| totals.report(Some(name.clone()), with_human)).collect(),
            seconds,
        }
    }
}

/// `--format json` for `--data`.
#[derive(Serialize)]
struct DataReport {
    data: String,
    bad_lines: usize,
    human_field: Option<String>,
    group_field: Option<String>,
    all: GroupReport,
    groups: Vec<GroupReport>,
    /// Reading and checking, after start-up.
    seconds: f64,
}

#[derive(Serialize)]
struct GroupReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    records: usize,
    mean_faithfulness: f64,
    /// Share of records with at least one flagged span.
    flagged_share: f64,
    /// Records with a numeric --human-field (null when no --human-field was given).
    #[serde(skip_serializing_if = "Option::is_none")]
    judged: Option<usize>,
    pearson: Option<f64>,
    spearman: Option<f64>,
}

fn write_report_text(out: &mut impl Write, report: &DataReport) -> Result<()> {
    let correlated = report.human_field.as_deref().map_or(String::new(), |field| format!(" (correlation with {field})"));
    writeln!(out, "{}: {} records checked, {} bad lines, {:.2} s", report.data, report.all.records, report.bad_lines, report.seconds)?;
    writeln!(out)?;
    writeln!(out, "{:<16} {:>8} {:>8} {:>8} {:>8} {:>9}{correlated}", "group", "records", "mean", "flagged", "pearson", "spearman")?;
    let number = |value: Option<f64>| value.map_or("—".to_string(), |v| format!("{v:.3}"));
    let rows = report.groups.iter().chain(std::iter::once(&report.all));
    for row in rows {
        let name = row.group.as_deref().unwrap_or("all");
        writeln!(
            out,
            "{:<16} {:>8} {:>8.3} {:>7.1}% {:>8} {:>9}",
            name,
            row.records,
            row.mean_faithfulness,
            row.flagged_share * 100.0,
            number(row.pearson),
            number(row.spearman)
        )?;
    }
    Ok(())
}
