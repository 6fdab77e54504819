//! Attention of a decoder step's rows over their input's encoder keys and values, in fp32 for
//! every precision: each input's beams read its keys and values once (transformers and rust-bert
//! copy them per beam), one part per (input, head) on the kernel threads.

use anyhow::{anyhow, bail, Result};
use std::sync::Mutex;
use tch::Tensor;

use super::cpu::Features;
use super::fp32::dot_block;
use crate::engine::kernel_threads;

/// Most beams per input the kernel takes (its score buffers are on the stack).
const MAX_BEAMS: i64 = 16;

/// Scaled dot-product attention of each input's `beams` query rows over that input's keys and
/// values: `query` `[batch·beams, heads·head_dim]` (already scaled), `keys` `[batch, heads,
/// source, head_dim]`, `values_transposed` `[batch, heads, head_dim, source]`, `mask` `[batch,
/// source]` added to the scores (0 or the dtype's minimum). Returns `[batch·beams, heads·head_dim]`,
/// or `None` where the kernel does not apply (no AVX2, tensors not dense fp32 on the CPU, more
/// than 16 beams).
pub fn attend(query: &Tensor, keys: &Tensor, values_transposed: &Tensor, mask: &Tensor, features: Features) -> Result<Option<Tensor>> {
    if !features.avx2 {
        return Ok(None);
    }
    let (batch, heads, source, head_dim) = keys.size4()?;
    let (rows, width) = query.size2()?;
    if width != heads * head_dim || batch == 0 || rows % batch != 0 || values_transposed.size() != [batch, heads, head_dim, source] || mask.size() != [batch, source] {
        bail!("attention shapes disagree: query {:?}, keys {:?}, values {:?}, mask {:?}", query.size(), keys.size(), values_transposed.size(), mask.size());
    }
    let beams = rows / batch;
    let dense = |tensor: &Tensor| super::dense_f32_on_cpu(tensor);
    if beams > MAX_BEAMS || !dense(keys) || !dense(values_transposed) || !dense(mask) || !super::f32_on_cpu(query) {
        return Ok(None);
    }
    let query: Vec<f32> = Vec::try_from(&query.f_contiguous()?.f_view([-1])?)?;
    let (batch, heads, source, head_dim, beams) = (batch as usize, heads as usize, source as usize, head_dim as usize, beams as usize);
    let count = batch * heads * source * head_dim;
    // SAFETY: checked contiguous fp32 on the CPU with these element counts; read only, for this call.
    let keys = unsafe { std::slice::from_raw_parts(keys.data_ptr() as *const f32, count) };
    let values = unsafe { std::slice::from_raw_parts(values_transposed.data_ptr() as *const f32, count) };
    let mask = unsafe { std::slice::from_raw_parts(mask.data_ptr() as *const f32, batch * source) };
    let width = heads * head_dim;
    // One part per (input, head): its beams' queries, scores, weights and outputs.
    let outputs: Vec<Mutex<Vec<f32>>> = (0..batch * heads).map(|_| Mutex::new(Vec::new())).collect();
    kernel_threads::for_each_part(batch * heads, &|task| {
        let (input, head) = (task / heads, task % heads);
        let mut queries = vec![0f32; beams * head_dim];
        for beam in 0..beams {
            let row = input * beams + beam;
            queries[beam * head_dim..(beam + 1) * head_dim].copy_from_slice(&query[row * width + head * head_dim..row * width + (head + 1) * head_dim]);
        }
        let keys = &keys[task * source * head_dim..(task + 1) * source * head_dim];
        let values = &values[task * head_dim * source..(task + 1) * head_dim * source];
        let mask = &mask[input * source..(input + 1) * source];
        // weights[beam · source + position]
        let mut weights = vec![0f32; beams * source];
        let mut scores = [0f32; MAX_BEAMS as usize];
        for position in 0..source {
            let key = &keys[position * head_dim..(position + 1) * head_dim];
            dot_block(key, &queries, head_dim, &mut scores[..beams], 0.0, features);
            for beam in 0..beams {
                weights[beam * source + position] = scores[beam] + mask[position];
            }
        }
        for beam_weights in weights.chunks_exact_mut(source) {
            softmax(beam_weights);
        }
        // out[beam · head_dim + d] = Σ_position weights · value[d][position]
        let mut out = vec![0f32; beams * head_dim];
        for d in 0..head_dim {
            let value_row = &values[d * source..(d + 1) * source];
            dot_block(value_row, &weights, source, &mut scores[..beams], 0.0, features);
            for beam in 0..beams {
                out[beam * head_dim + d] = scores[beam];
            }
        }
        if let Ok(mut slot) = outputs[task].lock() {
            *slot = out;
        }
    });
    let mut attended = vec![0f32; beams * batch * width];
    for (task, out) in outputs.into_iter().enumerate() {
        let out = out.into_inner().map_err(|_| anyhow!("an attention part failed"))?;
        if out.len() != beams * head_dim {
            bail!("an attention part left no output");
        }
        let (input, head) = (task / heads, task % heads);
        for beam in 0..beams {
            let row = input * beams + beam;
            attended[row * width + head * head_dim..row * width + (head + 1) * head_dim].copy_from_slice(&out[beam * head_dim..(beam + 1) * head_dim]);
        }
    }
    Ok(Some(Tensor::f_from_slice(&attended)?.f_view([rows, width as i64])?))
}

/// In place, as `torch.softmax` in f32: shifted by the maximum, exponentials normalized by their sum.
fn softmax(values: &mut [f32]) {
    let maximum = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0f32;
    for value in values.iter_mut() {
        *value = (*value - maximum).exp();
        sum += *value;
    }
    for value in values.iter_mut() {
        *value /= sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn attention_matches_libtorch_on_every_instruction_set() {
        for features in super::super::cpu::features().levels() {
            for (batch, beams, heads, source, head_dim) in [(1, 1, 2, 7, 16), (2, 4, 3, 33, 8), (1, 4, 16, 100, 64), (8, 4, 2, 40, 16)] {
                let query = Tensor::randn([batch * beams, heads * head_dim], (Kind::Float, Device::Cpu));
                let keys = Tensor::randn([batch, heads, source, head_dim], (Kind::Float, Device::Cpu));
                let values = Tensor::randn([batch, heads, source, head_dim], (Kind::Float, Device::Cpu));
                // The last two positions of the first input are padding.
                let mask = Tensor::zeros([batch, source], (Kind::Float, Device::Cpu));
                let _ = mask.get(0).narrow(0, source - 2, 2).fill_(f64::from(f32::MIN));
                let q = query.view([batch, beams, heads, head_dim]).transpose(1, 2);
                let scores = q.matmul(&keys.transpose(2, 3)) + mask.view([batch, 1, 1, source]);
                let expected = scores.softmax(-1, Kind::Float).matmul(&values).transpose(1, 2).reshape([batch * beams, heads * head_dim]);
                let values_transposed = values.transpose(2, 3).contiguous();
                match attend(&query, &keys, &values_transposed, &mask, features).expect("shapes agree") {
                    Some(got) => {
                        let error = (got - &expected).abs().max().double_value(&[]);
                        assert!(error < 1e-4, "{features:?} batch {batch} beams {beams}: max error {error}");
                    }
                    None => assert!(!features.avx2, "the kernel declined supported tensors"),
                }
            }
        }
    }
}
