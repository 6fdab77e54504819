//! bf16 products: weights stored as bfloat16 (rounded half to even from the file's fp32 when
//! the model is loaded), input rows kept in fp32, products and sums in fp32.
//!
//! A bf16 value is the upper half of an fp32 one, so widening is a shift (even inputs of a line)
//! or a mask (odd inputs), and the products are ordinary fp32 FMAs: the input rows lose nothing.
//! (`vdpbf16ps` would round the inputs to bf16 too, and on the Xeon measured here it ran at less
//! than half the rate of fp32 FMAs.) AVX-512 and AVX2 give bit-identical results (the same FMAs
//! per output in the same order); the portable loop multiplies and adds separately (fused
//! multiply-add is a slow library call without FMA hardware), so it may differ in the last bits.
//!
//! It does not know what the products are for nor keep fp32 copies of the weights: an embedding
//! row is widened back (`row_into`).

use super::cpu::Features;
use super::int8::dispatch_rows;
use super::tiles::{self, Line, PaddedRows, SharedOutput, PANEL, PREFETCH_LINES};

/// Inputs per 64-byte line: 2 bf16 values for each of the panel's 16 outputs.
const GROUP: usize = 2;

/// A weight `[outputs, inputs]` rounded to bf16 and packed in panels (`tiles`).
pub struct Packed {
    lines: Vec<Line>,
    outputs: usize,
    inputs: usize,
    /// Lines per panel: `inputs` in pairs, the last padded with a zero.
    groups: usize,
}

/// `value` rounded to bfloat16, half to even (as libtorch's conversion); NaN stays NaN.
pub fn to_bf16(value: f32) -> u16 {
    let bits = value.to_bits();
    if value.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    let rounding = 0x7FFF + ((bits >> 16) & 1);
    (bits.wrapping_add(rounding) >> 16) as u16
}

pub fn from_bf16(value: u16) -> f32 {
    f32::from_bits(u32::from(value) << 16)
}

impl Packed {
    /// Rounds and packs `weight` (`outputs × inputs` fp32, row-major), a block of panels per
    /// part on the kernel threads.
    pub fn new(weight: &[f32], outputs: usize, inputs: usize) -> Packed {
        assert_eq!(weight.len(), outputs * inputs, "weight values do not match its shape");
        let groups = inputs.div_ceil(GROUP);
        let panels = outputs.div_ceil(PANEL);
        let mut lines = vec![Line::ZERO; panels * groups];
        tiles::fill_panels(&mut lines, &mut [], groups.max(1), &|panel, lines, _| {
            for lane in 0..PANEL.min(outputs - panel * PANEL) {
                let output = panel * PANEL + lane;
                let row = &weight[output * inputs..(output + 1) * inputs];
                // Each line holds this output's pair (even input, odd input) at bytes 4·lane..4·lane+4.
                for (line, pair) in lines.iter_mut().zip(row.chunks(GROUP)) {
                    let even = u32::from(to_bf16(pair[0]));
                    let odd = pair.get(1).map_or(0, |&v| u32::from(to_bf16(v)));
                    line.0[lane * 4..lane * 4 + 4].copy_from_slice(&(even | odd << 16).to_le_bytes());
                }
            }
        });
        Packed { lines, outputs, inputs, groups }
    }

    pub fn outputs(&self) -> usize {
        self.outputs
    }

    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.lines.len() * 64
    }

    fn panels(&self) -> usize {
        self.outputs.div_ceil(PANEL)
    }

    /// Weight row `output` widened to fp32 into `out` (`inputs` values).
    pub fn row_into(&self, output: usize, out: &mut [f32]) {
        let (panel, lane) = (output / PANEL, output % PANEL);
        for (input, slot) in out.iter_mut().enumerate().take(self.inputs) {
            let line = &self.lines[panel * self.groups + input / GROUP].0;
            let at = (lane * GROUP + input % GROUP) * 2;
            *slot = from_bf16(u16::from_le_bytes([line[at], line[at + 1]]));
        }
    }

    /// The weights of `parts` (same inputs) one after the other, as one weight: their panels
    /// side by side when every part but the last fills whole panels, else repacked from the
    /// widened rows (exact: widening and rounding back give the same bf16 values).
    pub fn concat(parts: &[&Packed]) -> Packed {
        let inputs = parts.first().map_or(0, |p| p.inputs);
        assert!(parts.iter().all(|p| p.inputs == inputs), "parts of one weight have the same inputs");
        let outputs: usize = parts.iter().map(|p| p.outputs).sum();
        if parts.iter().rev().skip(1).all(|p| p.outputs % PANEL == 0) {
            let lines = parts.iter().flat_map(|p| p.lines.iter().copied()).collect();
            return Packed { lines, outputs, inputs, groups: inputs.div_ceil(GROUP) };
        }
        let rows: Vec<f32> = parts.iter().flat_map(|p| p.widened()).collect();
        Packed::new(&rows, outputs, inputs)
    }

    /// The weight as fp32 `[outputs, inputs]` (for tests and references).
    pub fn widened(&self) -> Vec<f32> {
        let mut values = vec![0f32; self.outputs * self.inputs];
        for (output, row) in values.chunks_exact_mut(self.inputs).enumerate() {
            self.row_into(output, row);
        }
        values
    }
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
    let mut padded = PaddedRows::<f32>::zeroed(rows, packed.groups * GROUP);
    for row in 0..rows {
        padded.row_mut(row)[..packed.inputs].copy_from_slice(&input[row * packed.inputs..(row + 1) * packed.inputs]);
    }
    let out = SharedOutput::new(out, rows, packed.outputs, packed.outputs);
    let kind = Kernel::choose(features);
    let job = Job { packed, input: &padded, bias, out: &out };
    tiles::for_each_panel_block(packed.panels(), kind.panels_per_tile(rows), &|first_panel, panels| {
        // Every tile writes the sums it later reads: zeroed once per part, not per tile.
        let mut sums: Sums = [[0.0; 4 * PANEL]; 12];
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    Avx512,
    Avx2,
    Portable,
}

impl Kernel {
    fn choose(features: Features) -> Kernel {
        if features.avx512 {
            Kernel::Avx512
        } else if features.avx2 {
            Kernel::Avx2
        } else {
            Kernel::Portable
        }
    }

    fn rows_per_tile(self, rows: usize) -> usize {
        match self {
            Kernel::Avx512 if rows <= 6 => rows,
            Kernel::Avx512 => 12,
            Kernel::Avx2 => 4,
            Kernel::Portable => 4,
        }
    }

    fn panels_per_tile(self, rows: usize) -> usize {
        match self {
            Kernel::Avx512 if rows <= 6 => 4,
            Kernel::Avx512 => 2,
            _ => 1,
        }
    }
}

struct Job<'a> {
    packed: &'a Packed,
    input: &'a PaddedRows<f32>,
    bias: Option<&'a [f32]>,
    out: &'a SharedOutput,
}

/// One tile's sums, `[row][column]` for up to 12 rows × 64 columns.
type Sums = [[f32; 4 * PANEL]; 12];

impl Job<'_> {
    /// # Safety
    /// The tile must lie within the product's rows and panels, and its columns belong to the
    /// calling part.
    unsafe fn run(&self, kind: Kernel, first_row: usize, rows: usize, first_panel: usize, panels: usize, sums: &mut Sums) {
        let groups = self.packed.groups;
        let lines = &self.packed.lines[first_panel * groups..(first_panel + panels) * groups];
        let stride = self.input.stride;
        let a = &self.input.values[first_row * stride..];
        match kind {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => match panels {
                4 => dispatch_rows!(rows, avx512_tile4, a, stride, lines, groups, sums, 0),
                2 => dispatch_rows!(rows, avx512_tile2, a, stride, lines, groups, sums, 0),
                _ => {
                    for panel in 0..panels {
                        dispatch_rows!(rows, avx512_tile1, a, stride, &lines[panel * groups..(panel + 1) * groups], groups, sums, panel * PANEL);
                    }
                }
            },
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                for panel in 0..panels {
                    let panel_lines = &lines[panel * groups..(panel + 1) * groups];
                    let mut start = 0;
                    while start < rows {
                        let count = (rows - start).min(4);
                        let (a, sums) = (&a[start * stride..], &mut sums[start..]);
                        match count {
                            1 => avx2_tile::<1>(a, stride, panel_lines, sums, panel * PANEL),
                            2 => avx2_tile::<2>(a, stride, panel_lines, sums, panel * PANEL),
                            3 => avx2_tile::<3>(a, stride, panel_lines, sums, panel * PANEL),
                            _ => avx2_tile::<4>(a, stride, panel_lines, sums, panel * PANEL),
                        }
                        start += count;
                    }
                }
            }
            _ => portable_sums(a, stride, lines, groups, rows, panels, sums),
        }
        let first_column = first_panel * PANEL;
        let columns = (panels * PANEL).min(self.out.columns - first_column);
        for r in 0..rows {
            let out = self.out.at(first_row + r, first_column);
            for c in 0..columns {
                *out.add(c) = match self.bias {
                    Some(bias) => sums[r][c] + bias[first_column + c],
                    None => sums[r][c],
                };
            }
        }
    }
}

/// The portable kernel: per output, the even and then the odd input of each pair, multiplied
/// and added in fp32.
fn portable_sums(a: &[f32], stride: usize, lines: &[Line], groups: usize, rows: usize, panels: usize, sums: &mut Sums) {
    for r in 0..rows {
        let row = &a[r * stride..r * stride + groups * GROUP];
        for panel in 0..panels {
            let panel_lines = &lines[panel * groups..(panel + 1) * groups];
            for lane in 0..PANEL {
                let mut sum = 0f32;
                for (line, inputs) in panel_lines.iter().zip(row.chunks_exact(GROUP)) {
                    for (slot, &input) in inputs.iter().enumerate() {
                        let at = (lane * GROUP + slot) * 2;
                        sum += input * from_bf16(u16::from_le_bytes([line.0[at], line.0[at + 1]]));
                    }
                }
                sums[r][panel * PANEL + lane] = sum;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
unsafe fn avx512_tile1<const ROWS: usize>(a: &[f32], stride: usize, lines: &[Line], groups: usize, sums: &mut Sums, column: usize) {
    avx512_tile::<ROWS, 1>(a, stride, lines, groups, sums, column)
}

#[cfg(target_arch = "x86_64")]
unsafe fn avx512_tile2<const ROWS: usize>(a: &[f32], stride: usize, lines: &[Line], groups: usize, sums: &mut Sums, column: usize) {
    avx512_tile::<ROWS, 2>(a, stride, lines, groups, sums, column)
}

#[cfg(target_arch = "x86_64")]
unsafe fn avx512_tile4<const ROWS: usize>(a: &[f32], stride: usize, lines: &[Line], groups: usize, sums: &mut Sums, column: usize) {
    avx512_tile::<ROWS, 4>(a, stride, lines, groups, sums, column)
}

/// `ROWS` input rows × `PANELS` panels: per pair of inputs, one 512-bit load per panel, widened
/// to the even inputs' and the odd inputs' weights, and two FMAs per row and panel.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,fma")]
unsafe fn avx512_tile<const ROWS: usize, const PANELS: usize>(a: &[f32], stride: usize, lines: &[Line], groups: usize, sums: &mut Sums, column: usize) {
    use std::arch::x86_64::*;
    assert!(lines.len() >= PANELS * groups && a.len() >= (ROWS - 1) * stride + groups * GROUP, "tile out of bounds");
    let mut acc = [[_mm512_setzero_ps(); PANELS]; ROWS];
    let upper = _mm512_set1_epi32(0xFFFF_0000u32 as i32);
    let w = lines.as_ptr();
    let x = a.as_ptr();
    for group in 0..groups {
        for panel in 0..PANELS {
            super::prefetch(w.wrapping_add(panel * groups + group + PREFETCH_LINES));
        }
        let mut even = [_mm512_setzero_ps(); PANELS];
        let mut odd = [_mm512_setzero_ps(); PANELS];
        for panel in 0..PANELS {
            let line = _mm512_load_si512(w.add(panel * groups + group) as *const _);
            even[panel] = _mm512_castsi512_ps(_mm512_slli_epi32(line, 16));
            odd[panel] = _mm512_castsi512_ps(_mm512_and_si512(line, upper));
        }
        for (row, row_acc) in acc.iter_mut().enumerate() {
            let inputs = x.add(row * stride + group * GROUP);
            let (x_even, x_odd) = (_mm512_set1_ps(*inputs), _mm512_set1_ps(*inputs.add(1)));
            for panel in 0..PANELS {
                row_acc[panel] = _mm512_fmadd_ps(x_even, even[panel], row_acc[panel]);
                row_acc[panel] = _mm512_fmadd_ps(x_odd, odd[panel], row_acc[panel]);
            }
        }
    }
    for (row, row_acc) in acc.iter().enumerate() {
        for (panel, value) in row_acc.iter().enumerate() {
            _mm512_storeu_ps(sums[row][column + panel * PANEL..].as_mut_ptr(), *value);
        }
    }
}

/// `ROWS` input rows × one panel on AVX2 + FMA: a line is two vectors of 8 outputs.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2_tile<const ROWS: usize>(a: &[f32], stride: usize, lines: &[Line], sums: &mut [[f32; 4 * PANEL]], column: usize) {
    use std::arch::x86_64::*;
    let groups = lines.len();
    assert!(a.len() >= (ROWS - 1) * stride + groups * GROUP, "tile out of bounds");
    let mut acc = [[_mm256_setzero_ps(); 2]; ROWS];
    let upper = _mm256_set1_epi32(0xFFFF_0000u32 as i32);
    let x = a.as_ptr();
    for (group, line) in lines.iter().enumerate() {
        super::prefetch(lines.as_ptr().wrapping_add(group + PREFETCH_LINES));
        let halves = [_mm256_load_si256(line.0.as_ptr() as *const _), _mm256_load_si256(line.0.as_ptr().add(32) as *const _)];
        let even = halves.map(|half| _mm256_castsi256_ps(_mm256_slli_epi32(half, 16)));
        let odd = halves.map(|half| _mm256_castsi256_ps(_mm256_and_si256(half, upper)));
        for (row, row_acc) in acc.iter_mut().enumerate() {
            let inputs = x.add(row * stride + group * GROUP);
            let (x_even, x_odd) = (_mm256_set1_ps(*inputs), _mm256_set1_ps(*inputs.add(1)));
            for half in 0..2 {
                row_acc[half] = _mm256_fmadd_ps(x_even, even[half], row_acc[half]);
                row_acc[half] = _mm256_fmadd_ps(x_odd, odd[half], row_acc[half]);
            }
        }
    }
    for (row, row_acc) in acc.iter().enumerate() {
        _mm256_storeu_ps(sums[row][column..].as_mut_ptr(), row_acc[0]);
        _mm256_storeu_ps(sums[row][column + 8..].as_mut_ptr(), row_acc[1]);
    }
}
