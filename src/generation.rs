//! Decoding settings: what one output (headline, abstract, bullets) is generated with, and where
//! each value came from (a preset, the model's own configuration files, or a default).
//!
//! A leaf module: `hub` (presets), `engine` (the model's configuration, the decoding loop) and
//! `pipeline` all use these types, and it uses none of them, so that no import circle forms
//! between `hub` and `engine`. It does not read files nor decide precedence between sources:
//! `engine::config` reads a model's configuration, presets come from `hub`.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// Decoding settings for one output (headline, abstract or bullets). Lengths are in tokens,
/// counted as Hugging Face's `generate(max_length=…)` counts them (decoder start token included).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationSettings {
    pub min_tokens: u32,
    pub max_tokens: u32,
    pub beams: u32,
    pub length_penalty: f64,
    pub no_repeat_ngram: u32,
    pub early_stopping: bool,
}

impl GenerationSettings {
    pub fn validate(&self, what: &str) -> Result<()> {
        if self.max_tokens == 0 || self.min_tokens > self.max_tokens {
            bail!("{what}: min_tokens ({}) must be at most max_tokens ({}), and max_tokens above 0", self.min_tokens, self.max_tokens);
        }
        if self.beams == 0 {
            bail!("{what}: beams must be at least 1");
        }
        if !(self.length_penalty > 0.0) {
            bail!("{what}: length_penalty must be above 0 (got {})", self.length_penalty);
        }
        Ok(())
    }
}

/// Decoding settings for each of the three outputs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSettings {
    pub headline: GenerationSettings,
    #[serde(rename = "abstract")]
    pub abstract_: GenerationSettings,
    pub bullets: GenerationSettings,
}

/// For one output: the source of each setting, by field name (`max_tokens`, `beams`, …, and
/// `prefix` for the model's input prefix), e.g. `"generation_config.json max_length"`.
pub type SettingSources = BTreeMap<String, String>;

/// The settings of a model's three outputs and where each value came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub settings: OutputSettings,
    pub headline_sources: SettingSources,
    pub abstract_sources: SettingSources,
    pub bullets_sources: SettingSources,
}

/// The names of `GenerationSettings`' fields, in the order they are reported.
pub const SETTING_FIELDS: [&str; 6] = ["min_tokens", "max_tokens", "beams", "length_penalty", "no_repeat_ngram", "early_stopping"];

impl Generation {
    /// Every value from one place (a preset, whose file is named in `source`).
    pub fn uniform(settings: OutputSettings, source: &str) -> Generation {
        let sources: SettingSources = SETTING_FIELDS.iter().map(|field| (field.to_string(), source.to_string())).collect();
        Generation { settings, headline_sources: sources.clone(), abstract_sources: sources.clone(), bullets_sources: sources }
    }

    /// Records where the input prefix came from, for every output.
    pub fn with_prefix_source(mut self, source: &str) -> Generation {
        for sources in [&mut self.headline_sources, &mut self.abstract_sources, &mut self.bullets_sources] {
            sources.insert("prefix".to_string(), source.to_string());
        }
        self
    }
}

/// The headline settings of a model that is not a preset (a Hub repository or a directory): a
/// model's configuration describes its summaries, not headlines. The same values as the
/// summarizer presets' `generation.headline`.
pub const HEADLINE_DEFAULTS: GenerationSettings =
    GenerationSettings { min_tokens: 3, max_tokens: 24, beams: 4, length_penalty: 1.0, no_repeat_ngram: 3, early_stopping: true };

/// How `HEADLINE_DEFAULTS` is named as a source in the output.
pub const HEADLINE_DEFAULTS_SOURCE: &str = "precis default (headline)";
