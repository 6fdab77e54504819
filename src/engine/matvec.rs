//! `input · weightᵀ + bias` for the few rows of a decoder step, at the speed memory delivers the
//! weight.
//!
//! Why: a decoder step multiplies 1–32 rows by every weight matrix of the decoder and by the
//! 50k-row language-model head. That is bound by how fast the weights stream from memory, and
//! MKL's matrix products reach only 55–80 % of it at these shapes on this kind of machine (the
//! LM head, 206 MB: 10 ms for 1 row where summing the same matrix takes 6.9 ms; 41 ms for 4 rows
//! in `F.linear`'s form). Here each weight row is read once for all input rows (AVX2 + FMA, the
//! output rows split between threads), so 4 rows cost about what 1 row costs.
//!
//! Where the CPU lacks AVX2/FMA, or the tensors are not contiguous fp32 on the CPU, the caller
//! keeps libtorch's product (`project_rows` returns `None`).

use anyhow::{bail, Result};
use rayon::prelude::*;
use tch::{Device, Kind, Tensor};

/// Rows above this go to libtorch's matrix product: with more rows the product is bound by
/// arithmetic, not memory, and MKL wins (measured with 32 rows, 8 inputs × 4 beams: 117 ms a
/// step with MKL, 213 ms with this kernel).
pub const MAX_ROWS: i64 = 8;

/// `input · weightᵀ + bias` (`input` `[rows, in]`, `weight` `[out, in]`, `bias` `[out]`), or `None`
/// when this kernel does not apply.
pub fn project_rows(input: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Option<Tensor>> {
    if !supported() {
        return Ok(None);
    }
    let (rows, inputs) = input.size2()?;
    let (outputs, weight_inputs) = weight.size2()?;
    let bias_fits = bias.is_none_or(|b| b.numel() == outputs as usize);
    if weight_inputs != inputs || !bias_fits {
        bail!("cannot multiply [{rows}, {inputs}] rows by a [{outputs}, {weight_inputs}] weight and its bias");
    }
    if rows == 0 || rows > MAX_ROWS || !dense_f32_on_cpu(weight) || !bias.is_none_or(dense_f32_on_cpu) || input.kind() != Kind::Float || input.device() != Device::Cpu {
        return Ok(None);
    }
    let input: Vec<f32> = Vec::try_from(&input.f_contiguous()?.f_view([-1])?)?;
    let (rows, inputs, outputs) = (rows as usize, inputs as usize, outputs as usize);
    // SAFETY: both tensors were checked to be contiguous fp32 on the CPU with these element
    // counts; they are borrowed for this call only and nothing writes to them meanwhile.
    let weight = unsafe { std::slice::from_raw_parts(weight.data_ptr() as *const f32, outputs * inputs) };
    let bias = bias.map(|b| unsafe { std::slice::from_raw_parts(b.data_ptr() as *const f32, outputs) });
    // Output rows (weight rows) in blocks, a block per task; each block is written as
    // [block outputs, rows] so that tasks own disjoint slices.
    let block = outputs.div_ceil(8 * rayon::current_num_threads().max(1)).clamp(16, 4096);
    let mut transposed = vec![0f32; outputs * rows];
    transposed.par_chunks_mut(block * rows).enumerate().for_each(|(index, chunk)| {
        let first = index * block;
        for (offset, out) in chunk.chunks_exact_mut(rows).enumerate() {
            let output = first + offset;
            let weight_row = &weight[output * inputs..(output + 1) * inputs];
            let bias = bias.map_or(0.0, |b| b[output]);
            for (row_block, out_block) in out.chunks_mut(4).enumerate() {
                let block_inputs = &input[row_block * 4 * inputs..(row_block * 4 + out_block.len()) * inputs];
                // SAFETY: `supported()` checked AVX2 and FMA at run time.
                unsafe {
                    match out_block.len() {
                        1 => store(out_block, dot_rows::<1>(weight_row, block_inputs), bias),
                        2 => store(out_block, dot_rows::<2>(weight_row, block_inputs), bias),
                        3 => store(out_block, dot_rows::<3>(weight_row, block_inputs), bias),
                        _ => store(out_block, dot_rows::<4>(weight_row, block_inputs), bias),
                    }
                }
            }
        }
    });
    Ok(Some(Tensor::f_from_slice(&transposed)?.f_view([outputs as i64, rows as i64])?.f_tr()?))
}

/// While a decoding runs on this kernel, libtorch works on one thread: its remaining operations in
/// a step are small, and its OpenMP workers, spinning between them, took the cores from this
/// kernel's threads (measured: 38 ms a step instead of 26). Process-wide (libtorch's thread
/// count is), counted so that concurrent decodings restore the count once, when the last ends.
pub struct SingleThreadedLibtorch(());

static DECODINGS: std::sync::Mutex<(usize, i32)> = std::sync::Mutex::new((0, 0));

impl SingleThreadedLibtorch {
    /// `None` when the kernel does not run for steps of `rows` rows (libtorch keeps its threads).
    pub fn enter(rows: usize) -> Option<SingleThreadedLibtorch> {
        if !supported() || rows as i64 > MAX_ROWS {
            return None;
        }
        let mut state = DECODINGS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.0 == 0 {
            state.1 = tch::get_num_threads();
            tch::set_num_threads(1);
        }
        state.0 += 1;
        Some(SingleThreadedLibtorch(()))
    }
}

impl Drop for SingleThreadedLibtorch {
    fn drop(&mut self) {
        let mut state = DECODINGS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.0 = state.0.saturating_sub(1);
        if state.0 == 0 {
            tch::set_num_threads(state.1);
        }
    }
}

fn store<const ROWS: usize>(out: &mut [f32], sums: [f32; ROWS], bias: f32) {
    for (slot, sum) in out.iter_mut().zip(sums) {
        *slot = sum + bias;
    }
}

fn dense_f32_on_cpu(tensor: &Tensor) -> bool {
    tensor.kind() == Kind::Float && tensor.device() == Device::Cpu && tensor.is_contiguous()
}

#[cfg(target_arch = "x86_64")]
fn supported() -> bool {
    static SUPPORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        let wanted = std::env::var_os("PRECIS_MKL_DECODER").is_none_or(|v| v != "1");
        wanted && is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn supported() -> bool {
    false
}

/// Dot products of `weight` (one weight row, `n` values) with each of the `ROWS` (1–4) input rows
/// laid end to end in `inputs` (`ROWS · n` values).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_rows<const ROWS: usize>(weight: &[f32], inputs: &[f32]) -> [f32; ROWS] {
    use std::arch::x86_64::*;
    let n = weight.len();
    let lanes = n - n % 16;
    let w = weight.as_ptr();
    let x = inputs.as_ptr();
    // Two accumulators per row (two independent chains of FMAs per row).
    let mut low = [_mm256_setzero_ps(); ROWS];
    let mut high = [_mm256_setzero_ps(); ROWS];
    let mut i = 0;
    while i < lanes {
        let w_low = _mm256_loadu_ps(w.add(i));
        let w_high = _mm256_loadu_ps(w.add(i + 8));
        for row in 0..ROWS {
            let xr = x.add(row * n + i);
            low[row] = _mm256_fmadd_ps(w_low, _mm256_loadu_ps(xr), low[row]);
            high[row] = _mm256_fmadd_ps(w_high, _mm256_loadu_ps(xr.add(8)), high[row]);
        }
        i += 16;
    }
    let mut sums = [0f32; ROWS];
    for row in 0..ROWS {
        let total = _mm256_add_ps(low[row], high[row]);
        let halves = _mm_add_ps(_mm256_castps256_ps128(total), _mm256_extractf128_ps(total, 1));
        let pairs = _mm_add_ps(halves, _mm_movehl_ps(halves, halves));
        let single = _mm_add_ss(pairs, _mm_shuffle_ps(pairs, pairs, 1));
        let mut sum = _mm_cvtss_f32(single);
        for j in lanes..n {
            sum += weight[j] * inputs[row * n + j];
        }
        sums[row] = sum;
    }
    sums
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn dot_rows<const ROWS: usize>(_weight: &[f32], _inputs: &[f32]) -> [f32; ROWS] {
    [0.0; ROWS]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_libtorch_for_every_row_count_and_odd_widths() {
        for (rows, inputs, outputs) in [(1, 1024, 300), (3, 40, 17), (4, 1030, 64), (7, 64, 33), (8, 24, 100)] {
            let input = Tensor::randn([rows, inputs], (Kind::Float, Device::Cpu));
            let weight = Tensor::randn([outputs, inputs], (Kind::Float, Device::Cpu));
            let bias = Tensor::randn([outputs], (Kind::Float, Device::Cpu));
            let expected = input.linear(&weight, Some(&bias));
            match project_rows(&input, &weight, Some(&bias)).expect("shapes agree") {
                Some(got) => {
                    assert_eq!(got.size(), [rows, outputs]);
                    let error = (got - &expected).abs().max().double_value(&[]);
                    assert!(error < 1e-3, "rows {rows} in {inputs} out {outputs}: max error {error}");
                }
                None => assert!(!supported(), "the kernel declined supported tensors"),
            }
        }
    }

    #[test]
    fn declines_what_it_does_not_handle() {
        let weight = Tensor::randn([8, 16], (Kind::Float, Device::Cpu));
        let bias = Tensor::zeros([8], (Kind::Float, Device::Cpu));
        let doubles = Tensor::randn([2, 16], (Kind::Double, Device::Cpu));
        assert!(project_rows(&doubles, &weight, Some(&bias)).expect("shapes agree").is_none());
        let many = Tensor::randn([MAX_ROWS + 1, 16], (Kind::Float, Device::Cpu));
        assert!(project_rows(&many, &weight, None).expect("shapes agree").is_none());
        let mismatched = Tensor::randn([2, 15], (Kind::Float, Device::Cpu));
        assert!(project_rows(&mismatched, &weight, Some(&bias)).is_err());
    }
}
