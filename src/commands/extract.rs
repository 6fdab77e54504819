//! `precis extract INPUT...`: shows what precis reads from each input, without summarizing.
//!
//! Each input goes through exactly the reading the summarizer does — decoding, format
//! detection, HTML main-text extraction or Markdown stripping, then `text::normalize` — and
//! is printed as text, one JSON object, or one JSONL line. It owns the extract record (its
//! JSON schema) and its printing; it must not extract anything itself (that is `input/`).
//! An input that cannot be read is reported on stderr and the others still print; the exit
//! status is 1 when any failed.

use std::io::{IsTerminal, Write};

use anyhow::{bail, Result};
use serde::Serialize;

use crate::cli::{ExtractArgs, ExtractFormat};
use crate::input::{self, Document};
use crate::text;

/// What precis read from one input: the JSON object `precis extract` prints.
#[derive(Debug, Clone, Serialize)]
pub struct ExtractRecord {
    /// The path as given, or `-` for standard input.
    pub origin: String,
    /// How the input was read: `text`, `markdown` or `html`.
    pub format: String,
    /// The headline the input carries (HTML `og:title`/`<title>`/`<h1>`, a Markdown `# `
    /// heading, a headline-like first line), or null.
    pub title: Option<String>,
    /// The text the summarizer reads: paragraphs separated by one blank line.
    pub text: String,
    /// Words in `text`, counted as the summarizer counts them (`stats.input_words`).
    pub words: usize,
    /// What precis repaired, guessed or dropped while reading (also printed on stderr).
    pub warnings: Vec<String>,
}

impl ExtractRecord {
    pub fn of(document: &Document) -> Self {
        let text = text::normalize(&document.text);
        ExtractRecord {
            origin: document.origin.clone(),
            format: document.format.as_str().to_string(),
            title: document.title.clone(),
            words: text::count_words(&text),
            text,
            warnings: document.warnings.clone(),
        }
    }
}

pub fn run(args: &ExtractArgs) -> Result<()> {
    let stdin_count = args.inputs.iter().filter(|input| input.as_str() == input::STDIN_ARG).count();
    if stdin_count > 1 {
        bail!("standard input (-) can be read only once; give it at most one time");
    }
    if stdin_count == 1 && std::io::stdin().is_terminal() {
        bail!("no input: give files, or pipe a page into `precis extract -` (see `precis extract --help`)");
    }

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut records = Vec::new();
    let mut failures = 0usize;
    for (position, arg) in args.inputs.iter().enumerate() {
        let record = match input::read_document(arg) {
            Ok(document) => ExtractRecord::of(&document),
            Err(error) => {
                failures += 1;
                eprintln!("precis: error: {error}");
                continue;
            }
        };
        for warning in &record.warnings {
            eprintln!("precis: warning: {warning}");
        }
        match args.format {
            ExtractFormat::Jsonl => {
                serde_json::to_writer(&mut out, &record)?;
                writeln!(out)?;
                out.flush()?;
            }
            ExtractFormat::Text => {
                write_text(&mut out, &record, args.inputs.len() > 1, position > 0)?;
                out.flush()?;
            }
            ExtractFormat::Json => records.push(record),
        }
    }
    if args.format == ExtractFormat::Json && !records.is_empty() {
        if args.inputs.len() == 1 {
            serde_json::to_writer_pretty(&mut out, &records[0])?;
        } else {
            serde_json::to_writer_pretty(&mut out, &records)?;
        }
        writeln!(out)?;
    }
    out.flush()?;
    if failures > 0 {
        bail!("{failures} of {} inputs could not be read", args.inputs.len());
    }
    Ok(())
}

/// The title (when there is one), a blank line, then the text. With several inputs each is
/// headed `==> ORIGIN (FORMAT, N words) <==`, as `head` heads several files.
fn write_text(out: &mut impl Write, record: &ExtractRecord, with_header: bool, blank_line_before: bool) -> Result<()> {
    if blank_line_before {
        writeln!(out)?;
    }
    if with_header {
        writeln!(out, "==> {} ({}, {} words) <==", record.origin, record.format, record.words)?;
    }
    if let Some(title) = &record.title {
        writeln!(out, "{title}")?;
        writeln!(out)?;
    }
    writeln!(out, "{}", record.text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_is_the_normalized_text_with_its_word_count() {
        let page = "<html><head><title>Tunnel opens late | Ledger</title></head><body><article>\
                    <p>The tunnel opened on Monday, two years late.</p><p>Tolls start at $2.50.</p>\
                    </article></body></html>";
        let document = input::document_from_bytes("story.html", page.as_bytes()).unwrap();
        let record = ExtractRecord::of(&document);
        assert_eq!(record.origin, "story.html");
        assert_eq!(record.format, "html");
        assert_eq!(record.title.as_deref(), Some("Tunnel opens late"));
        assert_eq!(record.text, "The tunnel opened on Monday, two years late.\n\nTolls start at $2.50.");
        assert_eq!(record.words, 12);
        let json = serde_json::to_string(&record).unwrap();
        let positions: Vec<usize> = ["\"origin\":", "\"format\":", "\"title\":", "\"text\":", "\"words\":12", "\"warnings\":[]"]
            .iter()
            .map(|key| json.find(key).unwrap_or_else(|| panic!("{key} missing from {json}")))
            .collect();
        assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "{json}");
    }

    #[test]
    fn text_output_heads_each_input_when_there_are_several() {
        let record = ExtractRecord {
            origin: "a.txt".into(),
            format: "text".into(),
            title: None,
            text: "One two.".into(),
            words: 2,
            warnings: vec![],
        };
        let mut out = Vec::new();
        write_text(&mut out, &record, true, true).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "\n==> a.txt (text, 2 words) <==\nOne two.\n");
    }
}
