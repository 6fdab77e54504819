//! Summary length presets: the one place where short / medium / long are defined.
//!
//! `summarize --length` and `compare` both read these numbers; the README's table is
//! written from them. Budgets are in words because that is what readers count.

use serde::Serialize;

/// A named summary length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LengthPreset {
    /// About 40 words: one or two sentences, a teaser.
    Short,
    /// About 80 words: three or four sentences, a brief (the default).
    Medium,
    /// About 160 words: a full paragraph.
    Long,
}

impl LengthPreset {
    /// The word budget of the abstract.
    pub fn target_words(self) -> usize {
        match self {
            LengthPreset::Short => 40,
            LengthPreset::Medium => 80,
            LengthPreset::Long => 160,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LengthPreset::Short => "short",
            LengthPreset::Medium => "medium",
            LengthPreset::Long => "long",
        }
    }
}

/// Default number of bullet points.
pub const DEFAULT_BULLETS: usize = 4;
/// Hard cap on headline length, in words.
pub const HEADLINE_MAX_WORDS: usize = 14;
