//! Abstractive summarization with pretrained seq2seq models (BART, PEGASUS, T5) through rust-bert.
//!
//! Owns: turning a model directory's files (config, weights, tokenizer) into a loaded rust-bert
//! generator, encoding text with the model's own tokenizer and input prefix, and generating with
//! precis's own per-output settings. rust-bert's summarization pipeline is not used: it ignores
//! the model's generation settings and always prefixes T5 input with `summarize: `.
//!
//! It does not decide what to summarize (`pipeline`) or where the files come from (`hub`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{anyhow, bail, Context, Result};
use rust_bert::bart::BartGenerator;
use rust_bert::pegasus::PegasusConditionalGenerator;
use rust_bert::pipelines::common::{ModelResource, ModelType, TokenizerOption};
use rust_bert::pipelines::generation_utils::{GenerateConfig, GenerateOptions, LanguageGenerator};
use rust_bert::resources::{BufferResource, LocalResource};
use rust_bert::t5::T5Generator;
use rust_tokenizers::tokenizer::TruncationStrategy;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::hub::weights::{self, WeightsPlan};

/// The model families precis can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    Bart,
    Pegasus,
    T5,
}

impl Architecture {
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Bart => "bart",
            Architecture::Pegasus => "pegasus",
            Architecture::T5 => "t5",
        }
    }

    fn model_type(self) -> ModelType {
        match self {
            Architecture::Bart => ModelType::Bart,
            Architecture::Pegasus => ModelType::Pegasus,
            Architecture::T5 => ModelType::T5,
        }
    }
}

/// Decoding settings for one output (headline, abstract or bullets). Lengths are in tokens,
/// counted as Hugging Face's `generate(max_length=…)` counts them (decoder start token included).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationSettings {
    pub min_tokens: u32,
    pub max_tokens: u32,
    pub beams: u32,
    pub length_penalty: f64,
    pub no_repeat_ngram: u32,
    pub early_stopping: bool,
}

impl GenerationSettings {
    pub fn validate(&self, what: &str) -> Result<()> {
        if self.max_tokens == 0 || self.min_tokens > self.max_tokens {
            bail!("{what}: min_tokens ({}) must be at most max_tokens ({}), and max_tokens above 0", self.min_tokens, self.max_tokens);
        }
        if self.beams == 0 {
            bail!("{what}: beams must be at least 1");
        }
        if !(self.length_penalty > 0.0) {
            bail!("{what}: length_penalty must be above 0 (got {})", self.length_penalty);
        }
        Ok(())
    }
}

/// The tokenizer files found in a model directory, in order of preference.
#[derive(Debug, Clone)]
pub enum TokenizerFiles {
    /// A Hugging Face `tokenizer.json`, with the `special_tokens_map.json` rust-bert needs beside it.
    Json { tokenizer: PathBuf, special_tokens_map: Option<PathBuf> },
    /// Byte-level BPE as `vocab.json` + `merges.txt` (BART / RoBERTa style).
    VocabMerges { vocab: PathBuf, merges: PathBuf },
    /// A SentencePiece model (`spiece.model`; T5 and PEGASUS).
    SentencePiece { model: PathBuf },
}

/// Everything needed to load one model from local files.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub config: PathBuf,
    pub weights: PathBuf,
    pub tokenizer: TokenizerFiles,
}

enum Generator {
    Bart(BartGenerator),
    Pegasus(PegasusConditionalGenerator),
    T5(T5Generator),
}

/// A loaded seq2seq model, ready to encode, generate and decode.
pub struct Seq2SeqModel {
    architecture: Architecture,
    generator: Generator,
    tokenizer: TokenizerOption,
    prefix: String,
    pad_id: i64,
    device: Device,
    /// The input window in tokens: what the model can read at once.
    window: usize,
    /// rust-bert's PEGASUS generator ignores config.json's `forced_eos_token_id`; precis applies
    /// it itself (the end-of-sequence token is the only choice at the last step, as in transformers).
    forced_eos: Option<ForcedEos>,
    /// rust_tokenizers' SentencePiece reader does not apply the model's whitespace normalization
    /// (runs of spaces and newlines become one space), which Hugging Face's tokenizers do.
    collapse_whitespace: bool,
}

struct ForcedEos {
    token: i64,
    all_tokens: Vec<i64>,
}

impl Seq2SeqModel {
    /// Loads a model. `window` overrides the input window the config implies (T5 has none).
    pub fn load(
        files: &ModelFiles,
        architecture: Architecture,
        prefix: &str,
        window: Option<usize>,
        device: Device,
    ) -> Result<Seq2SeqModel> {
        let scratch = ScratchDir::new()?;
        let config = prepare_config(&files.config, architecture, &scratch)?;
        let tokenizer = load_tokenizer(&files.tokenizer, architecture, &scratch)?;
        let plan = weights::inspect(&files.weights, architecture)?;
        let model_resource = match plan {
            WeightsPlan::AsIs => ModelResource::Torch(Box::new(LocalResource { local_path: files.weights.clone() })),
            WeightsPlan::RenameTiedEmbedding { from, to } => {
                ModelResource::Torch(Box::new(renamed_weights_buffer(&files.weights, &from, &to)?))
            }
        };
        let generate_config = GenerateConfig {
            model_type: architecture.model_type(),
            model_resource,
            config_resource: Box::new(LocalResource { local_path: config.path.clone() }),
            vocab_resource: Box::new(LocalResource { local_path: files.config.clone() }),
            merges_resource: None,
            min_length: 0,
            max_length: Some(20),
            do_sample: false,
            early_stopping: false,
            num_beams: 1,
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            repetition_penalty: 1.0,
            length_penalty: 1.0,
            no_repeat_ngram_size: 0,
            num_return_sequences: 1,
            num_beam_groups: None,
            diversity_penalty: None,
            device,
            // Weights stored in fp16 are cast to fp32 on the CPU, as transformers does.
            kind: if device == Device::Cpu { Some(Kind::Float) } else { None },
        };
        let weights_name = files.weights.display().to_string();
        let built = quietly(|| -> Result<Generator, rust_bert::RustBertError> {
            Ok(match architecture {
                Architecture::Bart => Generator::Bart(BartGenerator::new_with_tokenizer(generate_config, tokenizer_clone(&files.tokenizer, architecture, &scratch)?)?),
                Architecture::Pegasus => Generator::Pegasus(PegasusConditionalGenerator::new_with_tokenizer(generate_config, tokenizer_clone(&files.tokenizer, architecture, &scratch)?)?),
                Architecture::T5 => Generator::T5(T5Generator::new_with_tokenizer(generate_config, tokenizer_clone(&files.tokenizer, architecture, &scratch)?)?),
            })
        });
        let generator = match built {
            Ok(Ok(generator)) => generator,
            Ok(Err(error)) => return Err(weights_error(&weights_name, &error.to_string())),
            Err(panic) => return Err(weights_error(&weights_name, &panic)),
        };
        let pad_id = config.pad_token_id.or_else(|| tokenizer.get_pad_id()).unwrap_or(0);
        // Never beyond the positions the weights have, whatever a preset claims.
        let window = match (window, config.max_positions) {
            (Some(wanted), Some(positions)) => wanted.min(positions),
            (wanted, positions) => wanted.or(positions).unwrap_or(512),
        };
        let collapse_whitespace = matches!(files.tokenizer, TokenizerFiles::SentencePiece { .. });
        let forced_eos = match (architecture, config.forced_eos_token_id, config.vocab_size) {
            (Architecture::Pegasus, Some(token), Some(vocab)) => Some(ForcedEos { token, all_tokens: (0..vocab).collect() }),
            _ => None,
        };
        Ok(Seq2SeqModel { architecture, generator, tokenizer, prefix: prefix.to_string(), pad_id, device, window, forced_eos, collapse_whitespace })
    }

    pub fn architecture(&self) -> Architecture {
        self.architecture
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

    /// Generates one output per input. Inputs are right-padded into one batch, as transformers does.
    pub fn generate(&self, inputs: &[Vec<i64>], settings: &GenerationSettings) -> Result<Vec<Vec<i64>>> {
        settings.validate("generation settings")?;
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let longest = inputs.iter().map(Vec::len).max().unwrap_or(0);
        if longest == 0 {
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
        let shape = [inputs.len() as i64, longest as i64];
        let input_ids = Tensor::from_slice(&ids).view(shape).to_device(self.device);
        let attention_mask = Tensor::from_slice(&mask).view(shape).to_device(self.device);
        let last_step = i64::from(settings.max_tokens) - 1;
        let force_eos_at_last_step = |_batch: i64, sequence: &Tensor| -> Vec<i64> {
            match &self.forced_eos {
                Some(forced) if sequence.size().first().copied() == Some(last_step) => vec![forced.token],
                Some(forced) => forced.all_tokens.clone(),
                None => Vec::new(),
            }
        };
        let options = GenerateOptions {
            min_length: Some(i64::from(settings.min_tokens)),
            max_length: Some(i64::from(settings.max_tokens)),
            num_beams: Some(i64::from(settings.beams)),
            length_penalty: Some(settings.length_penalty),
            no_repeat_ngram_size: Some(i64::from(settings.no_repeat_ngram)),
            early_stopping: Some(settings.early_stopping),
            do_sample: Some(false),
            num_return_sequences: Some(1),
            prefix_allowed_tokens_fn: if self.forced_eos.is_some() { Some(&force_eos_at_last_step) } else { None },
            ..Default::default()
        };
        let generated = quietly(|| match &self.generator {
            Generator::Bart(g) => g.generate_from_ids_and_past(input_ids, Some(attention_mask), Some(options)),
            Generator::Pegasus(g) => g.generate_from_ids_and_past(input_ids, Some(attention_mask), Some(options)),
            Generator::T5(g) => g.generate_from_ids_and_past(input_ids, Some(attention_mask), Some(options)),
        });
        let outputs = match generated {
            Ok(Ok(outputs)) => outputs,
            Ok(Err(error)) => bail!("generation failed: {error}"),
            Err(panic) => bail!("generation failed inside rust-bert: {panic}"),
        };
        if outputs.len() != inputs.len() {
            bail!("generation returned {} outputs for {} inputs", outputs.len(), inputs.len());
        }
        Ok(outputs.into_iter().map(|output| output.indices).collect())
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
         Delete it and fetch it again (`precis models pull NAME`), or point --model at a directory with a loadable model.safetensors or rust_model.ot."
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
/// (a cleaned-up config, a special tokens map); removed when dropped.
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

struct PreparedConfig {
    path: PathBuf,
    pad_token_id: Option<i64>,
    max_positions: Option<usize>,
    forced_eos_token_id: Option<i64>,
    vocab_size: Option<i64>,
}

/// Reads config.json, fixes the traps rust-bert falls into with real Hub configs, and checks that
/// it parses as the architecture's config (rust-bert would panic on a bad one).
fn prepare_config(path: &Path, architecture: Architecture, scratch: &ScratchDir) -> Result<PreparedConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the model config {}", path.display()))?;
    let mut config: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("the model config {} is not valid JSON; fetch it again or fix the file", path.display()))?;
    let object = config
        .as_object_mut()
        .ok_or_else(|| anyhow!("the model config {} is not a JSON object", path.display()))?;
    match architecture {
        Architecture::T5 => {
            // rust-bert's T5Config requires all four of its known tasks when the key is present.
            let complete = object.get("task_specific_params").and_then(|v| v.as_object()).map_or(true, |tasks| {
                ["summarization", "translation_en_to_de", "translation_en_to_fr", "translation_en_to_ro"]
                    .iter()
                    .all(|task| tasks.contains_key(*task))
            });
            if !complete {
                object.remove("task_specific_params");
            }
        }
        Architecture::Bart | Architecture::Pegasus => {
            // transformers maps the legacy flag to forced_bos_token_id; rust-bert reads only the new key.
            let legacy_force_bos = object.get("force_bos_token_to_be_generated").and_then(|v| v.as_bool()) == Some(true);
            if legacy_force_bos && object.get("forced_bos_token_id").map_or(true, |v| v.is_null()) {
                let bos = object.get("bos_token_id").cloned().unwrap_or(serde_json::json!(0));
                object.insert("forced_bos_token_id".into(), bos);
            }
        }
    }
    let pad_token_id = object.get("pad_token_id").and_then(|v| v.as_i64());
    let forced_eos_token_id = object.get("forced_eos_token_id").and_then(|v| v.as_i64());
    let vocab_size = object.get("vocab_size").and_then(|v| v.as_i64());
    let max_positions = match architecture {
        Architecture::Bart | Architecture::Pegasus => object.get("max_position_embeddings").and_then(|v| v.as_u64()).map(|v| v as usize),
        Architecture::T5 => None,
    };
    let check = match architecture {
        Architecture::Bart => serde_json::from_value::<rust_bert::bart::BartConfig>(config.clone()).map(|_| ()),
        Architecture::Pegasus => serde_json::from_value::<rust_bert::pegasus::PegasusConfig>(config.clone()).map(|_| ()),
        Architecture::T5 => serde_json::from_value::<rust_bert::t5::T5Config>(config.clone()).map(|_| ()),
    };
    check.map_err(|e| anyhow!("the model config {} is not a valid {} config: {e}", path.display(), architecture.name()))?;
    let cleaned = scratch.path.join("config.json");
    std::fs::write(&cleaned, serde_json::to_vec(&config)?).with_context(|| format!("cannot write {}", cleaned.display()))?;
    Ok(PreparedConfig { path: cleaned, pad_token_id, max_positions, forced_eos_token_id, vocab_size })
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
            TokenizerOption::from_file(architecture.model_type(), vocab_path, Some(merges_path), false, None, false)
                .map_err(|e| anyhow!("cannot load the tokenizer {} + {}: {e}", vocab.display(), merges.display()))?
        }
        TokenizerFiles::SentencePiece { model } => {
            TokenizerOption::from_file(architecture.model_type(), path_str(model)?, None, false, None, None)
                .map_err(|e| anyhow!("cannot load the SentencePiece tokenizer {}: {e}", model.display()))?
        }
    };
    Ok(loaded)
}

/// rust-bert's generators take ownership of a tokenizer; TokenizerOption is not Clone, so load twice.
fn tokenizer_clone(files: &TokenizerFiles, architecture: Architecture, scratch: &ScratchDir) -> Result<TokenizerOption, rust_bert::RustBertError> {
    load_tokenizer(files, architecture, scratch).map_err(|e| rust_bert::RustBertError::TokenizerError(e.to_string()))
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

/// Hub safetensors files written since late 2023 keep the tied embedding only under
/// `model.decoder.embed_tokens.weight`; rust-bert wants `model.shared.weight`. The tensors are
/// renamed in memory and handed over in libtorch's own format; the file on disk is untouched.
fn renamed_weights_buffer(path: &Path, from: &str, to: &str) -> Result<BufferResource> {
    let tensors = Tensor::read_safetensors(path).map_err(|e| weights_error(&path.display().to_string(), &e.to_string()))?;
    let renamed: Vec<(String, Tensor)> = tensors
        .into_iter()
        .map(|(name, tensor)| if name == from { (to.to_string(), tensor) } else { (name, tensor) })
        .collect();
    let mut buffer = Vec::new();
    Tensor::save_multi_to_stream(&renamed, &mut buffer).map_err(|e| anyhow!("cannot re-serialize the weights of {}: {e}", path.display()))?;
    Ok(BufferResource { data: Arc::new(RwLock::new(buffer)) })
}
