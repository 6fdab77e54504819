//! Attention of a decoder step's rows over their input's encoder keys and values, in fp32 for
//! every precision: each input's beams read its keys and values once (transformers and rust-bert
//! copy them per beam), one part per (input, head) on the kernel threads.
//!
//! Layout (made once per input by the network, `Bart::prepare`): keys transposed, `[batch, heads,
//! head_dim, positions]`, values as they are, `[batch, heads, positions, head_dim]`, positions
//! padded to a multiple of 16 with zero keys and values (and the mask's minimum). Then the
//! scores of 16 positions are one vector, summed over the head's dimensions with FMAs, and the
//! output is the values' rows scaled and summed: no horizontal sums, every key and value read
//! once per step.

use anyhow::{bail, Result};
use std::sync::Mutex;
use tch::Tensor;

use super::cpu::Features;
use crate::engine::kernel_threads;

/// Positions are padded to a multiple of this (one 512-bit vector of scores).
pub const POSITION_BLOCK: i64 = 16;
/// Most beams per input the kernel takes (its buffers are sized for them).
const MAX_BEAMS: i64 = 16;

/// Scaled dot-product attention of each input's `beams` query rows over that input's keys and
/// values: `query` `[batch·beams, heads·head_dim]` (already scaled), `keys_transposed` `[batch,
/// heads, head_dim, positions]`, `values` `[batch, heads, positions, head_dim]`, `mask` `[batch,
/// positions]` added to the scores (0 or the dtype's minimum; padding positions at the minimum).
/// Returns `[batch·beams, heads·head_dim]`, or `None` where the kernel does not apply (see
/// [`applies`]; tensors not dense fp32 on the CPU, positions not padded, more than 16 beams).
pub fn attend(query: &Tensor, keys_transposed: &Tensor, values: &Tensor, mask: &Tensor, features: Features) -> Result<Option<Tensor>> {
    let (batch, heads, head_dim, positions) = keys_transposed.size4()?;
    if !applies(head_dim, features) {
        return Ok(None);
    }
    let (rows, width) = query.size2()?;
    if width != heads * head_dim || batch == 0 || rows % batch != 0 || values.size() != [batch, heads, positions, head_dim] || mask.size() != [batch, positions] {
        bail!("attention shapes disagree: query {:?}, keys {:?}, values {:?}, mask {:?}", query.size(), keys_transposed.size(), values.size(), mask.size());
    }
    let beams = rows / batch;
    let dense = |tensor: &Tensor| super::dense_f32_on_cpu(tensor);
    if beams > MAX_BEAMS || positions % POSITION_BLOCK != 0 || !dense(keys_transposed) || !dense(values) || !dense(mask) || !super::f32_on_cpu(query) {
        return Ok(None);
    }
    let query: Vec<f32> = Vec::try_from(&query.f_contiguous()?.f_view([-1])?)?;
    let (batch, heads, positions, head_dim, beams) = (batch as usize, heads as usize, positions as usize, head_dim as usize, beams as usize);
    let count = batch * heads * positions * head_dim;
    // SAFETY: checked contiguous fp32 on the CPU with these element counts; read only, for this call.
    let keys = unsafe { std::slice::from_raw_parts(keys_transposed.data_ptr() as *const f32, count) };
    let values = unsafe { std::slice::from_raw_parts(values.data_ptr() as *const f32, count) };
    let mask = unsafe { std::slice::from_raw_parts(mask.data_ptr() as *const f32, batch * positions) };
    let width = heads * head_dim;
    let mut attended = vec![0f32; batch * beams * width];
    // Each part writes its (input, head): the input's rows, the head's columns.
    let chunks: Vec<Mutex<&mut [f32]>> = attended.chunks_mut(beams * width).map(Mutex::new).collect();
    kernel_threads::for_each_part(batch * heads, &|task| {
        let (input, head) = (task / heads, task % heads);
        let mut queries = vec![0f32; beams * head_dim];
        for beam in 0..beams {
            let row = beam * width + head * head_dim;
            queries[beam * head_dim..(beam + 1) * head_dim].copy_from_slice(&query[input * beams * width + row..input * beams * width + row + head_dim]);
        }
        let keys = &keys[task * head_dim * positions..(task + 1) * head_dim * positions];
        let values = &values[task * positions * head_dim..(task + 1) * positions * head_dim];
        let mask = &mask[input * positions..(input + 1) * positions];
        let mut weights = vec![0f32; beams * positions];
        let mut out = vec![0f32; beams * head_dim];
        // SAFETY: AVX2 + FMA (and AVX-512 F for the wide variant) were detected (`features`);
        // the slices have the sizes the kernels read (checked above).
        unsafe {
            #[cfg(target_arch = "x86_64")]
            if features.avx512 && head_dim % 16 == 0 {
                wide::scores(&queries, beams, keys, head_dim, positions, mask, &mut weights);
                for beam_weights in weights.chunks_exact_mut(positions) {
                    wide::softmax(beam_weights);
                }
                wide::weighted_sum(&weights, beams, values, head_dim, positions, &mut out);
            } else {
                narrow::scores(&queries, beams, keys, head_dim, positions, mask, &mut weights);
                for beam_weights in weights.chunks_exact_mut(positions) {
                    narrow::softmax(beam_weights);
                }
                narrow::weighted_sum(&weights, beams, values, head_dim, positions, &mut out);
            }
        }
        if let Ok(mut rows) = chunks[input].lock() {
            for beam in 0..beams {
                rows[beam * width + head * head_dim..beam * width + (head + 1) * head_dim].copy_from_slice(&out[beam * head_dim..(beam + 1) * head_dim]);
            }
        }
    });
    drop(chunks);
    Ok(Some(Tensor::f_from_slice(&attended)?.f_view([rows, width as i64])?))
}

/// Whether the kernel runs on this CPU for heads of `head_dim` values: AVX2 + FMA and heads of
/// whole 256-bit vectors (512-bit ones used where the CPU and the heads allow).
pub fn applies(head_dim: i64, features: Features) -> bool {
    features.avx2 && head_dim > 0 && head_dim % 8 == 0
}

/// The kernels for one vector width: `scores` (queries · keys + mask), `softmax` in place (as
/// `torch.softmax` in f32: shifted by the maximum, exponentials over their sum), and
/// `weighted_sum` (softmax weights · values). `$lanes` fp32 per vector.
macro_rules! attention_kernels {
    ($module:ident, $features:literal, $lanes:literal, $zero:ident, $load:ident, $store:ident, $set1:ident, $fmadd:ident, $add:ident, $mul:ident, $max:ident, $sub:ident, $exp:ident) => {
        #[cfg(target_arch = "x86_64")]
        mod $module {
            use std::arch::x86_64::*;
            use super::$exp;

            /// Vectors of positions handled together (each beam's accumulators in registers).
            const BLOCK: usize = 4;

            /// `scores[b · positions + p] = Σ_d queries[b · head_dim + d] · keys[d · positions + p] + mask[p]`.
            #[target_feature(enable = $features)]
            pub unsafe fn scores(queries: &[f32], beams: usize, keys: &[f32], head_dim: usize, positions: usize, mask: &[f32], scores: &mut [f32]) {
                assert!(queries.len() >= beams * head_dim && keys.len() >= head_dim * positions && mask.len() >= positions && scores.len() >= beams * positions);
                assert!(positions % $lanes == 0, "positions are padded to whole vectors");
                let mut first_beam = 0;
                while first_beam < beams {
                    let group = (beams - first_beam).min(4);
                    let queries = &queries[first_beam * head_dim..];
                    let scores = &mut scores[first_beam * positions..];
                    match group {
                        1 => scores_group::<1>(queries, keys, head_dim, positions, mask, scores),
                        2 => scores_group::<2>(queries, keys, head_dim, positions, mask, scores),
                        3 => scores_group::<3>(queries, keys, head_dim, positions, mask, scores),
                        _ => scores_group::<4>(queries, keys, head_dim, positions, mask, scores),
                    }
                    first_beam += group;
                }
            }

            #[target_feature(enable = $features)]
            unsafe fn scores_group<const BEAMS: usize>(queries: &[f32], keys: &[f32], head_dim: usize, positions: usize, mask: &[f32], scores: &mut [f32]) {
                let vectors = positions / $lanes;
                let mut vector = 0;
                while vector < vectors {
                    let count = (vectors - vector).min(BLOCK);
                    let start = vector * $lanes;
                    let mut acc = [[$zero(); BLOCK]; BEAMS];
                    for d in 0..head_dim {
                        let row = keys.as_ptr().add(d * positions + start);
                        for j in 0..count {
                            let key = $load(row.add(j * $lanes));
                            for b in 0..BEAMS {
                                acc[b][j] = $fmadd($set1(*queries.get_unchecked(b * head_dim + d)), key, acc[b][j]);
                            }
                        }
                    }
                    for b in 0..BEAMS {
                        for j in 0..count {
                            let at = start + j * $lanes;
                            $store(scores.as_mut_ptr().add(b * positions + at), $add(acc[b][j], $load(mask.as_ptr().add(at))));
                        }
                    }
                    vector += count;
                }
            }

            /// In place: `exp(x − max) / Σ exp(x − max)`.
            #[target_feature(enable = $features)]
            pub unsafe fn softmax(values: &mut [f32]) {
                assert!(values.len() % $lanes == 0, "positions are padded to whole vectors");
                let p = values.as_mut_ptr();
                let mut maximum = $set1(f32::NEG_INFINITY);
                for i in (0..values.len()).step_by($lanes) {
                    maximum = $max(maximum, $load(p.add(i)));
                }
                let mut lanes = [0f32; $lanes];
                $store(lanes.as_mut_ptr(), maximum);
                let maximum = $set1(lanes.iter().copied().fold(f32::NEG_INFINITY, f32::max));
                let mut sum = $zero();
                for i in (0..values.len()).step_by($lanes) {
                    let e = $exp($sub($load(p.add(i)), maximum));
                    $store(p.add(i), e);
                    sum = $add(sum, e);
                }
                $store(lanes.as_mut_ptr(), sum);
                let inverse = $set1(1.0 / lanes.iter().sum::<f32>());
                for i in (0..values.len()).step_by($lanes) {
                    $store(p.add(i), $mul($load(p.add(i)), inverse));
                }
            }

            /// `out[b · head_dim + d] = Σ_p weights[b · positions + p] · values[p · head_dim + d]`.
            #[target_feature(enable = $features)]
            pub unsafe fn weighted_sum(weights: &[f32], beams: usize, values: &[f32], head_dim: usize, positions: usize, out: &mut [f32]) {
                assert!(weights.len() >= beams * positions && values.len() >= positions * head_dim && out.len() >= beams * head_dim);
                let vectors = head_dim / $lanes;
                for first_beam in (0..beams).step_by(4) {
                    let group = (beams - first_beam).min(4);
                    for first in (0..vectors).step_by(BLOCK) {
                        let count = (vectors - first).min(BLOCK);
                        let mut acc = [[$zero(); BLOCK]; 4];
                        for p in 0..positions {
                            let row = values.as_ptr().add(p * head_dim + first * $lanes);
                            for j in 0..count {
                                let value = $load(row.add(j * $lanes));
                                for b in 0..group {
                                    let weight = $set1(*weights.get_unchecked((first_beam + b) * positions + p));
                                    acc[b][j] = $fmadd(weight, value, acc[b][j]);
                                }
                            }
                        }
                        for b in 0..group {
                            for j in 0..count {
                                $store(out.as_mut_ptr().add((first_beam + b) * head_dim + (first + j) * $lanes), acc[b][j]);
                            }
                        }
                    }
                }
            }

        }
    };
}

attention_kernels!(wide, "avx512f,avx2,fma", 16, _mm512_setzero_ps, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_mul_ps, _mm512_max_ps, _mm512_sub_ps, exp512);
attention_kernels!(narrow, "avx2,fma", 8, _mm256_setzero_ps, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_mul_ps, _mm256_max_ps, _mm256_sub_ps, exp256);

/// `exp` of 16 values (x ≤ 0 here: scores minus their maximum): 2ⁿ · e^r with n = round(x /
/// ln 2) and |r| ≤ ln 2 / 2, e^r by its Taylor polynomial to r⁷ (relative error < 2e-7); below
/// −87.3 (e^x under the smallest normal fp32) exactly 0, as libm's underflow gives.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn exp512(x: std::arch::x86_64::__m512) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)));
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_145_75), x);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428_606_8e-6), r);
    let mut p = _mm512_set1_ps(1.0 / 5040.0);
    for coefficient in [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(coefficient));
    }
    let result = _mm512_scalef_ps(p, n);
    let underflow = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, _mm512_set1_ps(-87.3));
    _mm512_mask_blend_ps(underflow, result, _mm512_setzero_ps())
}

/// `exp512` on 8 values (2ⁿ built in the exponent bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn exp256(x: std::arch::x86_64::__m256) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    let underflow = _mm256_cmp_ps::<_CMP_LT_OQ>(x, _mm256_set1_ps(-87.3));
    let x = _mm256_max_ps(x, _mm256_set1_ps(-87.3));
    let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(x, _mm256_set1_ps(std::f32::consts::LOG2_E)));
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_145_75), x);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428_606_8e-6), r);
    let mut p = _mm256_set1_ps(1.0 / 5040.0);
    for coefficient in [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(coefficient));
    }
    let power = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127))));
    _mm256_andnot_ps(underflow, _mm256_mul_ps(p, power))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn attention_matches_libtorch_on_every_instruction_set() {
        for features in super::super::cpu::features().levels() {
            for (batch, beams, heads, positions, head_dim) in [(1, 1, 2, 16, 16), (2, 4, 3, 48, 32), (1, 4, 16, 112, 64), (8, 4, 2, 32, 16), (1, 6, 2, 80, 64), (2, 3, 4, 32, 8)] {
                let query = Tensor::randn([batch * beams, heads * head_dim], (Kind::Float, Device::Cpu));
                let keys = Tensor::randn([batch, heads, positions, head_dim], (Kind::Float, Device::Cpu));
                let values = Tensor::randn([batch, heads, positions, head_dim], (Kind::Float, Device::Cpu));
                // The last three positions of the first input are padding.
                let mask = Tensor::zeros([batch, positions], (Kind::Float, Device::Cpu));
                let _ = mask.get(0).narrow(0, positions - 3, 3).fill_(f64::from(f32::MIN));
                let q = query.view([batch, beams, heads, head_dim]).transpose(1, 2);
                let scores = q.matmul(&keys.transpose(2, 3)) + mask.view([batch, 1, 1, positions]);
                let expected = scores.softmax(-1, Kind::Float).matmul(&values).transpose(1, 2).reshape([batch * beams, heads * head_dim]);
                let keys_transposed = keys.transpose(2, 3).contiguous();
                match attend(&query, &keys_transposed, &values, &mask, features).expect("shapes agree") {
                    Some(got) => {
                        let error = (got - &expected).abs().max().double_value(&[]);
                        assert!(error < 1e-4, "{features:?} batch {batch} beams {beams}: max error {error}");
                    }
                    None => assert!(!features.avx2, "the kernel declined supported tensors"),
                }
            }
        }
    }

    #[test]
    fn softmax_matches_libtorch_and_underflows_to_zero() {
        for features in super::super::cpu::features().levels().into_iter().filter(|f| f.avx2) {
            let mut values: Vec<f32> = (0..64).map(|i| ((i * 37 % 64) as f32 - 32.0) * 0.9).collect();
            values[5] = f32::MIN;
            let expected: Vec<f32> = Vec::try_from(&Tensor::from_slice(&values).softmax(0, Kind::Float)).expect("values");
            // SAFETY: the features were detected on this CPU; 64 values are whole vectors.
            unsafe {
                #[cfg(target_arch = "x86_64")]
                if features.avx512 {
                    wide::softmax(&mut values);
                } else {
                    narrow::softmax(&mut values);
                }
            }
            assert_eq!(values[5], 0.0, "{features:?}: a masked position gets no weight");
            for (got, want) in values.iter().zip(&expected) {
                assert!((got - want).abs() <= 1e-6 * want + 1e-30, "{features:?}: {got} vs {want}");
            }
        }
    }
}
