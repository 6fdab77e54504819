//! Document → summary: engine choice, model loading, input windows, and the assembly of the
//! headline, the abstract and the bullets. Commands call this; it knows nothing about which
//! command called it or how the result will be printed.

use std::time::Instant;

use anyhow::{bail, Result};

use crate::engine::extractive::{self, ExtractiveOptions, ExtractiveSummary};
use crate::engine::placement::Precision;
use crate::engine::seq2seq::{pick_device, Device, GenerationSettings, Seq2SeqModel};
use crate::faithfulness::guard::{guard, Faithfulness, GuardMode, ModelOutputs};
use crate::faithfulness::Source;
use crate::generation::{Generation, SettingSources};
use crate::hub::{self, cache::HubSettings, ResolvedModel};
use crate::input::Document;
use crate::length::{LengthPreset, HEADLINE_MAX_WORDS};
use crate::render::{EngineKind, InputInfo, ModelUsed, OutputEngines, Settings, Stats, SummaryRecord, Timings};
use crate::text;

/// Which engine `summarize` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineChoice {
    /// Abstractive when its model is cached or can be downloaded, otherwise extractive (with a notice).
    Auto,
    /// Pretrained seq2seq models only; a missing model is an error.
    Abstractive,
    /// Sentence extraction: no model, no download.
    Extractive,
}

impl EngineChoice {
    pub fn name(self) -> &'static str {
        match self {
            EngineChoice::Auto => "auto",
            EngineChoice::Abstractive => "abstractive",
            EngineChoice::Extractive => "extractive",
        }
    }
}

/// What to do with an input longer than the model's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LongInputPolicy {
    /// Summarize it whole: split at sentence boundaries into window-sized chunks, summarize each,
    /// then summarize the joined chunk summaries (again, while they are still too long).
    Chunk,
    /// Read only the leading whole sentences that fit; the output says how much was dropped.
    Truncate,
    /// Refuse it, with its token count and the window.
    Error,
}

pub use crate::engine::placement::DeviceChoice;

/// What the user asked for, validated before any work starts.
#[derive(Debug, Clone)]
pub struct SummarizeOptions {
    pub engine: EngineChoice,
    pub model: String,
    pub headline_model: String,
    pub length: LengthPreset,
    pub bullets: usize,
    pub long: LongInputPolicy,
    pub device: DeviceChoice,
    /// How the models' weights are stored and multiplied (`--precision`).
    pub precision: Precision,
    pub hub: HubSettings,
    /// `--guard`: check model outputs against the article (`faithfulness::guard`).
    pub guard: GuardMode,
}

pub(crate) struct LoadedModel {
    pub(crate) resolved: ResolvedModel,
    pub(crate) model: Seq2SeqModel,
    /// The decoding settings in use: a preset's, else the model's own configuration's.
    pub(crate) generation: Generation,
}

/// Holds the loaded models (once per process) and summarizes documents with them.
pub struct Summarizer {
    pub(crate) options: SummarizeOptions,
    pub(crate) abstract_model: Option<LoadedModel>,
    headline_model: Option<LoadedModel>,
    /// Notices for the user (e.g. why the extractive fallback was taken), printed once by the caller.
    pub notices: Vec<String>,
    pub(crate) load_ms: u64,
}

impl Summarizer {
    /// Loads the abstract and the headline models (per the engine choice).
    pub fn new(options: SummarizeOptions) -> Result<Summarizer> {
        Summarizer::load_models(options, true)
    }

    /// Loads only the abstract model: for abstracts at several lengths (`variants`), which
    /// need no headline.
    pub fn abstract_only(options: SummarizeOptions) -> Result<Summarizer> {
        Summarizer::load_models(options, false)
    }

    fn load_models(options: SummarizeOptions, with_headline: bool) -> Result<Summarizer> {
        let started = Instant::now();
        let mut summarizer = Summarizer { options, abstract_model: None, headline_model: None, notices: Vec::new(), load_ms: 0 };
        // A name that is neither a preset nor a usable directory is the user's mistake under every engine.
        hub::check_spec(&summarizer.options.model)?;
        hub::check_spec(&summarizer.options.headline_model)?;
        if summarizer.options.engine != EngineChoice::Extractive {
            let device = pick_device(summarizer.options.device, summarizer.options.precision)?;
            let resolved = if with_headline {
                resolve_both(&summarizer.options).map(|(abstract_resolved, headline_resolved)| (abstract_resolved, Some(headline_resolved)))
            } else {
                hub::resolve(&summarizer.options.model, &summarizer.options.hub).map(|abstract_resolved| (abstract_resolved, None))
            };
            match resolved {
                Ok((abstract_resolved, headline_resolved)) => {
                    let precision = summarizer.options.precision;
                    let abstract_model = load(abstract_resolved, device, precision)?;
                    summarizer.notices.extend(precision_notice(&abstract_model, precision));
                    summarizer.abstract_model = Some(abstract_model);
                    if let Some(headline_resolved) = headline_resolved {
                        let headline_model = load(headline_resolved, device, precision)?;
                        summarizer.notices.extend(precision_notice(&headline_model, precision));
                        summarizer.headline_model = Some(headline_model);
                    }
                }
                Err(unavailable) if summarizer.options.engine == EngineChoice::Auto => {
                    let pulls = if with_headline {
                        format!("`precis models pull {}` and `precis models pull {}`", summarizer.options.model, summarizer.options.headline_model)
                    } else {
                        format!("`precis models pull {}`", summarizer.options.model)
                    };
                    summarizer.notices.push(format!(
                        "precis: using the extractive engine: {}. Run {pulls} with network access to summarize with the pretrained models.",
                        first_line(&unavailable.to_string()),
                    ));
                }
                Err(unavailable) => return Err(unavailable),
            }
        }
        summarizer.load_ms = started.elapsed().as_millis() as u64;
        Ok(summarizer)
    }

    /// Sets the abstract length and the bullet count of the documents summarized next: a
    /// server takes them per request, with its models loaded once.
    pub fn set_output_shape(&mut self, length: LengthPreset, bullets: usize, guard: GuardMode) {
        self.options.length = length;
        self.options.bullets = bullets;
        self.options.guard = guard;
    }

    /// `--guard` for the next calls (the server takes it per request).
    pub fn set_guard(&mut self, guard: GuardMode) {
        self.options.guard = guard;
    }

    pub fn engine_used(&self) -> EngineKind {
        if self.abstract_model.is_some() {
            EngineKind::Abstractive
        } else {
            EngineKind::Extractive
        }
    }

    /// Summarizes one document.
    pub fn summarize(&self, document: &Document) -> Result<SummaryRecord> {
        let mut results = self.summarize_many(std::slice::from_ref(document));
        results.pop().unwrap_or_else(|| bail!("{}: no summary was produced", document.origin))
    }

    /// Summarizes several documents, one result each, in order. With the abstractive engine,
    /// inputs of similar token length go through the model together (padded batches of up to
    /// [`GENERATION_BATCH`]); a document that fails does not fail the others.
    pub fn summarize_many(&self, documents: &[Document]) -> Vec<Result<SummaryRecord>> {
        match (&self.abstract_model, &self.headline_model) {
            (Some(abstract_model), Some(headline_model)) => self.summarize_abstractive(documents, abstract_model, headline_model),
            _ => documents.iter().map(|document| self.summarize_extractive(document)).collect(),
        }
    }

    /// Cleaning and sentence splitting, shared by both engines.
    fn read(&self, document: &Document) -> Result<ReadDocument> {
        self.read_leading(document, usize::MAX)
    }

    /// [`Self::read`] keeping only the first `keep` sentences (all are counted), so an input of
    /// millions of sentences is not held whole when the engine reads only its beginning.
    fn read_leading(&self, document: &Document, keep: usize) -> Result<ReadDocument> {
        let started = Instant::now();
        let normalized = text::normalize(&document.text);
        let mut sentences = Vec::new();
        let mut sentence_count = 0;
        for sentence in text::sentences(&normalized) {
            if sentence_count < keep {
                sentences.push(sentence);
            }
            sentence_count += 1;
        }
        if sentences.is_empty() {
            bail!("{}: no text to summarize", document.origin);
        }
        let stats = Stats { input_words: text::count_words(&normalized), input_sentences: sentence_count, ..Stats::default() };
        let timings = Timings { load: self.load_ms, ..Timings::default() };
        Ok(ReadDocument { started, sentences, stats, timings, warnings: document.warnings.clone() })
    }

    fn extractive_summary(&self, sentences: &[text::Sentence], bullets: usize) -> ExtractiveSummary {
        extractive::summarize_sentences(sentences, &ExtractiveOptions { abstract_words: self.options.length.target_words(), bullets })
    }

    fn summarize_extractive(&self, document: &Document) -> Result<SummaryRecord> {
        let mut read = self.read_leading(document, extractive::SENTENCES_READ)?;
        let step = Instant::now();
        let ExtractiveSummary { headline, abstract_sentences, bullets } = self.extractive_summary(&read.sentences, self.options.bullets);
        read.timings.abstract_ = step.elapsed().as_millis() as u64;
        let engines = OutputEngines { headline: EngineKind::Extractive, abstract_: EngineKind::Extractive, bullets: EngineKind::Extractive };
        let summary = Summary { headline, abstract_text: abstract_sentences.join(" "), bullets, engines, models: Vec::new(), generation: None };
        Ok(self.record(document, read, summary))
    }

    fn summarize_abstractive(&self, documents: &[Document], abstract_model: &LoadedModel, headline_model: &LoadedModel) -> Vec<Result<SummaryRecord>> {
        let abstract_settings = scale_for_length(&abstract_model.generation.settings.abstract_, self.options.length);
        let bullet_settings = abstract_model.generation.settings.bullets;
        let headline_settings = headline_model.generation.settings.headline;
        // The abstract and the bullets read the same input: one encoder pass serves both.
        let body_settings: Vec<GenerationSettings> =
            if bullet_settings == abstract_settings { vec![abstract_settings] } else { vec![abstract_settings, bullet_settings] };

        let mut prepared: Vec<Result<Prepared>> = documents.iter().map(|document| self.prepare(document, abstract_model, headline_model)).collect();

        let bodies = generate_batched(abstract_model, &mut prepared, |p| &p.encoder_input, &body_settings, |p, elapsed_ms, batch| {
            p.read.timings.abstract_ = elapsed_ms;
            p.read.stats.batch_size = Some(batch);
        });
        let headlines = generate_batched(headline_model, &mut prepared, |p| &p.headline_input, std::slice::from_ref(&headline_settings), |p, elapsed_ms, _| {
            p.read.timings.headline = elapsed_ms;
        });

        let mut abstract_sources = abstract_model.generation.abstract_sources.clone();
        if abstract_settings != abstract_model.generation.settings.abstract_ {
            note_length_scaling(&mut abstract_sources, self.options.length);
        }
        let generation = serde_json::json!({
            "abstract": abstract_settings, "bullets": bullet_settings, "headline": headline_settings,
            "sources": { "abstract": abstract_sources, "bullets": abstract_model.generation.bullets_sources, "headline": headline_model.generation.headline_sources },
        });
        prepared
            .into_iter()
            .zip(bodies)
            .zip(headlines)
            .zip(documents)
            .map(|(((prepared, body), headline), document)| {
                let mut prepared = prepared?;
                let body = body?;
                let headline_raw = headline?.into_iter().next().unwrap_or_default();
                let abstract_raw = body.first().cloned().unwrap_or_default();
                let bullet_source = body.get(1).cloned().unwrap_or_else(|| abstract_raw.clone());
                let summary = self.assemble(&mut prepared.read, &abstract_raw, &bullet_source, &headline_raw, abstract_model, headline_model, generation.clone());
                Ok(self.record(document, prepared.read, summary))
            })
            .collect()
    }

    /// Reads a document and fits it to the models' windows (chunking, truncating or refusing a
    /// long input as `--long` says).
    fn prepare(&self, document: &Document, abstract_model: &LoadedModel, headline_model: &LoadedModel) -> Result<Prepared> {
        let mut read = self.read(document)?;
        let ReadDocument { sentences, stats, timings, warnings, .. } = &mut read;
        let encoder_input = self.abstract_model_input(abstract_model, document, sentences, stats, timings, warnings)?;
        let headline_input = fit_window(&headline_model.model, &read.sentences, headline_model.model.window()).ids;
        Ok(Prepared { read, encoder_input, headline_input })
    }

    /// Headline, abstract and bullets from the generated texts, with the extractive engine
    /// filling in (and saying so) where the model wrote too little.
    #[allow(clippy::too_many_arguments)]
    fn assemble(
        &self,
        read: &mut ReadDocument,
        abstract_raw: &str,
        bullet_source: &str,
        headline_raw: &str,
        abstract_model: &LoadedModel,
        headline_model: &LoadedModel,
        generation: serde_json::Value,
    ) -> Summary {
        let abstract_text = complete_sentences(abstract_raw).join(" ");

        let step = Instant::now();
        let mut bullets = distinct_sentences(&complete_sentences(bullet_source), self.options.bullets);
        let mut bullets_engine = EngineKind::Abstractive;
        let wanted = self.options.bullets.min(3);
        if bullets.len() < wanted {
            // The model wrote too few distinct sentences: top up from the extractive ranking, and say so.
            let fill = self.extractive_summary(&read.sentences, self.options.bullets).bullets;
            let before = bullets.len();
            for candidate in fill {
                if bullets.len() >= wanted {
                    break;
                }
                if !bullets.iter().any(|b| near_duplicate(b, &candidate)) {
                    bullets.push(candidate);
                }
            }
            if bullets.len() > before {
                bullets_engine = EngineKind::Extractive;
                read.warnings.push(format!(
                    "the model wrote {before} distinct bullet sentence(s); {} more were extracted from the article",
                    bullets.len() - before
                ));
            }
        }
        read.timings.bullets = step.elapsed().as_millis() as u64;

        let mut headline = clean_headline(headline_raw);
        let mut headline_engine = EngineKind::Abstractive;
        if headline.is_empty() {
            headline = self.extractive_summary(&read.sentences, 0).headline;
            headline_engine = EngineKind::Extractive;
            read.warnings.push("the headline model returned no words; the headline was extracted from the article".into());
        }

        Summary {
            headline,
            abstract_text,
            bullets,
            engines: OutputEngines { headline: headline_engine, abstract_: EngineKind::Abstractive, bullets: bullets_engine },
            models: vec![model_used("abstract, bullets", abstract_model), model_used("headline", headline_model)],
            generation: Some(generation),
        }
    }

    fn record(&self, document: &Document, read: ReadDocument, mut summary: Summary) -> SummaryRecord {
        let ReadDocument { started, mut stats, mut timings, mut warnings, sentences } = read;
        let faithfulness = self.guard(&sentences, &mut summary, &mut warnings);
        stats.output_words = text::count_words(&summary.abstract_text);
        timings.total = started.elapsed().as_millis() as u64 + self.load_ms;
        SummaryRecord {
            input: InputInfo {
                id: document.id.clone(),
                origin: document.origin.clone(),
                title: document.title.clone(),
                format: document.format.as_str().to_string(),
            },
            headline: summary.headline,
            abstract_: summary.abstract_text,
            bullets: summary.bullets,
            engine: summary.engines,
            models: summary.models,
            settings: Settings {
                engine: self.options.engine.name().to_string(),
                length: self.options.length,
                target_words: self.options.length.target_words(),
                bullets: self.options.bullets,
                precision: self.options.precision,
                generation: summary.generation,
            },
            stats,
            timings_ms: timings,
            faithfulness,
            warnings,
        }
    }

    /// `--guard`: the outputs a model wrote, checked against the article (and pruned under
    /// `drop`) by `faithfulness::guard`. Bullets the extractive engine added are checked too
    /// (copied sentences pass).
    fn guard(&self, sentences: &[text::Sentence], summary: &mut Summary, warnings: &mut Vec<String>) -> Option<Faithfulness> {
        if summary.models.is_empty() || self.options.guard == GuardMode::Off {
            return None;
        }
        let source = Source::from_sentences(sentences).ok()?;
        let outputs = ModelOutputs {
            headline: (summary.engines.headline == EngineKind::Abstractive).then_some(&mut summary.headline),
            abstract_: (summary.engines.abstract_ == EngineKind::Abstractive).then_some(&mut summary.abstract_text),
            bullets: Some(&mut summary.bullets),
        };
        guard(&source, self.options.guard, outputs, warnings)
    }

    /// The abstract model's encoder input for a document: the whole text when it fits the
    /// window, else what `--long` says (chunk summaries, leading sentences, or an error). Fills
    /// the token counts, chunk statistics and warnings of the output.
    pub(crate) fn abstract_model_input(
        &self,
        abstract_model: &LoadedModel,
        document: &Document,
        sentences: &[text::Sentence],
        stats: &mut Stats,
        timings: &mut Timings,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<i64>> {
        let model = &abstract_model.model;
        let window = model.window();
        let sentence_texts: Vec<String> = sentences.iter().map(|s| s.text.clone()).collect();
        let whole = model.encode(&sentence_texts.join(" "));
        stats.input_tokens = Some(whole.len());
        stats.tokens_used = Some(whole.len());
        stats.window = Some(window);
        stats.chunks = Some(1);
        stats.passes = Some(1);
        if whole.len() <= window {
            return Ok(whole);
        }
        Ok(match self.options.long {
            LongInputPolicy::Error => bail!(
                "{}: {} tokens exceed the {window}-token window of {}; use --long chunk to summarize it whole, or --long truncate to read only its beginning",
                document.origin,
                whole.len(),
                abstract_model.resolved.spec
            ),
            LongInputPolicy::Truncate => {
                let fitted = fit_window(model, sentences, window);
                stats.tokens_used = Some(fitted.tokens_used);
                stats.truncated = true;
                stats.dropped_tokens = fitted.input_tokens - fitted.tokens_used;
                warnings.push(format!(
                    "{}: {} tokens exceed the {}-token window of {}; --long truncate: summarized the first {} of {} sentences ({} tokens) and dropped {} tokens",
                    document.origin,
                    fitted.input_tokens,
                    window,
                    abstract_model.resolved.spec,
                    fitted.sentences_used,
                    sentences.len(),
                    fitted.tokens_used,
                    stats.dropped_tokens
                ));
                fitted.ids
            }
            LongInputPolicy::Chunk => {
                let step = Instant::now();
                let condensed = condense(model, sentence_texts, &abstract_model.generation.settings.abstract_)?;
                timings.chunks = step.elapsed().as_millis() as u64;
                stats.chunks = Some(condensed.first_pass_chunks);
                stats.passes = Some(condensed.passes + 1);
                stats.split_sentences = condensed.split_sentences;
                if condensed.split_sentences > 0 {
                    warnings.push(format!(
                        "{}: {} sentence(s) longer than the {window}-token window were split at word boundaries",
                        document.origin, condensed.split_sentences
                    ));
                }
                model.encode(&condensed.text)
            }
        })
    }
}

/// A document cleaned and split, with the numbers and notes gathered so far.
struct ReadDocument {
    started: Instant,
    sentences: Vec<text::Sentence>,
    stats: Stats,
    timings: Timings,
    warnings: Vec<String>,
}

/// A document ready for the models: the encoder inputs of the abstract and headline models.
struct Prepared {
    read: ReadDocument,
    encoder_input: Vec<i64>,
    headline_input: Vec<i64>,
}

/// What the engines produced for one document.
struct Summary {
    headline: String,
    abstract_text: String,
    bullets: Vec<String>,
    engines: OutputEngines,
    models: Vec<ModelUsed>,
    generation: Option<serde_json::Value>,
}

/// Documents whose inputs go through the model in one padded batch, at most this many.
pub const GENERATION_BATCH: usize = 8;
/// A batch takes no input longer than this many times its shortest one, so padding stays cheap.
pub const MAX_BATCH_LENGTH_RATIO: f64 = 1.5;

/// Whether inputs from `shortest` to `longest` long may share one padded batch
/// ([`MAX_BATCH_LENGTH_RATIO`]; a length of 0 counts as 1).
pub fn share_one_batch(shortest: usize, longest: usize) -> bool {
    longest as f64 <= shortest.max(1) as f64 * MAX_BATCH_LENGTH_RATIO
}

/// Groups inputs (by index) into batches of similar length: sorted by length, cut when a batch is
/// full or the next input is much longer than the batch's shortest. Deterministic for a given
/// list of lengths, so the same documents are always batched the same way.
pub fn length_batches(lengths: &[usize], max_batch: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&index| (lengths[index], index));
    let mut batches: Vec<Vec<usize>> = Vec::new();
    for index in order {
        let fits = batches.last().is_some_and(|batch| {
            let shortest = batch.first().map_or(0, |&first| lengths[first]);
            batch.len() < max_batch.max(1) && share_one_batch(shortest, lengths[index])
        });
        match batches.last_mut() {
            Some(batch) if fits => batch.push(index),
            _ => batches.push(vec![index]),
        }
    }
    batches
}

/// Runs `model` over the input `input_of` picks from every prepared document, in batches of
/// similar length, each batch decoded under every `settings` from one encoder pass. Returns the
/// texts per document (one per settings). When a batch fails, its documents are retried one by
/// one so that only the one at fault fails. `record` gets each document's share of its batch's
/// time (ms) and the batch's size.
fn generate_batched(
    model: &LoadedModel,
    prepared: &mut [Result<Prepared>],
    input_of: impl Fn(&Prepared) -> &Vec<i64>,
    settings: &[GenerationSettings],
    mut record: impl FnMut(&mut Prepared, u64, usize),
) -> Vec<Result<Vec<String>>> {
    // A document that could not be prepared keeps its error in `prepared`; its entry here is unused.
    let mut results: Vec<Result<Vec<String>>> = (0..prepared.len()).map(|_| Ok(Vec::new())).collect();
    let ready: Vec<usize> = (0..prepared.len()).filter(|&index| prepared[index].is_ok()).collect();
    let lengths: Vec<usize> = ready.iter().map(|&index| prepared[index].as_ref().map_or(0, |p| input_of(p).len())).collect();
    for batch in length_batches(&lengths, GENERATION_BATCH) {
        let members: Vec<usize> = batch.iter().map(|&position| ready[position]).collect();
        let inputs: Vec<Vec<i64>> = members.iter().map(|&index| prepared[index].as_ref().map_or_else(|_| Vec::new(), |p| input_of(p).clone())).collect();
        let step = Instant::now();
        let outcome = generate_texts(model, &inputs, settings);
        let share = step.elapsed().as_millis() as u64 / members.len() as u64;
        match outcome {
            Ok(texts) => {
                for (texts, &index) in texts.into_iter().zip(&members) {
                    results[index] = Ok(texts);
                    if let Ok(p) = &mut prepared[index] {
                        record(p, share, members.len());
                    }
                }
            }
            Err(error) if members.len() == 1 => results[members[0]] = Err(error),
            Err(_) => {
                for (&index, input) in members.iter().zip(&inputs) {
                    let step = Instant::now();
                    results[index] = generate_texts(model, std::slice::from_ref(input), settings).and_then(|mut texts| {
                        texts.pop().ok_or_else(|| anyhow::anyhow!("generation returned no output"))
                    });
                    if let Ok(p) = &mut prepared[index] {
                        record(p, step.elapsed().as_millis() as u64, 1);
                    }
                }
            }
        }
    }
    results
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or(message)
}

/// Says so when a model runs at another precision than asked for (only precis's BART runs at
/// bf16 and int8; precis's T5 and PEGASUS and rust-bert's networks run in fp32).
fn precision_notice(loaded: &LoadedModel, asked: Precision) -> Option<String> {
    let got = loaded.model.precision();
    (got != asked).then(|| {
        format!(
            "precis: --precision {}: {} runs on {}'s {} network, in {} (the output says so in models[].precision)",
            asked.name(),
            loaded.resolved.id,
            loaded.model.network_implementation(),
            loaded.model.architecture().name(),
            got.name()
        )
    })
}

fn resolve_both(options: &SummarizeOptions) -> Result<(ResolvedModel, ResolvedModel)> {
    Ok((hub::resolve(&options.model, &options.hub)?, hub::resolve(&options.headline_model, &options.hub)?))
}

fn load(resolved: ResolvedModel, device: Device, precision: Precision) -> Result<LoadedModel> {
    let model = Seq2SeqModel::load_at(&resolved.files, resolved.prefix.as_deref(), resolved.window, device, precision)?;
    let generation = resolved.generation.clone().unwrap_or_else(|| model.configured_generation().clone());
    Ok(LoadedModel { resolved, model, generation })
}

/// Says that `--length` scaled the abstract's token limits.
fn note_length_scaling(sources: &mut SettingSources, length: LengthPreset) {
    for field in ["min_tokens", "max_tokens"] {
        if let Some(source) = sources.get_mut(field) {
            source.push_str(&format!(", scaled for --length {}", length.name()));
        }
    }
}

pub(crate) fn model_used(role: &str, loaded: &LoadedModel) -> ModelUsed {
    let resolved = &loaded.resolved;
    ModelUsed {
        role: role.to_string(),
        id: resolved.id.clone(),
        revision: resolved.revision.clone(),
        license: resolved.license.clone(),
        precision: loaded.model.precision(),
    }
}

/// Chunks of one pass are generated this many at a time (one padded batch).
const CHUNK_BATCH: usize = 8;
/// Sentences shared by consecutive chunks, so that no chunk starts without context.
const CHUNK_OVERLAP: usize = 1;
/// Give up on an input that needs more passes than this (each pass shrinks it at least fourfold).
const MAX_PASSES: usize = 8;

struct Condensed {
    /// Joined chunk summaries, short enough for one window.
    text: String,
    first_pass_chunks: usize,
    passes: usize,
    split_sentences: usize,
}

/// Map-reduce over a long input: summarize window-sized chunks (batched through the model), join
/// the summaries, and repeat while the joined text is still longer than the window.
fn condense(model: &Seq2SeqModel, mut sentences: Vec<String>, medium: &GenerationSettings) -> Result<Condensed> {
    let window = model.window();
    // Chunk summaries are at most a quarter of the window, so every pass shrinks the text fourfold.
    let max_tokens = medium.max_tokens.min((window / 4).max(2) as u32);
    let settings = GenerationSettings { max_tokens, min_tokens: medium.min_tokens.min(max_tokens / 2), ..*medium };
    let overhead = model.count_tokens("");
    let budget = window.saturating_sub(overhead).max(1);
    let mut condensed = Condensed { text: String::new(), first_pass_chunks: 0, passes: 0, split_sentences: 0 };
    loop {
        let (units, split) = split_oversized(model, &sentences, budget, overhead);
        let unit_tokens: Vec<usize> = units.iter().map(|u| model.count_tokens(&format!(" {u}")).saturating_sub(overhead)).collect();
        let joined = |range: std::ops::Range<usize>| units[range].join(" ");
        let chunks = crate::chunk::plan(&unit_tokens, budget, CHUNK_OVERLAP, |range| model.count_tokens(&joined(range)) <= window);
        if condensed.passes == 0 {
            condensed.first_pass_chunks = chunks.len();
            condensed.split_sentences = split;
        }
        let mut summaries = Vec::with_capacity(chunks.len());
        for batch in chunks.chunks(CHUNK_BATCH) {
            let inputs: Vec<Vec<i64>> = batch.iter().map(|range| model.encode(&joined(range.clone()))).collect();
            for output in model.generate(&inputs, &settings)? {
                summaries.extend(complete_sentences(&model.decode(&output)));
            }
        }
        condensed.passes += 1;
        let text = summaries.join(" ");
        let tokens = model.count_tokens(&text);
        if tokens <= window {
            condensed.text = text;
            return Ok(condensed);
        }
        if condensed.passes >= MAX_PASSES {
            bail!("the input is still {tokens} tokens after {} chunk passes; try --long truncate", condensed.passes);
        }
        sentences = summaries;
    }
}

/// Sentences as chunking units; a sentence longer than the budget is cut at word boundaries
/// into pieces that fit (returned count: how many sentences were cut).
fn split_oversized(model: &Seq2SeqModel, sentences: &[String], budget: usize, overhead: usize) -> (Vec<String>, usize) {
    let mut units = Vec::with_capacity(sentences.len());
    let mut split = 0;
    for sentence in sentences {
        if model.count_tokens(sentence).saturating_sub(overhead) <= budget {
            units.push(sentence.clone());
            continue;
        }
        split += 1;
        let mut piece: Vec<&str> = Vec::new();
        for word in sentence.split_whitespace() {
            piece.push(word);
            if piece.len() > 1 && model.count_tokens(&piece.join(" ")).saturating_sub(overhead) > budget {
                piece.pop();
                units.push(piece.join(" "));
                piece = vec![word];
            }
        }
        if !piece.is_empty() {
            // A single "word" longer than the window (e.g. a pasted blob) is kept whole; the
            // exact fit test then gives it a chunk of its own.
            units.push(piece.join(" "));
        }
    }
    (units, split)
}

/// The encoder input for a model: the whole text when it fits the window, otherwise the longest
/// run of whole leading sentences that fits (the caller reports what was dropped).
struct FittedInput {
    ids: Vec<i64>,
    input_tokens: usize,
    tokens_used: usize,
    sentences_used: usize,
}

fn fit_window(model: &Seq2SeqModel, sentences: &[text::Sentence], window: usize) -> FittedInput {
    let joined = |count: usize| sentences[..count].iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" ");
    let all = model.encode(&joined(sentences.len()));
    let input_tokens = all.len();
    if input_tokens <= window {
        return FittedInput { ids: all, input_tokens, tokens_used: input_tokens, sentences_used: sentences.len() };
    }
    // Binary search on the number of whole sentences whose encoding fits.
    let (mut low, mut high) = (0usize, sentences.len());
    while low < high {
        let mid = (low + high + 1) / 2;
        if model.encode(&joined(mid)).len() <= window {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    if low == 0 {
        // Even the first sentence is longer than the window: keep its first window's worth of tokens.
        let first = model.encode(&sentences[0].text);
        let ids: Vec<i64> = first.into_iter().take(window).collect();
        let used = ids.len();
        return FittedInput { ids, input_tokens, tokens_used: used, sentences_used: 0 };
    }
    let ids = model.encode(&joined(low));
    let used = ids.len();
    FittedInput { ids, input_tokens, tokens_used: used, sentences_used: low }
}

/// Texts for a batch of inputs: `result[i][v]` is input `i` decoded under `settings[v]`, all
/// from one encoder pass.
fn generate_texts(loaded: &LoadedModel, inputs: &[Vec<i64>], settings: &[GenerationSettings]) -> Result<Vec<Vec<String>>> {
    let variants = loaded.model.generate_variants(inputs, settings)?;
    Ok((0..inputs.len())
        .map(|row| variants.iter().map(|outputs| outputs.get(row).map(|ids| loaded.model.decode(ids)).unwrap_or_default()).collect())
        .collect())
}

/// Length presets scale the preset's abstract settings, which are tuned for `medium`.
pub fn scale_for_length(medium: &GenerationSettings, length: LengthPreset) -> GenerationSettings {
    let factor = length.target_words() as f64 / LengthPreset::Medium.target_words() as f64;
    let scale = |tokens: u32| ((tokens as f64) * factor).round().max(1.0) as u32;
    GenerationSettings { min_tokens: scale(medium.min_tokens), max_tokens: scale(medium.max_tokens).max(scale(medium.min_tokens) + 1), ..*medium }
}

/// The sentences of generated text that are complete; a final sentence cut off by the token
/// limit is dropped, unless it is all there is.
pub fn complete_sentences(generated: &str) -> Vec<String> {
    let normalized = text::normalize(generated);
    let mut sentences: Vec<String> = text::split_sentences(&normalized).into_iter().map(|s| s.text.trim().to_string()).filter(|s| !s.is_empty()).collect();
    if sentences.len() > 1 {
        if let Some(last) = sentences.last() {
            if !text::ends_with_terminal_punctuation(last) {
                sentences.pop();
            }
        }
    }
    sentences
}

/// Up to `limit` sentences, skipping any that nearly repeats an earlier one.
pub fn distinct_sentences(sentences: &[String], limit: usize) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for sentence in sentences {
        if kept.len() >= limit {
            break;
        }
        if !kept.iter().any(|k| near_duplicate(k, sentence)) {
            kept.push(sentence.clone());
        }
    }
    kept
}

/// Two sentences are near-duplicates when most of their words are shared (Jaccard ≥ 0.6).
pub fn near_duplicate(a: &str, b: &str) -> bool {
    use std::collections::BTreeSet;
    let words = |s: &str| -> BTreeSet<String> {
        s.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(|w| w.to_lowercase()).collect()
    };
    let (wa, wb) = (words(a), words(b));
    if wa.is_empty() || wb.is_empty() {
        return wa == wb;
    }
    let shared = wa.intersection(&wb).count() as f64;
    let union = wa.union(&wb).count() as f64;
    shared / union >= 0.6
}

/// One line, at most `HEADLINE_MAX_WORDS` words, no trailing period.
pub fn clean_headline(generated: &str) -> String {
    let line = generated.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    let words: Vec<&str> = line.split_whitespace().take(HEADLINE_MAX_WORDS).collect();
    let mut headline = words.join(" ");
    while headline.ends_with(['.', ',', ';', ':']) {
        headline.pop();
    }
    headline.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_last_sentence_is_dropped() {
        let sentences = complete_sentences("Japan and Britain agreed to cooperate. The two leaders also said that the");
        assert_eq!(sentences, vec!["Japan and Britain agreed to cooperate.".to_string()]);
    }

    #[test]
    fn headline_is_capped_and_has_no_period() {
        let headline = clean_headline("One two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen.");
        assert_eq!(headline.split_whitespace().count(), HEADLINE_MAX_WORDS);
        assert!(!headline.ends_with('.'));
        assert_eq!(clean_headline("Abe and Cameron agree on defence."), "Abe and Cameron agree on defence");
    }

    #[test]
    fn near_duplicates_are_removed() {
        let sentences = vec![
            "Abe and Cameron agreed to boost security cooperation.".to_string(),
            "Abe and Cameron agreed to boost security cooperation on Thursday.".to_string(),
            "Japan and the EU aim for a trade deal in 2015.".to_string(),
        ];
        assert_eq!(distinct_sentences(&sentences, 5).len(), 2);
    }

    #[test]
    fn similar_lengths_are_batched_together_and_every_input_once() {
        let lengths = [500, 90, 100, 480, 95, 1000, 110, 300];
        let batches = length_batches(&lengths, 3);
        assert_eq!(batches, vec![vec![1, 4, 2], vec![6], vec![7], vec![3, 0], vec![5]]);
        let mut seen: Vec<usize> = batches.concat();
        seen.sort_unstable();
        assert_eq!(seen, (0..lengths.len()).collect::<Vec<_>>());
        for batch in &batches {
            let (shortest, longest) = (lengths[batch[0]], lengths[batch[batch.len() - 1]]);
            assert!(longest as f64 <= shortest as f64 * MAX_BATCH_LENGTH_RATIO);
        }
        assert!(length_batches(&[], 8).is_empty());
        assert_eq!(length_batches(&[5, 5, 5], 1), vec![vec![0], vec![1], vec![2]]);
    }

    #[test]
    fn length_scaling_keeps_medium_and_orders_the_others() {
        let medium = GenerationSettings { min_tokens: 56, max_tokens: 142, beams: 4, length_penalty: 2.0, no_repeat_ngram: 3, early_stopping: true };
        assert_eq!(scale_for_length(&medium, LengthPreset::Medium), medium);
        let short = scale_for_length(&medium, LengthPreset::Short);
        let long = scale_for_length(&medium, LengthPreset::Long);
        assert!(short.max_tokens < medium.max_tokens && medium.max_tokens < long.max_tokens);
    }
}
