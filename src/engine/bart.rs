//! precis's own BART network: the encoder, and a decoder step whose cross-attention keys and
//! values are shared by the beams of an input and whose products and cross-attention run on
//! precis's decoder-step kernels (`engine::kernels`) where they apply. It runs on the tensors of
//! the weights file directly (no rust-bert model, no second copy of the weights).
//!
//! Why not rust-bert's BART: its encoder took 2.5–2.9 s over a 780-token input where this one
//! takes 1.8 s (its attention is unfused: scores, softmax and product as separate operations);
//! its decoder computes the cross-attention keys and values once per decoded row (one per beam)
//! and copies every layer's whole cache twice per step; and its loader kept the file's tensors
//! beside its own variables (twice the model in memory). Here the encoder uses libtorch's
//! `scaled_dot_product_attention` as transformers' SDPA attention does; query, key and value
//! projections are one product in both encoder and decoder; the cross-attention keys and values
//! are projected once per input before the first step; and the weights are the file's tensors.
//!
//! Its products run at the precision chosen when it is loaded (`kernels::Precision`: the file's
//! fp32, bf16 or int8 weights, `kernels::Weight`); layer norms, attention and the logits stay in
//! fp32 at every precision.
//!
//! The computation mirrors transformers 4.44's `modeling_bart` (`BartEncoderLayer`,
//! `BartDecoderLayer`, post-layer-norm, learned positions with offset 2, `final_logits_bias`)
//! operation by operation, with the names it uses. Only the configurations this mirrors are
//! taken (`supports`); others keep rust-bert's BART (`PRECIS_RUST_BERT_BART=1` forces it).

use std::cell::Cell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use tch::{Kind, Tensor};

use super::kernels::{self, FileTensor, Precision, Weight};

/// transformers' `BartLearnedPositionalEmbedding` offset.
const POSITION_OFFSET: i64 = 2;
const LAYER_NORM_EPS: f64 = 1e-5;

/// Weights `[out, in]` (at the network's precision) and bias `[out]` (fp32) of a linear layer.
struct Linear {
    weight: Weight,
    bias: Tensor,
}

struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
}

struct EncoderLayer {
    self_attn_qkv: Linear,
    self_attn_out: Linear,
    self_attn_layer_norm: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    final_layer_norm: LayerNorm,
}

struct DecoderLayer {
    /// `q_proj`, `k_proj` and `v_proj` stacked: one product per step instead of three.
    self_attn_qkv: Linear,
    self_attn_out: Linear,
    self_attn_layer_norm: LayerNorm,
    encoder_attn_q: Linear,
    encoder_attn_k: Linear,
    encoder_attn_v: Linear,
    encoder_attn_out: Linear,
    encoder_attn_layer_norm: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    final_layer_norm: LayerNorm,
}

/// A BART encoder-decoder on the weights file's tensors.
pub struct Bart {
    /// `model.shared.weight`: token embeddings of both sides and the (tied) language-model head.
    shared: Weight,
    /// `final_logits_bias` as `[vocab]`, when the file has it (transformers adds it to the logits).
    final_logits_bias: Option<Tensor>,
    encoder_positions: Tensor,
    encoder_layernorm_embedding: LayerNorm,
    encoder_layers: Vec<EncoderLayer>,
    decoder_positions: Tensor,
    decoder_layernorm_embedding: LayerNorm,
    decoder_layers: Vec<DecoderLayer>,
    embed_scale: f64,
    hidden: i64,
    encoder_heads: i64,
    decoder_heads: i64,
    precision: Precision,
}

/// What every step of one decoding reads from the encoder side.
pub struct Source {
    /// Per layer, one per input: for the attention kernel (`kernel_layout`), keys transposed
    /// `[batch, heads, head_dim, positions]` and values `[batch, heads, positions, head_dim]`,
    /// positions padded to a multiple of 16 with zeros; for libtorch's products, keys `[batch,
    /// heads, source, head_dim]` and values transposed `[batch, heads, head_dim, source]`.
    cross_keys_values: Vec<(Tensor, Tensor)>,
    kernel_layout: bool,
    /// Additive encoder mask, `[batch, positions]` (0 or the dtype's minimum, as transformers;
    /// the minimum at padding positions too).
    encoder_mask: Tensor,
    batch: i64,
    beams: i64,
    /// Where the steps' time goes, when `PRECIS_PROFILE=1` (printed when the decoding ends).
    profile: Option<StepSections>,
}

/// Time spent in each part of the decoder steps of one decoding.
#[derive(Default)]
struct StepSections {
    steps: Cell<u32>,
    self_attention: Cell<Duration>,
    cross_attention: Cell<Duration>,
    feed_forward: Cell<Duration>,
    head: Cell<Duration>,
}

impl StepSections {
    /// Adds the time since `*since` to `section` and restarts the clock.
    fn lap(section: &Cell<Duration>, since: &mut Instant) {
        let now = Instant::now();
        section.set(section.get() + (now - *since));
        *since = now;
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        let Some(profile) = &self.profile else { return };
        let per_step = |section: &Cell<Duration>| section.get().as_secs_f64() * 1e3 / f64::from(profile.steps.get().max(1));
        eprintln!(
            "precis profile: BART decoder step parts, per step: self-attention {:.1} ms, cross-attention {:.1} ms, feed-forward {:.1} ms, LM head {:.1} ms (embedding and layer norms included where they fall)",
            per_step(&profile.self_attention),
            per_step(&profile.cross_attention),
            per_step(&profile.feed_forward),
            per_step(&profile.head),
        );
    }
}

/// Per layer: self-attention keys and values of the steps so far, `[rows, heads, steps, head_dim]`.
pub struct Cache {
    self_keys_values: Vec<(Tensor, Tensor)>,
    steps: i64,
}

impl Bart {
    /// Whether this module computes what transformers' BART computes for this config: post-layer-
    /// norm layers with GELU, learned positions, normalized embeddings, no final layer norm.
    pub fn supports(config: &serde_json::Value) -> bool {
        let flag = |key: &str| config.get(key).and_then(|v| v.as_bool());
        let activation = config.get("activation_function").and_then(|v| v.as_str()).unwrap_or("gelu");
        activation == "gelu"
            && flag("static_position_embeddings") != Some(true)
            && flag("normalize_embedding") != Some(false)
            && flag("normalize_before") != Some(true)
            && flag("add_final_layer_norm") != Some(true)
            && flag("add_bias_logits") != Some(true)
    }

    /// How the network uses the file's tensor `name` (transformers' names): `Some(true)` for the
    /// linear layers' weights and the shared embedding (stored as `kernels::Weight`s), `Some(false)`
    /// for what it keeps as a tensor, `None` for what it does not use (the tied embedding's other
    /// names, a separate `lm_head.weight`).
    pub fn stores_as_weight(name: &str) -> Option<bool> {
        if name == "model.shared.weight" {
            return Some(true);
        }
        if name == "final_logits_bias" {
            return Some(false);
        }
        let in_layers = name.starts_with("model.encoder.layers.") || name.starts_with("model.decoder.layers.");
        if in_layers {
            return Some(name.ends_with(".weight") && !name.contains("layer_norm"));
        }
        let kept = ["embed_positions.weight", "layernorm_embedding.weight", "layernorm_embedding.bias"];
        let encoder_or_decoder = name.strip_prefix("model.encoder.").or_else(|| name.strip_prefix("model.decoder."));
        encoder_or_decoder.filter(|rest| kept.contains(rest)).map(|_| false)
    }

    /// Takes the network's weights out of `tensors` (transformers' names: `model.encoder.…`,
    /// `model.decoder.…`, `model.shared.weight`), linear layers' weights stored at `precision`
    /// (those already stored, see [`Bart::stores_as_weight`], are taken as they are); what the
    /// network does not use is dropped.
    pub fn from_tensors(tensors: HashMap<String, FileTensor>, config: &serde_json::Value, precision: Precision) -> Result<Bart> {
        let number = |key: &str| -> Result<i64> {
            config.get(key).and_then(|v| v.as_i64()).ok_or_else(|| anyhow!("the BART config has no {key}"))
        };
        let hidden = number("d_model")?;
        let encoder_heads = number("encoder_attention_heads")?;
        let decoder_heads = number("decoder_attention_heads")?;
        for heads in [encoder_heads, decoder_heads] {
            if heads <= 0 || hidden % heads != 0 {
                bail!("d_model {hidden} is not a multiple of {heads} attention heads");
            }
        }
        let vocab = number("vocab_size")?;
        let positions = number("max_position_embeddings")? + POSITION_OFFSET;
        let encoder_ffn = number("encoder_ffn_dim")?;
        let decoder_ffn = number("decoder_ffn_dim")?;
        let mut weights = Weights { tensors, precision };
        let shared = weights.weight("model.shared.weight", vocab, hidden)?;
        let final_logits_bias = match weights.tensors.contains_key("final_logits_bias") {
            true => Some(weights.take("final_logits_bias", &[1, vocab])?.f_view([vocab])?),
            false => None,
        };
        let mut encoder_layers = Vec::new();
        for index in 0..number("encoder_layers")? {
            let prefix = format!("model.encoder.layers.{index}");
            encoder_layers.push(EncoderLayer {
                self_attn_qkv: weights.stacked(&format!("{prefix}.self_attn"), hidden)?,
                self_attn_out: weights.linear(&format!("{prefix}.self_attn.out_proj"), hidden, hidden)?,
                self_attn_layer_norm: weights.layer_norm(&format!("{prefix}.self_attn_layer_norm"), hidden)?,
                fc1: weights.linear(&format!("{prefix}.fc1"), encoder_ffn, hidden)?,
                fc2: weights.linear(&format!("{prefix}.fc2"), hidden, encoder_ffn)?,
                final_layer_norm: weights.layer_norm(&format!("{prefix}.final_layer_norm"), hidden)?,
            });
        }
        let mut decoder_layers = Vec::new();
        for index in 0..number("decoder_layers")? {
            let prefix = format!("model.decoder.layers.{index}");
            decoder_layers.push(DecoderLayer {
                self_attn_qkv: weights.stacked(&format!("{prefix}.self_attn"), hidden)?,
                self_attn_out: weights.linear(&format!("{prefix}.self_attn.out_proj"), hidden, hidden)?,
                self_attn_layer_norm: weights.layer_norm(&format!("{prefix}.self_attn_layer_norm"), hidden)?,
                encoder_attn_q: weights.linear(&format!("{prefix}.encoder_attn.q_proj"), hidden, hidden)?,
                encoder_attn_k: weights.linear(&format!("{prefix}.encoder_attn.k_proj"), hidden, hidden)?,
                encoder_attn_v: weights.linear(&format!("{prefix}.encoder_attn.v_proj"), hidden, hidden)?,
                encoder_attn_out: weights.linear(&format!("{prefix}.encoder_attn.out_proj"), hidden, hidden)?,
                encoder_attn_layer_norm: weights.layer_norm(&format!("{prefix}.encoder_attn_layer_norm"), hidden)?,
                fc1: weights.linear(&format!("{prefix}.fc1"), decoder_ffn, hidden)?,
                fc2: weights.linear(&format!("{prefix}.fc2"), hidden, decoder_ffn)?,
                final_layer_norm: weights.layer_norm(&format!("{prefix}.final_layer_norm"), hidden)?,
            });
        }
        let scale_embedding = config.get("scale_embedding").and_then(|v| v.as_bool()).unwrap_or(false);
        Ok(Bart {
            shared,
            final_logits_bias,
            encoder_positions: weights.take("model.encoder.embed_positions.weight", &[positions, hidden])?,
            encoder_layernorm_embedding: weights.layer_norm("model.encoder.layernorm_embedding", hidden)?,
            encoder_layers,
            decoder_positions: weights.take("model.decoder.embed_positions.weight", &[positions, hidden])?,
            decoder_layernorm_embedding: weights.layer_norm("model.decoder.layernorm_embedding", hidden)?,
            decoder_layers,
            embed_scale: if scale_embedding { (hidden as f64).sqrt() } else { 1.0 },
            hidden,
            encoder_heads,
            decoder_heads,
            precision,
        })
    }

    /// The precision of the network's products.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// transformers' `BartEncoder.forward` with SDPA attention: encoder states
    /// `[batch, source, hidden]` for right-padded `input_ids` and their `attention_mask`.
    ///
    /// At fp32 the products are MKL's and the rest libtorch's, on libtorch's threads. At bf16 and
    /// int8 the products run on precis's kernel threads, and so does everything else (libtorch
    /// on one thread per part: attention a head at a time, layer norms and GELU a block of rows
    /// at a time): alternating with libtorch's own threads cost a core at every product (its
    /// OpenMP workers spin for milliseconds after each operation).
    pub fn encode(&self, input_ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        if self.precision != Precision::Fp32 {
            let _threads = kernels::SingleThreadedLibtorch::always();
            return self.encode_on_kernel_threads(input_ids, attention_mask);
        }
        let (batch, source) = input_ids.size2()?;
        let positions = self.encoder_positions.f_narrow(0, POSITION_OFFSET, source)?;
        let embedded = self.shared.rows(&input_ids.f_view([batch * source])?)?.f_view([batch, source, self.hidden])?;
        let embedded = embedded.f_mul_scalar(self.embed_scale)?.f_add(&positions)?;
        let mut hidden = self.encoder_layernorm_embedding.apply(&embedded)?;
        // `_prepare_4d_attention_mask_for_sdpa` gives no mask when every position is attended; an
        // all-zero mask adds the same nothing (tch cannot pass libtorch an absent mask here).
        let mask = additive_mask(attention_mask, hidden.kind())?.f_expand([batch, 1, source, source], false)?;
        let heads = self.encoder_heads;
        let head_dim = self.hidden / heads;
        // Where the encoder's time goes, when `PRECIS_PROFILE=1`: products, attention, the rest.
        let profile = super::profiling().then(|| [Cell::new(Duration::ZERO), Cell::new(Duration::ZERO), Cell::new(Duration::ZERO)]);
        let mut clock = Instant::now();
        let lap = |section: usize, clock: &mut Instant| {
            if let Some(sections) = &profile {
                StepSections::lap(&sections[section], clock);
            }
        };
        let (products, attention, rest) = (0, 1, 2);
        for layer in &self.encoder_layers {
            lap(rest, &mut clock);
            let qkv = layer.self_attn_qkv.apply(&hidden)?;
            lap(products, &mut clock);
            // [batch, source, 3·hidden] → 3 × [batch, heads, source, head_dim]
            let qkv = qkv.f_view([batch, source, 3, heads, head_dim])?.f_permute([2, 0, 3, 1, 4])?;
            let (query, key, value) = (qkv.f_get(0)?, qkv.f_get(1)?, qkv.f_get(2)?);
            let attended = Tensor::f_scaled_dot_product_attention(&query, &key, &value, Some(&mask), 0.0, false, None)?;
            let attended = attended.f_transpose(1, 2)?.f_reshape([batch, source, self.hidden])?;
            lap(attention, &mut clock);
            let attended = layer.self_attn_out.apply(&attended)?;
            lap(products, &mut clock);
            hidden = layer.self_attn_layer_norm.apply(&hidden.f_add(&attended)?)?;
            lap(rest, &mut clock);
            let expanded = layer.fc1.apply(&hidden)?;
            lap(products, &mut clock);
            let expanded = expanded.f_gelu("none")?;
            lap(rest, &mut clock);
            let projected = layer.fc2.apply(&expanded)?;
            lap(products, &mut clock);
            hidden = layer.final_layer_norm.apply(&hidden.f_add(&projected)?)?;
        }
        lap(rest, &mut clock);
        if let Some(sections) = &profile {
            let seconds = |section: usize| sections[section].get().as_secs_f64();
            eprintln!(
                "precis profile: encoder parts ({}): products {:.3} s, attention {:.3} s, layer norms, GELU and the rest {:.3} s",
                self.precision.name(),
                seconds(products),
                seconds(attention),
                seconds(rest)
            );
        }
        Ok(hidden)
    }

    /// `encode` with every operation split between the kernel threads (bf16, int8).
    fn encode_on_kernel_threads(&self, input_ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        let (batch, source) = input_ids.size2()?;
        let rows = batch * source;
        let positions = self.encoder_positions.f_narrow(0, POSITION_OFFSET, source)?.f_repeat([batch, 1])?;
        let embedded = self.shared.rows(&input_ids.f_view([rows])?)?.f_mul_scalar(self.embed_scale)?;
        let width = self.hidden;
        // layer_norm(a + b): the residual connection and the norm of one block of rows.
        let add_norm = |inputs: &[Tensor], norm: &[Tensor], out: &Tensor| -> Result<()> {
            let sum = inputs[0].f_add(&inputs[1])?;
            let statistics = Tensor::f_empty([sum.size()[0], 1], (Kind::Float, sum.device()))?;
            let _ = sum.f_native_layer_norm_out(out, &statistics, &statistics.f_empty_like()?, [width], Some(&norm[0]), Some(&norm[1]), LAYER_NORM_EPS)?;
            Ok(())
        };
        let norm = |layer_norm: &LayerNorm| [layer_norm.weight.shallow_clone(), layer_norm.bias.shallow_clone()];
        // [batch · source, hidden] throughout; attention sees [batch, heads, source, head_dim] views.
        let embedding_norm = norm(&self.encoder_layernorm_embedding);
        let mut hidden = kernels::map_row_blocks(&[&embedded, &positions], &[&embedding_norm[0], &embedding_norm[1]], width, &add_norm)?;
        let mask = additive_mask(attention_mask, Kind::Float)?.f_expand([batch, 1, source, source], false)?;
        let heads = self.encoder_heads;
        let head_dim = self.hidden / heads;
        let profile = super::profiling().then(|| [Cell::new(Duration::ZERO), Cell::new(Duration::ZERO), Cell::new(Duration::ZERO)]);
        let mut clock = Instant::now();
        let lap = |section: usize, clock: &mut Instant| {
            if let Some(sections) = &profile {
                StepSections::lap(&sections[section], clock);
            }
        };
        let (products, attention, rest) = (0, 1, 2);
        for layer in &self.encoder_layers {
            lap(rest, &mut clock);
            let qkv = layer.self_attn_qkv.apply(&hidden)?;
            lap(products, &mut clock);
            let qkv = qkv.f_view([batch, source, 3, heads, head_dim])?.f_permute([2, 0, 3, 1, 4])?;
            let attended = Tensor::f_empty([batch, source, heads, head_dim], (Kind::Float, hidden.device()))?;
            let mut parts = Vec::with_capacity((batch * heads) as usize);
            for input in 0..batch {
                for head in 0..heads {
                    let pick = |which: i64| -> Result<Tensor> { Ok(qkv.f_get(which)?.f_narrow(0, input, 1)?.f_narrow(1, head, 1)?) };
                    let out = attended.f_select(0, input)?.f_select(1, head)?;
                    parts.push((pick(0)?, pick(1)?, pick(2)?, mask.f_narrow(0, input, 1)?, out));
                }
            }
            kernels::for_each_libtorch_part(parts, &|(query, key, value, mask, out)| {
                let one = Tensor::f_scaled_dot_product_attention(query, key, value, Some(&*mask), 0.0, false, None)?;
                out.f_copy_(&one.f_view([source, head_dim])?)?;
                Ok(())
            })?;
            lap(attention, &mut clock);
            let attended = layer.self_attn_out.apply(&attended.f_view([rows, self.hidden])?)?;
            lap(products, &mut clock);
            hidden = kernels::map_row_blocks(&[&hidden, &attended], &[&layer.self_attn_layer_norm.weight, &layer.self_attn_layer_norm.bias], width, &add_norm)?;
            lap(rest, &mut clock);
            let expanded = layer.fc1.apply(&hidden)?;
            lap(products, &mut clock);
            let expanded_width = expanded.size()[1];
            let expanded = kernels::map_row_blocks(&[&expanded], &[], expanded_width, &|inputs, _, out| {
                let _ = inputs[0].f_gelu_out(out, "none")?;
                Ok(())
            })?;
            lap(rest, &mut clock);
            let projected = layer.fc2.apply(&expanded)?;
            lap(products, &mut clock);
            hidden = kernels::map_row_blocks(&[&hidden, &projected], &[&layer.final_layer_norm.weight, &layer.final_layer_norm.bias], width, &add_norm)?;
        }
        lap(rest, &mut clock);
        if let Some(sections) = &profile {
            let seconds = |section: usize| sections[section].get().as_secs_f64();
            eprintln!(
                "precis profile: encoder parts ({}): products {:.3} s, attention {:.3} s, layer norms, GELU and the rest {:.3} s",
                self.precision.name(),
                seconds(products),
                seconds(attention),
                seconds(rest)
            );
        }
        Ok(hidden.f_view([batch, source, self.hidden])?)
    }

    /// Projects the encoder states to every decoder layer's cross-attention keys and values,
    /// once per input (`encoder_states` `[batch, source, hidden]`, not expanded per beam).
    pub fn prepare(&self, encoder_states: &Tensor, attention_mask: &Tensor, beams: usize) -> Result<Source> {
        let (batch, source, _) = encoder_states.size3()?;
        let kernel_layout = kernels::step_runs_here(batch as usize * beams, self.precision) && kernels::attention::applies(self.decoder_head_dim(), kernels::cpu::features());
        let padding = if kernel_layout { (kernels::attention::POSITION_BLOCK - source % kernels::attention::POSITION_BLOCK) % kernels::attention::POSITION_BLOCK } else { 0 };
        let cross_keys_values = self
            .decoder_layers
            .iter()
            .map(|layer| {
                let key = self.split_heads(&layer.encoder_attn_k.apply(encoder_states)?, batch, source)?;
                let value = self.split_heads(&layer.encoder_attn_v.apply(encoder_states)?, batch, source)?;
                if !kernel_layout {
                    return Ok((key.f_contiguous()?, value.f_transpose(2, 3)?.f_contiguous()?));
                }
                // [batch, heads, source, head_dim] → padded positions, keys transposed.
                let key = key.f_constant_pad_nd([0, 0, 0, padding])?.f_transpose(2, 3)?.f_contiguous()?;
                let value = value.f_constant_pad_nd([0, 0, 0, padding])?.f_contiguous()?;
                Ok((key, value))
            })
            .collect::<Result<Vec<_>>>()?;
        let encoder_mask = additive_mask(attention_mask, encoder_states.kind())?.f_view([batch, source])?;
        let encoder_mask = match padding {
            0 => encoder_mask,
            _ => Tensor::f_cat(&[encoder_mask.shallow_clone(), Tensor::f_full([batch, padding], minimum(encoder_states.kind())?, (encoder_states.kind(), encoder_states.device()))?], 1)?,
        };
        let profile = super::profiling().then(StepSections::default);
        Ok(Source { cross_keys_values, kernel_layout, encoder_mask, batch, beams: beams as i64, profile })
    }

    /// Next-token logits `[rows, vocab]` for `last_tokens` (`[rows, 1]`, rows = batch × beams,
    /// the beams of an input adjacent).
    pub fn step(&self, last_tokens: &Tensor, source: &Source, cache: Option<Cache>) -> Result<(Tensor, Cache)> {
        let rows = last_tokens.size().first().copied().unwrap_or(0);
        if rows != source.batch * source.beams {
            bail!("{rows} decoder rows for {} inputs of {} beams", source.batch, source.beams);
        }
        let steps = cache.as_ref().map_or(0, |c| c.steps);
        let mut clock = Instant::now();
        let position = self.decoder_positions.f_get(steps + POSITION_OFFSET)?;
        let tokens = last_tokens.f_view([rows])?;
        let embedded = self.shared.rows(&tokens)?.f_mul_scalar(self.embed_scale)?.f_add(&position)?;
        let mut hidden = self.decoder_layernorm_embedding.apply(&embedded)?;
        let mut previous = cache.map(|c| c.self_keys_values.into_iter());
        let mut self_keys_values = Vec::with_capacity(self.decoder_layers.len());
        for (layer, (cross_key, cross_value)) in self.decoder_layers.iter().zip(&source.cross_keys_values) {
            let past = previous.as_mut().and_then(Iterator::next);
            let (attended, key_value) = self.self_attention(layer, &hidden, past)?;
            self_keys_values.push(key_value);
            hidden = layer.self_attn_layer_norm.apply(&hidden.f_add(&attended)?)?;
            if let Some(profile) = &source.profile {
                StepSections::lap(&profile.self_attention, &mut clock);
            }
            let attended = self.cross_attention(layer, &hidden, cross_key, cross_value, source)?;
            hidden = layer.encoder_attn_layer_norm.apply(&hidden.f_add(&attended)?)?;
            if let Some(profile) = &source.profile {
                StepSections::lap(&profile.cross_attention, &mut clock);
            }
            let expanded = layer.fc1.apply(&hidden)?.f_gelu("none")?;
            let projected = layer.fc2.apply(&expanded)?;
            hidden = layer.final_layer_norm.apply(&hidden.f_add(&projected)?)?;
            if let Some(profile) = &source.profile {
                StepSections::lap(&profile.feed_forward, &mut clock);
            }
        }
        // At fp32 the head runs as transformers' `lm_head` does (`layers::head_logits`: beam
        // search ties show a different summation order); packed weights on the kernels.
        let logits = match self.shared.fp32_tensor() {
            Some(head) => super::layers::head_logits(&hidden, head, self.final_logits_bias.as_ref())?,
            None => kernels::linear(&hidden, &self.shared, self.final_logits_bias.as_ref())?,
        };
        if let Some(profile) = &source.profile {
            StepSections::lap(&profile.head, &mut clock);
            profile.steps.set(profile.steps.get() + 1);
        }
        Ok((logits, Cache { self_keys_values, steps: steps + 1 }))
    }

    /// The self-attention caches with their rows taken from `rows` (beam search's reordering).
    pub fn reorder(&self, cache: Cache, rows: &Tensor) -> Result<Cache> {
        let self_keys_values = cache
            .self_keys_values
            .into_iter()
            .map(|(key, value)| Ok((key.f_index_select(0, rows)?, value.f_index_select(0, rows)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Cache { self_keys_values, steps: cache.steps })
    }

    fn decoder_head_dim(&self) -> i64 {
        self.hidden / self.decoder_heads
    }

    /// `[batch, length, hidden]` → `[batch, heads, length, head_dim]` (a view).
    fn split_heads(&self, states: &Tensor, batch: i64, length: i64) -> Result<Tensor> {
        Ok(states.f_view([batch, length, self.decoder_heads, self.decoder_head_dim()])?.f_transpose(1, 2)?)
    }

    /// One new position attending to itself and the positions before it (transformers' eager
    /// attention: the query scaled before the product). `hidden` is `[rows, hidden]`.
    fn self_attention(&self, layer: &DecoderLayer, hidden: &Tensor, past: Option<(Tensor, Tensor)>) -> Result<(Tensor, (Tensor, Tensor))> {
        let rows = hidden.size()[0];
        let (heads, head_dim) = (self.decoder_heads, self.decoder_head_dim());
        // [rows, 3·hidden] → 3 × [rows, heads, 1, head_dim]
        let qkv = layer.self_attn_qkv.apply(hidden)?.f_reshape([rows, 3, heads, 1, head_dim])?;
        let query = qkv.f_select(1, 0)?.f_mul_scalar((head_dim as f64).powf(-0.5))?;
        let (key, value) = (qkv.f_select(1, 1)?, qkv.f_select(1, 2)?);
        let (key, value) = match past {
            Some((past_key, past_value)) => (Tensor::f_cat(&[past_key, key], 2)?, Tensor::f_cat(&[past_value, value], 2)?),
            None => (key.f_contiguous()?, value.f_contiguous()?),
        };
        // At most 80-odd positions: libtorch's product is as quick here as precis's kernel (measured).
        let weights = query.f_matmul(&key.f_transpose(2, 3)?)?.f_softmax(-1, None::<Kind>)?;
        let output = weights.f_matmul(&value)?.f_reshape([rows, self.hidden])?;
        Ok((layer.self_attn_out.apply(&output)?, (key, value)))
    }

    /// The beams of each input attend together to the input's shared keys and values: with
    /// precis's kernel (`kernels::attend`) when the step runs on the kernel threads, else as the
    /// rows of one `[beams, head_dim] × [head_dim, source]` product per head.
    fn cross_attention(&self, layer: &DecoderLayer, hidden: &Tensor, key: &Tensor, value: &Tensor, source: &Source) -> Result<Tensor> {
        let rows = hidden.size()[0];
        let (heads, head_dim) = (self.decoder_heads, self.decoder_head_dim());
        let query = layer.encoder_attn_q.apply(hidden)?.f_mul_scalar((head_dim as f64).powf(-0.5))?;
        let attended = match source.kernel_layout {
            true => kernels::attend(&query, key, value, &source.encoder_mask, kernels::cpu::features())?,
            false => None,
        };
        let output = match attended {
            Some(output) => output,
            None if source.kernel_layout => bail!("the attention kernel declined the keys and values laid out for it"),
            None => {
                let value_transposed = value;
                // [batch·beams, hidden] → [batch, heads, beams, head_dim]
                let query = query.f_reshape([source.batch, source.beams, heads, head_dim])?.f_transpose(1, 2)?;
                let mask = source.encoder_mask.f_view([source.batch, 1, 1, -1])?;
                let scores = query.f_matmul(&key.f_transpose(2, 3)?)?.f_add(&mask)?;
                let weights = scores.f_softmax(-1, None::<Kind>)?;
                // [batch, heads, beams, head_dim] → [batch·beams, hidden]
                weights.f_matmul(&value_transposed.f_transpose(2, 3)?)?.f_transpose(1, 2)?.f_reshape([rows, self.hidden])?
            }
        };
        layer.encoder_attn_out.apply(&output)
    }
}

/// The weights file's tensors, taken out one by one with their shapes checked; linear layers'
/// weights are stored at `precision` (if they were not already).
struct Weights {
    tensors: HashMap<String, FileTensor>,
    precision: Precision,
}

impl Weights {
    fn take(&mut self, name: &str, shape: &[i64]) -> Result<Tensor> {
        let tensor = match self.tensors.remove(name) {
            Some(FileTensor::Kept(tensor)) => tensor,
            Some(FileTensor::Weight(_)) => bail!("tensor {name} was stored as a weight matrix, not kept as a tensor"),
            None => bail!("the file has no tensor {name}"),
        };
        if tensor.size() != shape {
            bail!("tensor {name} has shape {:?} in the file but the config implies {shape:?}", tensor.size());
        }
        Ok(tensor)
    }

    /// A weight matrix `[outputs, inputs]` at the network's precision.
    fn weight(&mut self, name: &str, outputs: i64, inputs: i64) -> Result<Weight> {
        let weight = match self.tensors.remove(name) {
            Some(FileTensor::Weight(weight)) => weight,
            Some(FileTensor::Kept(tensor)) if tensor.size() == [outputs, inputs] => Weight::new(tensor, self.precision)?,
            Some(FileTensor::Kept(tensor)) => bail!("tensor {name} has shape {:?} in the file but the config implies [{outputs}, {inputs}]", tensor.size()),
            None => bail!("the file has no tensor {name}"),
        };
        if (weight.outputs(), weight.inputs()) != (outputs as usize, inputs as usize) {
            bail!("tensor {name} has shape [{}, {}] in the file but the config implies [{outputs}, {inputs}]", weight.outputs(), weight.inputs());
        }
        Ok(weight)
    }

    fn linear(&mut self, prefix: &str, outputs: i64, inputs: i64) -> Result<Linear> {
        let weight = self.weight(&format!("{prefix}.weight"), outputs, inputs)?;
        Ok(Linear { weight, bias: self.take(&format!("{prefix}.bias"), &[outputs])? })
    }

    /// An attention block's `q_proj`, `k_proj` and `v_proj` as one linear layer (rows in that order).
    fn stacked(&mut self, prefix: &str, hidden: i64) -> Result<Linear> {
        let mut weights = Vec::with_capacity(3);
        let mut biases = Vec::with_capacity(3);
        for name in ["q_proj", "k_proj", "v_proj"] {
            weights.push(self.weight(&format!("{prefix}.{name}.weight"), hidden, hidden)?);
            biases.push(self.take(&format!("{prefix}.{name}.bias"), &[hidden])?);
        }
        Ok(Linear { weight: Weight::concat_outputs(weights)?, bias: Tensor::f_cat(&biases, 0)? })
    }

    fn layer_norm(&mut self, prefix: &str, width: i64) -> Result<LayerNorm> {
        Ok(LayerNorm { weight: self.take(&format!("{prefix}.weight"), &[width])?, bias: self.take(&format!("{prefix}.bias"), &[width])? })
    }
}

impl Linear {
    /// `input · weightᵀ + bias` (`kernels::linear`: a decoder step's rows on precis's kernels,
    /// the encoder's in libtorch at fp32 or on the kernels at bf16 / int8).
    fn apply(&self, input: &Tensor) -> Result<Tensor> {
        kernels::linear(input, &self.weight, Some(&self.bias))
    }
}

impl LayerNorm {
    fn apply(&self, input: &Tensor) -> Result<Tensor> {
        let width = input.size().last().copied().unwrap_or(0);
        Ok(input.f_layer_norm([width], Some(&self.weight), Some(&self.bias), LAYER_NORM_EPS, false)?)
    }
}

/// transformers' `_prepare_4d_attention_mask`: `[batch, 1, 1, source]`, 0 where attended and
/// the dtype's minimum at padding.
fn additive_mask(attention_mask: &Tensor, kind: Kind) -> Result<Tensor> {
    let (batch, source) = attention_mask.size2()?;
    let masked_out = attention_mask.f_eq(0)?.f_view([batch, 1, 1, source])?;
    Ok(Tensor::f_zeros([batch, 1, 1, source], (kind, attention_mask.device()))?.f_masked_fill(&masked_out, minimum(kind)?)?)
}

/// `torch.finfo(kind).min`, which transformers writes at masked positions.
fn minimum(kind: Kind) -> Result<f64> {
    Ok(match kind {
        Kind::Float => f64::from(f32::MIN),
        Kind::Double => f64::MIN,
        Kind::Half => -65504.0,
        Kind::BFloat16 => -3.3895313892515355e38,
        other => bail!("no attention mask value for {other:?} states"),
    })
}
