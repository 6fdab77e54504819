//! Building blocks of precis's own T5 and PEGASUS networks (`engine::t5`, `engine::pegasus`):
//! taking named weights out of the file's tensors, linear layers that run a decoder step's few
//! rows on precis's kernels (`engine::kernels`), layer norms, activations, attention masks, and
//! the decoding state every such network shares — cross-attention keys and values projected once
//! per input for all its beams, and the self-attention cache.
//!
//! Each operation mirrors the one transformers 4.44 uses (same order of floating-point
//! operations where it can matter), so that the networks give transformers' numbers.
//! It does not know any architecture's layer layout (the network files do).

use std::collections::HashMap;

use anyhow::{anyhow, bail, Result};
use tch::{Kind, Tensor};

use super::kernels;

/// The weights file's tensors, taken out one by one with their shapes checked.
pub struct Weights {
    tensors: HashMap<String, Tensor>,
}

impl Weights {
    pub fn new(tensors: HashMap<String, Tensor>) -> Weights {
        Weights { tensors }
    }

    pub fn take(&mut self, name: &str, shape: &[i64]) -> Result<Tensor> {
        let tensor = self.tensors.remove(name).ok_or_else(|| anyhow!("the file has no tensor {name}"))?;
        if tensor.size() != shape {
            bail!("tensor {name} has shape {:?} in the file but the config implies {shape:?}", tensor.size());
        }
        Ok(tensor)
    }

    pub fn take_optional(&mut self, name: &str, shape: &[i64]) -> Result<Option<Tensor>> {
        if self.tensors.contains_key(name) {
            self.take(name, shape).map(Some)
        } else {
            Ok(None)
        }
    }

    /// `{prefix}.weight` `[outputs, inputs]`, and `{prefix}.bias` when `bias`.
    pub fn linear(&mut self, prefix: &str, outputs: i64, inputs: i64, bias: bool) -> Result<Linear> {
        let weight = self.take(&format!("{prefix}.weight"), &[outputs, inputs])?;
        let bias = if bias { Some(self.take(&format!("{prefix}.bias"), &[outputs])?) } else { None };
        Ok(Linear { weight, bias })
    }

    /// Several linear layers of the same input as one (their rows stacked in order): one product
    /// instead of several.
    pub fn stacked(&mut self, prefixes: &[String], outputs: i64, inputs: i64, bias: bool) -> Result<Linear> {
        let mut weights = Vec::with_capacity(prefixes.len());
        let mut biases = Vec::with_capacity(prefixes.len());
        for prefix in prefixes {
            let Linear { weight, bias } = self.linear(prefix, outputs, inputs, bias)?;
            weights.push(weight);
            biases.extend(bias);
        }
        let bias = if biases.is_empty() { None } else { Some(Tensor::f_cat(&biases, 0)?) };
        Ok(Linear { weight: Tensor::f_cat(&weights, 0)?, bias })
    }

    pub fn layer_norm(&mut self, prefix: &str, width: i64, eps: f64) -> Result<LayerNorm> {
        Ok(LayerNorm { weight: self.take(&format!("{prefix}.weight"), &[width])?, bias: self.take(&format!("{prefix}.bias"), &[width])?, eps })
    }

    pub fn rms_norm(&mut self, prefix: &str, width: i64, eps: f64) -> Result<RmsNorm> {
        Ok(RmsNorm { weight: self.take(&format!("{prefix}.weight"), &[width])?, eps })
    }
}

/// `input · weightᵀ (+ bias)`, weight `[out, in]`.
pub struct Linear {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
}

impl Linear {
    /// Over many rows (the encoder): libtorch/MKL, arithmetic-bound there.
    pub fn forward(&self, input: &Tensor) -> Result<Tensor> {
        Ok(input.f_linear(&self.weight, self.bias.as_ref())?)
    }

    /// Over a decoder step's rows (`[rows, in]`): memory-bound, see [`project`].
    pub fn step(&self, input: &Tensor) -> Result<Tensor> {
        project(input, &self.weight, self.bias.as_ref())
    }
}

/// A decoder step's next-token logits, `hidden · headᵀ (+ bias)`, computed with the operation and
/// operand layout of transformers' `lm_head` (`F.linear` without bias, then `final_logits_bias`
/// added), so libtorch/MKL sums every logit in transformers' order. Beam search ranks scores that
/// can tie to the last bit, and the logits are where a different summation order shows directly:
/// on precis's kernels (see [`project`]) 2 of `scripts/parity_random.sh`'s 1,000 cases picked
/// another beam (a T5 and a bf16 BART case); with this form all 1,000 give transformers' ids.
///
/// During a decoding libtorch runs on one thread (`kernels::SingleThreadedLibtorch`), which made
/// the head the slowest part of a step (33.7 ms of 62.8 for 4 rows of distilbart-cnn-12-6's
/// 50,264-word head); then the vocabulary is cut in two halves, one per kernel thread. A logit's
/// sum is the same either way: MKL's own threads cut the same dimension (the halves give its
/// 2-thread result bit for bit, checked for 1–8 rows at the shapes of the presets; with 1 row the
/// cut must fall at ⌈words / 2⌉, where MKL's matrix-vector product makes it).
pub fn head_logits(hidden: &Tensor, head: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let words = head.size().first().copied().unwrap_or(0);
    let logits = if hidden.dim() == 2 && words >= SPLIT_HEAD_WORDS && tch::get_num_threads() == 1 {
        let half = (words + 1) / 2;
        let outputs = [std::sync::Mutex::new(None), std::sync::Mutex::new(None)];
        // Each part owns its handles (views of the same storage, only read).
        let parts = vec![
            (hidden.shallow_clone(), head.f_narrow(0, 0, half)?, &outputs[0]),
            (hidden.shallow_clone(), head.f_narrow(0, half, words - half)?, &outputs[1]),
        ];
        kernels::for_each_libtorch_part(parts, &|(hidden, words, out)| {
            let logits = hidden.f_matmul(&words.f_tr()?)?;
            *out.lock().map_err(|_| anyhow!("a half of the language-model head failed"))? = Some(logits);
            Ok(())
        })?;
        let mut halves = Vec::with_capacity(2);
        for output in outputs {
            match output.into_inner() {
                Ok(Some(logits)) => halves.push(logits),
                _ => bail!("a half of the language-model head was not computed"),
            }
        }
        Tensor::f_cat(&halves, 1)?
    } else {
        hidden.f_matmul(&head.f_tr()?)?
    };
    Ok(match bias {
        Some(bias) => logits.f_add(bias)?,
        None => logits,
    })
}

/// Heads of fewer words are computed whole (the test models'; splitting them saves nothing).
const SPLIT_HEAD_WORDS: i64 = 4096;

/// `input · weightᵀ + bias` for the few rows of a decoder step (`input` `[rows, in]`): precis's
/// memory-speed kernel where it applies, else `(weight · inputᵀ)ᵀ`, the form in which MKL streams
/// the weight once (as `engine::bart` does).
pub fn project(input: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    kernels::project_fp32_rows(input, weight, bias)
}

/// `torch.nn.LayerNorm`.
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    pub fn apply(&self, input: &Tensor) -> Result<Tensor> {
        let width = input.size().last().copied().unwrap_or(0);
        Ok(input.f_layer_norm([width], Some(&self.weight), Some(&self.bias), self.eps, false)?)
    }
}

/// T5's `T5LayerNorm` (root mean square, no mean, no bias), operation by operation.
pub struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    pub fn apply(&self, input: &Tensor) -> Result<Tensor> {
        let variance = input.f_pow_tensor_scalar(2)?.f_mean_dim(-1, true, None::<Kind>)?;
        let normalized = input.f_mul(&variance.f_add_scalar(self.eps)?.f_rsqrt()?)?;
        Ok(self.weight.f_mul(&normalized)?)
    }
}

/// The activations transformers' `ACT2FN` maps these names to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Relu,
    /// `nn.functional.gelu` (the exact erf form).
    Gelu,
    /// `NewGELUActivation`: the tanh approximation, written out as transformers writes it.
    GeluNew,
    Silu,
}

impl Activation {
    pub fn from_name(name: &str) -> Option<Activation> {
        Some(match name {
            "relu" => Activation::Relu,
            "gelu" => Activation::Gelu,
            "gelu_new" => Activation::GeluNew,
            "silu" | "swish" => Activation::Silu,
            _ => return None,
        })
    }

    pub fn apply(self, input: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Activation::Relu => input.f_relu()?,
            Activation::Gelu => input.f_gelu("none")?,
            Activation::Silu => input.f_silu()?,
            Activation::GeluNew => {
                // 0.5 * input * (1.0 + tanh(sqrt(2 / pi) * (input + 0.044715 * input ** 3)))
                let cubic = input.f_pow_tensor_scalar(3.0)?.f_mul_scalar(0.044715)?;
                let inner = input.f_add(&cubic)?.f_mul_scalar((2.0 / std::f64::consts::PI).sqrt())?;
                input.f_mul_scalar(0.5)?.f_mul(&inner.f_tanh()?.f_add_scalar(1.0)?)?
            }
        })
    }
}

/// transformers' `_prepare_4d_attention_mask`: `[batch, 1, 1, source]`, 0 where attended and
/// the dtype's minimum at padding.
pub fn additive_mask(attention_mask: &Tensor, kind: Kind) -> Result<Tensor> {
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

/// `[batch, length, heads·head_dim]` → `[batch, heads, length, head_dim]` (a view).
pub fn split_heads(states: &Tensor, heads: i64, head_dim: i64) -> Result<Tensor> {
    let (batch, length, _) = states.size3()?;
    Ok(states.f_view([batch, length, heads, head_dim])?.f_transpose(1, 2)?)
}

/// transformers' eager attention over whole sequences (the encoder): `softmax(query · keyᵀ +
/// mask) · value` in f32, `query` already scaled as the architecture scales it, `mask` additive
/// and broadcast to `[batch, heads, queries, keys]`. Operation by operation as transformers runs
/// it, so that the encoder's states are the same bits (libtorch's fused
/// `scaled_dot_product_attention` sums in another order).
pub fn eager_attention(query: &Tensor, key: &Tensor, value: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let scores = query.f_matmul(&key.f_transpose(2, 3)?)?.f_add(mask)?;
    Ok(scores.f_softmax(-1, Kind::Float)?.f_matmul(value)?)
}

/// What every decoder step of one decoding reads from the encoder side: per layer, the
/// cross-attention keys and values, once per input for all its beams. When the step runs on
/// precis's kernels (`kernel_layout`) they are laid out as `kernels::attend` streams them (keys
/// transposed `[batch, heads, head_dim, positions]`, values `[batch, heads, positions,
/// head_dim]`, positions padded to `kernels::attention::POSITION_BLOCK` and masked out); else keys
/// `[batch, heads, source, head_dim]` and values transposed `[batch, heads, head_dim, source]`.
pub struct CrossSource {
    pub keys_values: Vec<(Tensor, Tensor)>,
    pub kernel_layout: bool,
    /// Additive encoder mask, `[batch, positions]`.
    pub encoder_mask: Tensor,
    pub batch: i64,
    pub beams: i64,
}

impl CrossSource {
    /// Projects `encoder_states` (`[batch, source, hidden]`, one row per input) with each layer's
    /// key and value projections.
    pub fn project<'a>(
        encoder_states: &Tensor,
        attention_mask: &Tensor,
        layers: impl Iterator<Item = (&'a Linear, &'a Linear)>,
        heads: i64,
        head_dim: i64,
        beams: usize,
    ) -> Result<CrossSource> {
        let (batch, source, _) = encoder_states.size3()?;
        let kernel_layout = kernels::step_runs_here(batch as usize * beams, kernels::Precision::Fp32) && kernels::attention::applies(head_dim, kernels::cpu::features());
        let block = kernels::attention::POSITION_BLOCK;
        let padding = if kernel_layout { (block - source % block) % block } else { 0 };
        let keys_values = layers
            .map(|(key, value)| {
                let keys = split_heads(&key.forward(encoder_states)?, heads, head_dim)?;
                let values = split_heads(&value.forward(encoder_states)?, heads, head_dim)?;
                if !kernel_layout {
                    return Ok((keys.f_contiguous()?, values.f_transpose(2, 3)?.f_contiguous()?));
                }
                let keys = keys.f_constant_pad_nd([0, 0, 0, padding])?.f_transpose(2, 3)?.f_contiguous()?;
                let values = values.f_constant_pad_nd([0, 0, 0, padding])?.f_contiguous()?;
                Ok((keys, values))
            })
            .collect::<Result<Vec<_>>>()?;
        let encoder_mask = additive_mask(attention_mask, encoder_states.kind())?.f_view([batch, source])?;
        let encoder_mask = match padding {
            0 => encoder_mask,
            _ => Tensor::f_cat(&[encoder_mask.shallow_clone(), Tensor::f_full([batch, padding], minimum(encoder_states.kind())?, (encoder_states.kind(), encoder_states.device()))?], 1)?,
        };
        Ok(CrossSource { keys_values, kernel_layout, encoder_mask, batch, beams: beams as i64 })
    }

    pub fn check_rows(&self, rows: i64) -> Result<()> {
        if rows != self.batch * self.beams {
            bail!("{rows} decoder rows for {} inputs of {} beams", self.batch, self.beams);
        }
        Ok(())
    }

    /// The beams of each input attend together to layer `layer`'s shared keys and values: with
    /// precis's kernel, else as one `[beams, head_dim] × [head_dim, source]` product per head.
    /// `query` is `[batch·beams, heads·head_dim]`, already scaled as the architecture scales it.
    pub fn attend(&self, layer: usize, query: &Tensor, heads: i64, head_dim: i64) -> Result<Tensor> {
        let (keys, values_transposed) = self.keys_values.get(layer).ok_or_else(|| anyhow!("no cross-attention keys for layer {layer}"))?;
        if self.kernel_layout {
            return match kernels::attend(query, keys, values_transposed, &self.encoder_mask, kernels::cpu::features())? {
                Some(output) => Ok(output),
                None => bail!("the attention kernel declined the keys and values laid out for it"),
            };
        }
        let rows = query.size()[0];
        let query = query.f_reshape([self.batch, self.beams, heads, head_dim])?.f_transpose(1, 2)?;
        let mask = self.encoder_mask.f_view([self.batch, 1, 1, -1])?;
        let scores = query.f_matmul(&keys.f_transpose(2, 3)?)?.f_add(&mask)?;
        let weights = scores.f_softmax(-1, Kind::Float)?;
        Ok(weights.f_matmul(&values_transposed.f_transpose(2, 3)?)?.f_transpose(1, 2)?.f_reshape([rows, heads * head_dim])?)
    }
}

/// Per decoder layer: self-attention keys and values of the steps so far, `[rows, heads, steps, head_dim]`.
pub struct SelfCache {
    pub keys_values: Vec<(Tensor, Tensor)>,
    pub steps: i64,
}

impl SelfCache {
    /// The caches with their rows taken from `rows` (beam search's reordering).
    pub fn reorder(self, rows: &Tensor) -> Result<SelfCache> {
        let keys_values = self
            .keys_values
            .into_iter()
            .map(|(key, value)| Ok((key.f_index_select(0, rows)?, value.f_index_select(0, rows)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(SelfCache { keys_values, steps: self.steps })
    }
}

/// One new position attending to itself and the positions before it. `qkv` is the step's fused
/// projection `[rows, 3·heads·head_dim]`; the query is multiplied by `query_scale` first (as
/// transformers' BART-style attention does; T5 does not scale), then `bias` (`[1, heads, 1,
/// steps]`, T5's position bias) is added to the scores. Returns the attended values `[rows,
/// heads·head_dim]` and the keys and values to cache.
pub fn self_attention_step(
    qkv: &Tensor,
    past: Option<(Tensor, Tensor)>,
    heads: i64,
    head_dim: i64,
    query_scale: Option<f64>,
    bias: Option<&Tensor>,
) -> Result<(Tensor, (Tensor, Tensor))> {
    let rows = qkv.size()[0];
    let qkv = qkv.f_reshape([rows, 3, heads, 1, head_dim])?;
    let query = qkv.f_select(1, 0)?;
    let query = match query_scale {
        Some(scale) => query.f_mul_scalar(scale)?,
        None => query,
    };
    let (key, value) = (qkv.f_select(1, 1)?, qkv.f_select(1, 2)?);
    let (key, value) = match past {
        Some((past_key, past_value)) => (Tensor::f_cat(&[past_key, key], 2)?, Tensor::f_cat(&[past_value, value], 2)?),
        None => (key.f_contiguous()?, value.f_contiguous()?),
    };
    let scores = query.f_matmul(&key.f_transpose(2, 3)?)?;
    let scores = match bias {
        Some(bias) => scores.f_add(bias)?,
        None => scores,
    };
    let weights = scores.f_softmax(-1, Kind::Float)?;
    let output = weights.f_matmul(&value)?.f_reshape([rows, heads * head_dim])?;
    Ok((output, (key, value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn gelu_new_is_the_tanh_approximation() {
        let x = Tensor::from_slice(&[-3.0f32, -1.0, -0.1, 0.0, 0.5, 2.0, 4.0]);
        let ours = Activation::GeluNew.apply(&x).unwrap();
        let reference = x.gelu("tanh");
        let error = (ours - reference).abs().max().double_value(&[]);
        assert!(error < 1e-6, "max error {error}");
    }

    #[test]
    fn a_head_cut_in_halves_gives_the_whole_product() {
        tch::manual_seed(7);
        let head = Tensor::randn([SPLIT_HEAD_WORDS * 3 + 5, 64], (Kind::Float, Device::Cpu));
        let bias = Tensor::randn([SPLIT_HEAD_WORDS * 3 + 5], (Kind::Float, Device::Cpu));
        for rows in [1i64, 2, 4, 8] {
            let hidden = Tensor::randn([rows, 64], (Kind::Float, Device::Cpu));
            let whole = hidden.matmul(&head.tr()) + &bias;
            let halves = {
                let _one_thread = kernels::SingleThreadedLibtorch::always();
                assert_eq!(tch::get_num_threads(), 1);
                head_logits(&hidden, &head, Some(&bias)).unwrap()
            };
            assert_eq!(halves.size(), whole.size());
            // Summation order may differ between MKL's code paths (bit-identical on this project's
            // Xeon for 1–8 rows, bench/compare.sh); a misplaced half would be off by whole units.
            let error = (&halves - &whole).abs().max().double_value(&[]);
            assert!(error < 1e-4, "{rows} rows: max difference {error}");
        }
    }

    #[test]
    fn rms_norm_divides_by_the_root_mean_square() {
        let weight = Tensor::from_slice(&[1.0f32, 2.0]);
        let norm = RmsNorm { weight, eps: 0.0 };
        let out = norm.apply(&Tensor::from_slice(&[3.0f32, 4.0]).view([1, 2])).unwrap();
        // rms = sqrt((9 + 16) / 2)
        let rms = (12.5f64).sqrt();
        let expected = Tensor::from_slice(&[(3.0 / rms) as f32, (8.0 / rms) as f32]).view([1, 2]);
        assert!((out - expected).abs().max().double_value(&[]) < 1e-6);
    }

    #[test]
    fn cross_attention_without_kernels_matches_the_kernel_path() {
        let (batch, beams, heads, source, head_dim) = (2i64, 3i64, 2i64, 5i64, 4i64);
        let keys = Tensor::randn([batch, heads, source, head_dim], (Kind::Float, Device::Cpu));
        let values = Tensor::randn([batch, heads, source, head_dim], (Kind::Float, Device::Cpu));
        let mask = Tensor::from_slice(&[1i64, 1, 1, 1, 1, 1, 1, 1, 0, 0]).view([batch, source]);
        let source_side = CrossSource {
            keys_values: vec![(keys.shallow_clone(), values.transpose(2, 3).contiguous())],
            kernel_layout: false,
            encoder_mask: additive_mask(&mask, Kind::Float).unwrap().view([batch, source]),
            batch,
            beams,
        };
        let query = Tensor::randn([batch * beams, heads * head_dim], (Kind::Float, Device::Cpu));
        let ours = source_side.attend(0, &query, heads, head_dim).unwrap();
        let q = query.view([batch, beams, heads, head_dim]).transpose(1, 2);
        let scores = q.matmul(&keys.transpose(2, 3)) + additive_mask(&mask, Kind::Float).unwrap();
        let expected = scores.softmax(-1, Kind::Float).matmul(&values).transpose(1, 2).reshape([batch * beams, heads * head_dim]);
        assert!((&ours - &expected).abs().max().double_value(&[]) < 1e-5);

        // The kernel's layout (as `CrossSource::project` lays it out where the kernel applies):
        // positions padded to the kernel's block and masked out, keys transposed.
        let head_dim = 8i64;
        if !kernels::attention::applies(head_dim, kernels::cpu::features()) {
            return;
        }
        let keys = Tensor::randn([batch, heads, source, head_dim], (Kind::Float, Device::Cpu));
        let values = Tensor::randn([batch, heads, source, head_dim], (Kind::Float, Device::Cpu));
        let padding = kernels::attention::POSITION_BLOCK - source;
        let mask_values = additive_mask(&mask, Kind::Float).unwrap().view([batch, source]);
        let padded_mask = Tensor::cat(&[mask_values, Tensor::full([batch, padding], f64::from(f32::MIN), (Kind::Float, Device::Cpu))], 1);
        let kernel_side = CrossSource {
            keys_values: vec![(
                keys.constant_pad_nd([0, 0, 0, padding]).transpose(2, 3).contiguous(),
                values.constant_pad_nd([0, 0, 0, padding]).contiguous(),
            )],
            kernel_layout: true,
            encoder_mask: padded_mask,
            batch,
            beams,
        };
        let query = Tensor::randn([batch * beams, heads * head_dim], (Kind::Float, Device::Cpu));
        let ours = kernel_side.attend(0, &query, heads, head_dim).unwrap();
        let q = query.view([batch, beams, heads, head_dim]).transpose(1, 2);
        let scores = q.matmul(&keys.transpose(2, 3)) + additive_mask(&mask, Kind::Float).unwrap();
        let expected = scores.softmax(-1, Kind::Float).matmul(&values).transpose(1, 2).reshape([batch * beams, heads * head_dim]);
        assert!((ours - expected).abs().max().double_value(&[]) < 1e-5);
    }
}
