//! `precis batch INPUT...`: every item of feeds, JSONL and directories → one JSONL record each.
//!
//! Order of work: read all inputs (a malformed feed stops here, before any model loads), load the
//! first worker's models (so the key can name the engine actually used, and a download happens
//! once), plan (keys, duplicates, shard, resume), then start the other workers. Each worker owns
//! its `Summarizer` (rust-bert models are not `Sync`); the main thread alone writes records, one
//! whole line at a time, as they finish.

use std::io::IsTerminal;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::batch::output::{self, BatchRecord, ExistingOutput, RecordSink};
use crate::batch::fetch;
use crate::batch::plan::{self, Task, WorkItem};
use crate::batch::sources;
use crate::cli::BatchArgs;
use crate::pipeline::{SummarizeOptions, Summarizer};
use crate::render::{EngineKind, SummaryRecord};

/// What a worker tells the main thread.
enum WorkerMessage {
    /// Models loaded; ready for items.
    Ready { engine: EngineKind, notices: Vec<String> },
    LoadFailed(anyhow::Error),
    Finished(Box<BatchRecord>),
}

type WorkQueue = Arc<Mutex<Receiver<WorkItem>>>;

pub fn run(args: &BatchArgs) -> Result<()> {
    let started = Instant::now();
    if args.inputs.iter().any(|input| input == "-") && std::io::stdin().is_terminal() {
        bail!("no input on standard input: pipe JSONL into `precis batch -`, or give feed files, JSONL files or directories");
    }
    let items = sources::read_inputs(&args.inputs)?;

    let existing = match (&args.out, args.resume) {
        (Some(path), true) => output::prepare_resume(path)?,
        _ => ExistingOutput::default(),
    };
    if existing.truncated_bytes > 0 {
        eprintln!("precis: warning: cut a torn last line ({} bytes) from the output, left by an interrupted run; its item is summarized again", existing.truncated_bytes);
    }
    let mut sink = match &args.out {
        Some(path) => RecordSink::open_file(path, args.resume)?,
        None => RecordSink::stdout(),
    };

    let options = super::summarize_options(&args.engine);
    let (work_sender, work_receiver) = mpsc::channel::<WorkItem>();
    let work_queue: WorkQueue = Arc::new(Mutex::new(work_receiver));
    let (message_sender, messages) = mpsc::channel::<WorkerMessage>();
    let fetch_timeout = Duration::from_secs_f64(args.fetch_timeout);
    let mut workers = vec![spawn_worker(options.clone(), fetch_timeout, work_queue.clone(), message_sender.clone())];
    let engine_used = match messages.recv() {
        Ok(WorkerMessage::Ready { engine, notices }) => {
            if !args.engine.core.quiet {
                for notice in notices {
                    eprintln!("{notice}");
                }
            }
            engine
        }
        Ok(WorkerMessage::LoadFailed(error)) => return Err(error),
        Ok(WorkerMessage::Finished(_)) | Err(_) => bail!("the first batch worker stopped before loading its models"),
    };

    let fingerprint = plan::settings_fingerprint(&options, engine_used);
    let filters = plan::Filters { shard: args.shard, done_keys: Some(&existing.keys), since: args.since, fetch: args.fetch };
    let plan = plan::plan(items, &fingerprint, &filters)?;
    let total = plan.work.len();
    // More workers than items would load models for nothing.
    for _ in 1..args.jobs.min(total.max(1)) {
        workers.push(spawn_worker(options.clone(), fetch_timeout, work_queue.clone(), message_sender.clone()));
    }
    for work in plan.work {
        // The queue outlives this loop (the workers hold it), so sending cannot fail while they run.
        if work_sender.send(work).is_err() {
            bail!("the batch workers stopped early");
        }
    }
    // Closing our ends lets the workers finish when the queue is empty, and the loop below end.
    drop(work_sender);
    drop(message_sender);

    let progress = progress_bar(total as u64, args.engine.core.quiet);
    let (mut done, mut failed) = (0usize, 0usize);
    for message in messages {
        match message {
            WorkerMessage::Ready { .. } => {}
            WorkerMessage::LoadFailed(error) => progress.suspend(|| eprintln!("precis: warning: a batch worker could not load its models and stopped ({error:#}); the others go on")),
            WorkerMessage::Finished(record) => {
                if let Some(error) = &record.error {
                    failed += 1;
                    progress.suspend(|| eprintln!("precis: item failed: {error}"));
                }
                sink.write(&record)?;
                done += 1;
                progress.inc(1);
            }
        }
    }
    progress.finish_and_clear();
    sink.finish()?;
    for worker in workers {
        if worker.join().is_err() {
            bail!("a batch worker crashed; rerun with --resume to finish the remaining items");
        }
    }
    if done < total {
        bail!("only {done} of {total} items were summarized (the workers stopped); rerun with --resume to finish");
    }

    let seconds = started.elapsed().as_secs_f64();
    if !args.engine.core.quiet {
        eprintln!(
            "precis: batch: {} summarized, {failed} failed, {} skipped ({} already in the output, {} duplicates, {} in other shards, {} older than --since) in {seconds:.1} s ({:.1} items/s){}",
            done - failed,
            plan.already_done + plan.duplicates + plan.other_shards + plan.too_old,
            plan.already_done,
            plan.duplicates,
            plan.other_shards,
            plan.too_old,
            done as f64 / seconds.max(0.001),
            if plan.undated > 0 { format!("; {} items without a readable date were kept", plan.undated) } else { String::new() }
        );
    }
    if failed > 0 {
        let place = args.out.as_ref().map_or("the output".to_string(), |path| path.display().to_string());
        bail!("{failed} of {done} items failed; their records in {place} carry the error");
    }
    Ok(())
}

/// Done/total, items per second and ETA on stderr; hidden when stderr is not a terminal or with --quiet.
fn progress_bar(total: u64, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} items · {per_sec} · ETA {eta}") {
        bar.set_style(style);
    }
    bar
}

fn spawn_worker(options: SummarizeOptions, fetch_timeout: Duration, queue: WorkQueue, messages: Sender<WorkerMessage>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let summarizer = match catch_unwind(AssertUnwindSafe(|| Summarizer::new(options))) {
            Ok(Ok(summarizer)) => summarizer,
            Ok(Err(error)) => {
                let _ = messages.send(WorkerMessage::LoadFailed(error));
                return;
            }
            Err(_) => {
                let _ = messages.send(WorkerMessage::LoadFailed(anyhow!("loading the models panicked")));
                return;
            }
        };
        let ready = WorkerMessage::Ready { engine: summarizer.engine_used(), notices: summarizer.notices.clone() };
        if messages.send(ready).is_err() {
            return;
        }
        loop {
            // The lock is held only to take the next item, not while summarizing it.
            let next = match queue.lock() {
                Ok(receiver) => receiver.recv(),
                Err(_) => return,
            };
            let Ok(work) = next else { return };
            let record = summarize_item(&summarizer, work, fetch_timeout);
            if messages.send(WorkerMessage::Finished(Box::new(record))).is_err() {
                return;
            }
        }
    })
}

fn summarize_item(summarizer: &Summarizer, work: WorkItem, fetch_timeout: Duration) -> BatchRecord {
    let document = match &work.task {
        Task::Summarize(document) => Ok(document.clone()),
        Task::FetchAndSummarize(url) => fetch::fetch_document(url, fetch_timeout).map(|mut document| {
            document.title = work.item.title.clone().or(document.title);
            document
        }),
        Task::Fail(reason) => Err(reason.clone()),
    };
    let result = document.and_then(|document| match catch_unwind(AssertUnwindSafe(|| summarizer.summarize(&document))) {
        Ok(Ok(summary)) => Ok(summary),
        Ok(Err(error)) => Err(format!("{}: {error:#}", work.item.source)),
        Err(_) => Err(format!("{}: summarizing panicked", work.item.source)),
    });
    record_for(work, result)
}

fn record_for(work: WorkItem, result: Result<SummaryRecord, String>) -> BatchRecord {
    let item = work.item;
    let id = item.id.clone().or_else(|| item.link.clone()).unwrap_or_else(|| item.source.clone());
    let mut record = BatchRecord {
        id,
        link: item.link,
        title: item.title,
        published: item.published,
        source: item.source,
        key: work.key,
        headline: None,
        abstract_: None,
        bullets: None,
        engine: None,
        models: Vec::new(),
        stats: None,
        warnings: Vec::new(),
        error: None,
    };
    match result {
        Ok(summary) => {
            record.headline = Some(summary.headline);
            record.abstract_ = Some(summary.abstract_);
            record.bullets = Some(summary.bullets);
            record.engine = Some(summary.engine);
            record.models = summary.models;
            record.stats = Some(summary.stats);
            record.warnings = summary.warnings;
        }
        Err(error) => record.error = Some(error),
    }
    record
}
