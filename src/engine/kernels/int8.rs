//! int8 products: weights quantized per output channel when the model is loaded, input rows
//! quantized per row when the product runs, int8 × int8 products summed in int32, and the sums
//! scaled back to fp32 with the bias added.
//!
//! Quantization is symmetric: a weight row's scale is its largest magnitude / 127 and its values
//! are rounded (half to even) to −127..=127; the same for each input row. The weights are stored
//! offset by 128 (as unsigned bytes, what `vpdpbusd` multiplies with signed ones); the offset's
//! contribution, 128 × the input row's sum, is subtracted from the int32 sum. The int32 sums
//! are exact, so every instruction set gives bit-identical results: AVX-512 VNNI (`vpdpbusd`,
//! 64 products an instruction), AVX-VNNI (the same on 256-bit vectors), AVX2 (bytes widened to
//! 16 bits and `vpmaddwd`: no saturation, a quarter of VNNI's rate) and a portable loop.
//!
//! It does not know what the products are for (`engine::bart` decides) nor hold fp32 copies of
//! the weights: an embedding row is read back dequantized (`row_into`).

use std::sync::Mutex;

use super::cpu::Features;
use crate::engine::kernel_threads;
use super::tiles::{self, Line, PaddedRows, SharedOutput, PANEL, PREFETCH_LINES};

/// Inputs per 64-byte line: 4 bytes for each of the panel's 16 outputs.
const GROUP: usize = 4;
/// The value stored for a zero weight (weights are kept as `value + 128` in a byte).
const OFFSET: i32 = 128;

/// A weight `[outputs, inputs]` quantized per output row and packed in panels (`tiles`).
pub struct Packed {
    lines: Vec<Line>,
    /// Per output (padded to whole panels with zeros): the dequantization scale.
    scales: Vec<f32>,
    outputs: usize,
    inputs: usize,
    /// Lines per panel: `inputs` in groups of 4, the last padded with zeros.
    groups: usize,
}

impl Packed {
    /// Quantizes and packs `weight` (`outputs × inputs` fp32, row-major), a block of panels
    /// per part on the kernel threads.
    pub fn new(weight: &[f32], outputs: usize, inputs: usize, features: Features) -> Packed {
        assert_eq!(weight.len(), outputs * inputs, "weight values do not match its shape");
        let groups = inputs.div_ceil(GROUP);
        let panels = outputs.div_ceil(PANEL);
        let mut lines = vec![Line::ZERO; panels * groups];
        let mut scales = vec![0f32; panels * PANEL];
        let lines_per_panel = groups.max(1);
        tiles::fill_panels(&mut lines, &mut scales, lines_per_panel, &|panel, lines, scales| {
            // The panel's rows quantized (zero rows past the last output), then interleaved:
            // line g holds inputs 4g..4g+4 of each of the 16 rows, offset by 128 (x ^ 0x80).
            let mut quantized = vec![0i8; PANEL * groups * GROUP];
            for lane in 0..PANEL.min(outputs - panel * PANEL) {
                let output = panel * PANEL + lane;
                let row = &weight[output * inputs..(output + 1) * inputs];
                scales[lane] = quantize_row_fast(row, &mut quantized[lane * groups * GROUP..lane * groups * GROUP + inputs], features);
            }
            for (group, line) in lines.iter_mut().enumerate() {
                for lane in 0..PANEL {
                    let at = lane * groups * GROUP + group * GROUP;
                    for slot in 0..GROUP {
                        line.0[lane * GROUP + slot] = quantized[at + slot] as u8 ^ 0x80;
                    }
                }
            }
        });
        Packed { lines, scales, outputs, inputs, groups }
    }

    pub fn outputs(&self) -> usize {
        self.outputs
    }

    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// Bytes held (weights and scales).
    pub fn bytes(&self) -> usize {
        self.lines.len() * 64 + self.scales.len() * 4
    }

    fn panels(&self) -> usize {
        self.outputs.div_ceil(PANEL)
    }

    /// Weight row `output` dequantized (`value × scale`) into `out` (`inputs` values): the
    /// embedding of a token when the language-model head is tied to the embeddings.
    pub fn row_into(&self, output: usize, out: &mut [f32]) {
        let (panel, lane) = (output / PANEL, output % PANEL);
        let scale = self.scales[output];
        for (input, slot) in out.iter_mut().enumerate().take(self.inputs) {
            let byte = self.lines[panel * self.groups + input / GROUP].0[lane * GROUP + input % GROUP];
            *slot = (i32::from(byte) - OFFSET) as f32 * scale;
        }
    }

    /// The weights of `parts` (same inputs) one after the other, as one weight: their panels
    /// side by side when every part but the last fills whole panels, else requantized from the
    /// dequantized rows (a row's scale and values come out the same).
    pub fn concat(parts: &[&Packed], features: Features) -> Packed {
        let inputs = parts.first().map_or(0, |p| p.inputs);
        assert!(parts.iter().all(|p| p.inputs == inputs), "parts of one weight have the same inputs");
        let outputs: usize = parts.iter().map(|p| p.outputs).sum();
        if parts.iter().rev().skip(1).all(|p| p.outputs % PANEL == 0) {
            let mut lines = Vec::with_capacity(outputs.div_ceil(PANEL) * inputs.div_ceil(GROUP));
            let mut scales = Vec::with_capacity(outputs.div_ceil(PANEL) * PANEL);
            for part in parts {
                lines.extend_from_slice(&part.lines);
                scales.extend_from_slice(&part.scales);
            }
            return Packed { lines, scales, outputs, inputs, groups: inputs.div_ceil(GROUP) };
        }
        let rows: Vec<f32> = parts.iter().flat_map(|p| p.dequantized()).collect();
        Packed::new(&rows, outputs, inputs, features)
    }

    /// The weight as fp32 `[outputs, inputs]`, dequantized (for tests and references).
    pub fn dequantized(&self) -> Vec<f32> {
        let mut values = vec![0f32; self.outputs * self.inputs];
        for (output, row) in values.chunks_exact_mut(self.inputs).enumerate() {
            self.row_into(output, row);
        }
        values
    }
}

/// Rounds `row` to int8 with a symmetric per-row scale (largest magnitude → 127); returns the
/// scale (0 for an all-zero row, whose values all become 0).
pub(crate) fn quantize_row(row: &[f32], out: &mut [i8]) -> f32 {
    let largest = row.iter().fold(0f32, |largest, value| largest.max(value.abs()));
    let inverse = if largest > 0.0 { 127.0 / largest } else { 0.0 };
    for (slot, &value) in out.iter_mut().zip(row) {
        *slot = round_to_i8(value * inverse);
    }
    largest / 127.0
}

/// `value` (|value| ≤ 127.5) rounded half to even: adding and subtracting 1.5 · 2²³ leaves no
/// fraction bits, and the hardware rounds that addition half to even (the same rule as
/// `vcvtps2dq`; `round_ties_even` is a library call on x86-64 without SSE4.1).
fn round_to_i8(value: f32) -> i8 {
    const SHIFT: f32 = 12_582_912.0;
    ((value + SHIFT) - SHIFT).clamp(-127.0, 127.0) as i8
}

/// Input rows quantized for one product: the int8 values (rows padded to whole groups), each
/// row's scale, and each row's weight-offset correction (128 × the sum of its values).
struct QuantizedRows {
    values: PaddedRows<i8>,
    scales: Vec<f32>,
    corrections: Vec<i32>,
}

/// Quantizes every input row, 16 rows per part on the kernel threads.
fn quantize_rows(input: &[f32], rows: usize, inputs: usize, groups: usize, features: Features) -> QuantizedRows {
    const ROWS_PER_PART: usize = 16;
    let mut values = PaddedRows::<i8>::zeroed(rows, groups * GROUP);
    let mut scales = vec![0f32; rows];
    let mut corrections = vec![0i32; rows];
    let stride = values.stride;
    let parts: Vec<Mutex<(&mut [i8], &mut [f32], &mut [i32])>> = values
        .values
        .chunks_mut(ROWS_PER_PART * stride)
        .zip(scales.chunks_mut(ROWS_PER_PART))
        .zip(corrections.chunks_mut(ROWS_PER_PART))
        .map(|((values, scales), corrections)| Mutex::new((values, scales, corrections)))
        .collect();
    kernel_threads::for_each_part(parts.len(), &|part| {
        let Ok(mut guard) = parts[part].lock() else { return };
        let (values, scales, corrections) = &mut *guard;
        for (offset, target) in values.chunks_mut(stride).enumerate() {
            let row = part * ROWS_PER_PART + offset;
            let target = &mut target[..inputs];
            scales[offset] = quantize_row_fast(&input[row * inputs..(row + 1) * inputs], target, features);
            corrections[offset] = OFFSET * target.iter().map(|&v| i32::from(v)).sum::<i32>();
        }
    });
    drop(parts);
    QuantizedRows { values, scales, corrections }
}

/// `quantize_row` with AVX-512 where the CPU has it: the same operations (largest magnitude,
/// multiplication by 127 / it, rounding half to even), so the same values.
fn quantize_row_fast(row: &[f32], out: &mut [i8], features: Features) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if features.avx512 {
        // SAFETY: AVX-512 F and BW were detected (`features`).
        return unsafe { quantize_row_avx512(row, out) };
    }
    let _ = features;
    quantize_row(row, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn quantize_row_avx512(row: &[f32], out: &mut [i8]) -> f32 {
    use std::arch::x86_64::*;
    assert_eq!(row.len(), out.len(), "quantized row length");
    let n = row.len();
    let lanes = n - n % 16;
    let mut largest_v = _mm512_setzero_ps();
    for i in (0..lanes).step_by(16) {
        largest_v = _mm512_max_ps(largest_v, _mm512_abs_ps(_mm512_loadu_ps(row.as_ptr().add(i))));
    }
    let largest = row[lanes..].iter().fold(_mm512_reduce_max_ps(largest_v), |largest, value| largest.max(value.abs()));
    let inverse = if largest > 0.0 { 127.0 / largest } else { 0.0 };
    let inverse_v = _mm512_set1_ps(inverse);
    for i in (0..lanes).step_by(16) {
        let scaled = _mm512_mul_ps(_mm512_loadu_ps(row.as_ptr().add(i)), inverse_v);
        // Rounding half to even (the default rounding mode), then to bytes: |scaled| ≤ 127.
        let rounded = _mm512_cvtps_epi32(scaled);
        _mm_storeu_si128(out.as_mut_ptr().add(i) as *mut __m128i, _mm512_cvtsepi32_epi8(rounded));
    }
    for i in lanes..n {
        out[i] = round_to_i8(row[i] * inverse);
    }
    largest / 127.0
}

/// `out[r, o] = input[r] · weight[o] + bias[o]` for `rows` input rows (`input` `rows × inputs`
/// fp32, row-major), written to `out` (`rows × outputs`, row-major).
///
/// # Safety
/// `out` must point to `rows × packed.outputs()` writable fp32 values used by nothing else
/// during the call.
pub unsafe fn product(input: &[f32], rows: usize, packed: &Packed, bias: Option<&[f32]>, out: *mut f32, features: Features) {
    assert_eq!(input.len(), rows * packed.inputs, "input values do not match its rows");
    assert!(bias.is_none_or(|b| b.len() == packed.outputs), "bias length");
    let _session = tiles::session_for(rows);
    let quantized = quantize_rows(input, rows, packed.inputs, packed.groups, features);
    let out = SharedOutput::new(out, rows, packed.outputs, packed.outputs);
    let kind = Kernel::choose(features, rows);
    // The AVX2 kernel reads each group of 4 inputs as two 16-bit pairs: (x0, x2), (x1, x3).
    let widened = (kind == Kernel::Avx2).then(|| widen_pairs(&quantized.values));
    let job = Job { packed, quantized: &quantized, widened: widened.as_ref(), bias, out: &out };
    tiles::for_each_panel_block(packed.panels(), kind.panels_per_tile(rows), &|first_panel, panels| {
        // Every tile writes the sums it later reads: zeroed once per part, not per tile.
        let mut sums: Sums = [[0; 4 * PANEL]; 12];
        for (first_row, tile_rows) in tiles::row_tiles(rows, kind.rows_per_tile(rows)) {
            let mut panel = first_panel;
            while panel < first_panel + panels {
                let width = kind.panels_per_tile(rows).min(first_panel + panels - panel);
                // SAFETY: the tile lies within the rows and this part's panels.
                unsafe { job.run(kind, first_row, tile_rows, panel, width, &mut sums) };
                panel += width;
            }
        }
    });
}

/// The instruction set a product runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    Vnni512,
    AvxVnni,
    Avx2,
    Portable,
}

impl Kernel {
    fn choose(features: Features, _rows: usize) -> Kernel {
        if features.avx512_vnni {
            Kernel::Vnni512
        } else if features.avx_vnni {
            Kernel::AvxVnni
        } else if features.avx2 {
            Kernel::Avx2
        } else {
            Kernel::Portable
        }
    }

    /// Rows of a tile: as many accumulators as the vector registers hold beside the weights.
    fn rows_per_tile(self, rows: usize) -> usize {
        match self {
            Kernel::Vnni512 if rows <= 6 => rows,
            Kernel::Vnni512 => 12,
            Kernel::AvxVnni => 6,
            Kernel::Avx2 => 4,
            Kernel::Portable => 4,
        }
    }

    fn panels_per_tile(self, rows: usize) -> usize {
        match self {
            Kernel::Vnni512 if rows <= 6 => 4,
            Kernel::Vnni512 => 2,
            _ => 1,
        }
    }
}

struct Job<'a> {
    packed: &'a Packed,
    quantized: &'a QuantizedRows,
    widened: Option<&'a PaddedRows<i16>>,
    bias: Option<&'a [f32]>,
    out: &'a SharedOutput,
}

/// One tile's int32 sums, `[row][column]` for up to 12 rows × 64 columns.
type Sums = [[i32; 4 * PANEL]; 12];

impl Job<'_> {
    /// Sums, then scales, one tile of `rows` rows × `panels` panels.
    ///
    /// # Safety
    /// The tile must lie within the product's rows and panels, and its columns belong to the
    /// calling part.
    unsafe fn run(&self, kind: Kernel, first_row: usize, rows: usize, first_panel: usize, panels: usize, sums: &mut Sums) {
        let lines = &self.packed.lines[first_panel * self.packed.groups..(first_panel + panels) * self.packed.groups];
        let values = &self.quantized.values;
        let a = &values.values[first_row * values.stride..];
        match kind {
            #[cfg(target_arch = "x86_64")]
            Kernel::Vnni512 => vnni512_dispatch(a, values.stride, lines, self.packed.groups, rows, panels, sums),
            #[cfg(target_arch = "x86_64")]
            Kernel::AvxVnni => {
                for panel in 0..panels {
                    let panel_lines = &lines[panel * self.packed.groups..(panel + 1) * self.packed.groups];
                    avx_vnni_dispatch(a, values.stride, panel_lines, rows, sums, panel);
                }
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                let widened = self.widened.expect("the AVX2 kernel's widened rows");
                let a = &widened.values[first_row * widened.stride..];
                for panel in 0..panels {
                    let panel_lines = &lines[panel * self.packed.groups..(panel + 1) * self.packed.groups];
                    avx2_dispatch(a, widened.stride, panel_lines, rows, sums, panel);
                }
            }
            _ => portable_sums(a, values.stride, lines, self.packed.groups, rows, panels, sums),
        }
        self.finish(sums, first_row, rows, first_panel, panels, kind);
    }

    /// `out = (sum − correction) × (input scale × weight scale) + bias`, in that order of
    /// operations on every instruction set (the results are bit-identical).
    unsafe fn finish(&self, sums: &Sums, first_row: usize, rows: usize, first_panel: usize, panels: usize, kind: Kernel) {
        let first_column = first_panel * PANEL;
        let columns = (panels * PANEL).min(self.out.columns - first_column);
        for r in 0..rows {
            let row = first_row + r;
            let correction = self.quantized.corrections[row];
            let input_scale = self.quantized.scales[row];
            let out = self.out.at(row, first_column);
            let mut done = 0;
            #[cfg(target_arch = "x86_64")]
            if kind == Kernel::Vnni512 {
                done = finish_avx512(&sums[r][..columns], correction, input_scale, &self.packed.scales[first_column..], self.bias.map(|b| &b[first_column..]), out);
            }
            for c in done..columns {
                let column = first_column + c;
                let scale = self.packed.scales[column] * input_scale;
                let mut value = (sums[r][c] - correction) as f32 * scale;
                if let Some(bias) = self.bias {
                    value += bias[column];
                }
                *out.add(c) = value;
            }
        }
    }
}

/// `Job::finish` for whole vectors of 16 columns; returns how many columns it wrote.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn finish_avx512(sums: &[i32], correction: i32, input_scale: f32, scales: &[f32], bias: Option<&[f32]>, out: *mut f32) -> usize {
    use std::arch::x86_64::*;
    let whole = sums.len() - sums.len() % PANEL;
    assert!(scales.len() >= whole && bias.is_none_or(|b| b.len() >= whole), "finish out of bounds");
    let correction = _mm512_set1_epi32(correction);
    let input_scale = _mm512_set1_ps(input_scale);
    for c in (0..whole).step_by(PANEL) {
        let sum = _mm512_sub_epi32(_mm512_loadu_si512(sums.as_ptr().add(c) as *const _), correction);
        let scale = _mm512_mul_ps(_mm512_loadu_ps(scales.as_ptr().add(c)), input_scale);
        let mut value = _mm512_mul_ps(_mm512_cvtepi32_ps(sum), scale);
        if let Some(bias) = bias {
            value = _mm512_add_ps(value, _mm512_loadu_ps(bias.as_ptr().add(c)));
        }
        _mm512_storeu_ps(out.add(c), value);
    }
    whole
}

/// The portable kernel: the same sums as the vector kernels, one product at a time.
fn portable_sums(a: &[i8], stride: usize, lines: &[Line], groups: usize, rows: usize, panels: usize, sums: &mut Sums) {
    for r in 0..rows {
        let row = &a[r * stride..r * stride + groups * GROUP];
        for panel in 0..panels {
            let panel_lines = &lines[panel * groups..(panel + 1) * groups];
            for lane in 0..PANEL {
                let mut sum = 0i32;
                for (line, inputs) in panel_lines.iter().zip(row.chunks_exact(GROUP)) {
                    for (slot, &input) in inputs.iter().enumerate() {
                        sum += i32::from(line.0[lane * GROUP + slot]) * i32::from(input);
                    }
                }
                sums[r][panel * PANEL + lane] = sum;
            }
        }
    }
}

/// Rows of int8 values as 16-bit pairs for the AVX2 kernel: each group `[x0, x1, x2, x3]`
/// becomes `[x0, x2, x1, x3]`.
fn widen_pairs(values: &PaddedRows<i8>) -> PaddedRows<i16> {
    let width = values.stride - 64;
    let mut widened = PaddedRows::<i16>::zeroed(values.rows, width);
    for row in 0..values.rows {
        let source = &values.row(row)[..width];
        let target = widened.row_mut(row);
        for (group, chunk) in source.chunks_exact(GROUP).enumerate() {
            let slot = &mut target[group * GROUP..group * GROUP + GROUP];
            slot.copy_from_slice(&[i16::from(chunk[0]), i16::from(chunk[2]), i16::from(chunk[1]), i16::from(chunk[3])]);
        }
    }
    widened
}

macro_rules! dispatch_rows {
    ($rows:expr, $call:ident, $($args:expr),*) => {
        match $rows {
            1 => $call::<1>($($args),*),
            2 => $call::<2>($($args),*),
            3 => $call::<3>($($args),*),
            4 => $call::<4>($($args),*),
            5 => $call::<5>($($args),*),
            6 => $call::<6>($($args),*),
            7 => $call::<7>($($args),*),
            8 => $call::<8>($($args),*),
            9 => $call::<9>($($args),*),
            10 => $call::<10>($($args),*),
            11 => $call::<11>($($args),*),
            12 => $call::<12>($($args),*),
            other => unreachable!("tiles have 1 to 12 rows, not {other}"),
        }
    };
}
pub(crate) use dispatch_rows;

#[cfg(target_arch = "x86_64")]
unsafe fn vnni512_dispatch(a: &[i8], stride: usize, lines: &[Line], groups: usize, rows: usize, panels: usize, sums: &mut Sums) {
    match panels {
        4 => dispatch_rows!(rows, vnni512_tile4, a, stride, lines, groups, sums, 0),
        2 => dispatch_rows!(rows, vnni512_tile2, a, stride, lines, groups, sums, 0),
        _ => {
            for panel in 0..panels {
                dispatch_rows!(rows, vnni512_tile1, a, stride, &lines[panel * groups..(panel + 1) * groups], groups, sums, panel * PANEL);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
unsafe fn vnni512_tile1<const ROWS: usize>(a: &[i8], stride: usize, lines: &[Line], groups: usize, sums: &mut Sums, column: usize) {
    vnni512_tile::<ROWS, 1>(a, stride, lines, groups, sums, column)
}

#[cfg(target_arch = "x86_64")]
unsafe fn vnni512_tile2<const ROWS: usize>(a: &[i8], stride: usize, lines: &[Line], groups: usize, sums: &mut Sums, column: usize) {
    vnni512_tile::<ROWS, 2>(a, stride, lines, groups, sums, column)
}

#[cfg(target_arch = "x86_64")]
unsafe fn vnni512_tile4<const ROWS: usize>(a: &[i8], stride: usize, lines: &[Line], groups: usize, sums: &mut Sums, column: usize) {
    vnni512_tile::<ROWS, 4>(a, stride, lines, groups, sums, column)
}

/// `ROWS` input rows × `PANELS` panels with `vpdpbusd`: per group of 4 inputs, one 512-bit load
/// per panel and one broadcast per row.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn vnni512_tile<const ROWS: usize, const PANELS: usize>(a: &[i8], stride: usize, lines: &[Line], groups: usize, sums: &mut Sums, column: usize) {
    use std::arch::x86_64::*;
    assert!(lines.len() >= PANELS * groups && a.len() >= (ROWS - 1) * stride + groups * GROUP, "tile out of bounds");
    let mut acc = [[_mm512_setzero_si512(); PANELS]; ROWS];
    let w = lines.as_ptr();
    let x = a.as_ptr();
    for group in 0..groups {
        let mut weights = [_mm512_setzero_si512(); PANELS];
        for panel in 0..PANELS {
            super::prefetch(w.wrapping_add(panel * groups + group + PREFETCH_LINES));
        }
        for (panel, slot) in weights.iter_mut().enumerate() {
            *slot = _mm512_load_si512(w.add(panel * groups + group) as *const _);
        }
        for (row, row_acc) in acc.iter_mut().enumerate() {
            let inputs = _mm512_set1_epi32((x.add(row * stride + group * GROUP) as *const i32).read_unaligned());
            for (slot, weight) in row_acc.iter_mut().zip(&weights) {
                *slot = _mm512_dpbusd_epi32(*slot, *weight, inputs);
            }
        }
    }
    for (row, row_acc) in acc.iter().enumerate() {
        for (panel, value) in row_acc.iter().enumerate() {
            _mm512_storeu_si512(sums[row][column + panel * PANEL..].as_mut_ptr() as *mut _, *value);
        }
    }
}

#[cfg(target_arch = "x86_64")]
unsafe fn avx_vnni_dispatch(a: &[i8], stride: usize, lines: &[Line], rows: usize, sums: &mut Sums, panel: usize) {
    let mut start = 0;
    while start < rows {
        let count = (rows - start).min(6);
        let (a, sums) = (&a[start * stride..], &mut sums[start..]);
        match count {
            1 => avx_vnni_tile::<1>(a, stride, lines, sums, panel * PANEL),
            2 => avx_vnni_tile::<2>(a, stride, lines, sums, panel * PANEL),
            3 => avx_vnni_tile::<3>(a, stride, lines, sums, panel * PANEL),
            4 => avx_vnni_tile::<4>(a, stride, lines, sums, panel * PANEL),
            5 => avx_vnni_tile::<5>(a, stride, lines, sums, panel * PANEL),
            _ => avx_vnni_tile::<6>(a, stride, lines, sums, panel * PANEL),
        }
        start += count;
    }
}

/// `ROWS` input rows × one panel with 256-bit `vpdpbusd` (AVX-VNNI): a panel's line is two
/// vectors of 8 outputs.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avxvnni")]
unsafe fn avx_vnni_tile<const ROWS: usize>(a: &[i8], stride: usize, lines: &[Line], sums: &mut [[i32; 4 * PANEL]], column: usize) {
    use std::arch::x86_64::*;
    let groups = lines.len();
    assert!(a.len() >= (ROWS - 1) * stride + groups * GROUP, "tile out of bounds");
    let mut acc = [[_mm256_setzero_si256(); 2]; ROWS];
    let x = a.as_ptr();
    for (group, line) in lines.iter().enumerate() {
        super::prefetch(lines.as_ptr().wrapping_add(group + PREFETCH_LINES));
        let low = _mm256_load_si256(line.0.as_ptr() as *const _);
        let high = _mm256_load_si256(line.0.as_ptr().add(32) as *const _);
        for (row, row_acc) in acc.iter_mut().enumerate() {
            let inputs = _mm256_set1_epi32((x.add(row * stride + group * GROUP) as *const i32).read_unaligned());
            row_acc[0] = _mm256_dpbusd_avx_epi32(row_acc[0], low, inputs);
            row_acc[1] = _mm256_dpbusd_avx_epi32(row_acc[1], high, inputs);
        }
    }
    for (row, row_acc) in acc.iter().enumerate() {
        _mm256_storeu_si256(sums[row][column..].as_mut_ptr() as *mut _, row_acc[0]);
        _mm256_storeu_si256(sums[row][column + 8..].as_mut_ptr() as *mut _, row_acc[1]);
    }
}

#[cfg(target_arch = "x86_64")]
unsafe fn avx2_dispatch(a: &[i16], stride: usize, lines: &[Line], rows: usize, sums: &mut Sums, panel: usize) {
    let mut start = 0;
    while start < rows {
        let count = (rows - start).min(4);
        let (a, sums) = (&a[start * stride..], &mut sums[start..]);
        match count {
            1 => avx2_tile::<1>(a, stride, lines, sums, panel * PANEL),
            2 => avx2_tile::<2>(a, stride, lines, sums, panel * PANEL),
            3 => avx2_tile::<3>(a, stride, lines, sums, panel * PANEL),
            _ => avx2_tile::<4>(a, stride, lines, sums, panel * PANEL),
        }
        start += count;
    }
}

/// `ROWS` input rows × one panel on AVX2: each output's 4 weight bytes are split into the 16-bit
/// pairs (w0, w2) and (w1, w3) and multiplied with the input's (x0, x2) and (x1, x3) by
/// `vpmaddwd`, which sums each pair into 32 bits exactly.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2_tile<const ROWS: usize>(a: &[i16], stride: usize, lines: &[Line], sums: &mut [[i32; 4 * PANEL]], column: usize) {
    use std::arch::x86_64::*;
    let groups = lines.len();
    assert!(a.len() >= (ROWS - 1) * stride + groups * GROUP, "tile out of bounds");
    let mut acc = [[_mm256_setzero_si256(); 2]; ROWS];
    let low_bytes = _mm256_set1_epi16(0x00FF);
    let x = a.as_ptr();
    for (group, line) in lines.iter().enumerate() {
        super::prefetch(lines.as_ptr().wrapping_add(group + PREFETCH_LINES));
        let halves = [_mm256_load_si256(line.0.as_ptr() as *const _), _mm256_load_si256(line.0.as_ptr().add(32) as *const _)];
        let even = halves.map(|half| _mm256_and_si256(half, low_bytes));
        let odd = halves.map(|half| _mm256_srli_epi16(half, 8));
        for (row, row_acc) in acc.iter_mut().enumerate() {
            let pairs = x.add(row * stride + group * GROUP) as *const i32;
            let even_inputs = _mm256_set1_epi32(pairs.read_unaligned());
            let odd_inputs = _mm256_set1_epi32(pairs.add(1).read_unaligned());
            for half in 0..2 {
                let products = _mm256_add_epi32(_mm256_madd_epi16(even[half], even_inputs), _mm256_madd_epi16(odd[half], odd_inputs));
                row_acc[half] = _mm256_add_epi32(row_acc[half], products);
            }
        }
    }
    for (row, row_acc) in acc.iter().enumerate() {
        _mm256_storeu_si256(sums[row][column..].as_mut_ptr() as *mut _, row_acc[0]);
        _mm256_storeu_si256(sums[row][column + 8..].as_mut_ptr() as *mut _, row_acc[1]);
    }
}
