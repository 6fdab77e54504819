//! Checks a weights file before libtorch sees it, and decides how it must be loaded.
//!
//! libtorch reports a truncated or foreign file with an internal assertion; reading the file's own
//! structure first turns those into messages that name the file and the fix. This is also where the
//! Hub's tied-embedding naming trap is detected (see `WeightsPlan::RenameTiedEmbedding`).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use crate::engine::seq2seq::Architecture;

/// How a weights file must be handed to rust-bert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightsPlan {
    /// Load the file as it is.
    AsIs,
    /// The shared embedding is stored under another of its tied names (SFconvertbot files since
    /// late 2023 keep `model.decoder.embed_tokens.weight` and list `model.shared.weight` only as an
    /// alias); rename `from` to `to` in memory while loading.
    RenameTiedEmbedding { from: String, to: String },
}

/// Largest safetensors header we accept; real ones are well under 1 MB.
const MAX_HEADER_BYTES: u64 = 100 * 1024 * 1024;

pub fn inspect(path: &Path, architecture: Architecture) -> Result<WeightsPlan> {
    let name = path.display();
    let metadata = std::fs::metadata(path).with_context(|| format!("the weights file {name} cannot be read"))?;
    if metadata.len() == 0 {
        bail!("the weights file {name} is empty; delete it and fetch the model again (`precis models pull NAME`)");
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("bin") | Some("pt") | Some("pth") => bail!(
            "the weights file {name} is a PyTorch pickle, which libtorch cannot read from Rust; \
             use a model.safetensors or rust_model.ot file (transformers' `save_pretrained` writes safetensors)"
        ),
        Some("safetensors") => inspect_safetensors(path, metadata.len(), architecture),
        _ => {
            check_libtorch_archive(path, metadata.len())?;
            Ok(WeightsPlan::AsIs)
        }
    }
}

/// Tensor names of a safetensors file, read from its header only.
pub fn safetensors_names(path: &Path) -> Result<Vec<String>> {
    let len = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?.len();
    let header = read_safetensors_header(path, len)?;
    Ok(header.into_iter().map(|(name, _)| name).collect())
}

fn read_safetensors_header(path: &Path, file_len: u64) -> Result<Vec<(String, u64)>> {
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
        let end = info
            .get("data_offsets")
            .and_then(|offsets| offsets.get(1))
            .and_then(|end| end.as_u64())
            .ok_or_else(|| corrupt(format!("tensor {tensor} has no data_offsets")))?;
        data_end = data_end.max(end);
        tensors.push((tensor.clone(), end));
    }
    let expected = 8 + header_len + data_end;
    if expected != file_len {
        return Err(corrupt(format!("its header describes {expected} bytes but the file has {file_len}")));
    }
    Ok(tensors)
}

fn inspect_safetensors(path: &Path, file_len: u64, architecture: Architecture) -> Result<WeightsPlan> {
    let tensors = read_safetensors_header(path, file_len)?;
    let has = |wanted: &str| tensors.iter().any(|(name, _)| name == wanted);
    let (shared, aliases): (&str, &[&str]) = match architecture {
        Architecture::Bart | Architecture::Pegasus => ("model.shared.weight", &["model.decoder.embed_tokens.weight", "model.encoder.embed_tokens.weight"]),
        Architecture::T5 => ("shared.weight", &["encoder.embed_tokens.weight", "decoder.embed_tokens.weight"]),
    };
    if has(shared) {
        return Ok(WeightsPlan::AsIs);
    }
    match aliases.iter().find(|alias| has(alias)) {
        Some(alias) => Ok(WeightsPlan::RenameTiedEmbedding { from: alias.to_string(), to: shared.to_string() }),
        None => bail!(
            "the weights file {} has no {shared} (nor a tied alias of it): it is not a {} model",
            path.display(),
            architecture.name()
        ),
    }
}

/// `rust_model.ot` and other libtorch archives are zip files; a cut-off download loses the
/// end-of-central-directory record, which is cheap to look for.
fn check_libtorch_archive(path: &Path, file_len: u64) -> Result<()> {
    let name = path.display();
    let mut file = File::open(path).with_context(|| format!("cannot open {name}"))?;
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic).map_err(|_| anyhow!("the weights file {name} is too short to be a libtorch archive"))?;
    if &magic != b"PK\x03\x04" {
        bail!("the weights file {name} is not a libtorch archive (rust_model.ot) nor safetensors; use model.safetensors or rust_model.ot");
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
