//! precis's CPU kernels: matrix products at three precisions behind one entry, and attention
//! of a decoder step over shared encoder keys and values.
//!
//! The API the networks use is small: a [`Weight`] (a linear layer's `[outputs, inputs]`
//! matrix, stored at the [`Precision`] chosen when the model is loaded, with the kernel for
//! this CPU chosen then too), [`linear`] (`input · weightᵀ + bias` for any number of rows),
//! [`Weight::rows`] (embedding rows of a tied embedding matrix), [`attend`], and
//! [`SingleThreadedLibtorch`] held while a decoding's steps run on the kernel threads.
//!
//! - fp32 (`fp32.rs`): the file's tensors as they are; products of 1–8 rows (decoder steps) on
//!   precis's memory-speed kernels (AVX-512 or AVX2), more rows (the encoder) in libtorch / MKL.
//! - bf16 (`bf16.rs`): weights rounded to bfloat16 and packed; input rows in fp32; fp32 sums.
//! - int8 (`int8.rs`): weights quantized per output channel and packed; input rows quantized
//!   per row; int32 sums (VNNI where the CPU has it).
//!
//! The packed layout and the split into parts are shared (`tiles.rs`); the threads are
//! `engine::kernel_threads`; the instruction sets are found at run time (`cpu.rs`). Layer
//! norms, softmax and everything that is not a weight product stay with the caller, in fp32.

pub mod attention;
pub mod bf16;
pub mod cpu;
pub mod fp32;
pub mod int8;
mod tiles;

use anyhow::{bail, Result};
use tch::{Device, Kind, Tensor};

pub use attention::attend;

use super::kernel_threads::Session;

/// Rows above this go to libtorch's matrix product in fp32: with more rows the product is bound
/// by arithmetic, not memory, and MKL wins (measured with 32 rows, 8 inputs × 4 beams: 107–114
/// ms a step with MKL, 172 ms with the fp32 kernels). bf16 and int8 products always run here.
pub const MAX_ROWS: i64 = 8;

/// How far ahead of the weight being read every kernel asks for a later cache line of the
/// weights. The hardware prefetcher stops at each 4 KiB page and starts over on the next, so a
/// stream of weights stalls once a page; asking a page ahead keeps it going. Measured on a
/// decoder's products (6 BART-large-shaped layers, each variant alternated in one run, this
/// AVX-512 Xeon, 2 threads), GB/s without → with: fp32 1 row 20.2 → 24.3, 4 rows 14.2 → 17.7;
/// bf16 27.2 → 31.4 and 21.9 → 26.1; int8 41.1 → 46.6 and 42.7 → 42.9 (its 84 MB sit in the
/// L3 cache); with `PRECIS_KERNELS=avx2` fp32 17.3 → 21.6 and 12.6 → 17.2, bf16 16.4 → 20.3
/// and 11.8 → 17.7, int8 23.2 → 33.9 and 13.1 → 20.1. 2–8 KiB ahead were alike.
const PREFETCH_BYTES: usize = 4096;

/// Asks for the cache line holding `address`: a hint that reads nothing the program sees.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn prefetch<T>(address: *const T) {
    // SAFETY: a prefetch never faults and changes no memory, whatever the address; the kernels'
    // addresses may lie past the weights' end (made with `wrapping_add`, never dereferenced).
    // The kernel tests (`kernels/tests.rs`) run every product with such trailing prefetches.
    unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(address.cast()) }
}

pub use crate::engine::placement::{Precision, DEFAULT_PRECISION};

/// A linear layer's weight `[outputs, inputs]`, stored at its precision.
pub struct Weight {
    storage: Storage,
    outputs: usize,
    inputs: usize,
    features: cpu::Features,
}

enum Storage {
    Fp32(Tensor),
    Bf16(bf16::Packed),
    Int8(int8::Packed),
}

impl Weight {
    /// Stores `weight` (`[outputs, inputs]`, floating point) at `precision`. fp32 keeps the
    /// tensor itself; bf16 and int8 read it on the CPU, pack it, and drop it.
    pub fn new(weight: Tensor, precision: Precision) -> Result<Weight> {
        Weight::with_features(weight, precision, cpu::features())
    }

    /// [`Weight::new`] with the kernels of a given instruction set (tests compare them).
    pub(crate) fn with_features(weight: Tensor, precision: Precision, features: cpu::Features) -> Result<Weight> {
        let (outputs, inputs) = weight.size2()?;
        if outputs <= 0 || inputs <= 0 {
            bail!("a weight of shape [{outputs}, {inputs}] has nothing to multiply");
        }
        let (outputs, inputs) = (outputs as usize, inputs as usize);
        let storage = match precision {
            Precision::Fp32 => Storage::Fp32(weight),
            Precision::Bf16 | Precision::Int8 => {
                if weight.device() != Device::Cpu {
                    bail!("{} weights run on the CPU only (this one is on {:?}); use --device cpu or --precision fp32", precision.name(), weight.device());
                }
                let dense = weight.f_to_kind(Kind::Float)?.f_contiguous()?;
                drop(weight);
                // SAFETY: a contiguous fp32 CPU tensor of outputs × inputs values, alive and
                // unchanged while the slice is used (it is dropped at the end of this block).
                let values = unsafe { std::slice::from_raw_parts(dense.data_ptr() as *const f32, outputs * inputs) };
                if precision == Precision::Bf16 {
                    Storage::Bf16(bf16::Packed::new(values, outputs, inputs))
                } else {
                    Storage::Int8(int8::Packed::new(values, outputs, inputs, features))
                }
            }
        };
        Ok(Weight { storage, outputs, inputs, features })
    }

    /// The weights of `parts` (same precision and inputs) one after the other: `[Σ outputs,
    /// inputs]`, as `torch.cat(parts, 0)` would give (a fused q/k/v projection).
    pub fn concat_outputs(parts: Vec<Weight>) -> Result<Weight> {
        let Some(first) = parts.first() else { bail!("no weights to put together") };
        let (inputs, features, precision) = (first.inputs, first.features, first.precision());
        if parts.iter().any(|p| p.inputs != inputs || p.precision() != precision) {
            bail!("weights put together need the same inputs and precision");
        }
        let outputs = parts.iter().map(|p| p.outputs).sum();
        let storage = match precision {
            Precision::Fp32 => {
                let tensors: Vec<&Tensor> = parts.iter().filter_map(|p| if let Storage::Fp32(t) = &p.storage { Some(t) } else { None }).collect();
                Storage::Fp32(Tensor::f_cat(&tensors, 0)?)
            }
            Precision::Bf16 => Storage::Bf16(bf16::Packed::concat(&parts.iter().filter_map(|p| if let Storage::Bf16(b) = &p.storage { Some(b) } else { None }).collect::<Vec<_>>())),
            Precision::Int8 => Storage::Int8(int8::Packed::concat(&parts.iter().filter_map(|p| if let Storage::Int8(q) = &p.storage { Some(q) } else { None }).collect::<Vec<_>>(), features)),
        };
        Ok(Weight { storage, outputs, inputs, features })
    }

    /// The fp32 tensor as the file held it, when the weight is stored at fp32.
    pub fn fp32_tensor(&self) -> Option<&Tensor> {
        match &self.storage {
            Storage::Fp32(tensor) => Some(tensor),
            _ => None,
        }
    }

    pub fn precision(&self) -> Precision {
        match self.storage {
            Storage::Fp32(_) => Precision::Fp32,
            Storage::Bf16(_) => Precision::Bf16,
            Storage::Int8(_) => Precision::Int8,
        }
    }

    pub fn outputs(&self) -> usize {
        self.outputs
    }

    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// Memory the weight holds, in bytes.
    pub fn bytes(&self) -> usize {
        match &self.storage {
            Storage::Fp32(tensor) => tensor.numel() * tensor.kind().elt_size_in_bytes(),
            Storage::Bf16(packed) => packed.bytes(),
            Storage::Int8(packed) => packed.bytes(),
        }
    }

    /// The weight's rows `ids` (`[n]`, int64) as fp32 `[n, inputs]`: embeddings, when the
    /// matrix is a tied embedding (bf16 widened, int8 dequantized).
    pub fn rows(&self, ids: &Tensor) -> Result<Tensor> {
        let packed_rows = |read: &dyn Fn(usize, &mut [f32])| -> Result<Tensor> {
            let ids: Vec<i64> = Vec::try_from(&ids.f_contiguous()?.f_view([-1])?)?;
            let mut values = vec![0f32; ids.len() * self.inputs];
            for (&id, row) in ids.iter().zip(values.chunks_exact_mut(self.inputs)) {
                if id < 0 || id as usize >= self.outputs {
                    bail!("token id {id} is outside the {} rows of the embedding", self.outputs);
                }
                read(id as usize, row);
            }
            Ok(Tensor::f_from_slice(&values)?.f_view([ids.len() as i64, self.inputs as i64])?)
        };
        match &self.storage {
            Storage::Fp32(tensor) => Ok(tensor.f_index_select(0, ids)?),
            Storage::Bf16(packed) => packed_rows(&|id, row| packed.row_into(id, row)),
            Storage::Int8(packed) => packed_rows(&|id, row| packed.row_into(id, row)),
        }
    }
}

/// A tensor of a weights file on its way into a network: kept as it is (biases, layer norms,
/// positions), or stored as a [`Weight`] as soon as it was read (so that a model loaded at bf16
/// or int8 never holds the file's fp32 copy of all its weights at once).
pub enum FileTensor {
    Kept(Tensor),
    Weight(Weight),
}

/// `input · weightᵀ + bias` over the last dimension of `input` (`[..., inputs]` →
/// `[..., outputs]`), at the weight's precision. At fp32 a 2-D input is taken for a decoder
/// step's rows (see `linear_fp32`).
pub fn linear(input: &Tensor, weight: &Weight, bias: Option<&Tensor>) -> Result<Tensor> {
    let shape = input.size();
    let Some((&inputs, leading)) = shape.split_last() else { bail!("cannot multiply a scalar by a weight") };
    if inputs != weight.inputs as i64 {
        bail!("cannot multiply rows of {inputs} values by a [{}, {}] weight", weight.outputs, weight.inputs);
    }
    if bias.is_some_and(|b| b.numel() != weight.outputs) {
        bail!("a bias of {} values does not fit a weight of {} outputs", bias.map_or(0, |b| b.numel()), weight.outputs);
    }
    let rows: i64 = leading.iter().product();
    let mut out_shape = leading.to_vec();
    out_shape.push(weight.outputs as i64);
    if let Storage::Fp32(tensor) = &weight.storage {
        return linear_fp32(input, rows, tensor, bias, weight.features, &out_shape);
    }
    if input.device() != Device::Cpu || bias.is_some_and(|b| b.device() != Device::Cpu) {
        bail!("{} products run on the CPU only", weight.precision().name());
    }
    let input = input.f_to_kind(Kind::Float)?.f_contiguous()?;
    let bias = bias.map(|b| b.f_to_kind(Kind::Float).and_then(|b| b.f_contiguous())).transpose()?;
    let out = Tensor::f_empty(out_shape.as_slice(), (Kind::Float, Device::Cpu))?;
    let rows = rows as usize;
    // SAFETY: `input`, `bias` and `out` are contiguous fp32 CPU tensors with these element
    // counts (checked above or allocated here), alive for the whole call; `out` is fresh, so
    // nothing else reads or writes it meanwhile.
    unsafe {
        let input_values = std::slice::from_raw_parts(input.data_ptr() as *const f32, rows * weight.inputs);
        let bias_values = bias.as_ref().map(|b| std::slice::from_raw_parts(b.data_ptr() as *const f32, weight.outputs));
        let out_values = out.data_ptr() as *mut f32;
        match &weight.storage {
            Storage::Bf16(packed) => bf16::product(input_values, rows, packed, bias_values, out_values, weight.features),
            Storage::Int8(packed) => int8::product(input_values, rows, packed, bias_values, out_values, weight.features),
            Storage::Fp32(_) => unreachable!("fp32 products returned above"),
        }
    }
    Ok(out)
}

/// `input · weightᵀ + bias` for a decoder step's rows (`input` `[rows, in]`) on an fp32 weight
/// tensor as the file holds it (precis's T5 and PEGASUS, which run at fp32 only): precis's kernel
/// for up to `MAX_ROWS` rows, else `(weight · inputᵀ)ᵀ` (see `linear_fp32`).
pub fn project_fp32_rows(input: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let (rows, inputs) = input.size2()?;
    let (outputs, weight_inputs) = weight.size2()?;
    if weight_inputs != inputs || bias.is_some_and(|b| b.numel() != outputs as usize) {
        bail!("cannot multiply [{rows}, {inputs}] rows by a [{outputs}, {weight_inputs}] weight and its bias");
    }
    linear_fp32(input, rows, weight, bias, cpu::features(), &[rows, outputs])
}

/// fp32. A 2-D input is a decoder step's rows: up to `MAX_ROWS` on precis's kernel, else (a
/// batch's step) in the form `(weight · inputᵀ)ᵀ`, in which MKL streams the weight once
/// (`F.linear`'s `input · weightᵀ` cost about as much per extra row as the first on the AMD
/// machines: the LM head with 4 rows 9.7 ms that way vs 41 ms). Inputs with more dimensions (the
/// encoder's `[batch, source, hidden]`) go to libtorch's `linear`, as transformers computes them.
fn linear_fp32(input: &Tensor, rows: i64, weight: &Tensor, bias: Option<&Tensor>, features: cpu::Features, out_shape: &[i64]) -> Result<Tensor> {
    if input.dim() != 2 {
        return Ok(input.f_linear(weight, bias)?);
    }
    let kernel_fits = rows > 0 && rows <= MAX_ROWS && features.avx2 && f32_on_cpu(input) && dense_f32_on_cpu(weight) && bias.is_none_or(dense_f32_on_cpu);
    if kernel_fits {
        let (rows, outputs) = (rows as usize, weight.size()[0] as usize);
        let flat: Vec<f32> = Vec::try_from(&input.f_contiguous()?.f_view([-1])?)?;
        let mut out = vec![0f32; rows * outputs];
        // SAFETY: checked contiguous fp32 on the CPU; borrowed for this call only, read only.
        let (weight_values, bias_values) = unsafe {
            (
                std::slice::from_raw_parts(weight.data_ptr() as *const f32, weight.numel()),
                bias.map(|b| std::slice::from_raw_parts(b.data_ptr() as *const f32, outputs)),
            )
        };
        if fp32::project_rows(&flat, rows, weight_values, outputs, bias_values, &mut out, features) {
            return Ok(Tensor::f_from_slice(&out)?.f_view(out_shape)?);
        }
    }
    let output = weight.f_matmul(&input.f_tr()?)?.f_tr()?;
    Ok(match bias {
        Some(bias) => output.f_add(bias)?,
        None => output,
    })
}

/// Whether a decoder step of `rows` rows with weights at `precision` runs its products on the
/// kernel threads (then libtorch should keep to one thread meanwhile, and the attention kernel
/// applies).
pub fn step_runs_here(rows: usize, precision: Precision) -> bool {
    match precision {
        Precision::Fp32 => cpu::features().avx2 && rows as i64 <= MAX_ROWS,
        Precision::Bf16 | Precision::Int8 => true,
    }
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
    pub fn enter(rows: usize, precision: Precision) -> Option<SingleThreadedLibtorch> {
        if !step_runs_here(rows, precision) {
            return None;
        }
        Some(SingleThreadedLibtorch::always())
    }

    /// For a whole pass whose work is split between the kernel threads (an encoder at bf16 or
    /// int8: products on the kernels, the rest in [`for_each_libtorch_part`]). libtorch's own
    /// OpenMP workers would otherwise spin after each of its operations (for milliseconds) and
    /// take a core from the kernels' next product.
    pub fn always() -> SingleThreadedLibtorch {
        let previous = tch::get_num_threads();
        tch::set_num_threads(1);
        SingleThreadedLibtorch { previous, _session: Session::start() }
    }
}

/// Runs `work` on each of `parts` on the kernel threads, libtorch on one thread in each (its
/// operations are thread-safe; each part owns its tensors, views of shared storage included,
/// and writes only its own region of an output). Returns the first error.
pub fn for_each_libtorch_part<T: Send>(parts: Vec<T>, work: &(dyn Fn(&mut T) -> Result<()> + Sync)) -> Result<()> {
    thread_local! {
        static ONE_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    let parts: Vec<std::sync::Mutex<T>> = parts.into_iter().map(std::sync::Mutex::new).collect();
    let failure: std::sync::Mutex<Option<anyhow::Error>> = std::sync::Mutex::new(None);
    super::kernel_threads::for_each_part(parts.len(), &|index| {
        // The helper thread's libtorch would start a team of its own otherwise (the setting is
        // per thread; the calling thread's is set by `SingleThreadedLibtorch`).
        if !ONE_THREAD.with(|one| one.replace(true)) && tch::get_num_threads() != 1 {
            tch::set_num_threads(1);
        }
        let outcome = match parts[index].lock() {
            Ok(mut part) => work(&mut part),
            Err(_) => Err(anyhow::anyhow!("a part of a parallel operation failed")),
        };
        if let Err(error) = outcome {
            if let Ok(mut slot) = failure.lock() {
                slot.get_or_insert(error);
            }
        }
    });
    match failure.into_inner() {
        Ok(None) => Ok(()),
        Ok(Some(error)) => Err(error),
        Err(_) => bail!("a part of a parallel operation failed"),
    }
}

/// `operation(blocks of inputs, shared, block of the output)` on blocks of rows of `inputs`
/// (each `[rows, …]` with the same rows) and of a new fp32 output `[rows, width]`, the blocks on
/// the kernel threads (`for_each_libtorch_part`), every block seeing all of `shared` (e.g. a
/// layer norm's weight and bias): for element-wise and per-row operations written with
/// libtorch's `_out` forms, so that nothing is copied twice.
pub fn map_row_blocks(inputs: &[&Tensor], shared: &[&Tensor], width: i64, operation: &(dyn Fn(&[Tensor], &[Tensor], &Tensor) -> Result<()> + Sync)) -> Result<Tensor> {
    let rows = inputs.first().map_or(0, |t| t.size().first().copied().unwrap_or(0));
    if inputs.iter().any(|t| t.size().first().copied() != Some(rows)) || rows == 0 {
        bail!("row blocks need inputs with the same number of rows");
    }
    let out = Tensor::f_empty([rows, width], (Kind::Float, inputs[0].device()))?;
    // About 16 blocks: both threads get several, each long enough to pay for its dispatch.
    let block = (rows + 15) / 16;
    let mut parts = Vec::new();
    for start in (0..rows).step_by(block as usize) {
        let length = block.min(rows - start);
        let slices = inputs.iter().map(|t| t.f_narrow(0, start, length)).collect::<std::result::Result<Vec<_>, _>>()?;
        let shared: Vec<Tensor> = shared.iter().map(|t| t.shallow_clone()).collect();
        parts.push((slices, shared, out.f_narrow(0, start, length)?));
    }
    for_each_libtorch_part(parts, &|(slices, shared, out)| operation(slices, shared, out))?;
    Ok(out)
}

impl Drop for SingleThreadedLibtorch {
    fn drop(&mut self) {
        tch::set_num_threads(self.previous);
    }
}

/// Contiguous fp32 on the CPU: what the kernels read through a raw pointer.
fn dense_f32_on_cpu(tensor: &Tensor) -> bool {
    f32_on_cpu(tensor) && tensor.is_contiguous()
}

fn f32_on_cpu(tensor: &Tensor) -> bool {
    tensor.kind() == Kind::Float && tensor.device() == Device::Cpu
}

#[cfg(test)]
mod tests;
