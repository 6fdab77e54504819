//! Models: the presets in `models/*.toml`, and turning `--model NAME|DIR` into local files.
//!
//! A preset name resolves through the standard Hugging Face cache (shared with Python users) and
//! downloads what is missing; a directory is used as it is. Submodules: `cache` (cache layout and
//! settings), `download` (fetching into the cache), `weights` (checking weights before loading).

pub mod cache;
pub mod download;
pub mod weights;

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::engine::seq2seq::{Architecture, GenerationSettings, ModelFiles, TokenizerFiles};
use cache::HubSettings;

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

/// Decoding settings for each of the three outputs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSettings {
    pub headline: GenerationSettings,
    #[serde(rename = "abstract")]
    pub abstract_: GenerationSettings,
    pub bullets: GenerationSettings,
}

/// One model preset, as written in `models/NAME.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub name: String,
    pub repo: String,
    pub revision: String,
    pub architecture: Architecture,
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

/// A model ready to load: where its files are and how to run it.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    /// What the user named: a preset name or a directory.
    pub spec: String,
    /// Hub repo id, or the directory for a local model.
    pub id: String,
    /// Pinned revision, or "local".
    pub revision: String,
    pub architecture: Architecture,
    pub prefix: String,
    pub window: usize,
    pub generation: OutputSettings,
    pub files: ModelFiles,
    pub license: String,
}

/// Resolves a preset name or a directory to local files, downloading a preset's missing files.
pub fn resolve(spec: &str, hub: &HubSettings) -> Result<ResolvedModel> {
    if Path::new(spec).is_dir() {
        return resolve_directory(Path::new(spec));
    }
    let preset = find_preset(spec)?.ok_or_else(|| unknown_model(spec))?;
    let files = fetch_preset_files(&preset, hub)?;
    Ok(ResolvedModel {
        spec: spec.to_string(),
        id: preset.repo.clone(),
        revision: preset.revision.clone(),
        architecture: preset.architecture,
        prefix: preset.prefix.clone(),
        window: preset.window,
        generation: preset.generation,
        files,
        license: preset.license.clone(),
    })
}

/// Which `--model` values are not usable at all (user mistakes), as opposed to a preset whose
/// files are merely unavailable right now. Checked before any work starts.
pub fn check_spec(spec: &str) -> Result<()> {
    if Path::new(spec).is_dir() {
        return resolve_directory(Path::new(spec)).map(|_| ());
    }
    if find_preset(spec)?.is_some() {
        return Ok(());
    }
    Err(unknown_model(spec))
}

fn unknown_model(spec: &str) -> anyhow::Error {
    let names = preset_names();
    if Path::new(spec).exists() {
        anyhow!("--model {spec}: not a directory; give a model directory (config.json, weights, tokenizer) or a preset name ({names})")
    } else {
        anyhow!("unknown model '{spec}': not a preset and not a directory. Presets: {names} (see `precis models list`)")
    }
}

/// Downloads (or finds in the cache) every file a preset needs.
pub fn fetch_preset_files(preset: &Preset, hub: &HubSettings) -> Result<ModelFiles> {
    let fetch_one = |candidates: &[&str]| download::fetch_first(hub, &preset.repo, &preset.revision, candidates);
    let (_, config) = fetch_one(&["config.json"]).map_err(|e| anyhow!("model {}: {e}", preset.name))?;
    let weight_names: Vec<&str> = preset.weights.iter().map(String::as_str).collect();
    let (_, weights) = fetch_one(&weight_names).map_err(|e| anyhow!("model {}: {e}", preset.name))?;
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
            return Ok(ModelFiles { config, weights, tokenizer });
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

/// A local model directory: files are found by name, the architecture from config.json's
/// `model_type`, and decoding settings from the preset that is the default for that architecture.
pub fn resolve_directory(dir: &Path) -> Result<ResolvedModel> {
    let shown = dir.display();
    let config = dir.join("config.json");
    if !config.is_file() {
        bail!("model directory {shown} has no config.json; a model directory needs config.json, weights (model.safetensors or rust_model.ot) and a tokenizer");
    }
    let config_text = std::fs::read_to_string(&config).with_context(|| format!("cannot read {}", config.display()))?;
    let config_json: serde_json::Value =
        serde_json::from_str(&config_text).with_context(|| format!("{} is not valid JSON", config.display()))?;
    let model_type = config_json.get("model_type").and_then(|v| v.as_str()).unwrap_or("");
    let architecture = match model_type {
        "bart" => Architecture::Bart,
        "pegasus" => Architecture::Pegasus,
        "t5" => Architecture::T5,
        other => bail!("model directory {shown}: config.json says model_type \"{other}\"; precis runs bart, pegasus and t5 models"),
    };
    let weights = ["model.safetensors", "rust_model.ot"]
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            let pickle = if dir.join("pytorch_model.bin").is_file() {
                " (it has pytorch_model.bin, which libtorch cannot read from Rust: re-save it with transformers' save_pretrained to get model.safetensors)"
            } else {
                ""
            };
            anyhow!("model directory {shown} has no weights: expected model.safetensors or rust_model.ot{pickle}")
        })?;
    let tokenizer = if dir.join("tokenizer.json").is_file() {
        let map = dir.join("special_tokens_map.json");
        TokenizerFiles::Json { tokenizer: dir.join("tokenizer.json"), special_tokens_map: map.is_file().then_some(map) }
    } else if dir.join("vocab.json").is_file() && dir.join("merges.txt").is_file() {
        TokenizerFiles::VocabMerges { vocab: dir.join("vocab.json"), merges: dir.join("merges.txt") }
    } else if dir.join("spiece.model").is_file() {
        TokenizerFiles::SentencePiece { model: dir.join("spiece.model") }
    } else {
        bail!("model directory {shown} has no tokenizer: expected tokenizer.json, vocab.json + merges.txt, or spiece.model");
    };
    let defaults = presets()?
        .into_iter()
        .find(|p| p.architecture == architecture && p.name == default_preset_for(architecture))
        .ok_or_else(|| anyhow!("no default preset for {}", architecture.name()))?;
    let prefix = match architecture {
        Architecture::T5 => config_json.get("prefix").and_then(|v| v.as_str()).unwrap_or("summarize: ").to_string(),
        _ => String::new(),
    };
    let window = match architecture {
        Architecture::T5 => config_json.get("n_positions").and_then(|v| v.as_u64()).map(|v| v as usize).unwrap_or(512),
        _ => config_json.get("max_position_embeddings").and_then(|v| v.as_u64()).map(|v| v as usize).unwrap_or(1024),
    };
    Ok(ResolvedModel {
        spec: dir.display().to_string(),
        id: dir.display().to_string(),
        revision: "local".to_string(),
        architecture,
        prefix,
        window,
        generation: defaults.generation,
        files: ModelFiles { config, weights, tokenizer },
        license: "see the model's own card".to_string(),
    })
}

fn default_preset_for(architecture: Architecture) -> &'static str {
    match architecture {
        Architecture::Bart => "distilbart-cnn-12-6",
        Architecture::Pegasus => "pegasus-cnn-dailymail",
        Architecture::T5 => "t5-small",
    }
}
