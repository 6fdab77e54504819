//! A model's own configuration: `config.json` (and `generation_config.json`) → the network that
//! runs it (`Architecture`), the token ids that drive decoding, its input window and prefix, and
//! its decoding defaults with the source of each value.
//!
//! Decoding defaults are read as transformers reads them, per setting: `generation_config.json`,
//! then `task_specific_params.summarization` of config.json (what transformers' summarization
//! pipeline applies), then config.json's own fields, then transformers' defaults. A model whose
//! configuration sets no length at all (no `max_length` / `max_new_tokens` anywhere) gets the
//! abstract settings of precis's default preset for its architecture instead of transformers'
//! 20 tokens. The headline of a model that is not a preset uses precis's headline defaults
//! (`generation::HEADLINE_DEFAULTS`).
//!
//! It does not build networks (`network`) nor read weights or tokenizers (`seq2seq`).

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::decode::SpecialTokens;
use crate::generation::{Generation, GenerationSettings, OutputSettings, SettingSources, HEADLINE_DEFAULTS, HEADLINE_DEFAULTS_SOURCE};
use crate::hub::{self, ModelFiles};

/// The model families precis can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    Bart,
    Pegasus,
    T5,
}

impl Architecture {
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Bart => "bart",
            Architecture::Pegasus => "pegasus",
            Architecture::T5 => "t5",
        }
    }

    /// The architecture of config.json's `model_type`, or an error naming the ones precis runs.
    pub fn from_model_type(model_type: &str, config: &Path) -> Result<Architecture> {
        match model_type {
            "bart" => Ok(Architecture::Bart),
            "pegasus" => Ok(Architecture::Pegasus),
            "t5" => Ok(Architecture::T5),
            "" => bail!("{} has no model_type; precis runs bart, pegasus and t5 models (BART/DistilBART, PEGASUS, T5/FLAN-T5)", config.display()),
            other => bail!(
                "{} says model_type \"{other}\", an architecture precis does not run; precis runs bart, pegasus and t5 models \
                 (BART/DistilBART, PEGASUS, T5 v1.0, T5 v1.1 and FLAN-T5)",
                config.display()
            ),
        }
    }
}

/// What a model's configuration files say about running it.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub architecture: Architecture,
    /// config.json, with the legacy keys transformers understands mapped (what the networks read).
    pub config: Value,
    pub tokens: SpecialTokens,
    /// Positions the weights have (BART and PEGASUS); T5's relative positions have no limit.
    pub max_positions: Option<usize>,
    /// The input window the configuration implies.
    pub window: usize,
    /// The input prefix (`summarize: ` for T5 checkpoints that use one) and where it came from.
    pub prefix: String,
    pub prefix_source: String,
    /// Decoding defaults for each output, with their sources.
    pub generation: Generation,
}

/// Reads config.json and generation_config.json.
pub fn read(files: &ModelFiles) -> Result<ModelConfig> {
    let mut config = read_json(&files.config, "model config")?;
    let generation_config = files.generation_config.as_deref().map(|path| read_json(path, "generation config")).transpose()?;
    let object = config.as_object_mut().ok_or_else(|| anyhow!("the model config {} is not a JSON object", files.config.display()))?;
    let model_type = object.get("model_type").and_then(|v| v.as_str()).unwrap_or_default().to_string();
    let architecture = Architecture::from_model_type(&model_type, &files.config)?;
    if let Architecture::Bart | Architecture::Pegasus = architecture {
        // transformers maps the legacy flag to forced_bos_token_id.
        let legacy_force_bos = object.get("force_bos_token_to_be_generated").and_then(|v| v.as_bool()) == Some(true);
        if legacy_force_bos && object.get("forced_bos_token_id").map_or(true, |v| v.is_null()) {
            let bos = object.get("bos_token_id").cloned().unwrap_or(serde_json::json!(0));
            object.insert("forced_bos_token_id".into(), bos);
        }
    }
    let tokens = special_tokens(&config, generation_config.as_ref()).with_context(|| format!("in {}", files.config.display()))?;
    let max_positions = match architecture {
        Architecture::Bart | Architecture::Pegasus => config.get("max_position_embeddings").and_then(|v| v.as_u64()).map(|v| v as usize),
        Architecture::T5 => None,
    };
    let window = match architecture {
        Architecture::T5 => config.get("n_positions").and_then(|v| v.as_u64()).map(|v| v as usize).unwrap_or(512),
        _ => max_positions.unwrap_or(1024),
    };
    let summarization = config.get("task_specific_params").and_then(|tasks| tasks.get("summarization")).filter(|v| v.is_object()).cloned();
    let (prefix, prefix_source) = match (
        summarization.as_ref().and_then(|s| s.get("prefix")).and_then(|p| p.as_str()),
        config.get("prefix").and_then(|p| p.as_str()),
    ) {
        (Some(prefix), _) => (prefix.to_string(), format!("config.json task_specific_params.summarization prefix {prefix:?}")),
        (None, Some(prefix)) => (prefix.to_string(), format!("config.json prefix {prefix:?}")),
        (None, None) => (String::new(), "none: the model's configuration sets no prefix".to_string()),
    };
    let sources = [
        ("generation_config.json", generation_config.as_ref()),
        ("config.json task_specific_params.summarization", summarization.as_ref()),
        ("config.json", Some(&config)),
    ];
    let abstract_ = configured_settings(&sources, architecture).with_context(|| format!("the decoding settings of {}", files.config.display()))?;
    let (abstract_settings, abstract_sources) = abstract_;
    let headline_sources: SettingSources =
        crate::generation::SETTING_FIELDS.iter().map(|field| (field.to_string(), HEADLINE_DEFAULTS_SOURCE.to_string())).collect();
    let generation = Generation {
        settings: OutputSettings { headline: HEADLINE_DEFAULTS, abstract_: abstract_settings, bullets: abstract_settings },
        headline_sources,
        bullets_sources: abstract_sources.clone(),
        abstract_sources,
    }
    .with_prefix_source(&prefix_source);
    Ok(ModelConfig { architecture, config, tokens, max_positions, window, prefix, prefix_source, generation })
}

fn read_json(path: &Path, what: &str) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the {what} {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("the {what} {} is not valid JSON; fetch it again or fix the file", path.display()))
}

/// The token ids of generation_config.json where it gives them (transformers' `generate` reads
/// that file), else config.json's.
fn special_tokens(config: &Value, generation_config: Option<&Value>) -> Result<SpecialTokens> {
    let mut merged = config.clone();
    if let (Some(merged), Some(Value::Object(generation))) = (merged.as_object_mut(), generation_config) {
        for key in ["decoder_start_token_id", "bos_token_id", "eos_token_id", "pad_token_id", "forced_bos_token_id", "forced_eos_token_id"] {
            if let Some(value) = generation.get(key).filter(|v| !v.is_null()) {
                merged.insert(key.to_string(), value.clone());
            }
        }
    }
    SpecialTokens::from_config(&merged)
}

/// One setting as the first source that has it gives it.
struct Found<'a> {
    value: &'a Value,
    source: String,
}

fn find<'a>(sources: &[(&str, Option<&'a Value>)], keys: &[&str]) -> Option<Found<'a>> {
    for (name, source) in sources {
        let Some(source) = source else { continue };
        for key in keys {
            if let Some(value) = source.get(*key).filter(|v| !v.is_null()) {
                return Some(Found { value, source: format!("{name} {key}") });
            }
        }
    }
    None
}

/// The abstract's decoding settings from the model's configuration, with their sources.
fn configured_settings(sources: &[(&str, Option<&Value>)], architecture: Architecture) -> Result<(GenerationSettings, SettingSources)> {
    let mut result = SettingSources::new();
    // The decoder start token counts in transformers' `max_length`, not in `max_new_tokens`.
    let length = |keys: [&str; 2], result: &mut SettingSources, field: &str| -> Result<Option<u32>> {
        let Some(found) = find(sources, &keys) else { return Ok(None) };
        let number = found.value.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| anyhow!("{} is {}, not a token count", found.source, found.value))?;
        let tokens = if found.source.ends_with("_new_tokens") { number.saturating_add(1) } else { number };
        result.insert(field.to_string(), found.source);
        Ok(Some(tokens))
    };
    let max_tokens = length(["max_new_tokens", "max_length"], &mut result, "max_tokens")?;
    let min_tokens = length(["min_new_tokens", "min_length"], &mut result, "min_tokens")?;
    let Some(max_tokens) = max_tokens else {
        // No length anywhere: transformers would stop at 20 tokens. precis's default preset for
        // the architecture gives a summary's length instead, and says so.
        let preset_name = hub::default_preset_for(architecture.name()).ok_or_else(|| anyhow!("no default preset for {}", architecture.name()))?;
        let preset = hub::find_preset(preset_name)?.ok_or_else(|| anyhow!("the preset {preset_name} is missing"))?;
        let source = format!("precis default: the abstract settings of preset {preset_name} (the model's configuration sets no max_length)");
        let sources = crate::generation::SETTING_FIELDS.iter().map(|field| (field.to_string(), source.clone())).collect();
        return Ok((preset.generation.abstract_, sources));
    };
    let mut take = |keys: &[&str], field: &str| -> Option<&Value> {
        let found = find(sources, keys);
        result.insert(field.to_string(), found.as_ref().map_or_else(|| "transformers default".to_string(), |f| f.source.clone()));
        found.map(|f| f.value)
    };
    let beams = match take(&["num_beams"], "beams") {
        Some(value) => value.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| anyhow!("num_beams is {value}, not a count"))?,
        None => 1,
    };
    let length_penalty = match take(&["length_penalty"], "length_penalty") {
        Some(value) => value.as_f64().ok_or_else(|| anyhow!("length_penalty is {value}, not a number"))?,
        None => 1.0,
    };
    let no_repeat_ngram = match take(&["no_repeat_ngram_size"], "no_repeat_ngram") {
        Some(value) => value.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| anyhow!("no_repeat_ngram_size is {value}, not a size"))?,
        None => 0,
    };
    let early_stopping = match take(&["early_stopping"], "early_stopping") {
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(never)) if never == "never" => {
            // precis's beam search knows true and false; "never" is closest to false.
            if let Some(source) = result.get_mut("early_stopping") {
                source.push_str(" (\"never\", run as false)");
            }
            false
        }
        Some(value) => bail!("early_stopping is {value}, not true or false"),
        None => false,
    };
    if !result.contains_key("min_tokens") {
        result.insert("min_tokens".to_string(), "transformers default".to_string());
    }
    let settings = GenerationSettings { min_tokens: min_tokens.unwrap_or(0), max_tokens, beams, length_penalty, no_repeat_ngram, early_stopping };
    settings.validate("the model's configured decoding settings")?;
    Ok((settings, result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_setting_comes_from_the_first_source_that_has_it() {
        let generation = json!({"max_length": 62, "num_beams": 6, "decoder_start_token_id": 2});
        let summarization = json!({"max_length": 142, "min_length": 56, "length_penalty": 2.0, "prefix": " "});
        let config = json!({"min_length": 11, "no_repeat_ngram_size": 3, "early_stopping": true});
        let sources = [("generation_config.json", Some(&generation)), ("config.json task_specific_params.summarization", Some(&summarization)), ("config.json", Some(&config))];
        let (settings, from) = configured_settings(&sources, Architecture::Bart).unwrap();
        assert_eq!(settings, GenerationSettings { min_tokens: 56, max_tokens: 62, beams: 6, length_penalty: 2.0, no_repeat_ngram: 3, early_stopping: true });
        assert_eq!(from["max_tokens"], "generation_config.json max_length");
        assert_eq!(from["min_tokens"], "config.json task_specific_params.summarization min_length");
        assert_eq!(from["no_repeat_ngram"], "config.json no_repeat_ngram_size");
    }

    #[test]
    fn new_token_counts_add_the_decoder_start_and_missing_values_are_transformers_defaults() {
        let generation = json!({"max_new_tokens": 40});
        let (settings, from) = configured_settings(&[("generation_config.json", Some(&generation))], Architecture::T5).unwrap();
        assert_eq!(settings, GenerationSettings { min_tokens: 0, max_tokens: 41, beams: 1, length_penalty: 1.0, no_repeat_ngram: 0, early_stopping: false });
        assert_eq!(from["beams"], "transformers default");
        assert_eq!(from["min_tokens"], "transformers default");
    }

    #[test]
    fn no_length_anywhere_takes_the_architectures_default_preset() {
        let config = json!({"num_beams": 2});
        let (settings, from) = configured_settings(&[("config.json", Some(&config))], Architecture::Bart).unwrap();
        let preset = hub::find_preset("distilbart-cnn-12-6").unwrap().unwrap();
        assert_eq!(settings, preset.generation.abstract_);
        assert!(from["beams"].contains("distilbart-cnn-12-6"), "{from:?}");
    }

    #[test]
    fn unsupported_architectures_name_the_supported_ones() {
        let error = Architecture::from_model_type("mbart", Path::new("x/config.json")).unwrap_err().to_string();
        assert!(error.contains("mbart") && error.contains("bart, pegasus and t5"), "{error}");
    }
}
