//! `precis batch INPUT...`: every item of feeds, JSONL and directories → one JSONL record each.
//!
//! Order of work: read all inputs (a malformed feed stops here, before any model loads; inputs
//! with no items at all end the run here, with a notice per empty feed), load the
//! first worker's models (so the key can name the engine actually used, and a download happens
//! once), plan (keys, duplicates, shard, resume), then start the other workers. Each worker owns
//! its `Summarizer` (rust-bert models are not `Sync`) and takes a group of items at a time: with
//! the abstractive engine, items of similar length, which go through the model in one padded
//! batch. The main thread alone writes records, one whole line at a time, as they finish.

use std::io::IsTerminal;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::batch::output::{self, BatchRecord, ExistingOutput, RecordSink};
use crate::batch::fetch;
use crate::batch::item::ItemBody;
use crate::batch::plan::{self, PlannedDocument, Task, WorkItem};
use crate::batch::scheduler;
use crate::batch::shard_plan::{self, ShardPlan};
use crate::batch::sources;
use crate::cli::BatchArgs;
use crate::input::Document;
use crate::pipeline::{SummarizeOptions, Summarizer, GENERATION_BATCH};
use crate::render::{EngineKind, SummaryRecord};

/// What a worker tells the main thread.
enum WorkerMessage {
    /// Models loaded; ready for items.
    Ready { engine: EngineKind, notices: Vec<String> },
    LoadFailed(anyhow::Error),
    Finished(Box<BatchRecord>),
}

/// Items a worker takes at once (sorted by length, so a group is of similar length).
type WorkGroup = Vec<WorkItem>;
type WorkQueue = Arc<Mutex<Receiver<WorkGroup>>>;

pub fn run(args: &BatchArgs) -> Result<()> {
    let started = Instant::now();
    // `--shard auto` is read from the scheduler's variables before any work (a wrong one is exit 2).
    let shard = args.shard.map(|spec| scheduler::resolve(spec, &scheduler::process_environment())).transpose()?;
    if let Some(scheduler::ResolvedShard { shard, origin: Some(origin) }) = &shard {
        if !args.engine.core.quiet {
            eprintln!("precis: shard {}/{} from the {origin}", shard.index, shard.count);
        }
    }
    if args.inputs.iter().any(|input| input == "-") && std::io::stdin().is_terminal() {
        bail!("no input on standard input: pipe JSONL into `precis batch -`, or give feed files, JSONL files or directories");
    }
    let inputs = sources::read_inputs(&args.inputs)?;
    for warning in &inputs.warnings {
        eprintln!("precis: warning: {warning}");
    }
    if !args.engine.core.quiet {
        for notice in &inputs.notices {
            eprintln!("precis: notice: {notice}");
        }
    }
    if inputs.items.is_empty() && inputs.notices.is_empty() {
        bail!("the inputs hold no items to summarize (empty JSONL files or directories)");
    }
    let items = inputs.items;

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

    if items.is_empty() {
        // Only empty feeds: nothing to summarize, and no reason to load a model.
        sink.finish()?;
        if !args.engine.core.quiet {
            eprintln!("precis: batch: 0 summarized, 0 failed, 0 skipped: the inputs hold no items");
        }
        return Ok(());
    }

    let options = super::summarize_options(&args.engine);
    // Bounded: groups are made as workers take them, so a million items are not all regrouped
    // (and their groups allocated) at once.
    let (work_sender, work_receiver) = mpsc::sync_channel::<WorkGroup>(QUEUED_GROUPS);
    let work_queue: WorkQueue = Arc::new(Mutex::new(work_receiver));
    // Bounded too: when records are written more slowly than they are made (small items, a
    // slow disk), the workers wait instead of piling finished records up in memory.
    let (message_sender, messages) = mpsc::sync_channel::<WorkerMessage>(QUEUED_RECORDS);
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
    let filters = plan::Filters { shard: shard.as_ref().map(|resolved| resolved.shard), done_keys: Some(&existing.keys), since: args.since, fetch: args.fetch };
    let plan = plan::plan(items, &fingerprint, &filters);
    let total = plan.work.len();
    // A sharded output starts with what its shard planned, for `precis merge` to check against.
    let planned = shard.as_ref().map(|resolved| ShardPlan::new(resolved.shard, &plan.planned));
    let output_name = || args.out.as_ref().map_or("standard output".to_string(), |path| path.display().to_string());
    if shard_plan::resume_needs_line(existing.shard_plan.clone(), existing.records, planned.as_ref()).map_err(|error| anyhow!("cannot resume output {}: {error}", output_name()))? {
        if let Some(planned) = &planned {
            sink.write(&planned.line())?;
        }
    }
    // More workers than items would load models for nothing.
    for _ in 1..args.jobs.min(total.max(1)) {
        workers.push(spawn_worker(options.clone(), fetch_timeout, work_queue.clone(), message_sender.clone()));
    }
    // The extractive engine gains nothing from batching; one item at a time spreads it evenly.
    let group_size = if engine_used == EngineKind::Abstractive { GENERATION_BATCH } else { 1 };
    // Only the workers hold the queue from here: when they all stop, the feeder's send fails
    // and it ends (a shortfall is reported below as items not summarized).
    drop(work_queue);
    let work = plan.work;
    let feeder = thread::spawn(move || {
        for group in length_groups(work, group_size) {
            if work_sender.send(group).is_err() {
                return;
            }
        }
        // Dropping the sender lets the workers finish when the queue is empty.
    });
    // Closing our end lets the loop below end when the workers are done.
    drop(message_sender);

    let progress = progress_bar(total as u64, args.engine.core.quiet);
    let (mut done, mut failed, mut skipped) = (0usize, 0usize, 0usize);
    for message in messages {
        match message {
            WorkerMessage::Ready { .. } => {}
            WorkerMessage::LoadFailed(error) => progress.suspend(|| eprintln!("precis: warning: a batch worker could not load its models and stopped ({error:#}); the others go on")),
            WorkerMessage::Finished(record) => {
                if let Some(error) = &record.error {
                    failed += 1;
                    progress.suspend(|| eprintln!("precis: item failed: {error}"));
                } else if record.skipped.is_some() {
                    skipped += 1;
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
    if feeder.join().is_err() {
        bail!("the batch's work queue crashed; rerun with --resume to finish the remaining items");
    }
    if done < total {
        bail!("only {done} of {total} items were summarized (the workers stopped); rerun with --resume to finish");
    }

    let seconds = started.elapsed().as_secs_f64();
    if !args.engine.core.quiet {
        let not_run = plan.already_done + plan.duplicates + plan.other_shards + plan.too_old;
        eprintln!(
            "precis: batch: {} summarized, {failed} failed, {skipped} skipped (nothing to summarize); {not_run} not run ({} already in the output, {} duplicates, {} in other shards, {} older than --since) in {seconds:.1} s ({:.1} items/s){}",
            done - failed - skipped,
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

fn spawn_worker(options: SummarizeOptions, fetch_timeout: Duration, queue: WorkQueue, messages: SyncSender<WorkerMessage>) -> thread::JoinHandle<()> {
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
            let Ok(group) = next else { return };
            for record in summarize_group(&summarizer, group, fetch_timeout) {
                if messages.send(WorkerMessage::Finished(Box::new(record))).is_err() {
                    return;
                }
            }
        }
    })
}

/// Work items cut into groups of `size` of similar length: within each stretch of
/// `SORT_STRETCH` items (input order otherwise kept, so that records come out roughly in input
/// order and an interrupted run has done the early items), items are sorted by the length of
/// their text — items still to be fetched first — and neighbours form a group, which goes
/// through the model as one batch. A size of 1 keeps the input order exactly.
fn length_groups(work: Vec<WorkItem>, size: usize) -> impl Iterator<Item = WorkGroup> {
    let size = size.max(1);
    let length = |work: &WorkItem| match &work.task {
        Task::Summarize(planned) => planned.text_bytes(),
        Task::FetchAndSummarize(_) | Task::Skip(_) | Task::Fail(_) => 0,
    };
    let mut items = work.into_iter();
    let mut stretch = Vec::new().into_iter();
    // Made one group at a time, as the workers take them.
    std::iter::from_fn(move || {
        if size == 1 {
            return items.next().map(|item| vec![item]);
        }
        if stretch.len() == 0 {
            let mut next: Vec<WorkItem> = items.by_ref().take(SORT_STRETCH).collect();
            // Stable: items of equal length keep the input's order.
            next.sort_by_key(length);
            stretch = next.into_iter();
        }
        let group: Vec<WorkItem> = stretch.by_ref().take(size).collect();
        (!group.is_empty()).then_some(group)
    })
}

/// Items sorted by length together (see `length_groups`).
const SORT_STRETCH: usize = 8 * GENERATION_BATCH;

/// Groups made ahead of the workers: enough that none waits.
const QUEUED_GROUPS: usize = 64;

/// Finished records waiting to be written before the workers wait.
const QUEUED_RECORDS: usize = 256;

/// What became of one work item before summarizing.
enum Prepared {
    /// Its document is the next of the group's readable documents.
    Document,
    Skipped(String),
    Failed(String),
}

/// One record per item of the group: pages fetched first, then every document that could be read
/// summarized together (`Summarizer::summarize_many` batches them through the model).
fn summarize_group(summarizer: &Summarizer, group: WorkGroup, fetch_timeout: Duration) -> Vec<BatchRecord> {
    // A large document comes from planning, moved, never copied (a 50 MB article is held
    // once); a small one is made again from its item here, and the item's body then freed.
    let mut readable: Vec<Document> = Vec::new();
    let mut prepared = Vec::with_capacity(group.len());
    let mut works = Vec::with_capacity(group.len());
    for mut work in group {
        let task = std::mem::replace(&mut work.task, Task::Skip(String::new()));
        prepared.push(match task {
            Task::Summarize(planned) => {
                let document = match planned {
                    PlannedDocument::Kept(document) => Ok(*document),
                    PlannedDocument::Remade { .. } => plan::document_for(&work.item),
                };
                // The record needs the item's names, not its body: freed before summarizing.
                work.item.body = ItemBody::default();
                match document {
                    Ok(document) => {
                        readable.push(document);
                        Prepared::Document
                    }
                    Err(reason) => Prepared::Failed(reason),
                }
            }
            Task::FetchAndSummarize(url) => match fetch::fetch_document(&url, fetch_timeout) {
                Ok(mut document) => {
                    document.title = work.item.title.clone().or(document.title);
                    document.warnings.splice(0..0, work.item.warnings.iter().cloned());
                    readable.push(document);
                    Prepared::Document
                }
                Err(reason) => Prepared::Failed(reason),
            },
            Task::Skip(reason) => Prepared::Skipped(reason),
            Task::Fail(reason) => Prepared::Failed(reason),
        });
        works.push(work);
    }
    let summarize_guarded = |documents: &[Document]| -> Option<Vec<Result<SummaryRecord, String>>> {
        catch_unwind(AssertUnwindSafe(|| summarizer.summarize_many(documents)))
            .ok()
            .map(|summaries| summaries.into_iter().map(|summary| summary.map_err(|error| format!("{error:#}"))).collect())
    };
    // A panic in a batch is retried item by item, so that only the item at fault fails.
    let mut summaries = summarize_guarded(&readable)
        .unwrap_or_else(|| {
            readable
                .iter()
                .map(|document| summarize_guarded(std::slice::from_ref(document)).and_then(|mut one| one.pop()).unwrap_or_else(|| Err("summarizing panicked".to_string())))
                .collect()
        })
        .into_iter();
    works
        .into_iter()
        .zip(prepared)
        .map(|(work, prepared)| {
            let outcome = match prepared {
                Prepared::Document => match summaries.next() {
                    Some(Ok(summary)) => Outcome::Summarized(Box::new(summary)),
                    Some(Err(error)) => Outcome::Failed(format!("{}: {error}", work.item.source)),
                    None => Outcome::Failed(format!("{}: no summary was produced", work.item.source)),
                },
                Prepared::Skipped(reason) => Outcome::Skipped(reason),
                Prepared::Failed(reason) => Outcome::Failed(reason),
            };
            record_for(work, outcome)
        })
        .collect()
}

/// How an item ended.
enum Outcome {
    Summarized(Box<SummaryRecord>),
    Skipped(String),
    Failed(String),
}

fn record_for(work: WorkItem, outcome: Outcome) -> BatchRecord {
    let item = work.item;
    let id = plan::record_id(&item);
    let mut record = BatchRecord {
        id,
        link: item.link,
        title: item.title,
        published: item.published,
        source: item.source,
        key: work.key.hex(),
        headline: None,
        abstract_: None,
        bullets: None,
        engine: None,
        models: Vec::new(),
        stats: None,
        faithfulness: None,
        warnings: Vec::new(),
        skipped: None,
        error: None,
    };
    match outcome {
        Outcome::Summarized(summary) => {
            let summary = *summary;
            record.headline = Some(summary.headline);
            record.abstract_ = Some(summary.abstract_);
            record.bullets = Some(summary.bullets);
            record.engine = Some(summary.engine);
            record.models = summary.models;
            record.stats = Some(summary.stats);
            record.faithfulness = summary.faithfulness;
            record.warnings = summary.warnings;
        }
        Outcome::Skipped(reason) => {
            record.skipped = Some(format!("{}: {reason}", record.source));
            record.warnings = item.warnings;
        }
        Outcome::Failed(error) => {
            record.error = Some(error);
            record.warnings = item.warnings;
        }
    }
    record
}
