//! Abstractive summarization with pretrained seq2seq models (BART, PEGASUS, T5).
//!
//! Owns: turning a model's files (config, weights, tokenizer) into a loaded model (its
//! configuration read by `engine::config`, its network built by `engine::network`), encoding text
//! with the model's own tokenizer and input prefix, generating with per-output settings through
//! precis's own decoding loop (`engine::decode`, transformers 4.44 semantics), and decoding ids to
//! text. Neither rust-bert's summarization pipeline nor its generators are used.
//!
//! It does not decide what to summarize (`pipeline`) or where the files come from (`hub`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use rust_bert::pipelines::common::{ModelType, TokenizerOption};
use rust_tokenizers::tokenizer::TruncationStrategy;
pub use tch::Device;
use tch::Tensor;

use super::config::{self, ModelConfig};
use super::decode::{self, SpecialTokens, StepModel};
use super::kernels::{Precision, DEFAULT_PRECISION};
use super::network::Network;
pub use super::config::Architecture;
pub use crate::generation::GenerationSettings;
use crate::generation::Generation;
pub use crate::hub::{ModelFiles, TokenizerFiles};

pub use super::placement::generated_tokens_total;
use super::placement::DeviceChoice;

/// The device for `choice`. bf16 and int8 run on precis's CPU kernels, so `auto` means the CPU
/// for them, and CUDA is refused.
pub fn pick_device(choice: DeviceChoice, precision: Precision) -> Result<Device> {
    let cpu_only = precision != Precision::Fp32;
    Ok(match choice {
        DeviceChoice::Cpu => Device::Cpu,
        DeviceChoice::Auto if cpu_only => Device::Cpu,
        DeviceChoice::Auto => Device::cuda_if_available(),
        DeviceChoice::Cuda if cpu_only => {
            bail!("--precision {} runs on the CPU only; use --device cpu (or auto), or --precision fp32 on CUDA", precision.name())
        }
        DeviceChoice::Cuda => {
            if !tch::Cuda::is_available() {
                bail!("--device cuda: no CUDA device is available to libtorch here; use --device cpu or auto");
            }
            Device::Cuda(0)
        }
    })
}

fn model_type(architecture: Architecture) -> ModelType {
    match architecture {
        Architecture::Bart => ModelType::Bart,
        Architecture::Pegasus => ModelType::Pegasus,
        Architecture::T5 => ModelType::T5,
    }
}

/// Outputs of [`Seq2SeqModel::generate_variants_timed`]: `outputs[v][i]` is input `i` decoded
/// with settings `v`, which took `decode[v]` after the shared `encode`.
pub struct TimedVariants {
    pub outputs: Vec<Vec<Vec<i64>>>,
    pub encode: Duration,
    pub decode: Vec<Duration>,
}

/// A loaded seq2seq model, ready to encode, generate and decode.
pub struct Seq2SeqModel {
    architecture: Architecture,
    network: Network,
    /// Decoder start, end-of-sequence, pad and forced tokens, from config.json.
    tokens: SpecialTokens,
    tokenizer: TokenizerOption,
    prefix: String,
    /// Fills the encoder input of shorter batch rows (masked out).
    pad_id: i64,
    device: Device,
    /// The input window in tokens: what the model can read at once.
    window: usize,
    /// rust_tokenizers' SentencePiece reader does not apply the model's whitespace normalization
    /// (runs of spaces and newlines become one space), which Hugging Face's tokenizers do.
    collapse_whitespace: bool,
    /// Decoding defaults from the model's configuration.
    generation: Generation,
}

impl Seq2SeqModel {
    /// Loads a model at the default precision. Its configuration decides the architecture, the
    /// input window and prefix; `prefix` and `window` override them (a preset's choices; the
    /// window never goes beyond the positions the weights have).
    pub fn load(files: &ModelFiles, prefix: Option<&str>, window: Option<usize>, device: Device) -> Result<Seq2SeqModel> {
        Seq2SeqModel::load_at(files, prefix, window, device, DEFAULT_PRECISION)
    }

    /// Loads a model (as [`Seq2SeqModel::load`]) with its products at `precision` where its
    /// network can run them so ([`Seq2SeqModel::precision`] says what it got).
    pub fn load_at(files: &ModelFiles, prefix: Option<&str>, window: Option<usize>, device: Device, precision: Precision) -> Result<Seq2SeqModel> {
        let scratch = ScratchDir::new()?;
        let configuration = config::read(files)?;
        let architecture = configuration.architecture;
        let tokenizer = load_tokenizer(&files.tokenizer, architecture, &scratch)?;
        let weights_name = files.weights.display().to_string();
        let network = match quietly(|| Network::load(&configuration, &files.weights, device, precision)) {
            Ok(Ok(network)) => network,
            Ok(Err(error)) => return Err(weights_error(&weights_name, &format!("{error:#}"))),
            Err(panic) => return Err(weights_error(&weights_name, &panic)),
        };
        let pad_id = configuration.config.get("pad_token_id").and_then(|v| v.as_i64()).or_else(|| tokenizer.get_pad_id()).unwrap_or(0);
        let window = match (window, configuration.max_positions) {
            (Some(wanted), Some(positions)) => wanted.min(positions),
            (Some(wanted), None) => wanted,
            (None, _) => configuration.window,
        };
        let collapse_whitespace = matches!(files.tokenizer, TokenizerFiles::SentencePiece { .. });
        let ModelConfig { tokens, prefix: configured_prefix, generation, .. } = configuration;
        Ok(Seq2SeqModel {
            architecture,
            network,
            tokens,
            tokenizer,
            prefix: prefix.map_or(configured_prefix, str::to_string),
            pad_id,
            device,
            window,
            collapse_whitespace,
            generation,
        })
    }

    /// The decoding settings the model's own configuration gives, with their sources (see
    /// `engine::config`).
    pub fn configured_generation(&self) -> &Generation {
        &self.generation
    }

    /// Which network runs the model: "precis" (its own) or "rust-bert".
    pub fn network_implementation(&self) -> &'static str {
        self.network.implementation()
    }

    /// The input prefix the model's encoder inputs start with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn architecture(&self) -> Architecture {
        self.architecture
    }

    /// The precision the model's products run at (fp32 for networks that run on rust-bert,
    /// whatever was asked for).
    pub fn precision(&self) -> Precision {
        self.network.precision()
    }

    /// How many tokens the model reads at once.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Token ids the encoder sees for `text`: prefix, text and the tokenizer's special tokens.
    pub fn encode(&self, text: &str) -> Vec<i64> {
        let mut input = format!("{}{}", self.prefix, text);
        if self.collapse_whitespace {
            input = input.split_whitespace().collect::<Vec<_>>().join(" ");
        }
        let mut encoded = self.tokenizer.encode_list(&[input.as_str()], usize::MAX / 2, &TruncationStrategy::DoNotTruncate, 0);
        encoded.pop().map(|tokenized| tokenized.token_ids).unwrap_or_default()
    }

    /// Tokens `text` takes in the window, prefix and special tokens included.
    pub fn count_tokens(&self, text: &str) -> usize {
        self.encode(text).len()
    }

    /// Tokens of `text` alone, as the model's tokenizer splits it: no prefix, no special tokens.
    pub fn count_text_tokens(&self, text: &str) -> usize {
        self.tokenizer.tokenize(text).len()
    }

    /// Tokens an output holds besides its text, counted in `GenerationSettings` lengths: the
    /// decoder start, the end-of-sequence token, and a forced first token when the config has one.
    pub fn special_output_tokens(&self) -> u32 {
        2 + u32::from(self.tokens.forced_bos.is_some())
    }

    /// Generates one output per input. Inputs are right-padded into one batch with an attention
    /// mask, as transformers does, and decoded by precis's own loop (`engine::decode`), which
    /// gives the ids transformers 4.44's `generate()` gives: each row starts with the decoder
    /// start token, and rows that end early are padded to the batch's length.
    pub fn generate(&self, inputs: &[Vec<i64>], settings: &GenerationSettings) -> Result<Vec<Vec<i64>>> {
        let mut variants = self.generate_variants(inputs, std::slice::from_ref(settings))?;
        variants.pop().ok_or_else(|| anyhow!("generation returned no outputs"))
    }

    /// Generates the same inputs under several settings (e.g. several lengths) with one encoder
    /// pass: `result[v][i]` is input `i` decoded with `settings[v]`. Each decoding is the one
    /// [`Seq2SeqModel::generate`] would give for those settings alone.
    pub fn generate_variants(&self, inputs: &[Vec<i64>], settings: &[GenerationSettings]) -> Result<Vec<Vec<Vec<i64>>>> {
        Ok(self.generate_variants_timed(inputs, settings)?.outputs)
    }

    /// [`Seq2SeqModel::generate_variants`], with the time of the shared encoder pass and of each
    /// decoding.
    pub fn generate_variants_timed(&self, inputs: &[Vec<i64>], settings: &[GenerationSettings]) -> Result<TimedVariants> {
        for variant in settings {
            decode::check_settings(variant)?;
        }
        if inputs.is_empty() || settings.is_empty() {
            return Ok(TimedVariants { outputs: vec![Vec::new(); settings.len()], encode: Duration::ZERO, decode: vec![Duration::ZERO; settings.len()] });
        }
        let (ids, mask, shape) = self.padded_batch(inputs)?;
        let generated = quietly(|| -> Result<TimedVariants> {
            let _no_grad = tch::no_grad_guard();
            let started = Instant::now();
            let input_ids = Tensor::f_from_slice(&ids)?.f_view(shape)?.f_to_device(self.device)?;
            let attention_mask = Tensor::f_from_slice(&mask)?.f_view(shape)?.f_to_device(self.device)?;
            let encoder_states = self.network.encode(&input_ids, &attention_mask)?;
            let encode = started.elapsed();
            if super::profiling() {
                eprintln!("precis profile: encoder over {shape:?} tokens: {:.3} s", encode.as_secs_f64());
            }
            let mut timed = TimedVariants { outputs: Vec::with_capacity(settings.len()), encode, decode: Vec::with_capacity(settings.len()) };
            for variant in settings {
                let started = Instant::now();
                timed.outputs.push(decode::generate_encoded(&self.network, &encoder_states, &attention_mask, variant, &self.tokens)?);
                timed.decode.push(started.elapsed());
            }
            Ok(timed)
        });
        let timed = match generated {
            Ok(Ok(timed)) => timed,
            Ok(Err(error)) => bail!("generation failed: {error:#}"),
            Err(panic) => bail!("generation failed inside libtorch: {panic}"),
        };
        if timed.outputs.iter().any(|outputs| outputs.len() != inputs.len()) {
            bail!("generation returned a wrong number of outputs for {} inputs", inputs.len());
        }
        let generated: usize = timed.outputs.iter().flatten().map(|output| self.generated_length(output)).sum();
        super::placement::count_generated_tokens(generated as u64);
        Ok(timed)
    }

    /// Teacher-forced log-probabilities of `targets[i]` (the tokens after the decoder start)
    /// as continuations of input `i`: `result[i][t]` is the model's log-probability of
    /// `targets[i][t]` given the input and the targets before it (`decode::score_encoded`).
    pub fn score(&self, inputs: &[Vec<i64>], targets: &[Vec<i64>]) -> Result<Vec<Vec<f32>>> {
        if inputs.len() != targets.len() {
            bail!("{} target sequences for {} inputs", targets.len(), inputs.len());
        }
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let (ids, mask, shape) = self.padded_batch(inputs)?;
        let scored = quietly(|| -> Result<Vec<Vec<f32>>> {
            let _no_grad = tch::no_grad_guard();
            let input_ids = Tensor::f_from_slice(&ids)?.f_view(shape)?.f_to_device(self.device)?;
            let attention_mask = Tensor::f_from_slice(&mask)?.f_view(shape)?.f_to_device(self.device)?;
            let encoder_states = self.network.encode(&input_ids, &attention_mask)?;
            decode::score_encoded(&self.network, &encoder_states, &attention_mask, targets, &self.tokens)
        });
        match scored {
            Ok(Ok(scores)) => Ok(scores),
            Ok(Err(error)) => bail!("scoring failed: {error:#}"),
            Err(panic) => bail!("scoring failed inside libtorch: {panic}"),
        }
    }

    /// Inputs right-padded into one batch as transformers pads them: ids, attention mask, shape.
    fn padded_batch(&self, inputs: &[Vec<i64>]) -> Result<(Vec<i64>, Vec<i64>, [i64; 2])> {
        let longest = inputs.iter().map(Vec::len).max().unwrap_or(0);
        if inputs.iter().any(Vec::is_empty) {
            bail!("cannot generate from an empty input");
        }
        if longest > self.window {
            bail!("input of {longest} tokens exceeds the model window of {} tokens", self.window);
        }
        let mut ids = Vec::with_capacity(inputs.len() * longest);
        let mut mask = Vec::with_capacity(inputs.len() * longest);
        for input in inputs {
            ids.extend_from_slice(input);
            ids.extend(std::iter::repeat(self.pad_id).take(longest - input.len()));
            mask.extend(std::iter::repeat(1i64).take(input.len()));
            mask.extend(std::iter::repeat(0i64).take(longest - input.len()));
        }
        Ok((ids, mask, [inputs.len() as i64, longest as i64]))
    }

    /// Tokens the decoder generated for one output: after the decoder start token, up to and
    /// including the first end-of-sequence token (the padding of a finished batch row is not
    /// generated).
    fn generated_length(&self, output: &[i64]) -> usize {
        let generated = output.get(1..).unwrap_or(&[]);
        generated.iter().position(|id| self.tokens.eos.contains(id)).map_or(generated.len(), |end| end + 1)
    }

    /// Text of generated ids, special tokens removed, tokenization spaces cleaned up
    /// (transformers' `decode(skip_special_tokens=True)`).
    pub fn decode(&self, ids: &[i64]) -> String {
        let text = self.tokenizer.decode(ids, true, true);
        // PEGASUS models write `<n>` between sentences (their CNN/DM training targets did).
        let text = if self.architecture == Architecture::Pegasus { text.replace("<n>", "\n") } else { text };
        text.trim().to_string()
    }
}

fn weights_error(weights: &str, cause: &str) -> anyhow::Error {
    anyhow!(
        "could not load the model weights {weights}: {cause}\n  The file may be incomplete, corrupt, or for another architecture. \
         Delete it and fetch it again (`precis models pull NAME`), or point --model at a directory with loadable weights."
    )
}

/// Runs rust-bert/tch code that reports some failures by panicking (e.g. a shape mismatch while
/// loading), turning a panic into an error message instead of a crash and a backtrace.
fn quietly<T>(work: impl FnOnce() -> T) -> std::result::Result<T, String> {
    install_quiet_panic_hook();
    QUIET_PANICS.with(|quiet| quiet.set(true));
    let result = catch_unwind(AssertUnwindSafe(work));
    QUIET_PANICS.with(|quiet| quiet.set(false));
    result.map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".to_string())
    })
}

thread_local! {
    static QUIET_PANICS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The panic hook is process-wide; silencing it per thread keeps other threads' panics visible.
fn install_quiet_panic_hook() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET_PANICS.with(|quiet| quiet.get()) {
                previous(info);
            }
        }));
    });
}

/// A private temporary directory for files rust-bert insists on reading from disk
/// (a special tokens map); removed when dropped.
struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    fn new() -> Result<ScratchDir> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!("precis-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir_all(&path).with_context(|| format!("cannot create a temporary directory at {}", path.display()))?;
        Ok(ScratchDir { path })
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn load_tokenizer(files: &TokenizerFiles, architecture: Architecture, scratch: &ScratchDir) -> Result<TokenizerOption> {
    let loaded = match files {
        TokenizerFiles::Json { tokenizer, special_tokens_map } => {
            let map = match special_tokens_map {
                Some(map) => write_flat_special_tokens_map(map, scratch)?,
                None => write_default_special_tokens_map(architecture, scratch)?,
            };
            TokenizerOption::from_hf_tokenizer_file(tokenizer, &map)
                .map_err(|e| anyhow!("cannot load the tokenizer {}: {e}", tokenizer.display()))?
        }
        TokenizerFiles::VocabMerges { vocab, merges } => {
            let vocab_path = path_str(vocab)?;
            let merges_path = path_str(merges)?;
            TokenizerOption::from_file(model_type(architecture), vocab_path, Some(merges_path), false, None, false)
                .map_err(|e| anyhow!("cannot load the tokenizer {} + {}: {e}", vocab.display(), merges.display()))?
        }
        TokenizerFiles::SentencePiece { model } => {
            TokenizerOption::from_file(model_type(architecture), path_str(model)?, None, false, None, None)
                .map_err(|e| anyhow!("cannot load the SentencePiece tokenizer {}: {e}", model.display()))?
        }
    };
    Ok(loaded)
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| anyhow!("the path {} is not valid UTF-8", path.display()))
}

/// transformers writes special tokens as objects (`{"content": "<s>", "lstrip": false, …}`);
/// rust-bert's reader accepts only strings there, so the map is flattened to contents.
fn write_flat_special_tokens_map(path: &Path, scratch: &ScratchDir) -> Result<PathBuf> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let map: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON; fetch it again", path.display()))?;
    let content = |token: &serde_json::Value| -> Option<serde_json::Value> {
        match token {
            serde_json::Value::String(_) => Some(token.clone()),
            serde_json::Value::Object(fields) => fields.get("content").filter(|c| c.is_string()).cloned(),
            _ => None,
        }
    };
    let mut flat = serde_json::Map::new();
    for (key, token) in map.as_object().ok_or_else(|| anyhow!("{} is not a JSON object", path.display()))? {
        let value = match token {
            serde_json::Value::Array(tokens) => Some(serde_json::Value::Array(tokens.iter().filter_map(content).collect())),
            single => content(single),
        };
        if let Some(value) = value {
            flat.insert(key.clone(), value);
        }
    }
    let flat_path = scratch.path.join("special_tokens_map.json");
    std::fs::write(&flat_path, serde_json::to_vec(&flat)?).with_context(|| format!("cannot write {}", flat_path.display()))?;
    Ok(flat_path)
}

/// rust-bert needs a special tokens map beside tokenizer.json; Hub repos do not always ship one.
fn write_default_special_tokens_map(architecture: Architecture, scratch: &ScratchDir) -> Result<PathBuf> {
    let map = match architecture {
        Architecture::Bart => serde_json::json!({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>", "sep_token": "</s>", "cls_token": "<s>"}),
        Architecture::Pegasus => serde_json::json!({"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask_2>"}),
        Architecture::T5 => serde_json::json!({"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}),
    };
    let path = scratch.path.join("special_tokens_map.json");
    std::fs::write(&path, serde_json::to_vec(&map)?).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}
