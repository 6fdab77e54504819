//! `precis summarize [INPUT]...`: one or a few articles → headline, abstract, bullets.
//!
//! Every input is read and checked before the models load, so a typo in a path fails fast.
//! An input that fails later is reported and the others still print; the exit status says so.

use std::io::{IsTerminal, Write};

use anyhow::{bail, Result};

use crate::cli::SummarizeArgs;
use crate::input::{self, Document};
use crate::pipeline::Summarizer;
use crate::render::{self, Format};

pub fn run(args: &SummarizeArgs) -> Result<()> {
    let stdin_count = args.inputs.iter().filter(|i| i.as_str() == "-").count();
    if stdin_count > 1 {
        bail!("standard input (-) can be read only once; give it at most one time");
    }
    if stdin_count == 1 && std::io::stdin().is_terminal() {
        bail!("no input: give article files, or pipe an article into `precis summarize -` (see `precis summarize --help`)");
    }
    let documents: Vec<Document> = args.inputs.iter().map(|arg| input::read_document(arg)).collect::<Result<_, _>>()?;
    let summarizer = Summarizer::new(super::summarize_options(&args.engine))?;
    if !args.engine.core.quiet {
        for notice in &summarizer.notices {
            eprintln!("{notice}");
        }
    }
    let mut records = Vec::new();
    let mut failures = 0usize;
    // Several inputs go through the model together, in batches of similar length.
    for (document, result) in documents.iter().zip(summarizer.summarize_many(&documents)) {
        match result {
            Ok(record) => {
                for warning in &record.warnings {
                    eprintln!("precis: warning: {warning}");
                }
                records.push(record);
            }
            Err(error) => {
                failures += 1;
                eprintln!("precis: error: {}: {error:#}", document.origin);
            }
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    // jsonl streams well per record; the other formats print once all are done.
    render::write_records(&mut out, &records, args.format, render::terminal_width())?;
    out.flush()?;
    if failures > 0 {
        bail!("{failures} of {} inputs could not be summarized", documents.len());
    }
    if args.format == Format::Text && records.is_empty() {
        bail!("nothing was summarized");
    }
    Ok(())
}
