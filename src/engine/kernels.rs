//! precis's CPU kernels for the few rows of a decoder step, at the speed memory delivers the
//! weights: `input · weightᵀ + bias` (`project_rows`) and attention of an input's beams over its
//! shared encoder keys and values (`attend`).
//!
//! Why: a decoder step multiplies 1–8 rows by every weight matrix of the decoder and by the
//! 50k-row language-model head, and attends over ~800 source positions per layer. That is bound
//! by how fast weights, keys and values stream from memory, and MKL's matrix products reach only
//! 55–80 % of it at these shapes on this kind of machine (the LM head, 206 MB: 10 ms for 1 row
//! where summing the same matrix takes 6.9 ms; 41 ms for 4 rows in `F.linear`'s form); libtorch's
//! attention ran on one thread (see `SingleThreadedLibtorch`). Here each weight row (or key, or
//! value column) is read once for all query rows (AVX2 + FMA), the work split between threads,
//! so 4 rows cost about what 1 row costs.
//!
//! Where the CPU lacks AVX2/FMA, or the tensors are not contiguous fp32 on the CPU, or there are
//! more rows than `MAX_ROWS`, the kernels return `None` and the caller keeps libtorch's operations.

use anyhow::{anyhow, bail, Result};
use std::sync::Mutex;

use super::kernel_threads::{self, Session};
use tch::{Device, Kind, Tensor};

/// Rows above this go to libtorch's matrix product: with more rows the product is bound by
/// arithmetic, not memory, and MKL wins (measured with 32 rows, 8 inputs × 4 beams: 107–114 ms a
/// step with MKL, 172 ms with these kernels).
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
    let flat: Vec<f32> = Vec::try_from(&input.f_contiguous()?.f_view([-1])?)?;
    let (rows, inputs, outputs) = (rows as usize, inputs as usize, outputs as usize);
    // Rows 1024 or 4096 floats apart would all fall in the same sets of the L1 cache (4 KiB
    // apart) and evict each other; 16 floats (one cache line) of padding per row spreads them.
    let stride = inputs + 16;
    let mut input = vec![0f32; rows * stride];
    for (padded, row) in input.chunks_exact_mut(stride).zip(flat.chunks_exact(inputs)) {
        padded[..inputs].copy_from_slice(row);
    }
    // SAFETY: both tensors were checked to be contiguous fp32 on the CPU with these element
    // counts; they are borrowed for this call only and nothing writes to them meanwhile.
    let weight = unsafe { std::slice::from_raw_parts(weight.data_ptr() as *const f32, outputs * inputs) };
    let bias = bias.map(|b| unsafe { std::slice::from_raw_parts(b.data_ptr() as *const f32, outputs) });
    // Output rows (weight rows) in blocks, a block per part; each block is written as
    // [block outputs, rows] so that parts own disjoint slices (each behind its own lock, taken once).
    let block = outputs.div_ceil(16).clamp(16, 4096);
    let mut transposed = vec![0f32; outputs * rows];
    let chunks: Vec<Mutex<&mut [f32]>> = transposed.chunks_mut(block * rows).map(Mutex::new).collect();
    kernel_threads::for_each_part(chunks.len(), &|index| {
        let Ok(mut chunk) = chunks[index].lock() else { return };
        let first = index * block;
        for (offset, out) in chunk.chunks_exact_mut(rows).enumerate() {
            let output = first + offset;
            let weight_row = &weight[output * inputs..(output + 1) * inputs];
            dot_block(weight_row, &input, stride, out, bias.map_or(0.0, |b| b[output]));
        }
    });
    drop(chunks);
    Ok(Some(Tensor::f_from_slice(&transposed)?.f_view([outputs as i64, rows as i64])?.f_tr()?))
}

/// While a decoding runs on these kernels, libtorch works on one thread: its remaining operations
/// in a step are small, and its OpenMP workers, spinning between them, took the cores from the
/// kernels' threads (measured: 38 ms a step instead of 26). libtorch's thread count (OpenMP's) is
/// the calling thread's own, so the guard restores what this thread had.
pub struct SingleThreadedLibtorch {
    previous: i32,
    // Keeps precis's kernel thread spinning for work meanwhile (`engine::kernel_threads`).
    _session: Option<Session>,
}

impl SingleThreadedLibtorch {
    /// `None` when the kernels do not run for steps of `rows` rows (libtorch keeps its threads).
    pub fn enter(rows: usize) -> Option<SingleThreadedLibtorch> {
        if !supported() || rows as i64 > MAX_ROWS {
            return None;
        }
        let previous = tch::get_num_threads();
        tch::set_num_threads(1);
        Some(SingleThreadedLibtorch { previous, _session: Session::start() })
    }
}

impl Drop for SingleThreadedLibtorch {
    fn drop(&mut self) {
        tch::set_num_threads(self.previous);
    }
}

/// Scaled dot-product attention of each input's `beams` query rows over that input's keys and
/// values: `query` `[batch·beams, heads·head_dim]` (already scaled), `keys` `[batch, heads,
/// source, head_dim]`, `values_transposed` `[batch, heads, head_dim, source]`, `mask` `[batch,
/// source]` added to the scores (0 or the dtype's minimum). Returns `[batch·beams, heads·head_dim]`.
pub fn attend(query: &Tensor, keys: &Tensor, values_transposed: &Tensor, mask: &Tensor) -> Result<Option<Tensor>> {
    if !supported() {
        return Ok(None);
    }
    let (batch, heads, source, head_dim) = keys.size4()?;
    let (rows, width) = query.size2()?;
    if width != heads * head_dim || batch == 0 || rows % batch != 0 || values_transposed.size() != [batch, heads, head_dim, source] || mask.size() != [batch, source] {
        bail!("attention shapes disagree: query {:?}, keys {:?}, values {:?}, mask {:?}", query.size(), keys.size(), values_transposed.size(), mask.size());
    }
    let beams = rows / batch;
    if beams > 4 || rows > MAX_ROWS || !dense_f32_on_cpu(keys) || !dense_f32_on_cpu(values_transposed) || !dense_f32_on_cpu(mask) || query.kind() != Kind::Float || query.device() != Device::Cpu {
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
        for position in 0..source {
            let key = &keys[position * head_dim..(position + 1) * head_dim];
            let mut scores = [0f32; 4];
            dot_block(key, &queries, head_dim, &mut scores[..beams], 0.0);
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
            let mut sums = [0f32; 4];
            dot_block(value_row, &weights, source, &mut sums[..beams], 0.0);
            for beam in 0..beams {
                out[beam * head_dim + d] = sums[beam];
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

/// `out[r] = weight_row · inputs[r] + bias` for the input rows (one per `out` value) that start
/// `stride` values apart in `inputs`: 8 at a time, then 4 or fewer.
fn dot_block(weight_row: &[f32], inputs: &[f32], stride: usize, out: &mut [f32], bias: f32) {
    // SAFETY: callers reach this only after `supported()` found AVX2 and FMA.
    unsafe {
        match out.len() {
            0 => {}
            8 => store(out, dot_rows8(weight_row, inputs, stride), bias),
            length if length > 4 => {
                let first_rows = if length > 8 { 8 } else { 4 };
                let (first, rest) = out.split_at_mut(first_rows);
                dot_block(weight_row, inputs, stride, first, bias);
                dot_block(weight_row, &inputs[first_rows * stride..], stride, rest, bias);
            }
            4 => store(out, dot_rows::<4>(weight_row, inputs, stride), bias),
            3 => store(out, dot_rows::<3>(weight_row, inputs, stride), bias),
            2 => store(out, dot_rows::<2>(weight_row, inputs, stride), bias),
            _ => store(out, dot_rows::<1>(weight_row, inputs, stride), bias),
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
        // `PRECIS_KERNELS=0` keeps libtorch's operations (to measure the difference).
        let wanted = std::env::var_os("PRECIS_KERNELS").is_none_or(|v| v != "0");
        wanted && is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn supported() -> bool {
    false
}

/// Dot products of `weight` (one weight row, `n` values) with each of the `ROWS` (1–4) input rows,
/// which start `stride` (≥ n) values apart in `inputs`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_rows<const ROWS: usize>(weight: &[f32], inputs: &[f32], stride: usize) -> [f32; ROWS] {
    use std::arch::x86_64::*;
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

/// The eight lanes of `total` added up, plus the products of the values the vector loop left
/// over (`weight_tail` · `input_tail`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_sum(total: std::arch::x86_64::__m256, weight_tail: &[f32], input_tail: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let halves = _mm_add_ps(_mm256_castps256_ps128(total), _mm256_extractf128_ps(total, 1));
    let pairs = _mm_add_ps(halves, _mm_movehl_ps(halves, halves));
    let single = _mm_add_ss(pairs, _mm_shuffle_ps(pairs, pairs, 1));
    _mm_cvtss_f32(single) + weight_tail.iter().zip(input_tail).map(|(w, x)| w * x).sum::<f32>()
}

/// `dot_rows` for 8 input rows: one accumulator per row (8 chains of FMAs are enough to keep the
/// units busy, and 16 would not fit in the registers).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_rows8(weight: &[f32], inputs: &[f32], stride: usize) -> [f32; 8] {
    use std::arch::x86_64::*;
    let n = weight.len();
    assert!(stride >= n && inputs.len() >= 7 * stride + n, "input rows out of bounds");
    let lanes = n - n % 8;
    let w = weight.as_ptr();
    let x = inputs.as_ptr();
    let mut sums_v = [_mm256_setzero_ps(); 8];
    let mut i = 0;
    while i < lanes {
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

#[cfg(not(target_arch = "x86_64"))]
unsafe fn dot_rows8(_weight: &[f32], _inputs: &[f32], _stride: usize) -> [f32; 8] {
    [0.0; 8]
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn dot_rows<const ROWS: usize>(_weight: &[f32], _inputs: &[f32], _stride: usize) -> [f32; ROWS] {
    [0.0; ROWS]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_libtorch_for_every_row_count_and_odd_widths() {
        for (rows, inputs, outputs) in [(1, 1024, 300), (3, 40, 17), (4, 1030, 64), (7, 64, 33), (8, 24, 100), (6, 1027, 50)] {
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
    fn attention_matches_libtorch() {
        for (batch, beams, heads, source, head_dim) in [(1, 1, 2, 7, 16), (2, 4, 3, 33, 8), (1, 4, 16, 100, 64)] {
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
            match attend(&query, &keys, &values_transposed, &mask).expect("shapes agree") {
                Some(got) => {
                    let error = (got - &expected).abs().max().double_value(&[]);
                    assert!(error < 1e-4, "batch {batch} beams {beams}: max error {error}");
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
