//! precis's own BART decoder step, on the weights rust-bert's `BartForConditionalGeneration`
//! holds, for decoding with a cross-attention key/value cache shared by the beams of an input.
//!
//! Why: rust-bert's decoder computes the cross-attention keys and values once per decoded row
//! (one per beam), and copies every layer's whole cache (cross-attention included) twice per
//! step. With 4 beams over ~800 source tokens that is most of a step's memory traffic. Here the
//! cross-attention keys and values are projected once per input, before the first step, and each
//! input's beams attend to them together (the beams are the query rows of one matrix product);
//! only the self-attention cache grows and is reordered.
//!
//! The computation mirrors transformers 4.44's `modeling_bart` (`BartDecoderLayer`, post-layer-norm,
//! learned positions with offset 2) operation by operation, with the names it uses. Only the
//! configurations rust-bert's BART supports the same way are taken (`supports`); others keep
//! rust-bert's decoder.

use std::collections::HashMap;

use anyhow::{anyhow, bail, Result};
use tch::{Kind, Tensor};

/// transformers' `BartLearnedPositionalEmbedding` offset.
const POSITION_OFFSET: i64 = 2;
const LAYER_NORM_EPS: f64 = 1e-5;

/// One attention block's projections (weights `[out, in]`, biases `[out]`).
struct Attention {
    q_proj: (Tensor, Tensor),
    k_proj: (Tensor, Tensor),
    v_proj: (Tensor, Tensor),
    out_proj: (Tensor, Tensor),
}

struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
}

struct DecoderLayer {
    self_attn: Attention,
    self_attn_layer_norm: LayerNorm,
    encoder_attn: Attention,
    encoder_attn_layer_norm: LayerNorm,
    fc1: (Tensor, Tensor),
    fc2: (Tensor, Tensor),
    final_layer_norm: LayerNorm,
}

/// The decoder of a BART model, sharing its weights with rust-bert's model.
pub struct BartDecoder {
    /// `model.shared.weight`: token embeddings and the (tied) language-model head.
    shared: Tensor,
    embed_positions: Tensor,
    layernorm_embedding: LayerNorm,
    layers: Vec<DecoderLayer>,
    embed_scale: f64,
    heads: i64,
    head_dim: i64,
    scaling: f64,
}

/// What every step of one decoding reads from the encoder side.
pub struct Source {
    /// Per layer: cross-attention keys and values, `[batch, heads, source, head_dim]`, one per input.
    cross_keys_values: Vec<(Tensor, Tensor)>,
    /// Additive encoder mask, `[batch, 1, 1, source]` (0 or the dtype's minimum, as transformers).
    encoder_mask: Tensor,
    batch: i64,
    beams: i64,
}

/// Per layer: self-attention keys and values of the steps so far, `[rows, heads, steps, head_dim]`.
pub struct Cache {
    self_keys_values: Vec<(Tensor, Tensor)>,
    steps: i64,
}

impl BartDecoder {
    /// Whether precis's decoder computes what rust-bert's BART decoder computes for this config
    /// (rust-bert's BART has no pre-layer-norm or final-layer-norm variant, nor a logits bias).
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

    /// Takes the decoder's weights from rust-bert's variable names (`model.decoder.…`).
    pub fn from_variables(variables: &HashMap<String, Tensor>, config: &serde_json::Value) -> Result<BartDecoder> {
        let get = |name: &str| -> Result<Tensor> {
            variables.get(name).map(Tensor::shallow_clone).ok_or_else(|| anyhow!("the BART model has no variable {name}"))
        };
        let linear = |prefix: &str| -> Result<(Tensor, Tensor)> { Ok((get(&format!("{prefix}.weight"))?, get(&format!("{prefix}.bias"))?)) };
        let layer_norm = |prefix: &str| -> Result<LayerNorm> {
            Ok(LayerNorm { weight: get(&format!("{prefix}.weight"))?, bias: get(&format!("{prefix}.bias"))? })
        };
        let attention = |prefix: &str| -> Result<Attention> {
            Ok(Attention {
                q_proj: linear(&format!("{prefix}.q_proj"))?,
                k_proj: linear(&format!("{prefix}.k_proj"))?,
                v_proj: linear(&format!("{prefix}.v_proj"))?,
                out_proj: linear(&format!("{prefix}.out_proj"))?,
            })
        };
        let number = |key: &str| -> Result<i64> {
            config.get(key).and_then(|v| v.as_i64()).ok_or_else(|| anyhow!("the BART config has no {key}"))
        };
        let d_model = number("d_model")?;
        let heads = number("decoder_attention_heads")?;
        if heads <= 0 || d_model % heads != 0 {
            bail!("d_model {d_model} is not a multiple of decoder_attention_heads {heads}");
        }
        let mut layers = Vec::new();
        for index in 0..number("decoder_layers")? {
            let prefix = format!("model.decoder.layers.{index}");
            layers.push(DecoderLayer {
                self_attn: attention(&format!("{prefix}.self_attn"))?,
                self_attn_layer_norm: layer_norm(&format!("{prefix}.self_attn_layer_norm"))?,
                encoder_attn: attention(&format!("{prefix}.encoder_attn"))?,
                encoder_attn_layer_norm: layer_norm(&format!("{prefix}.encoder_attn_layer_norm"))?,
                fc1: linear(&format!("{prefix}.fc1"))?,
                fc2: linear(&format!("{prefix}.fc2"))?,
                final_layer_norm: layer_norm(&format!("{prefix}.final_layer_norm"))?,
            });
        }
        let head_dim = d_model / heads;
        let scale_embedding = config.get("scale_embedding").and_then(|v| v.as_bool()).unwrap_or(false);
        Ok(BartDecoder {
            shared: get("model.shared.weight")?,
            embed_positions: get("model.decoder.embed_positions.weight")?,
            layernorm_embedding: layer_norm("model.decoder.layernorm_embedding")?,
            layers,
            embed_scale: if scale_embedding { (d_model as f64).sqrt() } else { 1.0 },
            heads,
            head_dim,
            scaling: (head_dim as f64).powf(-0.5),
        })
    }

    /// Projects the encoder states to every layer's cross-attention keys and values, once per
    /// input (`encoder_states` `[batch, source, hidden]`, not expanded per beam).
    pub fn prepare(&self, encoder_states: &Tensor, attention_mask: &Tensor, beams: usize) -> Result<Source> {
        let (batch, source, _) = encoder_states.size3()?;
        let cross_keys_values = self
            .layers
            .iter()
            .map(|layer| {
                let attn = &layer.encoder_attn;
                let key = self.split_heads(&encoder_states.f_linear(&attn.k_proj.0, Some(&attn.k_proj.1))?, batch, source)?;
                let value = self.split_heads(&encoder_states.f_linear(&attn.v_proj.0, Some(&attn.v_proj.1))?, batch, source)?;
                Ok((key, value))
            })
            .collect::<Result<Vec<_>>>()?;
        let kind = encoder_states.kind();
        // transformers' `_prepare_4d_attention_mask`: 0 where attended, the dtype's minimum elsewhere.
        let masked_out = attention_mask.f_eq(0)?.f_view([batch, 1, 1, source])?;
        let encoder_mask = Tensor::f_zeros([batch, 1, 1, source], (kind, encoder_states.device()))?.f_masked_fill(&masked_out, minimum(kind)?)?;
        Ok(Source { cross_keys_values, encoder_mask, batch, beams: beams as i64 })
    }

    /// Next-token logits `[rows, vocab]` for `last_tokens` (`[rows, 1]`, rows = batch × beams,
    /// the beams of an input adjacent).
    pub fn step(&self, last_tokens: &Tensor, source: &Source, cache: Option<Cache>) -> Result<(Tensor, Cache)> {
        let rows = last_tokens.size().first().copied().unwrap_or(0);
        if rows != source.batch * source.beams {
            bail!("{rows} decoder rows for {} inputs of {} beams", source.batch, source.beams);
        }
        let steps = cache.as_ref().map_or(0, |c| c.steps);
        let position = self.embed_positions.f_get(steps + POSITION_OFFSET)?;
        let tokens = last_tokens.f_view([rows])?;
        let embedded = self.shared.f_index_select(0, &tokens)?.f_mul_scalar(self.embed_scale)?.f_add(&position)?;
        let mut hidden = self.layernorm_embedding.apply(&embedded)?;
        let mut previous = cache.map(|c| c.self_keys_values.into_iter());
        let mut self_keys_values = Vec::with_capacity(self.layers.len());
        for (layer, (cross_key, cross_value)) in self.layers.iter().zip(&source.cross_keys_values) {
            let past = previous.as_mut().and_then(Iterator::next);
            let (attended, key_value) = self.self_attention(&layer.self_attn, &hidden, past)?;
            self_keys_values.push(key_value);
            hidden = layer.self_attn_layer_norm.apply(&hidden.f_add(&attended)?)?;
            let attended = self.cross_attention(&layer.encoder_attn, &hidden, cross_key, cross_value, source)?;
            hidden = layer.encoder_attn_layer_norm.apply(&hidden.f_add(&attended)?)?;
            let expanded = project(&hidden, &layer.fc1)?.f_gelu("none")?;
            let projected = project(&expanded, &layer.fc2)?;
            hidden = layer.final_layer_norm.apply(&hidden.f_add(&projected)?)?;
        }
        let logits = self.shared.f_matmul(&hidden.f_tr()?)?.f_tr()?;
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

    /// `[batch, length, hidden]` → `[batch, heads, length, head_dim]`.
    fn split_heads(&self, states: &Tensor, batch: i64, length: i64) -> Result<Tensor> {
        Ok(states.f_view([batch, length, self.heads, self.head_dim])?.f_transpose(1, 2)?.f_contiguous()?)
    }

    /// One new position attending to itself and the positions before it. `hidden` is `[rows, hidden]`.
    fn self_attention(&self, attn: &Attention, hidden: &Tensor, past: Option<(Tensor, Tensor)>) -> Result<(Tensor, (Tensor, Tensor))> {
        let rows = hidden.size()[0];
        let query = project(hidden, &attn.q_proj)?.f_mul_scalar(self.scaling)?;
        let query = query.f_reshape([rows, self.heads, 1, self.head_dim])?;
        let key = project(hidden, &attn.k_proj)?.f_reshape([rows, self.heads, 1, self.head_dim])?;
        let value = project(hidden, &attn.v_proj)?.f_reshape([rows, self.heads, 1, self.head_dim])?;
        let (key, value) = match past {
            Some((past_key, past_value)) => (Tensor::f_cat(&[past_key, key], 2)?, Tensor::f_cat(&[past_value, value], 2)?),
            None => (key, value),
        };
        let weights = query.f_matmul(&key.f_transpose(2, 3)?)?.f_softmax(-1, None::<Kind>)?;
        let output = weights.f_matmul(&value)?.f_reshape([rows, self.heads * self.head_dim])?;
        Ok((project(&output, &attn.out_proj)?, (key, value)))
    }

    /// The beams of each input attend together to the input's shared keys and values: the
    /// queries of an input's beams are the rows of one `[beams, head_dim] × [head_dim, source]`
    /// product per head.
    fn cross_attention(&self, attn: &Attention, hidden: &Tensor, key: &Tensor, value: &Tensor, source: &Source) -> Result<Tensor> {
        let rows = hidden.size()[0];
        let query = project(hidden, &attn.q_proj)?.f_mul_scalar(self.scaling)?;
        // [batch·beams, hidden] → [batch, heads, beams, head_dim]
        let query = query.f_reshape([source.batch, source.beams, self.heads, self.head_dim])?.f_transpose(1, 2)?;
        let scores = query.f_matmul(&key.f_transpose(2, 3)?)?.f_add(&source.encoder_mask)?;
        let weights = scores.f_softmax(-1, None::<Kind>)?;
        // [batch, heads, beams, head_dim] → [batch·beams, hidden]
        let output = weights.f_matmul(value)?.f_transpose(1, 2)?.f_reshape([rows, self.heads * self.head_dim])?;
        project(&output, &attn.out_proj)
    }
}

/// `input · weightᵀ + bias` for the few rows of a decoder step (`input` `[rows, in]`), computed
/// as `(weight · inputᵀ)ᵀ`: MKL's matrix product then streams the weight once, where the
/// `input · weightᵀ` form transformers uses (`F.linear`) costs about as much per extra row as
/// the first (measured: the LM head with 4 rows 66 ms this way vs 153 ms, 1 row 37 ms, 1 thread).
fn project(input: &Tensor, (weight, bias): &(Tensor, Tensor)) -> Result<Tensor> {
    Ok(weight.f_matmul(&input.f_tr()?)?.f_tr()?.f_add(bias)?)
}

impl LayerNorm {
    fn apply(&self, input: &Tensor) -> Result<Tensor> {
        let width = input.size().last().copied().unwrap_or(0);
        Ok(input.f_layer_norm([width], Some(&self.weight), Some(&self.bias), LAYER_NORM_EPS, false)?)
    }
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
