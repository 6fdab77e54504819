//! precis's own T5 network: transformers 4.44's `modeling_t5` for the original T5 (ReLU
//! feed-forward, LM head tied to the embeddings and fed `hidden · d_model^-0.5`) and T5 v1.1 /
//! FLAN-T5 (gated-GELU feed-forward, untied LM head), on the weights file's tensors.
//!
//! T5's attention is unscaled and adds a learned bias per relative-position bucket (block 0 of
//! each side owns the table; every layer adds the same bias, padding mask included). The encoder
//! computes q/k/v as one product and attends as transformers' eager attention does (T5 has no SDPA
//! path in transformers 4.44; libtorch's fused `scaled_dot_product_attention` moved the encoder
//! states by 2e-4 on the fixtures and flipped a beam). A decoder step projects its rows on
//! precis's kernels (`engine::kernels`), computes the one new query's buckets, and attends with
//! transformers' operand layouts: cross-attention keys and values projected once per input but
//! laid out per row (see [`Source`]; cross-attention has no position bias).
//! The buckets are computed with the same libtorch operations transformers uses, so the
//! logarithmic buckets fall exactly where its do.

use std::collections::HashMap;

use anyhow::{anyhow, bail, Result};
use tch::{Kind, Tensor};

use super::layers::{self, Activation, Linear, RmsNorm, SelfCache, Weights};

/// What every decoder step of one decoding reads from the encoder side: per block, the
/// cross-attention keys and values `[rows, source, heads·head_dim]`, one copy per decoded row,
/// and the additive encoder mask `[rows, 1, 1, source]`. Unlike BART's and PEGASUS's shared keys
/// and values, T5's are laid out per row as transformers has them: T5's unscaled attention over
/// the fixture models' large activations turned the last-bit differences of a shared product into
/// flipped beams, and the per-row products give transformers' bits. The projection itself is
/// still done once per input.
pub struct Source {
    keys_values: Vec<(Tensor, Tensor)>,
    /// The same keys and values in the layout transformers' beam search leaves them in after its
    /// first cache reordering (`[rows, heads, source, head_dim]`, contiguous); beam search only.
    reordered: Option<Vec<(Tensor, Tensor)>>,
    mask: Tensor,
    rows: i64,
}

/// The self-attention cache, and whether beam search has reordered it yet (from then on the
/// cross-attention runs on `Source::reordered`).
pub struct Cache {
    own: SelfCache,
    reordered: bool,
}

/// The feed-forward sub-layer: `wo(act(wi(x)))`, or gated `wo(act(wi_0(x)) · wi_1(x))`.
struct FeedForward {
    input: Linear,
    gate: Option<Linear>,
    output: Linear,
    activation: Activation,
}

impl FeedForward {
    fn apply(&self, input: &Tensor, step: bool) -> Result<Tensor> {
        let linear = |layer: &Linear, x: &Tensor| if step { layer.step(x) } else { layer.forward(x) };
        let activated = self.activation.apply(&linear(&self.input, input)?)?;
        let hidden = match &self.gate {
            Some(gate) => activated.f_mul(&linear(gate, input)?)?,
            None => activated,
        };
        linear(&self.output, &hidden)
    }
}

struct EncoderBlock {
    self_norm: RmsNorm,
    self_qkv: Linear,
    self_out: Linear,
    ff_norm: RmsNorm,
    ff: FeedForward,
}

struct DecoderBlock {
    self_norm: RmsNorm,
    self_qkv: Linear,
    self_out: Linear,
    cross_norm: RmsNorm,
    cross_q: Linear,
    cross_k: Linear,
    cross_v: Linear,
    cross_out: Linear,
    ff_norm: RmsNorm,
    ff: FeedForward,
}

/// A T5 encoder-decoder on the weights file's tensors.
pub struct T5 {
    shared: Tensor,
    lm_head: Tensor,
    /// Tied embeddings: the decoder output is scaled by d_model^-0.5 before the head.
    tied: bool,
    model_dim: i64,
    encoder_blocks: Vec<EncoderBlock>,
    encoder_position_bias: Tensor,
    encoder_final_norm: RmsNorm,
    decoder_blocks: Vec<DecoderBlock>,
    decoder_position_bias: Tensor,
    decoder_final_norm: RmsNorm,
    heads: i64,
    head_dim: i64,
    buckets: i64,
    max_distance: i64,
}

impl T5 {
    /// Takes the network's weights out of `tensors` (transformers' names, the shared embedding as
    /// `shared.weight`); what the network does not use is dropped.
    pub fn from_tensors(tensors: HashMap<String, Tensor>, config: &serde_json::Value) -> Result<T5> {
        let number = |key: &str| -> Result<i64> { config.get(key).and_then(|v| v.as_i64()).ok_or_else(|| anyhow!("the T5 config has no {key}")) };
        let optional = |key: &str, default: i64| config.get(key).and_then(|v| v.as_i64()).unwrap_or(default);
        let model_dim = number("d_model")?;
        let heads = number("num_heads")?;
        let head_dim = number("d_kv")?;
        let inner = heads * head_dim;
        let ff_dim = number("d_ff")?;
        let vocab = number("vocab_size")?;
        let encoder_layers = number("num_layers")?;
        let decoder_layers = optional("num_decoder_layers", encoder_layers);
        let buckets = optional("relative_attention_num_buckets", 32);
        let max_distance = optional("relative_attention_max_distance", 128);
        let eps = config.get("layer_norm_epsilon").and_then(|v| v.as_f64()).unwrap_or(1e-6);
        let (gated, activation) = feed_forward_kind(config)?;
        let tied = config.get("tie_word_embeddings").and_then(|v| v.as_bool()).unwrap_or(true);
        if heads <= 0 || head_dim <= 0 || buckets < 2 || max_distance <= buckets / 2 {
            bail!("the T5 config's attention sizes are not usable (num_heads {heads}, d_kv {head_dim}, buckets {buckets}, max distance {max_distance})");
        }

        let mut weights = Weights::new(tensors);
        let shared = weights.take("shared.weight", &[vocab, model_dim])?;
        let lm_head = if tied { shared.shallow_clone() } else { weights.take("lm_head.weight", &[vocab, model_dim])? };
        let feed_forward = |weights: &mut Weights, prefix: &str| -> Result<FeedForward> {
            let (input, gate) = if gated {
                (weights.linear(&format!("{prefix}.wi_0"), ff_dim, model_dim, false)?, Some(weights.linear(&format!("{prefix}.wi_1"), ff_dim, model_dim, false)?))
            } else {
                (weights.linear(&format!("{prefix}.wi"), ff_dim, model_dim, false)?, None)
            };
            Ok(FeedForward { input, gate, output: weights.linear(&format!("{prefix}.wo"), model_dim, ff_dim, false)?, activation })
        };
        let qkv = |weights: &mut Weights, prefix: &str| -> Result<(Linear, Linear)> {
            let parts = ["q", "k", "v"].map(|part| format!("{prefix}.{part}"));
            Ok((weights.stacked(&parts, inner, model_dim, false)?, weights.linear(&format!("{prefix}.o"), model_dim, inner, false)?))
        };
        let mut encoder_blocks = Vec::new();
        for index in 0..encoder_layers {
            let prefix = format!("encoder.block.{index}");
            let (self_qkv, self_out) = qkv(&mut weights, &format!("{prefix}.layer.0.SelfAttention"))?;
            encoder_blocks.push(EncoderBlock {
                self_norm: weights.rms_norm(&format!("{prefix}.layer.0.layer_norm"), model_dim, eps)?,
                self_qkv,
                self_out,
                ff_norm: weights.rms_norm(&format!("{prefix}.layer.1.layer_norm"), model_dim, eps)?,
                ff: feed_forward(&mut weights, &format!("{prefix}.layer.1.DenseReluDense"))?,
            });
        }
        let mut decoder_blocks = Vec::new();
        for index in 0..decoder_layers {
            let prefix = format!("decoder.block.{index}");
            let (self_qkv, self_out) = qkv(&mut weights, &format!("{prefix}.layer.0.SelfAttention"))?;
            let cross = format!("{prefix}.layer.1.EncDecAttention");
            decoder_blocks.push(DecoderBlock {
                self_norm: weights.rms_norm(&format!("{prefix}.layer.0.layer_norm"), model_dim, eps)?,
                self_qkv,
                self_out,
                cross_norm: weights.rms_norm(&format!("{prefix}.layer.1.layer_norm"), model_dim, eps)?,
                cross_q: weights.linear(&format!("{cross}.q"), inner, model_dim, false)?,
                cross_k: weights.linear(&format!("{cross}.k"), inner, model_dim, false)?,
                cross_v: weights.linear(&format!("{cross}.v"), inner, model_dim, false)?,
                cross_out: weights.linear(&format!("{cross}.o"), model_dim, inner, false)?,
                ff_norm: weights.rms_norm(&format!("{prefix}.layer.2.layer_norm"), model_dim, eps)?,
                ff: feed_forward(&mut weights, &format!("{prefix}.layer.2.DenseReluDense"))?,
            });
        }
        Ok(T5 {
            encoder_position_bias: weights.take("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", &[buckets, heads])?,
            decoder_position_bias: weights.take("decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", &[buckets, heads])?,
            encoder_final_norm: weights.rms_norm("encoder.final_layer_norm", model_dim, eps)?,
            decoder_final_norm: weights.rms_norm("decoder.final_layer_norm", model_dim, eps)?,
            shared,
            lm_head,
            tied,
            model_dim,
            encoder_blocks,
            decoder_blocks,
            heads,
            head_dim,
            buckets,
            max_distance,
        })
    }

    /// transformers' `T5Stack.forward` for the encoder: states `[batch, source, d_model]`.
    pub fn encode(&self, input_ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        let (batch, source) = input_ids.size2()?;
        let mut hidden = self.shared.f_index_select(0, &input_ids.f_view([batch * source])?)?.f_view([batch, source, self.model_dim])?;
        let device = hidden.device();
        let context = Tensor::f_arange(source, (Kind::Int64, device))?.f_view([source, 1])?;
        let memory = Tensor::f_arange(source, (Kind::Int64, device))?.f_view([1, source])?;
        let buckets = relative_position_bucket(&memory.f_sub(&context)?, true, self.buckets, self.max_distance)?;
        // [source, source, heads] → [1, heads, source, source], plus the padding mask: the one bias
        // every layer adds to its scores.
        let bias = self.position_bias(&self.encoder_position_bias, &buckets, source, source)?;
        let bias = bias.f_add(&layers::additive_mask(attention_mask, hidden.kind())?)?.f_contiguous()?;
        let inner = self.heads * self.head_dim;
        for block in &self.encoder_blocks {
            let normed = block.self_norm.apply(&hidden)?;
            let qkv = block.self_qkv.forward(&normed)?.f_view([batch, source, 3, self.heads, self.head_dim])?.f_permute([2, 0, 3, 1, 4])?;
            let (query, key, value) = (qkv.f_get(0)?, qkv.f_get(1)?, qkv.f_get(2)?);
            let attended = layers::eager_attention(&query, &key, &value, &bias)?;
            let attended = attended.f_transpose(1, 2)?.f_reshape([batch, source, inner])?;
            hidden = hidden.f_add(&block.self_out.forward(&attended)?)?;
            let normed = block.ff_norm.apply(&hidden)?;
            hidden = hidden.f_add(&block.ff.apply(&normed, false)?)?;
        }
        self.encoder_final_norm.apply(&hidden)
    }

    /// Every decoder block's cross-attention keys and values: projected once per input, laid out
    /// per decoded row as transformers lays them out (see [`Source`]).
    pub fn prepare(&self, encoder_states: &Tensor, attention_mask: &Tensor, beams: usize) -> Result<Source> {
        let (batch, _, _) = encoder_states.size3()?;
        let rows = Tensor::f_arange(batch, (Kind::Int64, encoder_states.device()))?.f_repeat_interleave_self_int(beams as i64, Some(0), None)?;
        let keys_values = self
            .decoder_blocks
            .iter()
            .map(|block| {
                // Projecting the input once and copying it per beam gives the same bits as
                // projecting every copy (measured), at a beam's share of the cost.
                let keys = block.cross_k.forward(encoder_states)?.f_index_select(0, &rows)?;
                let values = block.cross_v.forward(encoder_states)?.f_index_select(0, &rows)?;
                Ok((keys, values))
            })
            .collect::<Result<Vec<_>>>()?;
        let mask = layers::additive_mask(attention_mask, encoder_states.kind())?.f_index_select(0, &rows)?;
        let rows = batch * beams as i64;
        // Beam search reorders transformers' cache after every step with `index_select`, which
        // leaves the cross-attention keys and values contiguous (the values do not change: an
        // input's beams share them); its later products run on that layout.
        let reordered = if beams > 1 {
            let all = Tensor::f_arange(rows, (Kind::Int64, encoder_states.device()))?;
            let relaid = |projected: &Tensor| -> Result<Tensor> { Ok(self.split_source_heads(projected)?.f_index_select(0, &all)?) };
            Some(keys_values.iter().map(|(keys, values)| Ok((relaid(keys)?, relaid(values)?))).collect::<Result<Vec<_>>>()?)
        } else {
            None
        };
        Ok(Source { keys_values, reordered, mask, rows })
    }

    /// The caches with their rows taken from `rows` (beam search's reordering).
    pub fn reorder(&self, cache: Cache, rows: &Tensor) -> Result<Cache> {
        Ok(Cache { own: cache.own.reorder(rows)?, reordered: true })
    }

    /// Next-token logits `[rows, vocab]` for `last_tokens` (`[rows, 1]`, the beams of an input adjacent).
    pub fn step(&self, last_tokens: &Tensor, source: &Source, cache: Option<Cache>) -> Result<(Tensor, Cache)> {
        let rows = last_tokens.size().first().copied().unwrap_or(0);
        if rows != source.rows {
            bail!("{rows} decoder rows for a source prepared for {}", source.rows);
        }
        let reordered = cache.as_ref().is_some_and(|c| c.reordered);
        let cache = cache.map(|c| c.own);
        let steps = cache.as_ref().map_or(0, |c| c.steps);
        let mut hidden = self.shared.f_index_select(0, &last_tokens.f_view([rows])?)?;
        // The new query sits at position `steps`; the keys at 0..=steps (the decoder's buckets are
        // one-directional).
        let memory = Tensor::f_arange(steps + 1, (Kind::Int64, hidden.device()))?.f_view([1, steps + 1])?;
        let buckets = relative_position_bucket(&memory.f_sub_scalar(steps)?, false, self.buckets, self.max_distance)?;
        let bias = self.position_bias(&self.decoder_position_bias, &buckets, 1, steps + 1)?;
        let mut previous = cache.map(|c| c.keys_values.into_iter());
        let mut keys_values = Vec::with_capacity(self.decoder_blocks.len());
        for (index, block) in self.decoder_blocks.iter().enumerate() {
            let normed = block.self_norm.apply(&hidden)?;
            let past = previous.as_mut().and_then(Iterator::next);
            let qkv = block.self_qkv.step(&normed)?;
            let inner = self.heads * self.head_dim;
            let part = |index: i64| -> Result<Tensor> { self.split_heads(&qkv.f_narrow(1, index * inner, inner)?) };
            let (query, key, value) = (part(0)?, part(1)?, part(2)?);
            let (key, value) = match past {
                Some((past_key, past_value)) => (Tensor::f_cat(&[past_key, key], 2)?, Tensor::f_cat(&[past_value, value], 2)?),
                None => (key, value),
            };
            let attended = self.attend(&query, &key, &value, &bias)?;
            keys_values.push((key, value));
            hidden = hidden.f_add(&block.self_out.step(&attended)?)?;

            let normed = block.cross_norm.apply(&hidden)?;
            let query = self.split_heads(&block.cross_q.step(&normed)?)?;
            let missing = || anyhow!("no cross-attention keys for block {index}");
            let (keys, values) = match (&source.reordered, reordered) {
                (Some(relaid), true) => {
                    let (keys, values) = relaid.get(index).ok_or_else(missing)?;
                    (keys.shallow_clone(), values.shallow_clone())
                }
                _ => {
                    let (keys, values) = source.keys_values.get(index).ok_or_else(missing)?;
                    (self.split_source_heads(keys)?, self.split_source_heads(values)?)
                }
            };
            let attended = self.attend(&query, &keys, &values, &source.mask)?;
            hidden = hidden.f_add(&block.cross_out.step(&attended)?)?;

            let normed = block.ff_norm.apply(&hidden)?;
            hidden = hidden.f_add(&block.ff.apply(&normed, true)?)?;
        }
        let hidden = self.decoder_final_norm.apply(&hidden)?;
        let hidden = if self.tied { hidden.f_mul_scalar((self.model_dim as f64).powf(-0.5))? } else { hidden };
        let logits = layers::head_logits(&hidden, &self.lm_head, None)?;
        Ok((logits, Cache { own: SelfCache { keys_values, steps: steps + 1 }, reordered }))
    }

    /// A step's projection `[rows, heads·head_dim]` as transformers' `shape` views it:
    /// `[rows, heads, 1, head_dim]` over a contiguous `[rows, 1, heads·head_dim]`.
    fn split_heads(&self, projected: &Tensor) -> Result<Tensor> {
        let rows = projected.size()[0];
        Ok(projected.f_contiguous()?.f_view([rows, 1, self.heads, self.head_dim])?.f_transpose(1, 2)?)
    }

    /// Cross-attention keys or values `[rows, source, heads·head_dim]` viewed as `[rows, heads,
    /// source, head_dim]`, as transformers views them.
    fn split_source_heads(&self, projected: &Tensor) -> Result<Tensor> {
        let (rows, source, _) = projected.size3()?;
        Ok(projected.f_view([rows, source, self.heads, self.head_dim])?.f_transpose(1, 2)?)
    }

    /// transformers' `T5Attention` for one new position per row: unscaled scores plus `bias`
    /// (position bias and/or mask), softmax in f32, the weighted values as `[rows,
    /// heads·head_dim]`. The operands keep transformers' layouts: libtorch's batched products give
    /// other bits for other layouts (a contiguous copy of the keys, or one product for all of an
    /// input's beams, moved the fixture's logits by 1e-4 and flipped beams).
    fn attend(&self, query: &Tensor, keys: &Tensor, values: &Tensor, bias: &Tensor) -> Result<Tensor> {
        let rows = query.size()[0];
        let scores = query.f_matmul(&keys.f_transpose(3, 2)?)?.f_add(bias)?;
        let weights = scores.f_softmax(-1, Kind::Float)?;
        Ok(weights.f_matmul(values)?.f_transpose(1, 2)?.f_contiguous()?.f_view([rows, self.heads * self.head_dim])?)
    }

    /// The bias table's rows for `buckets` (`[queries, keys]`) as `[1, heads, queries, keys]`.
    fn position_bias(&self, table: &Tensor, buckets: &Tensor, queries: i64, keys: i64) -> Result<Tensor> {
        let values = table.f_index_select(0, &buckets.f_reshape([-1])?)?.f_view([queries, keys, self.heads])?;
        Ok(values.f_permute([2, 0, 1])?.f_unsqueeze(0)?)
    }
}

/// `(gated, activation)` from `feed_forward_proj` as transformers' `T5Config` reads it
/// (`"gated-gelu"` means the tanh-approximated `gelu_new`).
fn feed_forward_kind(config: &serde_json::Value) -> Result<(bool, Activation)> {
    let projection = config.get("feed_forward_proj").and_then(|v| v.as_str()).unwrap_or("relu");
    let parts: Vec<&str> = projection.split('-').collect();
    let (gated, name) = match parts.as_slice() {
        [name] => (false, *name),
        ["gated", name] => (true, *name),
        _ => bail!("the T5 config's feed_forward_proj {projection:?} is not `ACT` or `gated-ACT`"),
    };
    let name = if projection == "gated-gelu" { "gelu_new" } else { name };
    let activation = Activation::from_name(name).ok_or_else(|| anyhow!("the T5 config's feed_forward_proj {projection:?} uses an activation precis does not run"))?;
    Ok((gated, activation))
}

/// transformers' `T5Attention._relative_position_bucket`, with the same libtorch operations (the
/// logarithmic buckets depend on f32 rounding).
fn relative_position_bucket(relative_position: &Tensor, bidirectional: bool, buckets: i64, max_distance: i64) -> Result<Tensor> {
    let mut buckets_total = buckets;
    let mut offset = relative_position.f_zeros_like()?;
    let distance = if bidirectional {
        buckets_total /= 2;
        offset = offset.f_add(&relative_position.f_gt(0)?.f_to_kind(Kind::Int64)?.f_mul_scalar(buckets_total)?)?;
        relative_position.f_abs()?
    } else {
        relative_position.f_minimum(&relative_position.f_zeros_like()?)?.f_neg()?
    };
    let max_exact = buckets_total / 2;
    let is_small = distance.f_lt(max_exact)?;
    let scaled = distance
        .f_to_kind(Kind::Float)?
        .f_div_scalar(max_exact as f64)?
        .f_log()?
        .f_div_scalar((max_distance as f64 / max_exact as f64).ln())?
        .f_mul_scalar((buckets_total - max_exact) as f64)?
        .f_to_kind(Kind::Int64)?;
    let large = scaled.f_add_scalar(max_exact)?;
    let large = large.f_minimum(&large.f_full_like(buckets_total - 1)?)?;
    Ok(offset.f_add(&distance.f_where_self(&is_small, &large)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_transformers() {
        // Printed by transformers 4.44's T5Attention._relative_position_bucket for the same arguments.
        let relative = Tensor::arange_start(-10, 11, (Kind::Int64, tch::Device::Cpu));
        let got: Vec<i64> = Vec::try_from(relative_position_bucket(&relative, true, 8, 20).unwrap()).unwrap();
        assert_eq!(got, [3, 3, 3, 3, 2, 2, 2, 2, 2, 1, 0, 5, 6, 6, 6, 6, 6, 7, 7, 7, 7]);
        let relative = Tensor::from_slice(&[0i64, -1, -15, -16, -17, -50, -127, -128, -500]);
        let got: Vec<i64> = Vec::try_from(relative_position_bucket(&relative, false, 32, 128).unwrap()).unwrap();
        assert_eq!(got, [0, 1, 15, 16, 16, 24, 31, 31, 31]);
    }
}
