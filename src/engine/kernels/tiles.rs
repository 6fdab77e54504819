//! What the bf16 and int8 products share: the packed weight layout (16-column panels of
//! cache-line-sized groups), the split of a product into parts for the kernel threads, and the
//! output rows those parts write side by side.
//!
//! Layout: a weight `[outputs, inputs]` is cut into panels of 16 outputs (the last one padded
//! with zero rows). A panel is stored as consecutive 64-byte lines, one per group of inputs:
//! 2 inputs per line for bf16 (16 outputs × 2 × 2 bytes), 4 for int8 (16 × 4 × 1 byte), each
//! output's values for the group side by side. One 512-bit load is then one group for 16
//! outputs, the shape `vpdpbusd` consumes, and a panel streams from memory front to back.

use std::sync::Mutex;

use crate::engine::kernel_threads::{self, Session};

/// How far ahead (in lines) the kernels ask for a panel's lines.
pub const PREFETCH_LINES: usize = super::PREFETCH_BYTES / 64;

/// Outputs per panel: one 512-bit vector of fp32 or int32 lanes.
pub const PANEL: usize = 16;

/// One 64-byte line of a packed weight, aligned to a cache line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub struct Line(pub [u8; 64]);

impl Line {
    pub const ZERO: Line = Line([0; 64]);
}

/// The output of a product, `[rows, stride]` fp32, written by several parts at once: each part
/// writes only its own columns (whole panels) of the rows it is given.
pub struct SharedOutput {
    start: *mut f32,
    rows: usize,
    /// Values between the starts of consecutive rows (≥ the outputs).
    pub stride: usize,
    /// Columns that exist (the last panel may reach past them).
    pub columns: usize,
}

// SAFETY: parts write disjoint column ranges (`for_each_panel_block` hands each block of panels
// to exactly one part) and nothing reads the output until every part has returned.
unsafe impl Sync for SharedOutput {}

impl SharedOutput {
    /// # Safety
    /// `start` must point to `rows × stride` writable fp32 values that stay valid, and are
    /// neither read nor written elsewhere, for as long as this value is used.
    pub unsafe fn new(start: *mut f32, rows: usize, stride: usize, columns: usize) -> SharedOutput {
        SharedOutput { start, rows, stride, columns }
    }

    /// The pointer to `[row, column]`.
    ///
    /// # Safety
    /// `row < rows` and `column < stride`; the caller writes only columns its part owns.
    pub unsafe fn at(&self, row: usize, column: usize) -> *mut f32 {
        debug_assert!(row < self.rows && column < self.stride);
        self.start.add(row * self.stride + column)
    }
}

/// Keeps the helper thread awake for a product of `rows` rows outside a decoding (the
/// encoder's, the cross-attention projections'): a decoding holds its own session, and waking
/// the helper costs tens of microseconds, nothing beside such a product.
pub fn session_for(rows: usize) -> Option<Session> {
    (rows > 64).then(Session::start).flatten()
}

/// Calls `run(first_panel, panel_count)` for consecutive blocks of `panels` panels, on the
/// kernel threads. Blocks are a multiple of `group` panels (the kernels' widest tile) and small
/// enough that both threads get several.
pub fn for_each_panel_block(panels: usize, group: usize, run: &(dyn Fn(usize, usize) + Sync)) {
    // Aim at ~24 parts (or fewer, with at least one group each): enough for two threads to
    // finish together, few enough that a part's weights are a long stream.
    let groups = panels.div_ceil(group);
    let groups_per_block = groups.div_ceil(24).max(1);
    let block = groups_per_block * group;
    let blocks = panels.div_ceil(block);
    kernel_threads::for_each_part(blocks, &|index| {
        let first = index * block;
        run(first, block.min(panels - first));
    });
}

/// Fills a packed weight panel by panel on the kernel threads: `fill(panel, its lines, its 16
/// per-output values)` (the per-output values are scales for int8; bf16 passes an empty slice).
pub fn fill_panels(lines: &mut [Line], per_output: &mut [f32], lines_per_panel: usize, fill: &(dyn Fn(usize, &mut [Line], &mut [f32]) + Sync)) {
    let panels = lines.len() / lines_per_panel;
    let per_output_stride = per_output.len() / panels.max(1);
    // Whole panels per part; each part behind its own lock, taken once.
    let panels_per_part = panels.div_ceil(64).max(1);
    let parts: Vec<Mutex<(&mut [Line], &mut [f32])>> = lines
        .chunks_mut(lines_per_panel * panels_per_part)
        .zip(per_output.chunks_mut((per_output_stride * panels_per_part).max(1)).chain(std::iter::repeat_with(|| &mut [][..])))
        .map(Mutex::new)
        .collect();
    let _session = Session::start();
    kernel_threads::for_each_part(parts.len(), &|index| {
        let Ok(mut part) = parts[index].lock() else { return };
        let (part_lines, part_values) = &mut *part;
        for (offset, panel_lines) in part_lines.chunks_mut(lines_per_panel).enumerate() {
            let values = part_values.get_mut(offset * per_output_stride..(offset + 1) * per_output_stride).unwrap_or(&mut []);
            fill(index * panels_per_part + offset, panel_lines, values);
        }
    });
}

/// A row count split into tiles of at most `tile` rows: `(first_row, rows)`.
pub fn row_tiles(rows: usize, tile: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..rows).step_by(tile.max(1)).map(move |first| (first, tile.min(rows - first)))
}

/// Input rows handed to a kernel: `rows` rows of `T`, `stride` values apart, padded with zeros
/// to the packed weight's group size and spread by a cache line so that rows a power of two
/// apart do not evict each other from the L1 cache.
pub struct PaddedRows<T> {
    pub values: Vec<T>,
    pub stride: usize,
    pub rows: usize,
}

impl<T: Copy + Default> PaddedRows<T> {
    /// Room for `rows` rows of `width` values (a multiple of the group), zero-filled.
    pub fn zeroed(rows: usize, width: usize) -> PaddedRows<T> {
        let line = 64 / std::mem::size_of::<T>().max(1);
        let stride = width + line;
        PaddedRows { values: vec![T::default(); rows * stride], stride, rows }
    }

    pub fn row_mut(&mut self, row: usize) -> &mut [T] {
        &mut self.values[row * self.stride..(row + 1) * self.stride]
    }

    pub fn row(&self, row: usize) -> &[T] {
        &self.values[row * self.stride..(row + 1) * self.stride]
    }
}
