//! fp32 products for the few rows of a decoder step, at the speed memory delivers the weights:
//! `input · weightᵀ + bias` with each weight row read once for all input rows (AVX-512 where the
//! CPU has it, else AVX2 + FMA), the work split between the kernel threads.
//!
//! Why: a decoder step multiplies 1–8 rows by every weight matrix of the decoder and by the
//! 50k-row language-model head. That is bound by how fast the weights stream from memory, and
//! MKL's matrix products reached only 55–80 % of it at these shapes (AMD EPYC: the LM head,
//! 206 MB, took 10 ms for 1 row where summing the same matrix took 6.9 ms; 41 ms for 4 rows in
//! `F.linear`'s form). Here 4 rows cost about what 1 row costs.
//!
//! The weights are the file's tensors (row-major `[outputs, inputs]`, as libtorch's encoder
//! products read them). Products of more rows stay with libtorch (`kernels::linear`).

use std::sync::Mutex;

use super::cpu::Features;
use crate::engine::kernel_threads;

/// `out[r · outputs + o] = weight[o] · input[r] + bias[o]` (`input` `rows × inputs`,
/// `weight` `outputs × inputs`), or `false` when the CPU has no vector kernel for it.
pub fn project_rows(input: &[f32], rows: usize, weight: &[f32], outputs: usize, bias: Option<&[f32]>, out: &mut [f32], features: Features) -> bool {
    if !features.avx2 || rows == 0 {
        return false;
    }
    let inputs = input.len() / rows;
    assert!(input.len() == rows * inputs && weight.len() == outputs * inputs && out.len() == rows * outputs, "product shapes");
    assert!(bias.is_none_or(|b| b.len() == outputs), "bias length");
    // Rows 1024 or 4096 floats apart would all fall in the same sets of the L1 cache (4 KiB
    // apart) and evict each other; 16 floats (one cache line) of padding per row spreads them.
    let stride = inputs + 16;
    let mut padded = vec![0f32; rows * stride];
    for (target, row) in padded.chunks_exact_mut(stride).zip(input.chunks_exact(inputs)) {
        target[..inputs].copy_from_slice(row);
    }
    // Output rows (weight rows) in blocks, a block per part; each block is written as
    // [block outputs, rows] so that parts own disjoint slices (each behind its own lock, taken once).
    let block = outputs.div_ceil(16).clamp(16, 4096);
    let mut transposed = vec![0f32; outputs * rows];
    let chunks: Vec<Mutex<&mut [f32]>> = transposed.chunks_mut(block * rows).map(Mutex::new).collect();
    kernel_threads::for_each_part(chunks.len(), &|index| {
        let Ok(mut chunk) = chunks[index].lock() else { return };
        let first = index * block;
        for (offset, sums) in chunk.chunks_exact_mut(rows).enumerate() {
            let output = first + offset;
            let weight_row = &weight[output * inputs..(output + 1) * inputs];
            dot_block(weight_row, &padded, stride, sums, bias.map_or(0.0, |b| b[output]), features);
        }
    });
    drop(chunks);
    for (output, sums) in transposed.chunks_exact(rows).enumerate() {
        for (row, &sum) in sums.iter().enumerate() {
            out[row * outputs + output] = sum;
        }
    }
    true
}

/// `out[r] = weight_row · inputs[r] + bias` for the input rows (one per `out` value) that start
/// `stride` values apart in `inputs`: 8 at a time, then 4 or fewer. Needs AVX2 + FMA at least.
pub fn dot_block(weight_row: &[f32], inputs: &[f32], stride: usize, out: &mut [f32], bias: f32, features: Features) {
    assert!(features.avx2, "the fp32 kernels need AVX2 and FMA");
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX2 and FMA (and AVX-512 F for the 512-bit kernels) were detected (`features`).
    unsafe {
        let wide = features.avx512;
        match out.len() {
            0 => {}
            8 if wide => store(out, avx512::dot_rows8(weight_row, inputs, stride), bias),
            8 => store(out, avx2::dot_rows8(weight_row, inputs, stride), bias),
            length if length > 4 => {
                let first_rows = if length > 8 { 8 } else { 4 };
                let (first, rest) = out.split_at_mut(first_rows);
                dot_block(weight_row, inputs, stride, first, bias, features);
                dot_block(weight_row, &inputs[first_rows * stride..], stride, rest, bias, features);
            }
            4 if wide => store(out, avx512::dot_rows::<4>(weight_row, inputs, stride), bias),
            3 if wide => store(out, avx512::dot_rows::<3>(weight_row, inputs, stride), bias),
            2 if wide => store(out, avx512::dot_rows::<2>(weight_row, inputs, stride), bias),
            _ if wide => store(out, avx512::dot_rows::<1>(weight_row, inputs, stride), bias),
            4 => store(out, avx2::dot_rows::<4>(weight_row, inputs, stride), bias),
            3 => store(out, avx2::dot_rows::<3>(weight_row, inputs, stride), bias),
            2 => store(out, avx2::dot_rows::<2>(weight_row, inputs, stride), bias),
            _ => store(out, avx2::dot_rows::<1>(weight_row, inputs, stride), bias),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (weight_row, inputs, stride, out, bias);
}

/// How far ahead (in f32 values) the kernels ask for the weights' cache lines.
#[cfg(target_arch = "x86_64")]
const AHEAD: usize = super::PREFETCH_BYTES / 4;

#[cfg(target_arch = "x86_64")]
fn store<const ROWS: usize>(out: &mut [f32], sums: [f32; ROWS], bias: f32) {
    for (slot, sum) in out.iter_mut().zip(sums) {
        *slot = sum + bias;
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::AHEAD;
    use crate::engine::kernels::prefetch;
    use std::arch::x86_64::*;

    /// Dot products of `weight` (one weight row, `n` values) with each of the `ROWS` (1–4)
    /// input rows, which start `stride` (≥ n) values apart in `inputs`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_rows<const ROWS: usize>(weight: &[f32], inputs: &[f32], stride: usize) -> [f32; ROWS] {
        let n = weight.len();
        assert!(stride >= n && inputs.len() >= (ROWS - 1) * stride + n, "input rows out of bounds");
        let lanes = n - n % 16;
        let w = weight.as_ptr();
        let x = inputs.as_ptr();
        // Two accumulators per row (two independent chains of FMAs per row).
        let mut low = [_mm256_setzero_ps(); ROWS];
        let mut high = [_mm256_setzero_ps(); ROWS];
        let mut i = 0;
        while i < lanes {
            prefetch(w.wrapping_add(i + AHEAD));
            let w_low = _mm256_loadu_ps(w.add(i));
            let w_high = _mm256_loadu_ps(w.add(i + 8));
            for row in 0..ROWS {
                let xr = x.add(row * stride + i);
                low[row] = _mm256_fmadd_ps(w_low, _mm256_loadu_ps(xr), low[row]);
                high[row] = _mm256_fmadd_ps(w_high, _mm256_loadu_ps(xr.add(8)), high[row]);
            }
            i += 16;
        }
        let mut sums = [0f32; ROWS];
        for row in 0..ROWS {
            sums[row] = row_sum(_mm256_add_ps(low[row], high[row]), &weight[lanes..], &inputs[row * stride + lanes..row * stride + n]);
        }
        sums
    }

    /// `dot_rows` for 8 input rows: one accumulator per row (8 chains of FMAs are enough to keep
    /// the units busy, and 16 would not fit in the registers).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_rows8(weight: &[f32], inputs: &[f32], stride: usize) -> [f32; 8] {
        let n = weight.len();
        assert!(stride >= n && inputs.len() >= 7 * stride + n, "input rows out of bounds");
        let lanes = n - n % 8;
        let w = weight.as_ptr();
        let x = inputs.as_ptr();
        let mut sums_v = [_mm256_setzero_ps(); 8];
        let mut i = 0;
        while i < lanes {
            if i % 16 == 0 {
                prefetch(w.wrapping_add(i + AHEAD));
            }
            let wv = _mm256_loadu_ps(w.add(i));
            for row in 0..8 {
                sums_v[row] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x.add(row * stride + i)), sums_v[row]);
            }
            i += 8;
        }
        let mut sums = [0f32; 8];
        for row in 0..8 {
            sums[row] = row_sum(sums_v[row], &weight[lanes..], &inputs[row * stride + lanes..row * stride + n]);
        }
        sums
    }

    /// The eight lanes of `total` added up, plus the products of the values the vector loop
    /// left over (`weight_tail` · `input_tail`).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn row_sum(total: __m256, weight_tail: &[f32], input_tail: &[f32]) -> f32 {
        let halves = _mm_add_ps(_mm256_castps256_ps128(total), _mm256_extractf128_ps(total, 1));
        let pairs = _mm_add_ps(halves, _mm_movehl_ps(halves, halves));
        let single = _mm_add_ss(pairs, _mm_shuffle_ps(pairs, pairs, 1));
        _mm_cvtss_f32(single) + weight_tail.iter().zip(input_tail).map(|(w, x)| w * x).sum::<f32>()
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::AHEAD;
    use crate::engine::kernels::prefetch;
    use std::arch::x86_64::*;

    /// `avx2::dot_rows` on 512-bit vectors: 32 values of the weight row per iteration.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub unsafe fn dot_rows<const ROWS: usize>(weight: &[f32], inputs: &[f32], stride: usize) -> [f32; ROWS] {
        let n = weight.len();
        assert!(stride >= n && inputs.len() >= (ROWS - 1) * stride + n, "input rows out of bounds");
        let lanes = n - n % 32;
        let w = weight.as_ptr();
        let x = inputs.as_ptr();
        let mut low = [_mm512_setzero_ps(); ROWS];
        let mut high = [_mm512_setzero_ps(); ROWS];
        let mut i = 0;
        while i < lanes {
            prefetch(w.wrapping_add(i + AHEAD));
            prefetch(w.wrapping_add(i + 16 + AHEAD));
            let w_low = _mm512_loadu_ps(w.add(i));
            let w_high = _mm512_loadu_ps(w.add(i + 16));
            for row in 0..ROWS {
                let xr = x.add(row * stride + i);
                low[row] = _mm512_fmadd_ps(w_low, _mm512_loadu_ps(xr), low[row]);
                high[row] = _mm512_fmadd_ps(w_high, _mm512_loadu_ps(xr.add(16)), high[row]);
            }
            i += 32;
        }
        let mut sums = [0f32; ROWS];
        for row in 0..ROWS {
            let tail: f32 = weight[lanes..].iter().zip(&inputs[row * stride + lanes..row * stride + n]).map(|(w, x)| w * x).sum();
            sums[row] = _mm512_reduce_add_ps(_mm512_add_ps(low[row], high[row])) + tail;
        }
        sums
    }

    /// `avx2::dot_rows8` on 512-bit vectors.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub unsafe fn dot_rows8(weight: &[f32], inputs: &[f32], stride: usize) -> [f32; 8] {
        let n = weight.len();
        assert!(stride >= n && inputs.len() >= 7 * stride + n, "input rows out of bounds");
        let lanes = n - n % 16;
        let w = weight.as_ptr();
        let x = inputs.as_ptr();
        let mut sums_v = [_mm512_setzero_ps(); 8];
        let mut i = 0;
        while i < lanes {
            prefetch(w.wrapping_add(i + AHEAD));
            let wv = _mm512_loadu_ps(w.add(i));
            for row in 0..8 {
                sums_v[row] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x.add(row * stride + i)), sums_v[row]);
            }
            i += 16;
        }
        let mut sums = [0f32; 8];
        for row in 0..8 {
            let tail: f32 = weight[lanes..].iter().zip(&inputs[row * stride + lanes..row * stride + n]).map(|(w, x)| w * x).sum();
            sums[row] = _mm512_reduce_add_ps(sums_v[row]) + tail;
        }
        sums
    }
}
