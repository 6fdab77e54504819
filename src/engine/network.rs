//! The neural networks behind the seq2seq engine: precis's own BART, T5 and PEGASUS
//! (`engine::bart`, `engine::t5`, `engine::pegasus`) and, behind a switch, rust-bert's, driven one
//! decoder step at a time for `engine::decode`.
//!
//! Owns: choosing and building the network for a model's configuration, loading the weights
//! (any form `hub::weights` reads; floating-point tensors cast to fp32 on the CPU; a tied
//! embedding stored under any of its names taken under the name the network expects), the
//! encoder pass, decoder steps with their caches, and cache reordering for beam search.
//!
//! precis's own networks run on the file's tensors, project a step's rows on precis's kernels and
//! share cross-attention keys and values between the beams of an input. rust-bert's networks are
//! used when `PRECIS_RUST_BERT=1` (every architecture) or `PRECIS_RUST_BERT_BART=1` (BART only)
//! asks for them — to measure the difference, or should a checkpoint need them — and for BART
//! configurations precis's BART does not mirror.
//!
//! Weights are stored at the precision asked for (`kernels::Precision`) by precis's BART, whose
//! products all run on precis's kernels; precis's T5 and PEGASUS and rust-bert's networks run in
//! fp32 whatever was asked, and say so (`Network::precision`).
//!
//! It does not decide how to decode (`decode`) nor read tokenizers and configs (`seq2seq`, `config`).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use rust_bert::bart::{BartConfig, BartForConditionalGeneration, LayerState as BartLayerState};
use rust_bert::pegasus::{PegasusConfig, PegasusForConditionalGeneration};
use rust_bert::t5::{LayerState as T5LayerState, T5Config, T5ForConditionalGeneration};
use tch::{nn, Device, Kind, Tensor};

use super::bart::{self, Bart};
use super::config::{Architecture, ModelConfig};
use super::decode::StepModel;
use super::kernels::{self, FileTensor, Precision, Weight};
use super::layers::{CrossSource, SelfCache};
use super::pegasus::Pegasus;
use super::t5::{self, T5};
use crate::hub::weights;

/// A loaded network and, for rust-bert's models, the variable store that owns its weights.
pub struct Network {
    model: Model,
    // Keeps rust-bert's weights alive for as long as the model (the model holds views of them).
    _weights: Option<nn::VarStore>,
}

enum Model {
    /// precis's own networks (they own their weights).
    OwnBart(Bart),
    OwnT5(T5),
    OwnPegasus(Pegasus),
    Bart(BartForConditionalGeneration),
    Pegasus(PegasusForConditionalGeneration),
    T5(T5ForConditionalGeneration),
}

/// Per decoder layer: (self-attention, cross-attention) keys and values of the steps so far.
pub enum Cache {
    /// rust-bert's BART and PEGASUS (its PEGASUS uses BART's layer state).
    Bart(BartLayers),
    T5(Vec<(Option<T5LayerState>, Option<T5LayerState>)>),
    /// precis's BART: self-attention only (the cross-attention lives in the source).
    OwnBart(bart::Cache),
    /// precis's PEGASUS: self-attention only.
    Own(SelfCache),
    /// precis's T5: self-attention only, and whether beam search reordered it yet.
    OwnT5(t5::Cache),
}

/// The encoder side of one decoding.
pub enum Source {
    /// For rust-bert's decoders: the encoder states and mask, one copy per decoded row
    /// (`_expand_inputs_for_generation`'s repeat_interleave).
    Expanded { encoder_states: Tensor, attention_mask: Tensor },
    /// For precis's BART: cross-attention keys and values once per input.
    OwnBart(bart::Source),
    /// For precis's PEGASUS: cross-attention keys and values once per input.
    Own(CrossSource),
    /// For precis's T5: cross-attention keys and values per row (see `t5::Source`).
    OwnT5(t5::Source),
}

type BartLayers = Vec<(Option<BartLayerState>, Option<BartLayerState>)>;

/// Whether an environment switch asks for rust-bert's network for `architecture`.
fn rust_bert_asked(architecture: Architecture) -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| v == "1");
    set("PRECIS_RUST_BERT") || (architecture == Architecture::Bart && set("PRECIS_RUST_BERT_BART"))
}

impl Network {
    /// Builds the network for a model's configuration and loads its weights, at `precision`
    /// where the network runs on precis's kernels at every precision (its BART; see
    /// [`Network::precision`] for what it got). Panics inside tch or rust-bert are the caller's
    /// to catch.
    pub fn load(model: &ModelConfig, weights: &Path, device: Device, precision: Precision) -> Result<Network> {
        let architecture = model.architecture;
        let config = &model.config;
        let own = !rust_bert_asked(architecture);
        if own && architecture == Architecture::Bart && Bart::supports(config) {
            let tensors = read_file_tensors(weights, device, architecture, config, &Bart::stores_as_weight, precision)?;
            return Ok(Network { model: Model::OwnBart(Bart::from_tensors(tensors, config, precision)?), _weights: None });
        }
        let mut tensors = read_tensors(weights, device)?;
        take_tied_embedding(&mut tensors, architecture, config);
        if own {
            match architecture {
                Architecture::Bart => {}
                Architecture::T5 => return Ok(Network { model: Model::OwnT5(T5::from_tensors(tensors, config)?), _weights: None }),
                Architecture::Pegasus => return Ok(Network { model: Model::OwnPegasus(Pegasus::from_tensors(tensors, config)?), _weights: None }),
            }
        }
        let model_config = rust_bert_config(architecture, config);
        let config_error = |e: serde_json::Error| anyhow!("the model config is not a valid {} config for rust-bert: {e}", architecture.name());
        let mut store = nn::VarStore::new(device);
        let model = match architecture {
            Architecture::Bart => {
                let config: BartConfig = serde_json::from_value(model_config).map_err(config_error)?;
                Model::Bart(BartForConditionalGeneration::new(store.root(), &config))
            }
            Architecture::Pegasus => {
                let config: PegasusConfig = serde_json::from_value(model_config).map_err(config_error)?;
                Model::Pegasus(PegasusForConditionalGeneration::new(store.root(), &config))
            }
            Architecture::T5 => {
                let config: T5Config = serde_json::from_value(model_config).map_err(config_error)?;
                Model::T5(T5ForConditionalGeneration::new(store.root(), &config))
            }
        };
        fill_variables(&mut store, tensors, device)?;
        store.freeze();
        Ok(Network { model, _weights: Some(store) })
    }

    /// The precision the network's products run at: what was asked for on precis's BART, fp32
    /// on precis's T5 and PEGASUS and on rust-bert's networks.
    pub fn precision(&self) -> Precision {
        match &self.model {
            Model::OwnBart(model) => model.precision(),
            _ => Precision::Fp32,
        }
    }

    /// Which network runs the model: "precis" or "rust-bert".
    pub fn implementation(&self) -> &'static str {
        match self.model {
            Model::OwnBart(_) | Model::OwnT5(_) | Model::OwnPegasus(_) => "precis",
            _ => "rust-bert",
        }
    }
}

/// Each tensor of a weights file (any form `hub::weights` reads) by the file's name, as it is
/// read. On the CPU, floating-point tensors become fp32 (transformers loads fp16 and bf16 files
/// that way too); elsewhere they keep the file's precision.
fn for_each_tensor(path: &Path, device: Device, each: &mut dyn FnMut(String, Tensor) -> Result<()>) -> Result<()> {
    weights::for_each_tensor(path, &mut |name, tensor| {
        let tensor = if device == Device::Cpu && tensor.is_floating_point() && tensor.kind() != Kind::Float {
            tensor.f_to_kind(Kind::Float)?
        } else {
            tensor.f_to_device(device)?
        };
        each(name, tensor)
    })
}

/// The tensors of a weights file by name (see [`for_each_tensor`]).
fn read_tensors(path: &Path, device: Device) -> Result<HashMap<String, Tensor>> {
    let mut tensors = HashMap::new();
    for_each_tensor(path, device, &mut |name, tensor| {
        tensors.insert(name, tensor);
        Ok(())
    })?;
    Ok(tensors)
}

/// The tensors of a weights file for precis's BART: each stored as a `Weight` at `precision` as
/// soon as it is read when `stores_as_weight(name)` says so (`Some(true)`), kept (`Some(false)`)
/// or dropped (`None`). The shared embedding stored only under another of its tied names (see
/// [`take_tied_embedding`]) is taken under the name the network reads; its other copies are
/// dropped as they come.
fn read_file_tensors(
    path: &Path,
    device: Device,
    architecture: Architecture,
    config: &serde_json::Value,
    stores_as_weight: &dyn Fn(&str) -> Option<bool>,
    precision: Precision,
) -> Result<HashMap<String, FileTensor>> {
    let (shared, aliases) = tied_names(architecture, config);
    let mut tensors = HashMap::new();
    // The alias the shared embedding was taken from (the earliest in `aliases` seen so far).
    let mut taken_alias: Option<usize> = None;
    let mut shared_seen = false;
    for_each_tensor(path, device, &mut |name, tensor| {
        let alias = aliases.iter().position(|alias| *alias == name);
        let target = match alias {
            _ if name == shared => {
                shared_seen = true;
                shared.to_string()
            }
            Some(rank) if !shared_seen && taken_alias.is_none_or(|taken| rank < taken) => {
                taken_alias = Some(rank);
                shared.to_string()
            }
            Some(_) => return Ok(()),
            None => name,
        };
        let stored = match stores_as_weight(&target) {
            Some(true) if tensor.dim() == 2 => FileTensor::Weight(Weight::new(tensor, precision)?),
            Some(_) => FileTensor::Kept(tensor),
            None => return Ok(()),
        };
        tensors.insert(target, stored);
        Ok(())
    })?;
    Ok(tensors)
}

/// The name the networks read the shared (tied) embedding under, and its other tied names in the
/// order they are taken from.
fn tied_names(architecture: Architecture, config: &serde_json::Value) -> (&'static str, Vec<&'static str>) {
    let tied = config.get("tie_word_embeddings").and_then(|v| v.as_bool()).unwrap_or(true);
    let (shared, mut aliases) = match architecture {
        Architecture::Bart | Architecture::Pegasus => ("model.shared.weight", vec!["model.decoder.embed_tokens.weight", "model.encoder.embed_tokens.weight"]),
        Architecture::T5 => ("shared.weight", vec!["encoder.embed_tokens.weight", "decoder.embed_tokens.weight"]),
    };
    if tied {
        aliases.push("lm_head.weight");
    }
    (shared, aliases)
}

/// The shared (tied) embedding under the name the networks read (`model.shared.weight`,
/// `shared.weight`), when the file stores it under another of its tied names: the Hub's
/// conversion bot keeps BART's and PEGASUS's as `model.decoder.embed_tokens.weight` since late
/// 2023; a file may also keep only an encoder's or the LM head's copy. The cached file is never
/// modified.
fn take_tied_embedding(tensors: &mut HashMap<String, Tensor>, architecture: Architecture, config: &serde_json::Value) {
    let (shared, aliases) = tied_names(architecture, config);
    if tensors.contains_key(shared) {
        return;
    }
    if let Some(alias) = aliases.iter().find(|alias| tensors.contains_key(**alias)) {
        if let Some(tensor) = tensors.get(*alias) {
            let tensor = tensor.shallow_clone();
            tensors.insert(shared.to_string(), tensor);
        }
    }
}

/// config.json shaped for rust-bert's config types, fixing the traps rust-bert falls into with
/// real Hub configs.
fn rust_bert_config(architecture: Architecture, config: &serde_json::Value) -> serde_json::Value {
    let mut model_config = config.clone();
    if let Some(object) = model_config.as_object_mut() {
        if architecture == Architecture::T5 {
            // rust-bert's T5Config requires all four of its known tasks when the key is present
            // (and panics otherwise).
            let complete = object.get("task_specific_params").and_then(|v| v.as_object()).map_or(true, |tasks| {
                ["summarization", "translation_en_to_de", "translation_en_to_fr", "translation_en_to_ro"].iter().all(|task| tasks.contains_key(*task))
            });
            if !complete {
                object.remove("task_specific_params");
            }
        }
        // rust-bert's config types take one id where transformers allows a list; the network
        // does not use these ids (decoding reads them from the configuration).
        for key in ["eos_token_id", "forced_eos_token_id"] {
            if let Some(first) = object.get(key).and_then(|v| v.as_array()).map(|ids| ids.first().cloned().unwrap_or(serde_json::Value::Null)) {
                object.insert(key.into(), first);
            }
        }
        // The decoding loop needs the key/value cache and nothing else from the decoder.
        object.insert("output_past".into(), serde_json::json!(true));
        object.insert("output_attentions".into(), serde_json::json!(false));
        object.insert("output_hidden_states".into(), serde_json::json!(false));
    }
    model_config
}

/// Copies every variable of `store` from the file's tensors, dropping each tensor once copied
/// (so that the model is in memory about once, not twice). A variable the file lacks is an
/// error; tensors the model does not use are ignored (as tch's own loader does).
fn fill_variables(store: &mut nn::VarStore, mut tensors: HashMap<String, Tensor>, device: Device) -> Result<()> {
    let _no_grad = tch::no_grad_guard();
    let mut variables: Vec<(String, Tensor)> = store.variables().into_iter().collect();
    variables.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, mut variable) in variables {
        let source = tensors.remove(&name).ok_or_else(|| anyhow!("the file has no tensor {name}"))?;
        if variable.size() != source.size() {
            bail!("tensor {name} has shape {:?} in the file but the config implies {:?}", source.size(), variable.size());
        }
        if device != Device::Cpu {
            // Off the CPU, weights keep the file's precision (fp16 stays fp16), as before.
            let converted = variable.f_to_kind(source.kind())?;
            variable.f_set_data(&converted)?;
        }
        variable.f_copy_(&source).map_err(|e| anyhow!("tensor {name}: {e}"))?;
    }
    Ok(())
}

impl StepModel for Network {
    type Cache = Cache;
    type Source = Source;

    fn encode(&self, input_ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        Ok(match &self.model {
            Model::OwnBart(model) => model.encode(input_ids, attention_mask)?,
            Model::OwnT5(model) => model.encode(input_ids, attention_mask)?,
            Model::OwnPegasus(model) => model.encode(input_ids, attention_mask)?,
            Model::Bart(model) => model.encode(input_ids, Some(attention_mask)),
            Model::Pegasus(model) => model.encode(input_ids, Some(attention_mask)),
            Model::T5(model) => model.encode(input_ids, Some(attention_mask)),
        })
    }

    fn prepare(&self, encoder_states: &Tensor, attention_mask: &Tensor, beams: usize) -> Result<Source> {
        match &self.model {
            Model::OwnBart(model) => return Ok(Source::OwnBart(model.prepare(encoder_states, attention_mask, beams)?)),
            Model::OwnT5(model) => return Ok(Source::OwnT5(model.prepare(encoder_states, attention_mask, beams)?)),
            Model::OwnPegasus(model) => return Ok(Source::Own(model.prepare(encoder_states, attention_mask, beams)?)),
            _ => {}
        }
        if beams == 1 {
            return Ok(Source::Expanded { encoder_states: encoder_states.shallow_clone(), attention_mask: attention_mask.shallow_clone() });
        }
        let batch = encoder_states.size().first().copied().unwrap_or(0);
        let expand = Tensor::f_arange(batch, (tch::Kind::Int64, encoder_states.device()))?.f_repeat_interleave_self_int(beams as i64, Some(0), None)?;
        Ok(Source::Expanded { encoder_states: encoder_states.f_index_select(0, &expand)?, attention_mask: attention_mask.f_index_select(0, &expand)? })
    }

    fn step(&self, last_tokens: &Tensor, source: &Source, cache: Option<Cache>) -> Result<(Tensor, Cache)> {
        // rust-bert's decoders return logits `[rows, 1, vocab]` and a cache that may be missing.
        let rust_bert_step = |output: (Tensor, Option<Cache>)| -> Result<(Tensor, Cache)> {
            let (logits, cache) = output;
            let cache = cache.ok_or_else(|| anyhow!("the decoder returned no key/value cache"))?;
            Ok((logits.f_select(1, -1)?, cache))
        };
        match (source, &self.model) {
            (Source::OwnBart(source), Model::OwnBart(model)) => {
                let past = match cache {
                    None => None,
                    Some(Cache::OwnBart(cache)) => Some(cache),
                    Some(_) => bail!("another network's cache was given to precis's BART"),
                };
                let (logits, cache) = model.step(last_tokens, source, past)?;
                Ok((logits, Cache::OwnBart(cache)))
            }
            (Source::OwnT5(source), Model::OwnT5(model)) => {
                let past = match cache {
                    None => None,
                    Some(Cache::OwnT5(cache)) => Some(cache),
                    Some(_) => bail!("another network's cache was given to precis's T5"),
                };
                let (logits, cache) = model.step(last_tokens, source, past)?;
                Ok((logits, Cache::OwnT5(cache)))
            }
            (Source::Own(source), Model::OwnPegasus(model)) => {
                let (logits, cache) = model.step(last_tokens, source, own_cache(cache)?)?;
                Ok((logits, Cache::Own(cache)))
            }
            (Source::Expanded { encoder_states, attention_mask }, Model::Bart(model)) => {
                let output = model.forward_t(None, Some(attention_mask), Some(encoder_states), Some(last_tokens), None, bart_cache(cache)?, false);
                rust_bert_step((output.decoder_output, output.cache.map(Cache::Bart)))
            }
            (Source::Expanded { encoder_states, attention_mask }, Model::Pegasus(model)) => {
                let output = model.forward_t(None, Some(attention_mask), Some(encoder_states), Some(last_tokens), None, bart_cache(cache)?, false);
                rust_bert_step((output.decoder_output, output.cache.map(Cache::Bart)))
            }
            (Source::Expanded { encoder_states, attention_mask }, Model::T5(model)) => {
                let past = match cache {
                    None => None,
                    Some(Cache::T5(layers)) => Some(layers),
                    Some(_) => bail!("another network's cache was given to rust-bert's T5"),
                };
                let output = model.forward_t(None, Some(attention_mask), Some(encoder_states), Some(last_tokens), None, None, None, past, false);
                rust_bert_step((output.decoder_output, output.next_cache.map(Cache::T5)))
            }
            _ => bail!("the decoding source was prepared for another network"),
        }
    }

    fn step_threads(&self, rows: usize) -> Option<kernels::SingleThreadedLibtorch> {
        match &self.model {
            Model::OwnBart(model) => kernels::SingleThreadedLibtorch::enter(rows, model.precision()),
            Model::OwnT5(_) | Model::OwnPegasus(_) => kernels::SingleThreadedLibtorch::enter(rows, Precision::Fp32),
            _ => None,
        }
    }

    fn reorder(&self, cache: Cache, rows: &Tensor) -> Result<Cache> {
        let pick_bart = |state: Option<BartLayerState>| -> Result<Option<BartLayerState>> {
            state
                .map(|s| Ok(BartLayerState { prev_key: s.prev_key.f_index_select(0, rows)?, prev_value: s.prev_value.f_index_select(0, rows)? }))
                .transpose()
        };
        let pick_t5 = |state: Option<T5LayerState>| -> Result<Option<T5LayerState>> {
            state
                .map(|s| Ok(T5LayerState { prev_key: s.prev_key.f_index_select(0, rows)?, prev_value: s.prev_value.f_index_select(0, rows)? }))
                .transpose()
        };
        Ok(match cache {
            // transformers' BART and PEGASUS `_reorder_cache` reorder only the self-attention
            // states: the cross-attention ones are the same for every beam of an input.
            Cache::Bart(layers) => Cache::Bart(
                layers.into_iter().map(|(own, cross)| Ok((pick_bart(own)?, cross))).collect::<Result<Vec<_>>>()?,
            ),
            // T5's reorders all four.
            Cache::T5(layers) => Cache::T5(
                layers.into_iter().map(|(own, cross)| Ok((pick_t5(own)?, pick_t5(cross)?))).collect::<Result<Vec<_>>>()?,
            ),
            Cache::OwnBart(cache) => match &self.model {
                Model::OwnBart(model) => Cache::OwnBart(model.reorder(cache, rows)?),
                _ => bail!("a cache of precis's BART was given to another network"),
            },
            // The cross-attention keys and values are shared by an input's beams: only the
            // self-attention caches follow the beams.
            Cache::Own(cache) => Cache::Own(cache.reorder(rows)?),
            Cache::OwnT5(cache) => match &self.model {
                Model::OwnT5(model) => Cache::OwnT5(model.reorder(cache, rows)?),
                _ => bail!("a cache of precis's T5 was given to another network"),
            },
        })
    }
}

fn own_cache(cache: Option<Cache>) -> Result<Option<SelfCache>> {
    match cache {
        None => Ok(None),
        Some(Cache::Own(cache)) => Ok(Some(cache)),
        Some(_) => bail!("another network's cache was given to precis's PEGASUS"),
    }
}

fn bart_cache(cache: Option<Cache>) -> Result<Option<BartLayers>> {
    match cache {
        None => Ok(None),
        Some(Cache::Bart(layers)) => Ok(Some(layers)),
        Some(_) => bail!("a T5 or precis cache was given to rust-bert's BART or PEGASUS decoder"),
    }
}
