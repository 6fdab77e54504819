//! precis's own decoding loop for encoder-decoder models: greedy search and beam search with the
//! semantics of Hugging Face transformers 4.44.2 `generate()` (`_sample` without sampling,
//! `_beam_search`, `BeamSearchScorer`, `BeamHypotheses` and the logits processors), so that the
//! same weights give the same token ids.
//!
//! Owns: the logits processors precis uses, in transformers' order (no-repeat n-gram, minimum
//! length, forced BOS, forced EOS), candidate selection, finished-hypothesis bookkeeping, stopping,
//! and the layout of the returned ids (decoder start token first, rows of one batch padded to one
//! length with the pad token, exactly as transformers returns them).
//!
//! It does not own the network: a [`StepModel`] runs the encoder once per batch and one decoder
//! step at a time with a key/value cache (`engine::network` wraps rust-bert's models).
//!
//! Numerics follow transformers operation by operation where the result could depend on it:
//! `log_softmax` over the raw logits before the processors (beam search), processors applied to
//! the processed scores, `topk` over `batch × (beams · vocab)`, beam scores kept in f32, and the
//! length-normalized hypothesis scores computed in f64 from the f32 sums, as Python does.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use tch::{Device, Kind, Tensor};

use super::seq2seq::GenerationSettings;

/// A network that can be decoded step by step.
pub trait StepModel {
    /// The decoder's key/value cache between steps.
    type Cache;
    /// What every decoder step of one decoding reads from the encoder side (the encoder states
    /// and mask, or keys and values already projected from them).
    type Source;

    /// Encoder hidden states (`[batch, source, hidden]`) for right-padded ids and their mask.
    fn encode(&self, input_ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor>;

    /// Prepares the encoder side for decoding `beams` rows per input (the rows of an input
    /// adjacent), from the encoder states and mask of one row per input.
    fn prepare(&self, encoder_states: &Tensor, attention_mask: &Tensor, beams: usize) -> Result<Self::Source>;

    /// Next-token logits (`[rows, vocab]`) for the last token of each row (`[rows, 1]`).
    fn step(&self, last_tokens: &Tensor, source: &Self::Source, cache: Option<Self::Cache>) -> Result<(Tensor, Self::Cache)>;

    /// Held from the first decoder step to the last: a network whose steps of `rows` rows run on
    /// precis's own kernel threads (`engine::kernels`) has libtorch work on one thread meanwhile.
    fn step_threads(&self, _rows: usize) -> Option<super::kernels::SingleThreadedLibtorch> {
        None
    }

    /// The cache with its rows taken from `rows` (beam search keeps the cache of the beams it
    /// continues), as the model's transformers `_reorder_cache` does.
    fn reorder(&self, cache: Self::Cache, rows: &Tensor) -> Result<Self::Cache>;
}

/// The token ids that drive decoding, from the model's config (transformers' generation config
/// falls back to config.json for all of them).
#[derive(Debug, Clone, PartialEq)]
pub struct SpecialTokens {
    /// The first decoder input (`decoder_start_token_id`, else `bos_token_id`).
    pub decoder_start: i64,
    /// End-of-sequence ids; the first is the one written at the end of finished beams.
    pub eos: Vec<i64>,
    /// Fills finished rows of a batch (`pad_token_id`, else the first end-of-sequence id).
    pub pad: Option<i64>,
    /// The only token allowed as the first generated token (BART's `<s>`).
    pub forced_bos: Option<i64>,
    /// The only tokens allowed at the last position (`forced_eos_token_id`).
    pub forced_eos: Vec<i64>,
}

impl SpecialTokens {
    /// Reads the ids from a model's config.json as transformers does (`eos_token_id` and
    /// `forced_eos_token_id` may be one id or a list).
    pub fn from_config(config: &serde_json::Value) -> Result<SpecialTokens> {
        let one = |key: &str| -> Result<Option<i64>> {
            match config.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(value) => value.as_i64().map(Some).ok_or_else(|| anyhow!("config.json: {key} must be a token id, not {value}")),
            }
        };
        let many = |key: &str| -> Result<Vec<i64>> {
            match config.get(key) {
                None | Some(serde_json::Value::Null) => Ok(Vec::new()),
                Some(serde_json::Value::Array(ids)) => ids
                    .iter()
                    .map(|id| id.as_i64().ok_or_else(|| anyhow!("config.json: {key} must list token ids, not {id}")))
                    .collect(),
                Some(value) => value.as_i64().map(|id| vec![id]).ok_or_else(|| anyhow!("config.json: {key} must be a token id or a list of them, not {value}")),
            }
        };
        let eos = many("eos_token_id")?;
        let decoder_start = match one("decoder_start_token_id")?.or(one("bos_token_id")?) {
            Some(id) => id,
            None => bail!("config.json has neither decoder_start_token_id nor bos_token_id: the decoder cannot start"),
        };
        Ok(SpecialTokens {
            decoder_start,
            pad: one("pad_token_id")?.or(eos.first().copied()),
            forced_bos: one("forced_bos_token_id")?,
            forced_eos: many("forced_eos_token_id")?,
            eos,
        })
    }
}

/// Refuses settings the loop cannot honour, before any network work.
pub fn check_settings(settings: &GenerationSettings) -> Result<()> {
    settings.validate("generation settings")?;
    if settings.max_tokens < 2 {
        // transformers refuses this too: the decoder start token alone already reaches max_length.
        bail!("max_tokens ({}) must be at least 2: the decoder start token counts", settings.max_tokens);
    }
    Ok(())
}

/// Generates one sequence per input row from encoder states already computed
/// (`StepModel::encode` over right-padded `[batch, source]` ids and their `attention_mask`), so
/// that several decodings of the same inputs (other lengths, other settings) share one encoder
/// pass. The rows returned start with the decoder start token and all have the same length,
/// finished rows being padded as transformers pads them.
pub fn generate_encoded<M: StepModel>(
    model: &M,
    encoder_states: &Tensor,
    attention_mask: &Tensor,
    settings: &GenerationSettings,
    tokens: &SpecialTokens,
) -> Result<Vec<Vec<i64>>> {
    check_settings(settings)?;
    let _no_grad = tch::no_grad_guard();
    if settings.beams == 1 {
        greedy(model, encoder_states, attention_mask, settings, tokens)
    } else {
        beam_search(model, encoder_states, attention_mask, settings, tokens)
    }
}

/// Teacher-forced next-token log-probabilities: for each input row (encoder states as for
/// [`generate_encoded`]) and its `targets` (the tokens after the decoder start), the decoder is
/// fed the decoder start and the targets one by one, and `result[row][t]` is the
/// log-probability (log-softmax of the raw logits, no logits processor) it gave `targets[row][t]`.
/// This is how precis's precisions are compared with fp32 (`bench/compare.sh`).
pub fn score_encoded<M: StepModel>(model: &M, encoder_states: &Tensor, attention_mask: &Tensor, targets: &[Vec<i64>], tokens: &SpecialTokens) -> Result<Vec<Vec<f32>>> {
    let _no_grad = tch::no_grad_guard();
    let rows = encoder_states.size().first().copied().unwrap_or(0) as usize;
    if targets.len() != rows {
        bail!("{} target sequences for {rows} inputs", targets.len());
    }
    let device = encoder_states.device();
    let longest = targets.iter().map(Vec::len).max().unwrap_or(0);
    let source = model.prepare(encoder_states, attention_mask, 1)?;
    let _threads = model.step_threads(rows);
    let mut scores: Vec<Vec<f32>> = targets.iter().map(|t| Vec::with_capacity(t.len())).collect();
    let mut sequences = vec![vec![tokens.decoder_start]; rows];
    let mut cache = None;
    for position in 0..longest {
        let last = last_tokens(&sequences, device)?;
        let (logits, next_cache) = model.step(&last, &source, cache.take())?;
        cache = Some(next_cache);
        let log_probs = logits.f_log_softmax(-1, Kind::Float)?;
        // Rows whose targets have ended are fed their last token again; their scores are not kept.
        let next: Vec<i64> = targets.iter().zip(&sequences).map(|(t, s)| t.get(position).copied().unwrap_or(*s.last().unwrap_or(&0))).collect();
        let picked: Vec<f32> = to_vec(&log_probs.f_gather(1, &Tensor::f_from_slice(&next)?.f_to_device(device)?.f_unsqueeze(1)?, false)?)?;
        for (row, target) in targets.iter().enumerate() {
            if position < target.len() {
                scores[row].push(picked[row]);
            }
            sequences[row].push(next[row]);
        }
    }
    Ok(scores)
}

/// transformers' `_sample` with `do_sample=False`.
fn greedy<M: StepModel>(
    model: &M,
    encoder_states: &Tensor,
    attention_mask: &Tensor,
    settings: &GenerationSettings,
    tokens: &SpecialTokens,
) -> Result<Vec<Vec<i64>>> {
    let rows = encoder_states.size().first().copied().unwrap_or(0) as usize;
    let max_length = settings.max_tokens as usize;
    let device = encoder_states.device();
    let pad = if tokens.eos.is_empty() { None } else { Some(tokens.pad.ok_or_else(|| anyhow!("no pad token id to fill finished rows"))?) };
    let mut sequences = vec![vec![tokens.decoder_start]; rows];
    let mut unfinished = vec![true; rows];
    let mut profile = StepProfile::from_env();
    let source = profile.time_prepare(|| model.prepare(encoder_states, attention_mask, 1))?;
    let _threads = model.step_threads(rows);
    let mut cache = None;
    loop {
        let last = last_tokens(&sequences, device)?;
        let (logits, next_cache) = profile.time_step(|| model.step(&last, &source, cache.take()))?;
        cache = Some(next_cache);
        let scores = process_logits(logits, &sequences, settings, tokens)?;
        let chosen: Vec<i64> = to_vec(&scores.f_argmax(-1, false)?)?;
        if chosen.len() != rows {
            bail!("the decoder returned {} rows for {rows} sequences", chosen.len());
        }
        for (row, token) in chosen.into_iter().enumerate() {
            let token = match pad {
                Some(pad) if !unfinished[row] => pad,
                _ => token,
            };
            sequences[row].push(token);
        }
        let cur_len = sequences[0].len();
        for (row, sequence) in sequences.iter().enumerate() {
            if cur_len >= max_length || sequence.last().is_some_and(|t| tokens.eos.contains(t)) {
                unfinished[row] = false;
            }
        }
        if !unfinished.iter().any(|&u| u) {
            profile.report("greedy", rows);
            return Ok(sequences);
        }
    }
}

/// transformers' `_beam_search` with a `BeamSearchScorer` (one returned sequence per input).
fn beam_search<M: StepModel>(
    model: &M,
    encoder_states: &Tensor,
    attention_mask: &Tensor,
    settings: &GenerationSettings,
    tokens: &SpecialTokens,
) -> Result<Vec<Vec<i64>>> {
    let batch = encoder_states.size().first().copied().unwrap_or(0) as usize;
    let beams = settings.beams as usize;
    let rows = batch * beams;
    let max_length = settings.max_tokens as usize;
    let device = encoder_states.device();
    // The encoder ran once per input; the model decides how its beams share the encoder side
    // (transformers copies it per beam; sharing it gives the same values).
    let mut profile = StepProfile::from_env();
    let source = profile.time_prepare(|| model.prepare(encoder_states, attention_mask, beams))?;
    let _threads = model.step_threads(rows);

    let mut scorer = BeamScorer::new(batch, beams, settings.length_penalty, settings.early_stopping);
    let mut sequences = vec![vec![tokens.decoder_start]; rows];
    // Only the first beam of each input is live at the start; the others would repeat it.
    let mut beam_scores: Vec<f32> = (0..rows).map(|row| if row % beams == 0 { 0.0 } else { -1e9 }).collect();
    let keep = 2.max(1 + tokens.eos.len()) * beams;
    let mut cache = None;
    loop {
        let last = last_tokens(&sequences, device)?;
        let (logits, next_cache) = profile.time_step(|| model.step(&last, &source, cache.take()))?;
        let log_probs = logits.f_log_softmax(-1, None::<Kind>)?;
        let processed = process_logits(log_probs, &sequences, settings, tokens)?;
        let vocab = processed.size().last().copied().unwrap_or(0);
        if (keep as i64) > vocab * beams as i64 {
            bail!("{beams} beams need a vocabulary of at least {keep} tokens (it has {vocab})");
        }
        let running = Tensor::f_from_slice(&beam_scores)?.f_to_device(device)?.f_unsqueeze(1)?;
        let scores = processed.f_add(&running)?.f_view([batch as i64, beams as i64 * vocab])?;
        let (top_scores, top_ids) = scores.f_topk(keep as i64, 1, true, true)?;
        let top_scores: Vec<f32> = to_vec(&top_scores.f_to_kind(Kind::Float)?)?;
        let top_ids: Vec<i64> = to_vec(&top_ids)?;
        let candidates: Vec<Candidate> = top_ids
            .iter()
            .zip(&top_scores)
            .map(|(&id, &score)| Candidate { token: id % vocab, beam: (id / vocab) as usize, score })
            .collect();

        let next = scorer.process(&sequences, &candidates, keep, tokens)?;
        sequences = next.rows.iter().zip(&next.tokens).map(|(&row, &token)| {
            let mut sequence = sequences[row].clone();
            sequence.push(token);
            sequence
        }).collect();
        beam_scores = next.scores;
        let order = Tensor::f_from_slice(&next.rows.iter().map(|&r| r as i64).collect::<Vec<_>>())?.f_to_device(device)?;
        cache = Some(profile.time_reorder(|| model.reorder(next_cache, &order))?);

        let cur_len = sequences[0].len();
        let all_ended = !tokens.eos.is_empty() && sequences.iter().all(|s| s.last().is_some_and(|t| tokens.eos.contains(t)));
        if scorer.all_done() || cur_len >= max_length || all_ended {
            break;
        }
    }
    profile.report("beam search", rows);
    scorer.finalize(&sequences, &beam_scores, max_length, tokens)
}

/// Where a decoding's time goes, printed to stderr when `PRECIS_PROFILE=1` (libtorch runs CPU
/// operations synchronously, so wall-clock time around a call is that call's time).
struct StepProfile {
    started: Option<Instant>,
    prepare: Duration,
    steps: u32,
    forward: Duration,
    reorder: Duration,
}

impl StepProfile {
    fn from_env() -> StepProfile {
        StepProfile { started: super::profiling().then(Instant::now), prepare: Duration::ZERO, steps: 0, forward: Duration::ZERO, reorder: Duration::ZERO }
    }

    fn time_prepare<T>(&mut self, work: impl FnOnce() -> T) -> T {
        timed(self.started.is_some(), &mut self.prepare, work)
    }

    fn time_step<T>(&mut self, work: impl FnOnce() -> T) -> T {
        self.steps += 1;
        timed(self.started.is_some(), &mut self.forward, work)
    }

    fn time_reorder<T>(&mut self, work: impl FnOnce() -> T) -> T {
        timed(self.started.is_some(), &mut self.reorder, work)
    }

    fn report(&self, search: &str, rows: usize) {
        let Some(started) = self.started else { return };
        let total = started.elapsed();
        let per_step = |d: Duration| d.as_secs_f64() * 1e3 / f64::from(self.steps.max(1));
        let search_time = total.saturating_sub(self.prepare + self.forward + self.reorder);
        eprintln!(
            "precis profile: {search}, {rows} rows, {} steps in {:.3} s: prepare {:.3} s; per step: decoder forward {:.1} ms, cache reorder {:.2} ms, search and logits processing {:.1} ms",
            self.steps,
            total.as_secs_f64(),
            self.prepare.as_secs_f64(),
            per_step(self.forward),
            per_step(self.reorder),
            per_step(search_time),
        );
    }
}

/// Runs `work`, adding its wall-clock time to `total` when profiling is `enabled`.
fn timed<T>(enabled: bool, total: &mut Duration, work: impl FnOnce() -> T) -> T {
    if !enabled {
        return work();
    }
    let start = Instant::now();
    let result = work();
    *total += start.elapsed();
    result
}

/// The last token of every row, as the decoder's next input (`[rows, 1]`).
fn last_tokens(sequences: &[Vec<i64>], device: Device) -> Result<Tensor> {
    let last: Vec<i64> = sequences.iter().map(|s| s.last().copied().unwrap_or(0)).collect();
    Ok(Tensor::f_from_slice(&last)?.f_view([last.len() as i64, 1])?.f_to_device(device)?)
}

/// A flat copy of a tensor's values on the CPU.
fn to_vec<T: tch::kind::Element + Copy>(tensor: &Tensor) -> Result<Vec<T>> {
    let flat = tensor.f_to_device(Device::Cpu)?.f_contiguous()?.f_view([-1])?;
    Ok(Vec::<T>::try_from(&flat)?)
}

/// transformers' logits processors for precis's settings, in the order `_get_logits_processor`
/// builds them: NoRepeatNGram, MinLength, ForcedBOSToken, ForcedEOSToken. `scores` is
/// `[rows, vocab]`; `sequences` are the rows' tokens so far (decoder start included).
fn process_logits(scores: Tensor, sequences: &[Vec<i64>], settings: &GenerationSettings, tokens: &SpecialTokens) -> Result<Tensor> {
    let mut scores = scores;
    let cur_len = sequences.first().map_or(0, Vec::len);
    let vocab = scores.size().last().copied().unwrap_or(0);
    let device = scores.device();
    let kind = scores.kind();
    let ids = |list: &[i64]| -> Result<Option<Tensor>> {
        let valid: Vec<i64> = list.iter().copied().filter(|&id| (0..vocab).contains(&id)).collect();
        if valid.is_empty() {
            return Ok(None);
        }
        Ok(Some(Tensor::f_from_slice(&valid)?.f_to_device(device)?))
    };
    if settings.no_repeat_ngram > 0 {
        let (mut rows, mut columns) = (Vec::new(), Vec::new());
        for (row, sequence) in sequences.iter().enumerate() {
            for token in banned_ngram_tokens(sequence, settings.no_repeat_ngram as usize) {
                if (0..vocab).contains(&token) {
                    rows.push(row as i64);
                    columns.push(token);
                }
            }
        }
        if !rows.is_empty() {
            let rows = Tensor::f_from_slice(&rows)?.f_to_device(device)?;
            let columns = Tensor::f_from_slice(&columns)?.f_to_device(device)?;
            let minus_infinity = Tensor::f_from_slice(&[f32::NEG_INFINITY])?.f_to_kind(kind)?.f_to_device(device)?;
            scores = scores.f_index_put(&[Some(rows), Some(columns)], &minus_infinity, false)?;
        }
    }
    if settings.min_tokens > 0 && cur_len < settings.min_tokens as usize {
        if let Some(eos) = ids(&tokens.eos)? {
            scores = scores.f_index_fill(1, &eos, f64::NEG_INFINITY)?;
        }
    }
    if let Some(bos) = tokens.forced_bos {
        if cur_len == 1 {
            scores = scores.f_full_like(f64::NEG_INFINITY)?;
            if let Some(bos) = ids(&[bos])? {
                scores = scores.f_index_fill(1, &bos, 0.0)?;
            }
        }
    }
    if !tokens.forced_eos.is_empty() && cur_len + 1 == settings.max_tokens as usize {
        scores = scores.f_full_like(f64::NEG_INFINITY)?;
        if let Some(eos) = ids(&tokens.forced_eos)? {
            scores = scores.f_index_fill(1, &eos, 0.0)?;
        }
    }
    Ok(scores)
}

/// Tokens that would repeat an n-gram of `sequence` (transformers' `_calc_banned_ngram_tokens`:
/// the last n-1 tokens are looked up among all earlier (n-1)-gram prefixes; the decoder start
/// token counts as part of the sequence).
fn banned_ngram_tokens(sequence: &[i64], n: usize) -> Vec<i64> {
    let len = sequence.len();
    if n == 0 || len + 1 < n {
        return Vec::new();
    }
    let prefix = &sequence[len + 1 - n..];
    sequence.windows(n).filter(|ngram| &ngram[..n - 1] == prefix).map(|ngram| ngram[n - 1]).collect()
}

/// One of the top candidates of a step: a token after a beam of one input, with the beam's
/// running score plus the token's processed log-probability.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    token: i64,
    /// Beam within its input (0..beams).
    beam: usize,
    score: f32,
}

/// What the next step continues: for each row, the row it extends, the token and the score.
struct NextBeams {
    rows: Vec<usize>,
    tokens: Vec<i64>,
    scores: Vec<f32>,
}

/// transformers' `BeamSearchScorer` for one beam group and one returned sequence per input.
struct BeamScorer {
    beams: usize,
    hypotheses: Vec<BeamHypotheses>,
    done: Vec<bool>,
}

/// The decoder start token is the only decoder prompt.
const DECODER_PROMPT_LEN: usize = 1;

impl BeamScorer {
    fn new(batch: usize, beams: usize, length_penalty: f64, early_stopping: bool) -> BeamScorer {
        BeamScorer {
            beams,
            hypotheses: (0..batch).map(|_| BeamHypotheses::new(beams, length_penalty, early_stopping)).collect(),
            done: vec![false; batch],
        }
    }

    fn all_done(&self) -> bool {
        self.done.iter().all(|&d| d)
    }

    /// `BeamSearchScorer.process`: candidates are `keep` per input, best first.
    fn process(&mut self, sequences: &[Vec<i64>], candidates: &[Candidate], keep: usize, tokens: &SpecialTokens) -> Result<NextBeams> {
        let beams = self.beams;
        let batch = self.hypotheses.len();
        let cur_len = sequences.first().map_or(0, Vec::len) + 1;
        let mut next = NextBeams { rows: vec![0; batch * beams], tokens: vec![0; batch * beams], scores: vec![0.0; batch * beams] };
        for b in 0..batch {
            if self.done[b] {
                // A finished input keeps running on padding (continuing global row 0), as in transformers.
                let pad = tokens.pad.ok_or_else(|| anyhow!("beam search needs a pad token id once an input is finished"))?;
                for slot in b * beams..(b + 1) * beams {
                    next.rows[slot] = 0;
                    next.tokens[slot] = pad;
                    next.scores[slot] = 0.0;
                }
                continue;
            }
            let mine = &candidates[b * keep..(b + 1) * keep];
            let mut filled = 0;
            for (rank, candidate) in mine.iter().enumerate() {
                let row = b * beams + candidate.beam;
                if tokens.eos.contains(&candidate.token) {
                    // An end of sequence outside the top `beams` candidates does not count.
                    if rank >= beams {
                        continue;
                    }
                    self.hypotheses[b].add(sequences[row].clone(), f64::from(candidate.score), cur_len - DECODER_PROMPT_LEN);
                } else {
                    let slot = b * beams + filled;
                    next.rows[slot] = row;
                    next.tokens[slot] = candidate.token;
                    next.scores[slot] = candidate.score;
                    filled += 1;
                }
                if filled == beams {
                    break;
                }
            }
            if filled < beams {
                bail!("beam search found fewer than {beams} continuations that are not end-of-sequence tokens");
            }
            let best = mine.iter().map(|c| c.score).fold(f32::NEG_INFINITY, f32::max);
            self.done[b] = self.done[b] || self.hypotheses[b].is_done(f64::from(best), cur_len);
        }
        Ok(next)
    }

    /// `BeamSearchScorer.finalize`: open beams of unfinished inputs become hypotheses, the best
    /// hypothesis of each input is returned, an end-of-sequence token is appended where it fits,
    /// and rows of different lengths are padded.
    fn finalize(&mut self, sequences: &[Vec<i64>], beam_scores: &[f32], max_length: usize, tokens: &SpecialTokens) -> Result<Vec<Vec<i64>>> {
        let beams = self.beams;
        for (b, hypotheses) in self.hypotheses.iter_mut().enumerate() {
            if self.done[b] {
                continue;
            }
            for row in b * beams..(b + 1) * beams {
                hypotheses.add(sequences[row].clone(), f64::from(beam_scores[row]), sequences[row].len() - DECODER_PROMPT_LEN);
            }
        }
        let mut best = Vec::with_capacity(self.hypotheses.len());
        for hypotheses in &self.hypotheses {
            best.push(hypotheses.best().ok_or_else(|| anyhow!("beam search ended without a hypothesis"))?.to_vec());
        }
        let longest = best.iter().map(Vec::len).max().unwrap_or(0);
        let shortest = best.iter().map(Vec::len).min().unwrap_or(0);
        let width = (longest + 1).min(max_length);
        let filler = if shortest != longest {
            tokens.pad.ok_or_else(|| anyhow!("a pad token id is needed to return outputs of different lengths"))?
        } else {
            // Every position is written below when all hypotheses have the same length.
            tokens.pad.unwrap_or(0)
        };
        let mut outputs = Vec::with_capacity(best.len());
        for hypothesis in best {
            let mut row = vec![filler; width];
            let len = hypothesis.len().min(width);
            row[..len].copy_from_slice(&hypothesis[..len]);
            if len < width {
                row[len] = *tokens.eos.first().ok_or_else(|| anyhow!("no end-of-sequence token id to end a shorter output"))?;
            }
            outputs.push(row);
        }
        Ok(outputs)
    }
}

/// transformers' `BeamHypotheses`: the best `beams` finished sequences of one input, scored by
/// their summed log-probability divided by the generated length (decoder start excluded) to the
/// power of the length penalty.
#[derive(Debug)]
struct BeamHypotheses {
    beams: usize,
    length_penalty: f64,
    early_stopping: bool,
    /// In insertion order (which decides ties, as Python's stable sort does).
    kept: Vec<(f64, Vec<i64>)>,
    worst_score: f64,
}

impl BeamHypotheses {
    fn new(beams: usize, length_penalty: f64, early_stopping: bool) -> BeamHypotheses {
        BeamHypotheses { beams, length_penalty, early_stopping, kept: Vec::new(), worst_score: 1e9 }
    }

    fn add(&mut self, sequence: Vec<i64>, sum_log_probs: f64, generated_len: usize) {
        let score = sum_log_probs / (generated_len as f64).powf(self.length_penalty);
        if self.kept.len() < self.beams || score > self.worst_score {
            self.kept.push((score, sequence));
            if self.kept.len() > self.beams {
                // sorted((score, index)): drop the lowest (first index among equal scores); the
                // worst score becomes the second lowest.
                let mut order: Vec<(f64, usize)> = self.kept.iter().enumerate().map(|(i, (s, _))| (*s, i)).collect();
                order.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal).then(a.1.cmp(&b.1)));
                self.kept.remove(order[0].1);
                self.worst_score = order[1].0;
            } else {
                self.worst_score = score.min(self.worst_score);
            }
        }
    }

    /// Whether no running beam can still improve on the kept hypotheses. `cur_len` counts the
    /// decoder start and the token being chosen.
    fn is_done(&self, best_sum_log_probs: f64, cur_len: usize) -> bool {
        if self.kept.len() < self.beams {
            return false;
        }
        if self.early_stopping {
            return true;
        }
        let highest_attainable = best_sum_log_probs / ((cur_len - DECODER_PROMPT_LEN) as f64).powf(self.length_penalty);
        self.worst_score >= highest_attainable
    }

    /// The highest-scoring hypothesis; among equal scores the one added last (what `pop()` after
    /// Python's stable ascending sort returns).
    fn best(&self) -> Option<&[i64]> {
        let mut best: Option<&(f64, Vec<i64>)> = None;
        for hypothesis in &self.kept {
            if best.is_none_or(|b| hypothesis.0 >= b.0) {
                best = Some(hypothesis);
            }
        }
        best.map(|(_, sequence)| sequence.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banned_ngrams_follow_transformers() {
        // Expected values are transformers 4.44.2's `_calc_banned_ngram_tokens` on the same rows.
        // [start, 5, 6, 7, 5, 6]: the last bigram (5, 6) was followed by 7 before.
        assert_eq!(banned_ngram_tokens(&[2, 5, 6, 7, 5, 6], 3), vec![7]);
        assert_eq!(banned_ngram_tokens(&[2, 5, 6, 5, 6, 5], 3), vec![6]);
        // One entry per earlier occurrence.
        assert_eq!(banned_ngram_tokens(&[2, 5, 6, 5, 6, 5, 6], 3), vec![5, 5]);
        assert_eq!(banned_ngram_tokens(&[2, 5, 6, 5], 2), vec![6]);
        // Too short for any trigram.
        assert_eq!(banned_ngram_tokens(&[2], 3), Vec::<i64>::new());
        assert_eq!(banned_ngram_tokens(&[2, 5], 3), Vec::<i64>::new());
        // Unigrams: every token already present, the start token included.
        assert_eq!(banned_ngram_tokens(&[2, 5, 6], 1), vec![2, 5, 6]);
    }

    #[test]
    fn hypotheses_keep_the_best_and_track_the_worst() {
        let mut h = BeamHypotheses::new(2, 1.0, false);
        h.add(vec![0, 1], -4.0, 2); // -2.0
        h.add(vec![0, 2], -3.0, 3); // -1.0
        assert_eq!(h.worst_score, -2.0);
        h.add(vec![0, 3], -9.0, 3); // -3.0: worse than the worst, not kept
        assert_eq!(h.kept.len(), 2);
        h.add(vec![0, 4], -1.5, 3); // -0.5: replaces -2.0
        assert_eq!(h.kept.iter().map(|k| k.0).collect::<Vec<_>>(), vec![-1.0, -0.5]);
        assert_eq!(h.worst_score, -1.0);
        assert_eq!(h.best(), Some(&[0, 4][..]));
    }

    #[test]
    fn length_normalization_excludes_the_decoder_start() {
        let mut h = BeamHypotheses::new(1, 2.0, false);
        // generated length 4 (start token not counted): -8 / 4^2
        h.add(vec![0, 1, 2, 3, 4], -8.0, 4);
        assert_eq!(h.kept[0].0, -0.5);
    }

    #[test]
    fn ties_go_to_the_hypothesis_added_last() {
        let mut h = BeamHypotheses::new(3, 1.0, false);
        h.add(vec![1], -1.0, 1);
        h.add(vec![2], -1.0, 1);
        assert_eq!(h.best(), Some(&[2][..]));
    }

    #[test]
    fn is_done_with_and_without_early_stopping() {
        let mut eager = BeamHypotheses::new(1, 1.0, true);
        assert!(!eager.is_done(-1.0, 3));
        eager.add(vec![0, 1], -10.0, 1);
        assert!(eager.is_done(-0.1, 3));
        let mut careful = BeamHypotheses::new(1, 1.0, false);
        careful.add(vec![0, 1], -10.0, 1); // score -10
        // best running sum -4 over generated length 2 → -2 > -10: not done.
        assert!(!careful.is_done(-4.0, 3));
        // -40 / 2 = -20 ≤ -10: done.
        assert!(careful.is_done(-40.0, 3));
    }

    #[test]
    fn special_tokens_come_from_the_config_with_transformers_fallbacks() {
        let t5 = SpecialTokens::from_config(&serde_json::json!({"decoder_start_token_id": 0, "eos_token_id": 1, "pad_token_id": 0})).expect("t5");
        assert_eq!(t5, SpecialTokens { decoder_start: 0, eos: vec![1], pad: Some(0), forced_bos: None, forced_eos: vec![] });
        let listed = SpecialTokens::from_config(&serde_json::json!({"bos_token_id": 5, "eos_token_id": [2, 3], "forced_eos_token_id": [2]})).expect("list");
        assert_eq!(listed, SpecialTokens { decoder_start: 5, eos: vec![2, 3], pad: Some(2), forced_bos: None, forced_eos: vec![2] });
        assert!(SpecialTokens::from_config(&serde_json::json!({"eos_token_id": 1})).is_err());
        assert!(SpecialTokens::from_config(&serde_json::json!({"decoder_start_token_id": "x"})).is_err());
    }
}
