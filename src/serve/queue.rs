//! The request queue and the model thread: the only place the models run.
//!
//! Handlers [`Queue::submit`] documents and await the answer; the model thread loads the
//! models once (a `Summarizer`, which is not `Sync`, so it lives on this one thread), then
//! repeatedly takes a group of waiting documents and runs them through
//! `Summarizer::summarize_many` — the same path `precis batch` uses, which batches inputs of
//! similar token length through the model. A group is the oldest waiting request plus up to
//! `max_batch - 1` others of the same length and bullet count whose texts are closest to it in
//! length, as long as the group stays within the length ratio one padded model batch takes
//! (`pipeline::share_one_batch`); with a model, the thread first waits up to `batch_wait` for a group to fill. `compare`
//! requests run alone. A panic inside a group is caught, the group is retried document by
//! document so that only the document at fault fails, and the thread goes on.
//!
//! It must not know about HTTP: it answers with records or [`JobError`]s.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::metrics::Metrics;
use crate::faithfulness::guard::GuardMode;
use crate::input::Document;
use crate::length::{LengthPreset, NamedBudget};
use crate::pipeline::{share_one_batch, SummarizeOptions, Summarizer};
use crate::render::{CompareRecord, EngineKind, SummaryRecord};

/// What a request asks of the models.
pub enum Work {
    Summarize { document: Document, shape: OutputShape },
    Compare { document: Document, budgets: Vec<NamedBudget>, reference: Option<Document>, guard: GuardMode },
}

/// The per-request output settings that decide which requests can share a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputShape {
    pub length: LengthPreset,
    pub bullets: usize,
    /// `guard` of the request (the server's `--guard` when not given).
    pub guard: GuardMode,
}

pub enum Outcome {
    Summary(Box<SummaryRecord>),
    Compare(Box<CompareRecord>),
}

#[derive(Debug)]
pub enum JobError {
    /// The document could not be summarized (its message says why).
    Failed(String),
    /// Something panicked on the model thread while working on it.
    Panicked,
    /// The model thread stopped (models failed to load, or the server is stopping).
    Stopped,
}

pub type Reply = Result<Outcome, JobError>;

/// What the model thread reports once, after loading.
pub struct Loaded {
    pub engine: EngineKind,
    pub notices: Vec<String>,
}

struct Job {
    work: Work,
    /// Text length, for grouping documents of similar length.
    size: usize,
    reply: oneshot::Sender<Reply>,
}

impl Job {
    /// The requester gave up (timed out, or went away): nobody would read the answer.
    fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }
}

struct State {
    pending: VecDeque<Job>,
    closed: bool,
}

/// How the model thread forms groups.
#[derive(Debug, Clone, Copy)]
pub struct BatchPolicy {
    /// Documents taken from the queue at once.
    pub max_batch: usize,
    /// How long the thread waits for a group to fill once a request is waiting (models only).
    pub wait: Duration,
}

pub struct Queue {
    state: Mutex<State>,
    wake: Condvar,
    capacity: usize,
    metrics: Arc<Metrics>,
}

/// The queue holds `capacity` waiting requests already.
#[derive(Debug)]
pub struct QueueFull;

impl Queue {
    pub fn new(capacity: usize, metrics: Arc<Metrics>) -> Arc<Queue> {
        metrics.queue_capacity.store(capacity, Ordering::Relaxed);
        Arc::new(Queue { state: Mutex::new(State { pending: VecDeque::new(), closed: false }), wake: Condvar::new(), capacity, metrics })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a list and a flag, consistent at every step: a panic elsewhere cannot
        // leave it half-changed.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a request could be queued now (checked before slow work such as a download).
    pub fn has_room(&self) -> bool {
        let mut state = self.lock();
        self.prune(&mut state);
        state.pending.len() < self.capacity
    }

    /// Queues `work`; the receiver gets the answer. Refused when `capacity` requests wait.
    pub fn submit(&self, work: Work) -> Result<oneshot::Receiver<Reply>, QueueFull> {
        let size = match &work {
            Work::Summarize { document, .. } | Work::Compare { document, .. } => document.text.len(),
        };
        let (reply, answer) = oneshot::channel();
        let mut state = self.lock();
        self.prune(&mut state);
        if state.closed {
            drop(state);
            let _ = reply.send(Err(JobError::Stopped));
            return Ok(answer);
        }
        if state.pending.len() >= self.capacity {
            return Err(QueueFull);
        }
        state.pending.push_back(Job { work, size, reply });
        self.metrics.queue_depth.store(state.pending.len(), Ordering::Relaxed);
        drop(state);
        self.wake.notify_all();
        Ok(answer)
    }

    /// No new work: the model thread finishes what waits, then stops.
    pub fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_all();
    }

    fn prune(&self, state: &mut State) {
        state.pending.retain(|job| !job.abandoned());
        self.metrics.queue_depth.store(state.pending.len(), Ordering::Relaxed);
    }

    /// The next group of work, or `None` once the queue is closed and empty.
    fn next_group(&self, policy: BatchPolicy) -> Option<Vec<Job>> {
        let mut state = self.lock();
        loop {
            self.prune(&mut state);
            if state.pending.is_empty() {
                if state.closed {
                    return None;
                }
                state = self.wake.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
                continue;
            }
            if !policy.wait.is_zero() && state.pending.len() < policy.max_batch && !state.closed {
                let deadline = Instant::now() + policy.wait;
                while state.pending.len() < policy.max_batch && !state.closed {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    state = self.wake.wait_timeout(state, left).map(|(state, _)| state).unwrap_or_else(|poisoned| poisoned.into_inner().0);
                }
                self.prune(&mut state);
                if state.pending.is_empty() {
                    continue;
                }
            }
            let chosen = choose_group(&state.pending, policy.max_batch);
            let mut group = Vec::with_capacity(chosen.len());
            // Highest index first, so that the indices still to remove stay valid.
            let mut descending = chosen;
            descending.sort_unstable_by(|a, b| b.cmp(a));
            for index in descending {
                if let Some(job) = state.pending.remove(index) {
                    group.push(job);
                }
            }
            group.reverse();
            self.metrics.queue_depth.store(state.pending.len(), Ordering::Relaxed);
            return Some(group);
        }
    }
}

/// Which waiting jobs go together (indices into `pending`, the oldest first): the oldest, and
/// when it is a summary, the summaries of the same shape closest to it in length.
fn choose_group(pending: &VecDeque<Job>, max_batch: usize) -> Vec<usize> {
    let Some(oldest) = pending.front() else { return Vec::new() };
    let Work::Summarize { shape, .. } = &oldest.work else { return vec![0] };
    let mut companions: Vec<usize> = (1..pending.len())
        .filter(|&index| matches!(&pending[index].work, Work::Summarize { shape: other, .. } if other == shape))
        .collect();
    // Stable: equally close jobs keep their arrival order.
    companions.sort_by_key(|&index| pending[index].size.abs_diff(oldest.size));
    // Only jobs that can share one padded model batch with the group (the pipeline's length
    // rule): a job that would be split off into a batch of its own inside this group waits for a
    // later group of lengths like its own instead, so fewer, fuller batches run.
    let (mut shortest, mut longest) = (oldest.size.max(1), oldest.size.max(1));
    let mut group = vec![0];
    for index in companions {
        if group.len() >= max_batch.max(1) {
            break;
        }
        let size = pending[index].size.max(1);
        let (low, high) = (shortest.min(size), longest.max(size));
        if share_one_batch(low, high) {
            (shortest, longest) = (low, high);
            group.push(index);
        }
    }
    group
}

/// Starts the model thread: it loads the models, reports on `loaded`, then serves the queue
/// until it is closed and empty.
pub fn spawn_model_thread(
    options: SummarizeOptions,
    queue: Arc<Queue>,
    policy: BatchPolicy,
    loaded: oneshot::Sender<anyhow::Result<Loaded>>,
) -> std::io::Result<thread::JoinHandle<()>> {
    thread::Builder::new().name("precis-model".into()).spawn(move || {
        let mut summarizer = match catch_unwind(AssertUnwindSafe(|| Summarizer::new(options))) {
            Ok(Ok(summarizer)) => summarizer,
            Ok(Err(error)) => {
                queue.close();
                let _ = loaded.send(Err(error));
                fail_waiting(&queue);
                return;
            }
            Err(_) => {
                queue.close();
                let _ = loaded.send(Err(anyhow::anyhow!("loading the models panicked")));
                fail_waiting(&queue);
                return;
            }
        };
        let engine = summarizer.engine_used();
        let _ = loaded.send(Ok(Loaded { engine, notices: summarizer.notices.clone() }));
        // Extractive summaries take a millisecond and gain nothing from company: no waiting.
        let policy = if engine == EngineKind::Abstractive { policy } else { BatchPolicy { wait: Duration::ZERO, ..policy } };
        while let Some(group) = queue.next_group(policy) {
            run_group(&mut summarizer, group, engine, &queue.metrics);
        }
    })
}

/// Answers everything still queued with [`JobError::Stopped`] (the models never loaded).
fn fail_waiting(queue: &Queue) {
    let mut state = queue.lock();
    for job in state.pending.drain(..) {
        let _ = job.reply.send(Err(JobError::Stopped));
    }
    queue.metrics.queue_depth.store(0, Ordering::Relaxed);
}

/// What the model thread needs of the models: `Summarizer`'s methods (a trait so that the panic
/// handling below can be tested with models that panic on purpose).
trait Models {
    fn set_output_shape(&mut self, shape: OutputShape);
    fn set_guard(&mut self, guard: GuardMode);
    fn summarize_many(&self, documents: &[Document]) -> Vec<anyhow::Result<SummaryRecord>>;
    fn compare(&self, document: &Document, budgets: &[NamedBudget], reference: Option<&Document>) -> anyhow::Result<CompareRecord>;
}

impl Models for Summarizer {
    fn set_output_shape(&mut self, shape: OutputShape) {
        Summarizer::set_output_shape(self, shape.length, shape.bullets, shape.guard);
    }

    fn set_guard(&mut self, guard: GuardMode) {
        Summarizer::set_guard(self, guard);
    }

    fn summarize_many(&self, documents: &[Document]) -> Vec<anyhow::Result<SummaryRecord>> {
        Summarizer::summarize_many(self, documents)
    }

    fn compare(&self, document: &Document, budgets: &[NamedBudget], reference: Option<&Document>) -> anyhow::Result<CompareRecord> {
        Summarizer::compare(self, document, budgets, reference)
    }
}

fn run_group(summarizer: &mut impl Models, group: Vec<Job>, engine: EngineKind, metrics: &Metrics) {
    let started = Instant::now();
    let mut summaries: Vec<(Document, oneshot::Sender<Reply>)> = Vec::new();
    let mut shape = None;
    for job in group {
        match job.work {
            Work::Summarize { document, shape: job_shape } => {
                shape = Some(job_shape);
                summaries.push((document, job.reply));
            }
            Work::Compare { document, budgets, reference, guard } => {
                summarizer.set_guard(guard);
                let outcome = catch_unwind(AssertUnwindSafe(|| summarizer.compare(&document, &budgets, reference.as_ref())));
                let (reply, failed) = match outcome {
                    Ok(Ok(record)) => (Ok(Outcome::Compare(Box::new(record))), 0),
                    Ok(Err(error)) => (Err(JobError::Failed(format!("{error:#}"))), 1),
                    Err(_) => {
                        metrics.model_panics.fetch_add(1, Ordering::Relaxed);
                        (Err(JobError::Panicked), 1)
                    }
                };
                let batch = (engine == EngineKind::Abstractive && failed == 0).then_some(1);
                metrics.record_group(1, &[batch], failed, started.elapsed());
                let _ = job.reply.send(reply);
            }
        }
    }
    let Some(shape) = shape else { return };
    summarizer.set_output_shape(shape);
    let (documents, replies): (Vec<Document>, Vec<oneshot::Sender<Reply>>) = summaries.into_iter().unzip();
    let results = summarize_guarded(summarizer, &documents, metrics);
    let batch_sizes: Vec<Option<usize>> = results.iter().map(|result| result.as_ref().ok().and_then(|record| record.stats.batch_size)).collect();
    let failed = results.iter().filter(|result| result.is_err()).count();
    metrics.record_group(documents.len(), &batch_sizes, failed, started.elapsed());
    for (result, reply) in results.into_iter().zip(replies) {
        let _ = reply.send(result.map(|record| Outcome::Summary(Box::new(record))));
    }
}

/// `summarize_many` with panics caught: a group that panics is retried one document at a
/// time, so that only the document at fault fails.
fn summarize_guarded(summarizer: &impl Models, documents: &[Document], metrics: &Metrics) -> Vec<Result<SummaryRecord, JobError>> {
    let attempt = |documents: &[Document]| catch_unwind(AssertUnwindSafe(|| summarizer.summarize_many(documents)));
    let to_reply = |result: anyhow::Result<SummaryRecord>| result.map_err(|error| JobError::Failed(format!("{error:#}")));
    match attempt(documents) {
        Ok(results) => results.into_iter().map(to_reply).collect(),
        Err(_) => {
            metrics.model_panics.fetch_add(1, Ordering::Relaxed);
            documents
                .iter()
                .map(|document| match attempt(std::slice::from_ref(document)) {
                    Ok(mut one) => one.pop().map(to_reply).unwrap_or_else(|| Err(JobError::Failed("no summary was produced".into()))),
                    Err(_) => {
                        metrics.model_panics.fetch_add(1, Ordering::Relaxed);
                        Err(JobError::Panicked)
                    }
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::SourceFormat;
    use crate::pipeline::MAX_BATCH_LENGTH_RATIO;

    fn document(words: usize) -> Document {
        Document { id: "t".into(), title: None, text: "word ".repeat(words), origin: "t".into(), format: SourceFormat::Text, warnings: Vec::new() }
    }

    fn summary_job(words: usize, length: LengthPreset) -> (Job, oneshot::Receiver<Reply>) {
        let (reply, answer) = oneshot::channel();
        let document = document(words);
        (Job { size: document.text.len(), work: Work::Summarize { document, shape: OutputShape { length, bullets: 4, guard: GuardMode::Flag } }, reply }, answer)
    }

    #[test]
    fn groups_start_with_the_oldest_and_take_the_closest_lengths_of_the_same_shape() {
        let mut pending = VecDeque::new();
        let mut answers = Vec::new();
        for (words, length) in [(100, LengthPreset::Medium), (1000, LengthPreset::Medium), (110, LengthPreset::Short), (90, LengthPreset::Medium), (300, LengthPreset::Medium)] {
            let (job, answer) = summary_job(words, length);
            pending.push_back(job);
            answers.push(answer);
        }
        assert_eq!(choose_group(&pending, 3), vec![0, 3]);
        assert_eq!(choose_group(&pending, 1), vec![0]);
        assert_eq!(choose_group(&pending, 8), vec![0, 3]);
    }

    #[test]
    fn a_group_holds_only_lengths_one_model_batch_takes() {
        let mut pending = VecDeque::new();
        let mut answers = Vec::new();
        for words in [100, 160, 60, 140, 75, 110, 1000] {
            let (job, answer) = summary_job(words, LengthPreset::Medium);
            pending.push_back(job);
            answers.push(answer);
        }
        // Closest to 100 words first: 110, then 75 (now the shortest, so nothing over 112.5 may
        // join); 60, 140 and 160 would stretch the group past 1.5 × its shortest; 1000 is far off.
        let group = choose_group(&pending, 8);
        assert_eq!(group, vec![0, 5, 4]);
        let sizes: Vec<usize> = group.iter().map(|&index| pending[index].size).collect();
        let (low, high) = (sizes.iter().min().copied().unwrap_or(0), sizes.iter().max().copied().unwrap_or(0));
        assert!(high as f64 <= low as f64 * MAX_BATCH_LENGTH_RATIO, "{sizes:?}");
    }

    #[test]
    fn a_compare_request_runs_alone() {
        let (reply, _answer) = oneshot::channel();
        let mut pending = VecDeque::new();
        pending.push_back(Job { size: 5, work: Work::Compare { document: document(5), budgets: Vec::new(), reference: None, guard: GuardMode::Flag }, reply });
        let (job, _other) = summary_job(5, LengthPreset::Medium);
        pending.push_back(job);
        assert_eq!(choose_group(&pending, 8), vec![0]);
    }

    /// Models that summarize by echoing, and panic on a document that says "PANIC".
    struct Fragile;

    impl Models for Fragile {
        fn set_output_shape(&mut self, _shape: OutputShape) {}

        fn set_guard(&mut self, _guard: GuardMode) {}

        fn summarize_many(&self, documents: &[Document]) -> Vec<anyhow::Result<SummaryRecord>> {
            assert!(!documents.iter().any(|d| d.text.contains("PANIC")), "a model bug");
            documents.iter().map(|d| Ok(echo(d, documents.len()))).collect()
        }

        fn compare(&self, _: &Document, _: &[NamedBudget], _: Option<&Document>) -> anyhow::Result<CompareRecord> {
            panic!("a model bug in compare")
        }
    }

    fn echo(document: &Document, batch: usize) -> SummaryRecord {
        use crate::render::{InputInfo, OutputEngines, Settings, Stats, Timings};
        let engine = EngineKind::Abstractive;
        SummaryRecord {
            input: InputInfo { id: document.id.clone(), origin: document.origin.clone(), title: None, format: "text".into() },
            headline: document.text.clone(),
            abstract_: document.text.clone(),
            bullets: Vec::new(),
            engine: OutputEngines { headline: engine, abstract_: engine, bullets: engine },
            models: Vec::new(),
            settings: Settings { engine: "abstractive".into(), length: LengthPreset::Medium, target_words: 80, bullets: 4, precision: crate::engine::placement::Precision::Fp32, generation: None },
            stats: Stats { batch_size: Some(batch), ..Stats::default() },
            timings_ms: Timings::default(),
            faithfulness: None,
            warnings: Vec::new(),
        }
    }

    fn job(text: &str, work: impl FnOnce(Document) -> Work) -> (Job, oneshot::Receiver<Reply>) {
        let (reply, answer) = oneshot::channel();
        let document = Document { id: text.into(), title: None, text: text.into(), origin: "t".into(), format: SourceFormat::Text, warnings: Vec::new() };
        (Job { size: text.len(), work: work(document), reply }, answer)
    }

    #[test]
    fn a_panic_fails_only_the_document_at_fault_and_the_thread_goes_on() {
        let metrics = Metrics::default();
        let shape = OutputShape { length: LengthPreset::Medium, bullets: 4, guard: GuardMode::Flag };
        let summary = |document| Work::Summarize { document, shape };
        let (jobs, mut answers): (Vec<Job>, Vec<oneshot::Receiver<Reply>>) = ["first", "PANIC here", "third"].into_iter().map(|text| job(text, summary)).unzip();
        run_group(&mut Fragile, jobs, EngineKind::Abstractive, &metrics);
        let outcomes: Vec<String> = answers
            .iter_mut()
            .map(|answer| match answer.try_recv().expect("answered") {
                Ok(Outcome::Summary(record)) => format!("ok {} batch {:?}", record.abstract_, record.stats.batch_size),
                Ok(Outcome::Compare(_)) => "compare".into(),
                Err(error) => format!("{error:?}"),
            })
            .collect();
        assert_eq!(outcomes, ["ok first batch Some(1)", "Panicked", "ok third batch Some(1)"], "retried one by one after the panic");
        assert_eq!(metrics.model_panics.load(Ordering::Relaxed), 2, "the group's panic and the document's own");

        let (compare, mut answer) = job("x", |document| Work::Compare { document, budgets: Vec::new(), reference: None, guard: GuardMode::Flag });
        run_group(&mut Fragile, vec![compare], EngineKind::Abstractive, &metrics);
        assert!(matches!(answer.try_recv(), Ok(Err(JobError::Panicked))));
        let (fine, mut answer) = job("after", summary);
        run_group(&mut Fragile, vec![fine], EngineKind::Abstractive, &metrics);
        assert!(matches!(answer.try_recv(), Ok(Ok(Outcome::Summary(_)))), "the same models serve the next request");
    }

    #[test]
    fn the_default_queue_holds_64_waiting_requests() {
        let queue = Queue::new(crate::serve::DEFAULT_MAX_QUEUE, Arc::new(Metrics::default()));
        let shape = OutputShape { length: LengthPreset::Medium, bullets: 4, guard: GuardMode::Flag };
        let answers: Vec<_> = (0..64).map(|_| queue.submit(Work::Summarize { document: document(3), shape }).expect("room for 64")).collect();
        assert_eq!(answers.len(), 64);
        assert!(queue.submit(Work::Summarize { document: document(3), shape }).is_err(), "the 65th waits for room");
    }

    #[test]
    fn a_full_queue_refuses_and_abandoned_requests_free_their_place() {
        let queue = Queue::new(2, Arc::new(Metrics::default()));
        let shape = OutputShape { length: LengthPreset::Medium, bullets: 4, guard: GuardMode::Flag };
        let first = queue.submit(Work::Summarize { document: document(3), shape }).expect("room");
        let _second = queue.submit(Work::Summarize { document: document(3), shape }).expect("room");
        assert!(queue.submit(Work::Summarize { document: document(3), shape }).is_err());
        assert!(!queue.has_room());
        drop(first);
        assert!(queue.has_room(), "a request whose client went away no longer takes a place");
        let group = queue.next_group(BatchPolicy { max_batch: 8, wait: Duration::ZERO }).expect("work");
        assert_eq!(group.len(), 1);
        queue.close();
        assert!(queue.next_group(BatchPolicy { max_batch: 8, wait: Duration::ZERO }).is_none());
    }
}
