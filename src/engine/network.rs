//! The neural networks behind the seq2seq engine: precis's own BART (`engine::bart`) and
//! rust-bert's BART, PEGASUS and T5 model types, and driving them one decoder step at a time for
//! `engine::decode`.
//!
//! Owns: building the network for an architecture and a (cleaned) config, loading the weights
//! (safetensors read tensor by tensor, or a libtorch archive; fp16 files cast to fp32 on the CPU;
//! the Hub's tied-embedding alias read under the name the model expects), the encoder pass,
//! decoder steps with the layer caches, and cache reordering for beam search.
//!
//! BART models go through precis's own network (on the file's tensors; cross-attention shared by
//! the beams of an input); `PRECIS_RUST_BERT_BART=1` uses rust-bert's BART instead (to measure
//! the difference, or should a checkpoint need it).
//!
//! Weights are stored at the precision asked for (`kernels::Precision`) by the networks whose
//! products run on precis's kernels (its BART); rust-bert's networks run in fp32 whatever was
//! asked, and say so (`Network::precision`).
//!
//! It does not decide how to decode (`decode`) nor read tokenizers and configs (`seq2seq`).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use rust_bert::bart::{BartConfig, BartForConditionalGeneration, LayerState as BartLayerState};
use rust_bert::pegasus::{PegasusConfig, PegasusForConditionalGeneration};
use rust_bert::t5::{LayerState as T5LayerState, T5Config, T5ForConditionalGeneration};
use tch::{nn, Device, Kind, Tensor};

use super::bart::{self, Bart};
use super::decode::StepModel;
use super::kernels::{self, FileTensor, Precision, Weight};
use super::seq2seq::Architecture;
use crate::hub::weights::{self, WeightsPlan};

/// A loaded network and, for rust-bert's models, the variable store that owns its weights.
pub struct Network {
    model: Model,
    // Keeps rust-bert's weights alive for as long as the model (the model holds views of them).
    _weights: Option<nn::VarStore>,
}

enum Model {
    /// precis's own BART (it owns its weights).
    OwnBart(Bart),
    Bart(BartForConditionalGeneration),
    Pegasus(PegasusForConditionalGeneration),
    T5(T5ForConditionalGeneration),
}

/// Per decoder layer: (self-attention, cross-attention) keys and values of the steps so far.
pub enum Cache {
    /// BART and PEGASUS (rust-bert's PEGASUS uses BART's layer state).
    Bart(BartLayers),
    T5(Vec<(Option<T5LayerState>, Option<T5LayerState>)>),
    /// precis's BART: self-attention only (the cross-attention lives in the source).
    OwnBart(bart::Cache),
}

/// The encoder side of one decoding.
pub enum Source {
    /// For rust-bert's decoders: the encoder states and mask, one copy per decoded row
    /// (`_expand_inputs_for_generation`'s repeat_interleave).
    Expanded { encoder_states: Tensor, attention_mask: Tensor },
    /// For precis's BART: cross-attention keys and values once per input.
    OwnBart(bart::Source),
}

type BartLayers = Vec<(Option<BartLayerState>, Option<BartLayerState>)>;

impl Network {
    /// Builds the model for `config` (already checked to parse as the architecture's config) and
    /// loads its weights, at `precision` where the network runs on precis's kernels (see
    /// [`Network::precision`] for what it got). Panics inside tch or rust-bert are the caller's
    /// to catch.
    pub fn load(architecture: Architecture, config: &serde_json::Value, weights: &Path, plan: &WeightsPlan, device: Device, precision: Precision) -> Result<Network> {
        let config_error = |e: serde_json::Error| anyhow!("the model config is not a valid {} config: {e}", architecture.name());
        let keep_rust_bert = std::env::var_os("PRECIS_RUST_BERT_BART").is_some_and(|v| v == "1");
        if architecture == Architecture::Bart && !keep_rust_bert && Bart::supports(config) {
            let tensors = read_file_tensors(weights, plan, device, &Bart::stores_as_weight, precision)?;
            return Ok(Network { model: Model::OwnBart(Bart::from_tensors(tensors, config, precision)?), _weights: None });
        }
        let mut store = nn::VarStore::new(device);
        let model = match architecture {
            Architecture::Bart => {
                let config: BartConfig = serde_json::from_value(config.clone()).map_err(config_error)?;
                Model::Bart(BartForConditionalGeneration::new(store.root(), &config))
            }
            Architecture::Pegasus => {
                let config: PegasusConfig = serde_json::from_value(config.clone()).map_err(config_error)?;
                Model::Pegasus(PegasusForConditionalGeneration::new(store.root(), &config))
            }
            Architecture::T5 => {
                let config: T5Config = serde_json::from_value(config.clone()).map_err(config_error)?;
                Model::T5(T5ForConditionalGeneration::new(store.root(), &config))
            }
        };
        let tensors = read_tensors(weights, plan, device)?;
        fill_variables(&mut store, tensors, device)?;
        store.freeze();
        Ok(Network { model, _weights: Some(store) })
    }

    /// The precision the network's products run at: what was asked for on precis's networks,
    /// fp32 on rust-bert's.
    pub fn precision(&self) -> Precision {
        match &self.model {
            Model::OwnBart(model) => model.precision(),
            Model::Bart(_) | Model::Pegasus(_) | Model::T5(_) => Precision::Fp32,
        }
    }
}

/// The tensors of a weights file, under the names the model expects (the plan's renaming done).
/// On the CPU, floating-point tensors become fp32 (transformers loads fp16 files that way too).
fn read_tensors(path: &Path, plan: &WeightsPlan, device: Device) -> Result<HashMap<String, Tensor>> {
    let mut tensors = HashMap::new();
    for_each_tensor(path, plan, device, &mut |name, tensor| {
        tensors.insert(name, tensor);
        Ok(())
    })?;
    Ok(tensors)
}

/// The tensors of a weights file for one of precis's networks: each stored as a `Weight` at
/// `precision` as soon as it is read when `stores_as_weight(name)` says so (`Some(true)`), kept
/// (`Some(false)`) or dropped (`None`).
fn read_file_tensors(
    path: &Path,
    plan: &WeightsPlan,
    device: Device,
    stores_as_weight: &dyn Fn(&str) -> Option<bool>,
    precision: Precision,
) -> Result<HashMap<String, FileTensor>> {
    let mut tensors = HashMap::new();
    for_each_tensor(path, plan, device, &mut |name, tensor| {
        let stored = match stores_as_weight(&name) {
            Some(true) if tensor.dim() == 2 => FileTensor::Weight(Weight::new(tensor, precision)?),
            Some(_) => FileTensor::Kept(tensor),
            None => return Ok(()),
        };
        tensors.insert(name, stored);
        Ok(())
    })?;
    Ok(tensors)
}

/// Each tensor of a weights file, under the name the model expects, as it is read (safetensors
/// tensor by tensor; a libtorch archive is read whole first). On the CPU, floating-point tensors
/// become fp32 (transformers loads fp16 files that way too).
fn for_each_tensor(path: &Path, plan: &WeightsPlan, device: Device, each: &mut dyn FnMut(String, Tensor) -> Result<()>) -> Result<()> {
    let mut convert = |name: String, tensor: Tensor| -> Result<()> {
        let tensor = if device == Device::Cpu && tensor.is_floating_point() && tensor.kind() != Kind::Float {
            tensor.f_to_kind(Kind::Float)?
        } else {
            tensor.f_to_device(device)?
        };
        let name = match plan {
            WeightsPlan::RenameTiedEmbedding { from, to } if *from == name => to.clone(),
            _ => name,
        };
        each(name, tensor)
    };
    match path.extension().and_then(|e| e.to_str()) {
        Some("safetensors") => weights::for_each_safetensor(path, &mut convert),
        _ => {
            for (name, tensor) in Tensor::load_multi_with_device(path, device).map_err(|e| anyhow!("{e}"))? {
                convert(name, tensor)?;
            }
            Ok(())
        }
    }
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
            Model::Bart(model) => model.encode(input_ids, Some(attention_mask)),
            Model::Pegasus(model) => model.encode(input_ids, Some(attention_mask)),
            Model::T5(model) => model.encode(input_ids, Some(attention_mask)),
        })
    }

    fn prepare(&self, encoder_states: &Tensor, attention_mask: &Tensor, beams: usize) -> Result<Source> {
        if let Model::OwnBart(model) = &self.model {
            return Ok(Source::OwnBart(model.prepare(encoder_states, attention_mask, beams)?));
        }
        if beams == 1 {
            return Ok(Source::Expanded { encoder_states: encoder_states.shallow_clone(), attention_mask: attention_mask.shallow_clone() });
        }
        let batch = encoder_states.size().first().copied().unwrap_or(0);
        let expand = Tensor::f_arange(batch, (tch::Kind::Int64, encoder_states.device()))?.f_repeat_interleave_self_int(beams as i64, Some(0), None)?;
        Ok(Source::Expanded { encoder_states: encoder_states.f_index_select(0, &expand)?, attention_mask: attention_mask.f_index_select(0, &expand)? })
    }

    fn step(&self, last_tokens: &Tensor, source: &Source, cache: Option<Cache>) -> Result<(Tensor, Cache)> {
        let (encoder_states, attention_mask) = match (source, &self.model) {
            (Source::OwnBart(source), Model::OwnBart(model)) => {
                let past = match cache {
                    None => None,
                    Some(Cache::OwnBart(cache)) => Some(cache),
                    Some(_) => bail!("a rust-bert cache was given to precis's BART"),
                };
                let (logits, cache) = model.step(last_tokens, source, past)?;
                return Ok((logits, Cache::OwnBart(cache)));
            }
            (Source::Expanded { encoder_states, attention_mask }, _) => (encoder_states, attention_mask),
            (Source::OwnBart(_), _) => bail!("the decoding source was prepared for precis's BART, not rust-bert's networks"),
        };
        let (logits, cache) = match &self.model {
            Model::OwnBart(_) => bail!("precis's BART was given a source prepared for rust-bert"),
            Model::Bart(model) => {
                let output = model.forward_t(None, Some(attention_mask), Some(encoder_states), Some(last_tokens), None, bart_cache(cache)?, false);
                (output.decoder_output, output.cache.map(Cache::Bart))
            }
            Model::Pegasus(model) => {
                let output = model.forward_t(None, Some(attention_mask), Some(encoder_states), Some(last_tokens), None, bart_cache(cache)?, false);
                (output.decoder_output, output.cache.map(Cache::Bart))
            }
            Model::T5(model) => {
                let past = match cache {
                    None => None,
                    Some(Cache::T5(layers)) => Some(layers),
                    Some(_) => bail!("a BART cache was given to a T5 model"),
                };
                let output = model.forward_t(None, Some(attention_mask), Some(encoder_states), Some(last_tokens), None, None, None, past, false);
                (output.decoder_output, output.next_cache.map(Cache::T5))
            }
        };
        let cache = cache.ok_or_else(|| anyhow!("the decoder returned no key/value cache"))?;
        // [rows, 1, vocab] → [rows, vocab]
        Ok((logits.f_select(1, -1)?, cache))
    }

    fn step_threads(&self, rows: usize) -> Option<kernels::SingleThreadedLibtorch> {
        match &self.model {
            Model::OwnBart(model) => kernels::SingleThreadedLibtorch::enter(rows, model.precision()),
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
                _ => bail!("a cache of precis's BART was given to rust-bert's"),
            },
        })
    }
}

fn bart_cache(cache: Option<Cache>) -> Result<Option<BartLayers>> {
    match cache {
        None => Ok(None),
        Some(Cache::Bart(layers)) => Ok(Some(layers)),
        Some(_) => bail!("a T5 or precis cache was given to rust-bert's BART or PEGASUS decoder"),
    }
}
