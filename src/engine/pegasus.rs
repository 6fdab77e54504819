//! precis's own PEGASUS network: transformers 4.44's `modeling_pegasus` (pre-layer-norm encoder
//! and decoder layers, a final layer norm on each side, sinusoidal positions, embeddings scaled
//! by √d_model, `final_logits_bias`), on the weights file's tensors.
//!
//! Like `engine::bart`, q/k/v are one product and a decoder step projects its rows on precis's
//! kernels (`engine::kernels`) and attends over cross-attention keys and values projected once per
//! input and shared by its beams. The encoder's attention is transformers' eager attention
//! (PEGASUS has no SDPA path in transformers 4.44), operation by operation: libtorch's fused
//! `scaled_dot_product_attention` sums in another order, which moved T5's encoder states by 2e-4
//! on the fixtures and flipped a beam (see `engine::layers::eager_attention`).
//!
//! Positions are exact: the file's `embed_positions` tables when it has them (transformers loads
//! those), else the table computed as transformers computes it (in f64, then rounded to f32).
//! rust-bert 0.23 rounds its table to fp16, which made beams flip now and then.

use std::collections::HashMap;

use anyhow::{anyhow, bail, Result};
use tch::{Device, Kind, Tensor};

use super::layers::{self, Activation, CrossSource, LayerNorm, Linear, SelfCache, Weights};

const LAYER_NORM_EPS: f64 = 1e-5;

struct EncoderLayer {
    self_attn_layer_norm: LayerNorm,
    self_attn_qkv: Linear,
    self_attn_out: Linear,
    final_layer_norm: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

struct DecoderLayer {
    self_attn_layer_norm: LayerNorm,
    self_attn_qkv: Linear,
    self_attn_out: Linear,
    encoder_attn_layer_norm: LayerNorm,
    encoder_attn_q: Linear,
    encoder_attn_k: Linear,
    encoder_attn_v: Linear,
    encoder_attn_out: Linear,
    final_layer_norm: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

/// A PEGASUS encoder-decoder on the weights file's tensors.
pub struct Pegasus {
    shared: Tensor,
    /// The language-model head: `shared` itself unless the config unties them.
    lm_head: Tensor,
    final_logits_bias: Option<Tensor>,
    encoder_positions: Tensor,
    encoder_layers: Vec<EncoderLayer>,
    encoder_layer_norm: LayerNorm,
    decoder_positions: Tensor,
    decoder_layers: Vec<DecoderLayer>,
    decoder_layer_norm: LayerNorm,
    embed_scale: f64,
    hidden: i64,
    encoder_heads: i64,
    decoder_heads: i64,
    activation: Activation,
}

impl Pegasus {
    /// Takes the network's weights out of `tensors` (transformers' names, the shared embedding as
    /// `model.shared.weight`); what the network does not use is dropped.
    pub fn from_tensors(tensors: HashMap<String, Tensor>, config: &serde_json::Value) -> Result<Pegasus> {
        let number = |key: &str| -> Result<i64> { config.get(key).and_then(|v| v.as_i64()).ok_or_else(|| anyhow!("the PEGASUS config has no {key}")) };
        let hidden = number("d_model")?;
        let encoder_heads = number("encoder_attention_heads")?;
        let decoder_heads = number("decoder_attention_heads")?;
        for heads in [encoder_heads, decoder_heads] {
            if heads <= 0 || hidden % heads != 0 {
                bail!("d_model {hidden} is not a multiple of {heads} attention heads");
            }
        }
        let activation_name = config.get("activation_function").and_then(|v| v.as_str()).unwrap_or("gelu");
        let activation = Activation::from_name(activation_name)
            .ok_or_else(|| anyhow!("the PEGASUS config's activation_function {activation_name:?} is not one precis runs (relu, gelu, gelu_new, silu)"))?;
        let vocab = number("vocab_size")?;
        let positions = number("max_position_embeddings")?;
        let (encoder_ffn, decoder_ffn) = (number("encoder_ffn_dim")?, number("decoder_ffn_dim")?);
        let mut weights = Weights::new(tensors);
        let shared = weights.take("model.shared.weight", &[vocab, hidden])?;
        let tied = config.get("tie_word_embeddings").and_then(|v| v.as_bool()).unwrap_or(true);
        let lm_head = if tied { shared.shallow_clone() } else { weights.take("lm_head.weight", &[vocab, hidden])? };
        let final_logits_bias = match weights.take_optional("final_logits_bias", &[1, vocab])? {
            Some(bias) => Some(bias.f_view([vocab])?),
            None => None,
        };
        let attention = |weights: &mut Weights, prefix: &str| -> Result<(Linear, Linear)> {
            let parts = ["q_proj", "k_proj", "v_proj"].map(|part| format!("{prefix}.{part}"));
            Ok((weights.stacked(&parts, hidden, hidden, true)?, weights.linear(&format!("{prefix}.out_proj"), hidden, hidden, true)?))
        };
        let mut encoder_layers = Vec::new();
        for index in 0..number("encoder_layers")? {
            let prefix = format!("model.encoder.layers.{index}");
            let (self_attn_qkv, self_attn_out) = attention(&mut weights, &format!("{prefix}.self_attn"))?;
            encoder_layers.push(EncoderLayer {
                self_attn_layer_norm: weights.layer_norm(&format!("{prefix}.self_attn_layer_norm"), hidden, LAYER_NORM_EPS)?,
                self_attn_qkv,
                self_attn_out,
                final_layer_norm: weights.layer_norm(&format!("{prefix}.final_layer_norm"), hidden, LAYER_NORM_EPS)?,
                fc1: weights.linear(&format!("{prefix}.fc1"), encoder_ffn, hidden, true)?,
                fc2: weights.linear(&format!("{prefix}.fc2"), hidden, encoder_ffn, true)?,
            });
        }
        let mut decoder_layers = Vec::new();
        for index in 0..number("decoder_layers")? {
            let prefix = format!("model.decoder.layers.{index}");
            let (self_attn_qkv, self_attn_out) = attention(&mut weights, &format!("{prefix}.self_attn"))?;
            let cross = format!("{prefix}.encoder_attn");
            decoder_layers.push(DecoderLayer {
                self_attn_layer_norm: weights.layer_norm(&format!("{prefix}.self_attn_layer_norm"), hidden, LAYER_NORM_EPS)?,
                self_attn_qkv,
                self_attn_out,
                encoder_attn_layer_norm: weights.layer_norm(&format!("{prefix}.encoder_attn_layer_norm"), hidden, LAYER_NORM_EPS)?,
                encoder_attn_q: weights.linear(&format!("{cross}.q_proj"), hidden, hidden, true)?,
                encoder_attn_k: weights.linear(&format!("{cross}.k_proj"), hidden, hidden, true)?,
                encoder_attn_v: weights.linear(&format!("{cross}.v_proj"), hidden, hidden, true)?,
                encoder_attn_out: weights.linear(&format!("{cross}.out_proj"), hidden, hidden, true)?,
                final_layer_norm: weights.layer_norm(&format!("{prefix}.final_layer_norm"), hidden, LAYER_NORM_EPS)?,
                fc1: weights.linear(&format!("{prefix}.fc1"), decoder_ffn, hidden, true)?,
                fc2: weights.linear(&format!("{prefix}.fc2"), hidden, decoder_ffn, true)?,
            });
        }
        let device = shared.device();
        let mut position_table = |name: &str| -> Result<Tensor> {
            match weights.take_optional(name, &[positions, hidden])? {
                Some(table) => Ok(table),
                None => sinusoidal_positions(positions, hidden, device),
            }
        };
        let encoder_positions = position_table("model.encoder.embed_positions.weight")?;
        let decoder_positions = position_table("model.decoder.embed_positions.weight")?;
        let scale_embedding = config.get("scale_embedding").and_then(|v| v.as_bool()).unwrap_or(false);
        Ok(Pegasus {
            shared,
            lm_head,
            final_logits_bias,
            encoder_positions,
            encoder_layers,
            encoder_layer_norm: weights.layer_norm("model.encoder.layer_norm", hidden, LAYER_NORM_EPS)?,
            decoder_positions,
            decoder_layers,
            decoder_layer_norm: weights.layer_norm("model.decoder.layer_norm", hidden, LAYER_NORM_EPS)?,
            embed_scale: if scale_embedding { (hidden as f64).sqrt() } else { 1.0 },
            hidden,
            encoder_heads,
            decoder_heads,
            activation,
        })
    }

    /// transformers' `PegasusEncoder.forward`: encoder states `[batch, source, hidden]`.
    pub fn encode(&self, input_ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        let (batch, source) = input_ids.size2()?;
        let positions = self.encoder_positions.f_narrow(0, 0, source)?;
        let embedded = self.shared.f_index_select(0, &input_ids.f_view([batch * source])?)?.f_view([batch, source, self.hidden])?;
        let mut hidden = embedded.f_mul_scalar(self.embed_scale)?.f_add(&positions)?;
        let mask = layers::additive_mask(attention_mask, hidden.kind())?;
        let heads = self.encoder_heads;
        let head_dim = self.hidden / heads;
        let scaling = (head_dim as f64).powf(-0.5);
        for layer in &self.encoder_layers {
            let normed = layer.self_attn_layer_norm.apply(&hidden)?;
            let qkv = layer.self_attn_qkv.forward(&normed)?.f_view([batch, source, 3, heads, head_dim])?.f_permute([2, 0, 3, 1, 4])?;
            let (query, key, value) = (qkv.f_get(0)?.f_mul_scalar(scaling)?, qkv.f_get(1)?, qkv.f_get(2)?);
            let attended = layers::eager_attention(&query, &key, &value, &mask)?;
            let attended = attended.f_transpose(1, 2)?.f_reshape([batch, source, self.hidden])?;
            hidden = hidden.f_add(&layer.self_attn_out.forward(&attended)?)?;
            let normed = layer.final_layer_norm.apply(&hidden)?;
            let expanded = self.activation.apply(&layer.fc1.forward(&normed)?)?;
            hidden = hidden.f_add(&layer.fc2.forward(&expanded)?)?;
        }
        self.encoder_layer_norm.apply(&hidden)
    }

    /// Every decoder layer's cross-attention keys and values, once per input.
    pub fn prepare(&self, encoder_states: &Tensor, attention_mask: &Tensor, beams: usize) -> Result<CrossSource> {
        let projections = self.decoder_layers.iter().map(|layer| (&layer.encoder_attn_k, &layer.encoder_attn_v));
        CrossSource::project(encoder_states, attention_mask, projections, self.decoder_heads, self.hidden / self.decoder_heads, beams)
    }

    /// Next-token logits `[rows, vocab]` for `last_tokens` (`[rows, 1]`, the beams of an input adjacent).
    pub fn step(&self, last_tokens: &Tensor, source: &CrossSource, cache: Option<SelfCache>) -> Result<(Tensor, SelfCache)> {
        let rows = last_tokens.size().first().copied().unwrap_or(0);
        source.check_rows(rows)?;
        let steps = cache.as_ref().map_or(0, |c| c.steps);
        let (heads, head_dim) = (self.decoder_heads, self.hidden / self.decoder_heads);
        let scaling = (head_dim as f64).powf(-0.5);
        let position = self.decoder_positions.f_get(steps)?;
        let embedded = self.shared.f_index_select(0, &last_tokens.f_view([rows])?)?;
        let mut hidden = embedded.f_mul_scalar(self.embed_scale)?.f_add(&position)?;
        let mut previous = cache.map(|c| c.keys_values.into_iter());
        let mut keys_values = Vec::with_capacity(self.decoder_layers.len());
        for (index, layer) in self.decoder_layers.iter().enumerate() {
            let normed = layer.self_attn_layer_norm.apply(&hidden)?;
            let past = previous.as_mut().and_then(Iterator::next);
            let qkv = layer.self_attn_qkv.step(&normed)?;
            let (attended, key_value) = layers::self_attention_step(&qkv, past, heads, head_dim, Some(scaling), None)?;
            keys_values.push(key_value);
            hidden = hidden.f_add(&layer.self_attn_out.step(&attended)?)?;

            let normed = layer.encoder_attn_layer_norm.apply(&hidden)?;
            let query = layer.encoder_attn_q.step(&normed)?.f_mul_scalar(scaling)?;
            let attended = source.attend(index, &query, heads, head_dim)?;
            hidden = hidden.f_add(&layer.encoder_attn_out.step(&attended)?)?;

            let normed = layer.final_layer_norm.apply(&hidden)?;
            let expanded = self.activation.apply(&layer.fc1.step(&normed)?)?;
            hidden = hidden.f_add(&layer.fc2.step(&expanded)?)?;
        }
        let hidden = self.decoder_layer_norm.apply(&hidden)?;
        let logits = layers::head_logits(&hidden, &self.lm_head, self.final_logits_bias.as_ref())?;
        Ok((logits, SelfCache { keys_values, steps: steps + 1 }))
    }
}

/// transformers' `PegasusSinusoidalPositionalEmbedding._init_weight`: position / 10000^(2·(j div
/// 2)/dim) in f64, sines of the even columns in the first half, cosines of the odd ones in the
/// second, rounded to f32.
pub fn sinusoidal_positions(positions: i64, dim: i64, device: Device) -> Result<Tensor> {
    if positions < 0 || dim <= 0 {
        bail!("cannot build a position table of {positions} × {dim}");
    }
    let (rows, width) = (positions as usize, dim as usize);
    let sentinel = width.div_ceil(2);
    let mut table = vec![0f32; rows * width];
    for position in 0..rows {
        let row = &mut table[position * width..(position + 1) * width];
        for j in 0..width {
            let angle = position as f64 / 10000f64.powf((2 * (j / 2)) as f64 / width as f64);
            if j % 2 == 0 {
                row[j / 2] = angle.sin() as f32;
            } else {
                row[sentinel + j / 2] = angle.cos() as f32;
            }
        }
    }
    Ok(Tensor::f_from_slice(&table)?.f_view([positions, dim])?.f_to_kind(Kind::Float)?.f_to_device(device)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_table_layout() {
        let table = sinusoidal_positions(3, 4, Device::Cpu).unwrap();
        let row: Vec<f32> = Vec::try_from(table.get(2)).unwrap();
        // columns: sin(p), sin(p / 100), cos(p), cos(p / 100)
        let expected = [2f64.sin(), (0.02f64).sin(), 2f64.cos(), (0.02f64).cos()].map(|v| v as f32);
        assert_eq!(row, expected);
        let first: Vec<f32> = Vec::try_from(table.get(0)).unwrap();
        assert_eq!(first, [0.0, 0.0, 1.0, 1.0]);
    }
}
