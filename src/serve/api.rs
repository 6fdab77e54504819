//! Request bodies → validated requests, and the errors the API answers with.
//!
//! Bodies are read field by field from a JSON object, so that every refusal names the field
//! at fault: an unknown field (with the list of known ones), a value of the wrong type, out of
//! range, or a missing input. Nothing here runs a model or fetches a page.

use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::queue::OutputShape;
use crate::faithfulness::guard::{GuardMode, DEFAULT_GUARD};
use crate::length::{self, LengthPreset, NamedBudget, DEFAULT_BULLETS};

/// An error answer: its status, a stable code for programs and a message for people.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds, for a 429.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), retry_after: None }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// The JSON body: `{"error": {"status": 400, "code": "bad_request", "message": "…"}}`.
    pub fn body(&self) -> Value {
        serde_json::json!({ "error": { "status": self.status.as_u16(), "code": self.code, "message": self.message } })
    }
}

/// Where the article comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArticleSource {
    /// Plain text or Markdown.
    Text(String),
    /// An HTML page or fragment.
    Html(String),
    /// A page to download (checked against the address policy).
    Url(String),
}

#[derive(Debug)]
pub struct SummarizeRequest {
    pub source: ArticleSource,
    pub id: Option<String>,
    pub title: Option<String>,
    pub shape: OutputShape,
}

#[derive(Debug)]
pub struct CompareRequest {
    pub source: ArticleSource,
    pub id: Option<String>,
    pub title: Option<String>,
    pub budgets: Vec<NamedBudget>,
    /// A reference summary (plain text) to score every length against with ROUGE.
    pub reference: Option<String>,
    pub guard: GuardMode,
}

#[derive(Debug)]
pub struct CheckRequest {
    pub article: String,
    pub summary: String,
}

pub const SUMMARIZE_FIELDS: &[&str] = &["text", "html", "url", "id", "title", "length", "bullets", "guard"];
pub const COMPARE_FIELDS: &[&str] = &["text", "html", "url", "id", "title", "lengths", "words", "sentences", "reference", "guard"];
pub const CHECK_FIELDS: &[&str] = &["article", "summary"];

/// Request fields that are not per request, and what to say about them.
const NOT_PER_REQUEST: &[(&str, &str)] = &[
    ("precision", "precision is set for the whole server with `precis serve --precision fp32|bf16|int8` (default fp32)"),
];

/// Default output settings of the server (`--length`, `--bullets`).
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    pub shape: OutputShape,
}

impl Default for Defaults {
    fn default() -> Defaults {
        Defaults { shape: OutputShape { length: LengthPreset::Medium, bullets: DEFAULT_BULLETS, guard: DEFAULT_GUARD } }
    }
}

pub fn parse_summarize(body: &[u8], defaults: Defaults) -> Result<SummarizeRequest, ApiError> {
    let mut fields = Fields::parse(body, SUMMARIZE_FIELDS)?;
    let source = fields.source()?;
    let id = fields.string("id")?;
    let title = fields.string("title")?;
    let length = match fields.string("length")? {
        None => defaults.shape.length,
        Some(value) => parse_length("length", &value)?,
    };
    let bullets = match fields.integer("bullets")? {
        None => defaults.shape.bullets,
        Some(count) if (1..=20).contains(&count) => count as usize,
        Some(count) => return Err(ApiError::bad_request(format!("bullets: {count} is out of range; give a count from 1 to 20"))),
    };
    let guard = match fields.string("guard")? {
        None => defaults.shape.guard,
        Some(value) => parse_guard(&value)?,
    };
    Ok(SummarizeRequest { source, id, title, shape: OutputShape { length, bullets, guard } })
}

pub fn parse_compare(body: &[u8], defaults: Defaults) -> Result<CompareRequest, ApiError> {
    let mut fields = Fields::parse(body, COMPARE_FIELDS)?;
    let source = fields.source()?;
    let id = fields.string("id")?;
    let title = fields.string("title")?;
    let lengths = fields
        .list("lengths", |value| value.as_str().map(str::to_string), "a length name")?
        .into_iter()
        .map(|name| parse_length("lengths", &name))
        .collect::<Result<Vec<_>, _>>()?;
    let words = budgets(&mut fields, "words", length::parse_word_budget)?;
    let sentences = budgets(&mut fields, "sentences", length::parse_sentence_budget)?;
    let reference = fields.string("reference")?;
    if reference.as_deref().is_some_and(|text| text.trim().is_empty()) {
        return Err(ApiError::bad_request("reference: the reference summary is empty; leave the field out, or give the reference text"));
    }
    let budgets = crate::commands::compare::resolve_budgets(&lengths, &words, &sentences).map_err(|error| ApiError::bad_request(format!("lengths: {error}")))?;
    let guard = match fields.string("guard")? {
        None => defaults.shape.guard,
        Some(value) => parse_guard(&value)?,
    };
    Ok(CompareRequest { source, id, title, budgets, reference, guard })
}

pub fn parse_check(body: &[u8]) -> Result<CheckRequest, ApiError> {
    let mut fields = Fields::parse(body, CHECK_FIELDS)?;
    let article = fields.string("article")?.ok_or_else(|| ApiError::bad_request("article: missing; give the article text the summary should be checked against"))?;
    let summary = fields.string("summary")?.ok_or_else(|| ApiError::bad_request("summary: missing; give the summary text to check"))?;
    Ok(CheckRequest { article, summary })
}

fn parse_guard(value: &str) -> Result<GuardMode, ApiError> {
    match value {
        "flag" => Ok(GuardMode::Flag),
        "drop" => Ok(GuardMode::Drop),
        "off" => Ok(GuardMode::Off),
        other => Err(ApiError::bad_request(format!("guard: {other:?} is not a guard; use \"flag\", \"drop\" or \"off\""))),
    }
}

fn parse_length(field: &str, value: &str) -> Result<LengthPreset, ApiError> {
    match value {
        "short" => Ok(LengthPreset::Short),
        "medium" => Ok(LengthPreset::Medium),
        "long" => Ok(LengthPreset::Long),
        other => Err(ApiError::bad_request(format!("{field}: {other:?} is not a length; use \"short\", \"medium\" or \"long\""))),
    }
}

fn budgets(fields: &mut Fields, name: &str, parse: fn(&str) -> Result<usize, String>) -> Result<Vec<usize>, ApiError> {
    fields
        .list(name, |value| value.as_u64().map(|n| n.to_string()), "a whole number")?
        .iter()
        .map(|value| parse(value).map_err(|error| ApiError::bad_request(format!("{name}: {error}"))))
        .collect()
}

/// A JSON object being taken apart; every field must be known.
struct Fields {
    map: Map<String, Value>,
}

impl Fields {
    fn parse(body: &[u8], known: &[&str]) -> Result<Fields, ApiError> {
        let value: Value = serde_json::from_slice(body).map_err(|error| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("the body is not valid JSON ({error}); send one JSON object, e.g. {{\"text\": \"…\"}}"))
        })?;
        let Value::Object(map) = value else {
            return Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("the body is JSON {}, not an object; send one JSON object, e.g. {{\"text\": \"…\"}}", kind(&value))));
        };
        if let Some(unknown) = map.keys().find(|key| !known.contains(&key.as_str())) {
            let why = NOT_PER_REQUEST.iter().find(|(name, _)| name == unknown).map(|(_, why)| format!(": {why}")).unwrap_or_default();
            return Err(ApiError::new(StatusCode::BAD_REQUEST, "unknown_field", format!("unknown field {unknown:?}{why}; the fields are {}", known.join(", "))));
        }
        Ok(Fields { map })
    }

    fn string(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        match self.map.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(ApiError::bad_request(format!("{name}: expected a string, got {}", kind(&other)))),
        }
    }

    fn integer(&mut self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.map.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(number)) if number.as_i64().is_some() => Ok(number.as_i64()),
            Some(other) => Err(ApiError::bad_request(format!("{name}: expected a whole number, got {}", kind(&other)))),
        }
    }

    /// An array whose items `item` accepts (`what` names an item for the error).
    fn list<T>(&mut self, name: &str, item: impl Fn(&Value) -> Option<T>, what: &str) -> Result<Vec<T>, ApiError> {
        match self.map.remove(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(values)) => values
                .iter()
                .enumerate()
                .map(|(index, value)| item(value).ok_or_else(|| ApiError::bad_request(format!("{name}[{index}]: expected {what}, got {}", kind(value)))))
                .collect(),
            Some(other) => Err(ApiError::bad_request(format!("{name}: expected an array, got {}", kind(&other)))),
        }
    }

    /// Exactly one of `text`, `html`, `url`.
    fn source(&mut self) -> Result<ArticleSource, ApiError> {
        let text = self.string("text")?;
        let html = self.string("html")?;
        let url = self.string("url")?;
        match (text, html, url) {
            (Some(text), None, None) => Ok(ArticleSource::Text(text)),
            (None, Some(html), None) => Ok(ArticleSource::Html(html)),
            (None, None, Some(url)) => Ok(ArticleSource::Url(url)),
            (None, None, None) => Err(ApiError::bad_request("no article: give one of the fields text, html or url")),
            _ => Err(ApiError::bad_request("give only one of the fields text, html or url")),
        }
    }
}

/// A JSON value's kind, for messages.
fn kind(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(number) => format!("the number {number}"),
        Value::String(text) if text.chars().count() > 40 => "a string".into(),
        Value::String(text) => format!("the string {text:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<SummarizeRequest, ApiError>) -> String {
        result.expect_err("refused").message
    }

    #[test]
    fn a_summarize_body_is_read_with_defaults() {
        let request = parse_summarize(br#"{"text": "Some article.", "bullets": 3}"#, Defaults::default()).expect("valid");
        assert_eq!(request.source, ArticleSource::Text("Some article.".into()));
        assert_eq!(request.shape, OutputShape { length: LengthPreset::Medium, bullets: 3, guard: DEFAULT_GUARD });
        let request = parse_summarize(br#"{"url": "https://example.org/a", "length": "short", "id": "x"}"#, Defaults::default()).expect("valid");
        assert_eq!(request.source, ArticleSource::Url("https://example.org/a".into()));
        assert_eq!(request.shape.length, LengthPreset::Short);
        assert_eq!(request.id.as_deref(), Some("x"));
    }

    #[test]
    fn every_refusal_names_the_field() {
        let defaults = Defaults::default();
        assert!(message(parse_summarize(b"{\"text\": ", defaults)).contains("not valid JSON"));
        assert!(message(parse_summarize(b"[1, 2]", defaults)).contains("JSON an array, not an object"));
        let unknown = message(parse_summarize(br#"{"text": "a", "colour": "red"}"#, defaults));
        assert!(unknown.contains("unknown field \"colour\"") && unknown.contains("text, html, url"), "{unknown}");
        let guard = message(parse_summarize(br#"{"text": "a", "guard": "loose"}"#, defaults));
        assert!(guard.starts_with("guard: \"loose\" is not a guard"), "{guard}");
        assert_eq!(parse_summarize(br#"{"text": "a", "guard": "drop"}"#, defaults).expect("drop").shape.guard, GuardMode::Drop);
        assert_eq!(parse_summarize(br#"{"text": "a"}"#, defaults).expect("default").shape.guard, DEFAULT_GUARD);
        assert_eq!(parse_compare(br#"{"text": "a", "guard": "off"}"#, defaults).expect("off").guard, GuardMode::Off);
        assert!(message(parse_summarize(br#"{"text": "a", "bullets": 0}"#, defaults)).starts_with("bullets: 0 is out of range"));
        assert!(message(parse_summarize(br#"{"text": "a", "bullets": "four"}"#, defaults)).starts_with("bullets: expected a whole number, got the string \"four\""));
        assert!(message(parse_summarize(br#"{"text": "a", "length": "huge"}"#, defaults)).starts_with("length: \"huge\" is not a length"));
        assert!(message(parse_summarize(br#"{"text": 5}"#, defaults)).starts_with("text: expected a string"));
        assert!(message(parse_summarize(br#"{}"#, defaults)).contains("give one of the fields text, html or url"));
        assert!(message(parse_summarize(br#"{"text": "a", "url": "b"}"#, defaults)).contains("only one of"));
    }

    #[test]
    fn compare_budgets_are_checked_like_the_command_line() {
        let request = parse_compare(br#"{"text": "a", "lengths": ["short"], "words": [25, 60], "sentences": [2]}"#, Defaults::default()).expect("valid");
        let labels: Vec<&str> = request.budgets.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["short", "25 words", "60 words", "2 sentences"]);
        assert_eq!(parse_compare(br#"{"text": "a"}"#, Defaults::default()).expect("default").budgets.len(), 3);
        let zero = parse_compare(br#"{"text": "a", "words": [0]}"#, Defaults::default()).expect_err("zero");
        assert!(zero.message.starts_with("words: "), "{}", zero.message);
        let same = parse_compare(br#"{"text": "a", "lengths": ["medium"], "words": [80]}"#, Defaults::default()).expect_err("same");
        assert!(same.message.contains("same budget"), "{}", same.message);
        let bad_item = parse_compare(br#"{"text": "a", "words": [25, "x"]}"#, Defaults::default()).expect_err("item");
        assert_eq!(bad_item.message, "words[1]: expected a whole number, got the string \"x\"");
    }

    #[test]
    fn check_needs_both_texts() {
        assert!(parse_check(br#"{"article": "a"}"#).expect_err("summary").message.starts_with("summary: missing"));
        assert!(parse_check(br#"{"article": "a", "summary": "b"}"#).is_ok());
    }
}
