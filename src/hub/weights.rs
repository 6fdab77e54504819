//! Reads a model's weights in every form the Hub has: safetensors (one file or shards named by
//! `model.safetensors.index.json`), PyTorch pickles (`pytorch_model.bin`, one file or shards named
//! by `pytorch_model.bin.index.json`; read by `pickle`, without Python) and libtorch archives
//! (`rust_model.ot`), with their stored precision (fp32, fp16, bf16, …).
//!
//! The file's own structure is checked first: libtorch reports a truncated or foreign file with an
//! internal assertion, and a cut-off download must say which file to fetch again. Tensors come out
//! under the file's names; which name a network wants (tied embeddings stored under one of their
//! names) is the engine's business.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use tch::{Kind, Tensor};

use super::pickle;

/// Largest safetensors header we accept; real ones are well under 1 MB.
const MAX_HEADER_BYTES: u64 = 100 * 1024 * 1024;

/// Every tensor of a weights file (or of the shards an index names), under the file's names and
/// in its stored precision, read one tensor at a time.
pub fn read_tensors(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let mut tensors = Vec::new();
    for_each_tensor(path, &mut |name, tensor| {
        tensors.push((name, tensor));
        Ok(())
    })?;
    Ok(tensors)
}

/// Every tensor of a weights file (or of the shards an index names), under the file's names and
/// in its stored precision, handed to `each` as it is read: safetensors one tensor at a time (so
/// a caller that packs tensors at a lower precision never holds the file's copy of them all);
/// a pickle or a libtorch archive is read whole first, then handed over tensor by tensor.
pub fn for_each_tensor(path: &Path, each: &mut dyn FnMut(String, Tensor) -> Result<()>) -> Result<()> {
    let name = path.display();
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let metadata = std::fs::metadata(path).with_context(|| format!("the weights file {name} cannot be read"))?;
    if metadata.len() == 0 {
        bail!("the weights file {name} is empty; delete it and fetch the model again (`precis models pull NAME`)");
    }
    if file_name.ends_with(".index.json") {
        let folder = path.parent().unwrap_or(Path::new("."));
        for shard in shard_names(path)? {
            let shard_path = folder.join(&shard);
            if !shard_path.is_file() {
                bail!("{name} names the shard {shard}, which is missing beside it; fetch the model again (`precis models pull NAME`)");
            }
            for_each_tensor(&shard_path, each)?;
        }
        return Ok(());
    }
    let tensors = match path.extension().and_then(|e| e.to_str()) {
        Some("safetensors") => return for_each_safetensor(path, each),
        Some("bin") | Some("pt") | Some("pth") => pickle::read_tensors(path)?,
        _ => {
            check_libtorch_archive(path, metadata.len())?;
            Tensor::load_multi(path).map_err(|e| anyhow!("the weights file {name} could not be read by libtorch: {e}"))?
        }
    };
    for (tensor_name, tensor) in tensors {
        each(tensor_name, tensor)?;
    }
    Ok(())
}

pub use super::shard_names;

/// Tensor names of a safetensors file, read from its header only.
pub fn safetensors_names(path: &Path) -> Result<Vec<String>> {
    let len = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?.len();
    let header = read_safetensors_header(path, len)?;
    Ok(header.tensors.into_iter().map(|entry| entry.name).collect())
}

/// Every tensor of a safetensors file, read one at a time: memory holds the tensors and at most
/// one tensor's bytes besides (tch's reader holds the whole file as well as its tensors).
pub fn read_safetensors(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let mut tensors = Vec::new();
    for_each_safetensor(path, &mut |name, tensor| {
        tensors.push((name, tensor));
        Ok(())
    })?;
    Ok(tensors)
}

/// Every tensor of a safetensors file handed to `each` as soon as it is read (in file order),
/// so that a caller that converts tensors (packs them at a lower precision) never holds the
/// whole file's tensors at once.
pub fn for_each_safetensor(path: &Path, each: &mut dyn FnMut(String, Tensor) -> Result<()>) -> Result<()> {
    let name = path.display();
    let len = std::fs::metadata(path).with_context(|| format!("cannot read {name}"))?.len();
    let mut header = read_safetensors_header(path, len)?;
    header.tensors.sort_by_key(|entry| entry.start);
    let mut file = BufReader::new(File::open(path).with_context(|| format!("cannot open {name}"))?);
    file.seek(SeekFrom::Start(header.data_start))?;
    let mut position = 0u64;
    for entry in header.tensors {
        let corrupt = |what: &str| anyhow!("the weights file {name} is corrupt (tensor {}: {what}); delete it and fetch it again", entry.name);
        if entry.start < position {
            return Err(corrupt("its data overlaps another tensor's"));
        }
        file.seek_relative((entry.start - position) as i64)?;
        let kind = match entry.dtype.as_str() {
            "F32" => Kind::Float,
            "F16" => Kind::Half,
            "BF16" => Kind::BFloat16,
            "F64" => Kind::Double,
            "I64" => Kind::Int64,
            "I32" => Kind::Int,
            "I16" => Kind::Int16,
            "I8" => Kind::Int8,
            "U8" => Kind::Uint8,
            "BOOL" => Kind::Bool,
            other => return Err(corrupt(&format!("unsupported dtype {other}"))),
        };
        let elements: u64 = entry.shape.iter().try_fold(1u64, |product, &dim| product.checked_mul(dim)).ok_or_else(|| corrupt("shape overflows"))?;
        let bytes = entry.end - entry.start;
        if elements.checked_mul(kind.elt_size_in_bytes() as u64) != Some(bytes) {
            return Err(corrupt(&format!("{bytes} bytes do not hold {elements} {} values", entry.dtype)));
        }
        let mut data = vec![0u8; bytes as usize];
        file.read_exact(&mut data).with_context(|| format!("cannot read {name}"))?;
        position = entry.end;
        let shape: Vec<i64> = entry.shape.iter().map(|&dim| dim as i64).collect();
        let tensor = Tensor::f_from_data_size(&data, &shape, kind)?;
        drop(data);
        each(entry.name, tensor)?;
    }
    Ok(())
}

/// One tensor of a safetensors header; `start` and `end` are offsets into the data section.
struct HeaderEntry {
    name: String,
    dtype: String,
    shape: Vec<u64>,
    start: u64,
    end: u64,
}

struct SafetensorsHeader {
    tensors: Vec<HeaderEntry>,
    /// Where the data section begins in the file.
    data_start: u64,
}

fn read_safetensors_header(path: &Path, file_len: u64) -> Result<SafetensorsHeader> {
    let name = path.display();
    let corrupt = |what: String| anyhow!("the weights file {name} is truncated or corrupt ({what}); delete it and fetch it again");
    let mut file = File::open(path).with_context(|| format!("cannot open {name}"))?;
    let mut len_bytes = [0u8; 8];
    file.read_exact(&mut len_bytes).map_err(|_| corrupt("shorter than a safetensors header".into()))?;
    let header_len = u64::from_le_bytes(len_bytes);
    if header_len > MAX_HEADER_BYTES || 8 + header_len > file_len {
        return Err(corrupt(format!("header length {header_len} does not fit in {file_len} bytes")));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header).map_err(|_| corrupt("header cut short".into()))?;
    let header: serde_json::Value = serde_json::from_slice(&header).map_err(|e| corrupt(format!("header is not JSON: {e}")))?;
    let entries = header.as_object().ok_or_else(|| corrupt("header is not a JSON object".into()))?;
    let mut tensors = Vec::new();
    let mut data_end = 0u64;
    for (tensor, info) in entries {
        if tensor == "__metadata__" {
            continue;
        }
        let offset = |index: usize| info.get("data_offsets").and_then(|offsets| offsets.get(index)).and_then(|offset| offset.as_u64());
        let (Some(start), Some(end)) = (offset(0), offset(1)) else {
            return Err(corrupt(format!("tensor {tensor} has no data_offsets")));
        };
        if start > end {
            return Err(corrupt(format!("tensor {tensor} ends before it starts")));
        }
        let dtype = info.get("dtype").and_then(|d| d.as_str()).unwrap_or_default().to_string();
        let shape = info
            .get("shape")
            .and_then(|s| s.as_array())
            .map(|dims| dims.iter().map(|d| d.as_u64()).collect::<Option<Vec<u64>>>())
            .ok_or_else(|| corrupt(format!("tensor {tensor} has no shape")))?
            .ok_or_else(|| corrupt(format!("tensor {tensor} has a shape that is not a list of sizes")))?;
        data_end = data_end.max(end);
        tensors.push(HeaderEntry { name: tensor.clone(), dtype, shape, start, end });
    }
    let expected = 8 + header_len + data_end;
    if expected != file_len {
        return Err(corrupt(format!("its header describes {expected} bytes but the file has {file_len}")));
    }
    Ok(SafetensorsHeader { tensors, data_start: 8 + header_len })
}

/// `rust_model.ot` and other libtorch archives are zip files; a cut-off download loses the
/// end-of-central-directory record, which is cheap to look for.
fn check_libtorch_archive(path: &Path, file_len: u64) -> Result<()> {
    let name = path.display();
    let mut file = File::open(path).with_context(|| format!("cannot open {name}"))?;
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic).map_err(|_| anyhow!("the weights file {name} is too short to be a libtorch archive"))?;
    if &magic != b"PK\x03\x04" {
        bail!("the weights file {name} is not a libtorch archive (rust_model.ot), a safetensors file nor a PyTorch checkpoint; use model.safetensors, pytorch_model.bin or rust_model.ot");
    }
    let tail_len = file_len.min(66_000);
    file.seek(SeekFrom::Start(file_len - tail_len))?;
    let mut tail = Vec::with_capacity(tail_len as usize);
    file.read_to_end(&mut tail)?;
    if !tail.windows(4).any(|w| w == b"PK\x05\x06") {
        bail!("the weights file {name} is truncated (its archive directory is missing); delete it and fetch it again");
    }
    Ok(())
}
