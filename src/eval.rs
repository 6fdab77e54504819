//! The scoring core of `precis eval`: reading prediction and dataset files (JSON Lines),
//! scoring each prediction with [`crate::rouge`], averaging scores and length statistics
//! into an [`EvalReport`], and rendering that report as a small text table.
//!
//! Running the summarizer over a dataset belongs to the command; this module only sees
//! texts. Conventions that affect the numbers:
//!
//! * ROUGE-Lsum splits sentences on newlines, so a multi-sentence prediction is expected
//!   to hold one sentence per line. For the same reason an output's *sentence count* is
//!   its number of non-blank lines.
//! * Words are whitespace-separated, as a reader would count them (not ROUGE tokens).
//! * Every mean is the plain mean over records (the mean F1 is the mean of per-record F1s,
//!   as `rouge-score`'s aggregator reports it); the compression ratio is averaged over the
//!   records whose article is known and non-empty.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::faithfulness;
use crate::rouge::{self, RougeScores, Score};

/// Name of the reference field in datasets by default.
pub const DEFAULT_REFERENCE_FIELD: &str = "reference";
/// Name of the reference field in headline datasets (`headlines-dev.jsonl`).
pub const HEADLINE_REFERENCE_FIELD: &str = "headline";

/// A problem with an input file, phrased for the person who wrote the file.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {file}: {source}")]
    Unreadable {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// `line` is 1-based and counts blank lines, so it matches an editor's line numbers.
    #[error("{file} line {line}: {problem}")]
    BadRecord {
        file: String,
        line: usize,
        problem: String,
    },
    #[error("{file}: no records (the file is empty or has only blank lines)")]
    NoRecords { file: String },
}

/// One line of a predictions file: a reference and the prediction to score against it.
/// `id` and `article` are optional; with the article the report includes compression.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionRecord {
    pub id: Option<String>,
    pub article: Option<String>,
    pub reference: String,
    pub prediction: String,
}

impl PredictionRecord {
    pub fn score(&self) -> RecordScore {
        score_record(
            self.id.as_deref(),
            self.article.as_deref(),
            &self.reference,
            &self.prediction,
        )
    }
}

/// One line of a dataset: an article to summarize and the reference to score against.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetRecord {
    pub id: Option<String>,
    pub article: String,
    pub reference: String,
}

impl DatasetRecord {
    /// Scores a prediction made for this record's article.
    pub fn score_prediction(&self, prediction: &str) -> RecordScore {
        score_record(
            self.id.as_deref(),
            Some(&self.article),
            &self.reference,
            prediction,
        )
    }
}

/// Reads a predictions file: one JSON object per line with string fields `reference` and
/// `prediction` (and optionally `id`, `article`). Blank lines are skipped.
pub fn read_predictions(path: &Path) -> Result<Vec<PredictionRecord>, InputError> {
    let file = path.display().to_string();
    let text = read_text(path, &file)?;
    parse_predictions(&file, &text)
}

/// [`read_predictions`] on text already in memory; `file` names it in errors.
pub fn parse_predictions(file: &str, text: &str) -> Result<Vec<PredictionRecord>, InputError> {
    parse_json_lines(file, text, |fields| {
        Ok(PredictionRecord {
            id: fields.optional_id()?,
            article: fields.optional_string("article")?,
            reference: fields.required_string("reference")?,
            prediction: fields.required_string("prediction")?,
        })
    })
}

/// Reads a dataset file: one JSON object per line with string fields `article` and
/// `reference_field` (e.g. [`DEFAULT_REFERENCE_FIELD`] or [`HEADLINE_REFERENCE_FIELD`]),
/// and optionally `id`. Other fields are ignored; blank lines are skipped.
pub fn read_dataset(path: &Path, reference_field: &str) -> Result<Vec<DatasetRecord>, InputError> {
    let file = path.display().to_string();
    let text = read_text(path, &file)?;
    parse_dataset(&file, &text, reference_field)
}

/// [`read_dataset`] on text already in memory; `file` names it in errors.
pub fn parse_dataset(
    file: &str,
    text: &str,
    reference_field: &str,
) -> Result<Vec<DatasetRecord>, InputError> {
    parse_json_lines(file, text, |fields| {
        Ok(DatasetRecord {
            id: fields.optional_id()?,
            article: fields.required_string("article")?,
            reference: fields.required_string(reference_field)?,
        })
    })
}

fn read_text(path: &Path, file: &str) -> Result<String, InputError> {
    std::fs::read_to_string(path).map_err(|source| InputError::Unreadable {
        file: file.to_owned(),
        source,
    })
}

/// Parses every non-blank line as a JSON object and hands it to `parse_record`, turning
/// any problem into an error that names the file and the 1-based line.
fn parse_json_lines<T>(
    file: &str,
    text: &str,
    mut parse_record: impl FnMut(&RecordFields) -> Result<T, String>,
) -> Result<Vec<T>, InputError> {
    // Some editors on Windows start UTF-8 files with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad_record = |problem: String| InputError::BadRecord {
            file: file.to_owned(),
            line: index + 1,
            problem,
        };
        let value: Value = serde_json::from_str(line).map_err(|error| {
            bad_record(format!(
                "invalid JSON: {} (column {})",
                json_error_message(&error),
                error.column()
            ))
        })?;
        let Value::Object(object) = value else {
            return Err(bad_record(format!(
                "expected a JSON object, found {}",
                json_type_name(&value)
            )));
        };
        records.push(parse_record(&RecordFields { object }).map_err(bad_record)?);
    }
    if records.is_empty() {
        return Err(InputError::NoRecords {
            file: file.to_owned(),
        });
    }
    Ok(records)
}

/// serde_json's message without its " at line 1 column N" suffix, which would be
/// misleading when each line is parsed on its own.
fn json_error_message(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(position) => message[..position].to_owned(),
        None => message,
    }
}

fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The fields of one record, with typed accessors whose errors say what is wrong.
struct RecordFields {
    object: Map<String, Value>,
}

impl RecordFields {
    fn required_string(&self, name: &str) -> Result<String, String> {
        match self.object.get(name) {
            None => Err(format!("missing field \"{name}\"")),
            Some(Value::String(text)) => Ok(text.clone()),
            Some(other) => Err(format!(
                "field \"{name}\" must be a string, found {}",
                json_type_name(other)
            )),
        }
    }

    /// A string field that may be absent or null.
    fn optional_string(&self, name: &str) -> Result<Option<String>, String> {
        match self.object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(format!(
                "field \"{name}\" must be a string, found {}",
                json_type_name(other)
            )),
        }
    }

    /// The optional `id`; numeric ids are accepted and kept as their JSON text.
    fn optional_id(&self) -> Result<Option<String>, String> {
        match self.object.get("id") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(Value::Number(number)) => Ok(Some(number.to_string())),
            Some(other) => Err(format!(
                "field \"id\" must be a string or a number, found {}",
                json_type_name(other)
            )),
        }
    }
}

/// The scores and length statistics of one prediction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordScore {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub rouge: RougeScores,
    /// Whitespace-separated words in the prediction.
    pub output_words: usize,
    /// Non-blank lines in the prediction (one sentence per line, see the module docs).
    pub output_sentences: usize,
    /// Whitespace-separated words in the article, when the article is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub article_words: Option<usize>,
    /// `output_words / article_words`, when the article is known and not empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression_ratio: Option<f64>,
    /// The prediction checked against the article (`faithfulness`, 0–1), when the article is
    /// known and both texts have words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faithfulness: Option<f64>,
}

/// Scores one prediction against its reference; `article` (if known) gives compression.
pub fn score_record(
    id: Option<&str>,
    article: Option<&str>,
    reference: &str,
    prediction: &str,
) -> RecordScore {
    let output_words = count_words(prediction);
    let article_words = article.map(count_words);
    let compression_ratio = article_words
        .filter(|&words| words > 0)
        .map(|words| output_words as f64 / words as f64);
    RecordScore {
        id: id.map(str::to_owned),
        rouge: rouge::score(reference, prediction),
        output_words,
        output_sentences: count_sentences(prediction),
        article_words,
        compression_ratio,
        faithfulness: article.and_then(|article| faithfulness::check(article, prediction).ok()).map(|check| check.score),
    }
}

fn count_words(text: &str) -> usize {
    text.split_whitespace().count()
}

/// Sentences are counted as non-blank lines because predictions are scored one
/// sentence per line (ROUGE-Lsum splits on newlines).
fn count_sentences(text: &str) -> usize {
    text.lines().filter(|line| !line.trim().is_empty()).count()
}

/// Means over a set of scored predictions: what `precis eval` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    /// Number of records averaged.
    pub records: usize,
    /// Mean precision, recall and F1 of each ROUGE variant (in `[0, 1]`).
    pub rouge: RougeScores,
    pub mean_output_words: f64,
    pub mean_output_sentences: f64,
    /// Mean of output words / article words over records whose article is known; null
    /// when no article is known.
    pub mean_compression_ratio: Option<f64>,
    /// Mean faithfulness of the predictions to their articles (see `faithfulness`), over the
    /// records whose article is known; null when none is.
    pub mean_faithfulness: Option<f64>,
    /// Records the mean faithfulness is over.
    pub faithfulness_records: usize,
    /// Wall-clock time of the run, when the caller measured it.
    pub elapsed_seconds: Option<f64>,
    pub articles_per_second: Option<f64>,
    /// Every record's scores, in input order, when asked for (`--per-record`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_record: Option<Vec<RecordScore>>,
}

/// Averages `records` into a report. `elapsed` is the time taken to produce the
/// predictions (gives articles per second); with `include_per_record` the report
/// carries every record's scores too. An empty slice gives zero means.
pub fn aggregate(
    records: &[RecordScore],
    elapsed: Option<Duration>,
    include_per_record: bool,
) -> EvalReport {
    let count = records.len();
    let mean = |value: &dyn Fn(&RecordScore) -> f64| -> f64 {
        if count == 0 {
            0.0
        } else {
            records.iter().map(value).sum::<f64>() / count as f64
        }
    };
    let mean_score = |variant: &dyn Fn(&RougeScores) -> Score| Score {
        precision: mean(&|record| variant(&record.rouge).precision),
        recall: mean(&|record| variant(&record.rouge).recall),
        f1: mean(&|record| variant(&record.rouge).f1),
    };

    let ratios: Vec<f64> = records
        .iter()
        .filter_map(|record| record.compression_ratio)
        .collect();
    let mean_compression_ratio =
        (!ratios.is_empty()).then(|| ratios.iter().sum::<f64>() / ratios.len() as f64);

    let faithfulness: Vec<f64> = records.iter().filter_map(|record| record.faithfulness).collect();
    let mean_faithfulness = (!faithfulness.is_empty()).then(|| faithfulness.iter().sum::<f64>() / faithfulness.len() as f64);

    let elapsed_seconds = elapsed.map(|duration| duration.as_secs_f64());
    let articles_per_second = elapsed_seconds
        .filter(|&seconds| seconds > 0.0)
        .map(|seconds| count as f64 / seconds);

    EvalReport {
        records: count,
        rouge: RougeScores {
            rouge1: mean_score(&|scores| scores.rouge1),
            rouge2: mean_score(&|scores| scores.rouge2),
            rouge_l: mean_score(&|scores| scores.rouge_l),
            rouge_lsum: mean_score(&|scores| scores.rouge_lsum),
        },
        mean_output_words: mean(&|record| record.output_words as f64),
        mean_output_sentences: mean(&|record| record.output_sentences as f64),
        mean_compression_ratio,
        mean_faithfulness,
        faithfulness_records: faithfulness.len(),
        elapsed_seconds,
        articles_per_second,
        per_record: include_per_record.then(|| records.to_vec()),
    }
}

/// The report as a small table (ROUGE × 100, two decimals) followed by length lines.
pub fn render_text(report: &EvalReport) -> String {
    let mut text = String::new();
    // Writing to a String cannot fail, so the fmt::Results below are ignored.
    let _ = writeln!(text, "{:<10}{:>8}{:>8}{:>8}", "ROUGE ×100", "P", "R", "F1");
    for (name, score) in [
        ("R-1", report.rouge.rouge1),
        ("R-2", report.rouge.rouge2),
        ("R-L", report.rouge.rouge_l),
        ("R-Lsum", report.rouge.rouge_lsum),
    ] {
        let _ = writeln!(
            text,
            "{name:<10}{:>8.2}{:>8.2}{:>8.2}",
            score.precision * 100.0,
            score.recall * 100.0,
            score.f1 * 100.0
        );
    }
    let _ = writeln!(text);
    let _ = writeln!(text, "records                 {}", report.records);
    let _ = writeln!(
        text,
        "mean output words       {:.1}",
        report.mean_output_words
    );
    let _ = writeln!(
        text,
        "mean output sentences   {:.2}",
        report.mean_output_sentences
    );
    if let Some(ratio) = report.mean_compression_ratio {
        let _ = writeln!(
            text,
            "mean compression        {ratio:.3} (output words / article words)"
        );
    }
    if let Some(faithfulness) = report.mean_faithfulness {
        let _ = writeln!(
            text,
            "mean faithfulness       {faithfulness:.3} (predictions checked against their articles, {} records)",
            report.faithfulness_records
        );
    }
    if let (Some(rate), Some(seconds)) = (report.articles_per_second, report.elapsed_seconds) {
        let _ = writeln!(
            text,
            "speed                   {rate:.2} articles/s ({seconds:.1} s in all)"
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad_record_message(error: InputError) -> String {
        assert!(matches!(error, InputError::BadRecord { .. }), "{error:?}");
        error.to_string()
    }

    #[test]
    fn reads_predictions_skipping_blank_lines() {
        let text = "\n{\"reference\": \"a b\", \"prediction\": \"a\", \"id\": 7}\n  \n\
                    {\"reference\": \"c\", \"prediction\": \"c\", \"article\": \"c d\"}\n";
        let records = parse_predictions("predictions.jsonl", text).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].id.as_deref(), Some("7"));
        assert_eq!(records[0].article, None);
        assert_eq!(records[1].article.as_deref(), Some("c d"));
        assert_eq!(records[1].prediction, "c");
    }

    #[test]
    fn missing_field_names_file_and_line() {
        let text = "{\"reference\": \"a\", \"prediction\": \"b\"}\n\n\
                    {\"reference\": \"a\", \"prediction\": \"b\"}\n\
                    {\"reference\": \"a\"}\n";
        let error = parse_predictions("predictions.jsonl", text).unwrap_err();
        assert_eq!(
            bad_record_message(error),
            "predictions.jsonl line 4: missing field \"prediction\""
        );
    }

    #[test]
    fn invalid_json_names_file_and_line() {
        let text = "{\"reference\": \"a\", \"prediction\": \"b\"}\n{\"reference\": \"a\", \"prediction\": }\n";
        let message = bad_record_message(parse_predictions("preds.jsonl", text).unwrap_err());
        assert!(
            message.starts_with("preds.jsonl line 2: invalid JSON: "),
            "{message}"
        );
        assert!(message.contains("(column "), "{message}");
        assert!(!message.contains("at line 1"), "{message}");
    }

    #[test]
    fn wrong_types_are_reported() {
        let message = bad_record_message(
            parse_predictions("p.jsonl", "{\"reference\": \"a\", \"prediction\": 3}").unwrap_err(),
        );
        assert_eq!(
            message,
            "p.jsonl line 1: field \"prediction\" must be a string, found a number"
        );

        let message = bad_record_message(parse_predictions("p.jsonl", "[1, 2]").unwrap_err());
        assert_eq!(
            message,
            "p.jsonl line 1: expected a JSON object, found an array"
        );
    }

    #[test]
    fn empty_file_is_an_error() {
        for text in ["", "\n  \n"] {
            let error = parse_predictions("empty.jsonl", text).unwrap_err();
            assert!(matches!(error, InputError::NoRecords { .. }), "{error:?}");
            assert!(error.to_string().starts_with("empty.jsonl: no records"));
        }
    }

    #[test]
    fn unreadable_file_names_the_path() {
        let error = read_predictions(Path::new("/nonexistent/predictions.jsonl")).unwrap_err();
        assert!(error
            .to_string()
            .starts_with("cannot read /nonexistent/predictions.jsonl: "));
    }

    #[test]
    fn reads_dataset_with_chosen_reference_field() {
        let text = "{\"id\": \"bbc-1\", \"category\": \"business\", \"article\": \"Profits rose.\", \"headline\": \"Profits up\"}\n";
        let records = parse_dataset("headlines.jsonl", text, HEADLINE_REFERENCE_FIELD).unwrap();
        assert_eq!(
            records,
            [DatasetRecord {
                id: Some("bbc-1".into()),
                article: "Profits rose.".into(),
                reference: "Profits up".into(),
            }]
        );

        let message = bad_record_message(
            parse_dataset("headlines.jsonl", text, DEFAULT_REFERENCE_FIELD).unwrap_err(),
        );
        assert_eq!(
            message,
            "headlines.jsonl line 1: missing field \"reference\""
        );

        let text = "{\"reference\": \"x\"}";
        let message = bad_record_message(parse_dataset("d.jsonl", text, "reference").unwrap_err());
        assert_eq!(message, "d.jsonl line 1: missing field \"article\"");
    }

    #[test]
    fn dataset_real_files_parse() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/eval");
        let cnndm = read_dataset(&Path::new(dir).join("cnndm-dev.jsonl"), "reference").unwrap();
        assert_eq!(cnndm.len(), 100);
        let headlines =
            read_dataset(&Path::new(dir).join("headlines-dev.jsonl"), "headline").unwrap();
        assert_eq!(headlines.len(), 500);
    }

    fn assert_close(actual: f64, expected: f64) {
        assert!((actual - expected).abs() < 1e-12, "{actual} != {expected}");
    }

    #[test]
    fn aggregates_means_over_records() {
        // Record 1: reference tokens [the, cat, sat], prediction [the, cat].
        //   R-1, R-L, R-Lsum: P 1, R 2/3, F1 0.8; R-2: P 1, R 1/2, F1 2/3.
        //   2 words, 1 sentence, article of 4 words -> compression 0.5.
        let first = score_record(Some("one"), Some("a b c d"), "the cat sat", "the cat");
        // Record 2: no token in common -> all zeros; 3 words on 2 lines; 12-word article.
        let second = score_record(
            None,
            Some("one two three four five six seven eight nine ten eleven twelve"),
            "dogs bark",
            "cats meow\nloudly",
        );
        assert_eq!(second.rouge, RougeScores::default());

        let report = aggregate(&[first, second], Some(Duration::from_secs(4)), false);
        assert_eq!(report.records, 2);
        for score in [
            report.rouge.rouge1,
            report.rouge.rouge_l,
            report.rouge.rouge_lsum,
        ] {
            assert_close(score.precision, 0.5);
            assert_close(score.recall, 1.0 / 3.0);
            assert_close(score.f1, 0.4);
        }
        assert_close(report.rouge.rouge2.precision, 0.5);
        assert_close(report.rouge.rouge2.recall, 0.25);
        assert_close(report.rouge.rouge2.f1, 1.0 / 3.0);
        assert_close(report.mean_output_words, 2.5);
        assert_close(report.mean_output_sentences, 1.5);
        assert_close(report.mean_compression_ratio.unwrap(), 0.375);
        assert_close(report.articles_per_second.unwrap(), 0.5);
        assert!(report.per_record.is_none());
    }

    #[test]
    fn compression_and_speed_are_absent_when_unknown() {
        let record = score_record(None, None, "a", "a");
        let report = aggregate(&[record], None, true);
        assert_eq!(report.mean_compression_ratio, None);
        assert_eq!(report.articles_per_second, None);
        assert_eq!(report.per_record.as_ref().map(Vec::len), Some(1));

        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["records"], 1);
        assert_eq!(json["rouge"]["rouge1"]["f1"], 1.0);
        assert!(json["mean_compression_ratio"].is_null());
        assert_eq!(json["per_record"][0]["output_words"], 1);

        let empty = aggregate(&[], None, false);
        assert_eq!(empty.records, 0);
        assert_eq!(empty.mean_output_words, 0.0);
    }

    #[test]
    fn renders_a_table_and_length_lines() {
        let first = score_record(Some("one"), Some("a b c d"), "the cat sat", "the cat");
        let second = score_record(
            None,
            Some("a b c d e f g h i j k l"),
            "dogs bark",
            "cats meow\nloudly",
        );
        let text = render_text(&aggregate(
            &[first, second],
            Some(Duration::from_secs(4)),
            false,
        ));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "ROUGE ×100       P       R      F1");
        assert_eq!(lines[1], "R-1          50.00   33.33   40.00");
        assert_eq!(lines[2], "R-2          50.00   25.00   33.33");
        assert_eq!(lines[4], "R-Lsum       50.00   33.33   40.00");
        assert!(text.contains("records                 2\n"));
        assert!(text.contains("mean output words       2.5\n"));
        assert!(text.contains("mean output sentences   1.50\n"));
        assert!(text.contains("mean compression        0.375 (output words / article words)\n"));
        assert!(text.contains("speed                   0.50 articles/s (4.0 s in all)\n"));
    }
}
