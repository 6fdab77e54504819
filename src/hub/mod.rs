//! Models as files: the presets in `models/*.toml`, and turning `--model NAME|OWNER/NAME[@REVISION]|DIR`
//! into local files.
//!
//! A preset name resolves through the standard Hugging Face cache (shared with Python users) and
//! downloads what is missing; any other Hub repository is listed by the Hub's model API (or, offline,
//! by its cache snapshot) and fetched the same way (`repo`); a directory is used as it is.
//! Submodules: `cache` (cache layout and settings), `download` (fetching into the cache), `repo`
//! (repositories by name: file lists and the choice of files), `weights` (checking and reading
//! weights files in every form), `pickle` (PyTorch's pickled tensors, read without Python).
//!
//! Files in, files out: it does not read a model's configuration (the engine does) and knows no
//! architecture; a preset's `architecture` is a label it shows.

pub mod cache;
pub mod download;
// Reading weights into tensors needs libtorch: only the model runtime has it.
#[cfg(feature = "model")]
pub mod pickle;
pub mod repo;
#[cfg(feature = "model")]
pub mod weights;

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

use crate::generation::{Generation, OutputSettings};
use cache::HubSettings;
use repo::RepoSpec;

/// The preset files, compiled in so the binary works from any directory.
const PRESET_SOURCES: &[(&str, &str)] = &[
    ("distilbart-cnn-12-6", include_str!("../../models/distilbart-cnn-12-6.toml")),
    ("distilbart-cnn-6-6", include_str!("../../models/distilbart-cnn-6-6.toml")),
    ("bart-large-cnn", include_str!("../../models/bart-large-cnn.toml")),
    ("pegasus-cnn-dailymail", include_str!("../../models/pegasus-cnn-dailymail.toml")),
    ("t5-small", include_str!("../../models/t5-small.toml")),
    ("t5-base", include_str!("../../models/t5-base.toml")),
    ("t5-small-headline", include_str!("../../models/t5-small-headline.toml")),
    ("t5-base-headline", include_str!("../../models/t5-base-headline.toml")),
];

/// The preset used for the abstract and the bullets unless `--model` says otherwise.
pub const DEFAULT_MODEL: &str = "distilbart-cnn-12-6";
/// The preset used for the headline unless `--headline-model` says otherwise.
pub const DEFAULT_HEADLINE_MODEL: &str = "t5-small-headline";

/// One model preset, as written in `models/NAME.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub name: String,
    pub repo: String,
    pub revision: String,
    /// config.json's `model_type` of the repository (shown in `precis models list`).
    pub architecture: String,
    pub license: String,
    pub description: String,
    #[serde(default)]
    pub prefix: String,
    pub window: usize,
    pub weights: Vec<String>,
    pub tokenizer: Vec<String>,
    #[serde(default)]
    pub notes: String,
    pub generation: OutputSettings,
}

/// The built-in presets, parsed and checked once per process.
pub fn presets() -> Result<Vec<Preset>> {
    static PARSED: std::sync::OnceLock<Result<Vec<Preset>, String>> = std::sync::OnceLock::new();
    PARSED.get_or_init(|| parse_presets().map_err(|e| format!("{e:#}"))).clone().map_err(|e| anyhow!(e))
}

fn parse_presets() -> Result<Vec<Preset>> {
    PRESET_SOURCES
        .iter()
        .map(|(name, source)| {
            let preset: Preset = toml::from_str(source).with_context(|| format!("built-in preset models/{name}.toml is invalid"))?;
            for (what, settings) in [("headline", &preset.generation.headline), ("abstract", &preset.generation.abstract_), ("bullets", &preset.generation.bullets)] {
                settings.validate(&format!("preset {name}, generation.{what}"))?;
            }
            Ok(preset)
        })
        .collect()
}

/// Preset names, comma-separated, for messages that list the choices.
pub fn preset_names() -> String {
    PRESET_SOURCES.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
}

pub fn find_preset(name: &str) -> Result<Option<Preset>> {
    Ok(presets()?.into_iter().find(|p| p.name == name || p.repo == name))
}

/// The tokenizer files of a model, in order of preference.
#[derive(Debug, Clone)]
pub enum TokenizerFiles {
    /// A Hugging Face `tokenizer.json`, with the `special_tokens_map.json` rust-bert needs beside it.
    Json { tokenizer: PathBuf, special_tokens_map: Option<PathBuf> },
    /// Byte-level BPE as `vocab.json` + `merges.txt` (BART / RoBERTa style).
    VocabMerges { vocab: PathBuf, merges: PathBuf },
    /// A SentencePiece model (`spiece.model`; T5 and PEGASUS).
    SentencePiece { model: PathBuf },
}

/// Everything needed to load one model from local files.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub config: PathBuf,
    /// `generation_config.json`, when the model has one.
    pub generation_config: Option<PathBuf>,
    /// One weights file, or the index (`*.index.json`) of shards beside it.
    pub weights: PathBuf,
    pub tokenizer: TokenizerFiles,
    /// The model card (`README.md`), when there is one.
    pub card: Option<PathBuf>,
}

impl ModelFiles {
    /// The files of a model directory laid out like a Hub repository (config.json, weights,
    /// tokenizer; the best form of each that is there).
    pub fn in_directory(dir: &Path) -> Result<ModelFiles> {
        let what = format!("model directory {}", dir.display());
        let choice = repo::choose_files(&repo::list_dir(dir), &what)?;
        repo::files_in(dir, &choice)
    }
}

/// A model ready to load: where its files are, and what a preset decided about running it.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    /// What the user named: a preset name, a repository or a directory.
    pub spec: String,
    /// Hub repo id, or the directory for a local model.
    pub id: String,
    /// The commit the files come from (a preset's pinned revision), or "local".
    pub revision: String,
    pub files: ModelFiles,
    pub license: String,
    /// A preset's input prefix; `None`: the model's own configuration decides.
    pub prefix: Option<String>,
    /// A preset's input window; `None`: the model's own configuration decides.
    pub window: Option<usize>,
    /// A preset's decoding settings; `None`: the model's own configuration decides.
    pub generation: Option<Generation>,
}

/// Resolves a preset name, a Hub repository (`OWNER/NAME[@REVISION]`) or a directory to local
/// files, downloading what is missing from the cache.
pub fn resolve(spec: &str, hub: &HubSettings) -> Result<ResolvedModel> {
    if Path::new(spec).is_dir() {
        return resolve_directory(Path::new(spec));
    }
    if let Some(preset) = find_preset(spec)? {
        let files = fetch_preset_files(&preset, hub)?;
        return Ok(ResolvedModel {
            spec: spec.to_string(),
            id: preset.repo.clone(),
            revision: preset.revision.clone(),
            files,
            license: preset.license.clone(),
            prefix: Some(preset.prefix.clone()),
            window: Some(preset.window),
            generation: Some(
                Generation::uniform(preset.generation, &format!("preset {} (models/{}.toml)", preset.name, preset.name))
                    .with_prefix_source(&format!("preset {}: {:?}", preset.name, preset.prefix)),
            ),
        });
    }
    let repo = RepoSpec::parse(spec).ok_or_else(|| unknown_model(spec))?;
    let (commit, files) = repo::locate(&repo, hub, false)?;
    Ok(ResolvedModel {
        spec: spec.to_string(),
        id: repo.repo.clone(),
        revision: commit,
        license: repo::license_of(&files),
        files,
        prefix: None,
        window: None,
        generation: None,
    })
}

/// Which `--model` values are not usable at all (user mistakes), as opposed to a model whose
/// files are merely unavailable right now. Checked before any work starts.
pub fn check_spec(spec: &str) -> Result<()> {
    if Path::new(spec).is_dir() {
        return resolve_directory(Path::new(spec)).map(|_| ());
    }
    if find_preset(spec)?.is_some() || RepoSpec::parse(spec).is_some() {
        return Ok(());
    }
    Err(unknown_model(spec))
}

fn unknown_model(spec: &str) -> anyhow::Error {
    let names = preset_names();
    if Path::new(spec).exists() {
        anyhow!("--model {spec}: not a directory; give a model directory (config.json, weights, tokenizer), a Hub repository (OWNER/NAME[@REVISION]) or a preset name ({names})")
    } else {
        anyhow!(
            "unknown model '{spec}': not a preset, not a Hub repository name (OWNER/NAME or OWNER/NAME@REVISION) and not a directory. \
             Presets: {names} (see `precis models list`)"
        )
    }
}

/// Downloads (or finds in the cache) every file a preset needs.
pub fn fetch_preset_files(preset: &Preset, hub: &HubSettings) -> Result<ModelFiles> {
    let fetch_one = |candidates: &[&str]| download::fetch_first(hub, &preset.repo, &preset.revision, candidates);
    let (_, config) = fetch_one(&["config.json"]).map_err(|e| anyhow!("model {}: {e}", preset.name))?;
    let weight_names: Vec<&str> = preset.weights.iter().map(String::as_str).collect();
    let (weights_name, weights) = fetch_one(&weight_names).map_err(|e| anyhow!("model {}: {e}", preset.name))?;
    if weights_name.ends_with(".index.json") {
        for shard in shard_names(&weights)? {
            download::fetch(hub, &preset.repo, &preset.revision, &shard).map_err(|e| anyhow!("model {}: {e}", preset.name))?;
        }
    }
    let mut last_error = None;
    for candidate in &preset.tokenizer {
        let parts: Vec<&str> = candidate.split('+').collect();
        let mut paths = Vec::new();
        for part in &parts {
            match download::fetch(hub, &preset.repo, &preset.revision, part) {
                Ok(path) => paths.push(path),
                Err(e) => {
                    last_error = Some(e);
                    break;
                }
            }
        }
        if paths.len() == parts.len() {
            let special_tokens_map = if parts == ["tokenizer.json"] {
                download::fetch(hub, &preset.repo, &preset.revision, "special_tokens_map.json").ok()
            } else {
                None
            };
            let tokenizer = tokenizer_files(&parts, paths, special_tokens_map)?;
            // A preset's decoding settings are its own: its generation_config.json is not fetched.
            return Ok(ModelFiles { config, generation_config: None, weights, tokenizer, card: None });
        }
    }
    match last_error {
        Some(e) => Err(anyhow!("model {}: no tokenizer could be fetched: {e}", preset.name)),
        None => bail!("model {}: the preset lists no tokenizer files", preset.name),
    }
}

fn tokenizer_files(parts: &[&str], paths: Vec<PathBuf>, special_tokens_map: Option<PathBuf>) -> Result<TokenizerFiles> {
    match (parts, paths.as_slice()) {
        (["tokenizer.json"], [tokenizer]) => Ok(TokenizerFiles::Json { tokenizer: tokenizer.clone(), special_tokens_map }),
        (["vocab.json", "merges.txt"], [vocab, merges]) => Ok(TokenizerFiles::VocabMerges { vocab: vocab.clone(), merges: merges.clone() }),
        (["spiece.model"], [model]) => Ok(TokenizerFiles::SentencePiece { model: model.clone() }),
        _ => bail!("unsupported tokenizer files {}", parts.join("+")),
    }
}

/// A local model directory, laid out like a Hub repository: its configuration decides how it runs
/// (the engine reads it), its card (`README.md`) states its license.
pub fn resolve_directory(dir: &Path) -> Result<ResolvedModel> {
    let files = ModelFiles::in_directory(dir)?;
    let license = files.card.as_deref().and_then(repo::card_license).unwrap_or_else(|| "see the model's own card".to_string());
    Ok(ResolvedModel {
        spec: dir.display().to_string(),
        id: dir.display().to_string(),
        revision: "local".to_string(),
        files,
        license,
        prefix: None,
        window: None,
        generation: None,
    })
}

/// The preset whose settings a model of this `model_type` (config.json) falls back to when its
/// own configuration sets no summary length.
pub fn default_preset_for(model_type: &str) -> Option<&'static str> {
    match model_type {
        "bart" => Some("distilbart-cnn-12-6"),
        "pegasus" => Some("pegasus-cnn-dailymail"),
        "t5" => Some("t5-small"),
        _ => None,
    }
}

/// The shard files a `*.index.json` names (its `weight_map` values), each once, in order.
pub fn shard_names(index: &Path) -> Result<Vec<String>> {
    let name = index.display();
    let text = std::fs::read_to_string(index).with_context(|| format!("cannot read the weights index {name}"))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| anyhow!("the weights index {name} is not valid JSON ({e}); delete it and fetch the model again"))?;
    let map = json
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| anyhow!("the weights index {name} has no weight_map"))?;
    let mut shards: Vec<String> = Vec::new();
    for (tensor, shard) in map {
        let shard = shard.as_str().ok_or_else(|| anyhow!("the weights index {name} maps {tensor} to something that is not a file name"))?;
        if cache::check_filename(shard).is_err() || shard.ends_with(".index.json") {
            bail!("the weights index {name} names the shard {shard:?}, which is not a file beside it");
        }
        if !shards.iter().any(|known| known == shard) {
            shards.push(shard.to_string());
        }
    }
    if shards.is_empty() {
        bail!("the weights index {name} names no shards");
    }
    shards.sort();
    Ok(shards)
}
