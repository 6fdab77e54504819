//! Summary length presets: the one place where short / medium / long are defined.
//!
//! `summarize --length` and `compare` both read these numbers; the README's table is
//! written from them. Presets are word budgets because that is what readers count; `compare`
//! also takes budgets in words or sentences directly ([`Budget`]).

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

    /// The preset as a word budget.
    pub fn budget(self) -> Budget {
        Budget::Words(self.target_words())
    }
}

/// How long one summary may be. Serialized as `{"words": 40}` or `{"sentences": 3}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Budget {
    /// At most this many words for extractive output; within [`ABSTRACTIVE_WORD_TOLERANCE`]
    /// of it for a model's output.
    Words(usize),
    /// At most this many whole sentences.
    Sentences(usize),
}

impl Budget {
    /// "40 words", "1 sentence", "3 sentences".
    pub fn describe(self) -> String {
        match self {
            Budget::Words(1) => "1 word".to_string(),
            Budget::Words(n) => format!("{n} words"),
            Budget::Sentences(1) => "1 sentence".to_string(),
            Budget::Sentences(n) => format!("{n} sentences"),
        }
    }

    /// The word counts a model's output must fall in to meet a word budget (inclusive), or
    /// `None` for a sentence budget.
    pub fn abstractive_word_range(self) -> Option<(usize, usize)> {
        match self {
            Budget::Words(words) => {
                // Integer arithmetic: 0.85 × 100 in floating point is just over 85.
                let lower = (words * (100 - ABSTRACTIVE_WORD_TOLERANCE_PERCENT)).div_ceil(100);
                let upper = words * (100 + ABSTRACTIVE_WORD_TOLERANCE_PERCENT) / 100;
                Some((lower.max(1), upper.max(1)))
            }
            Budget::Sentences(_) => None,
        }
    }
}

/// One summary length asked of `compare`, with the name it is shown under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedBudget {
    /// "short" for a preset, else the budget described ("25 words", "3 sentences").
    pub label: String,
    pub budget: Budget,
}

impl NamedBudget {
    pub fn preset(preset: LengthPreset) -> NamedBudget {
        NamedBudget { label: preset.name().to_string(), budget: preset.budget() }
    }

    pub fn plain(budget: Budget) -> NamedBudget {
        NamedBudget { label: budget.describe(), budget }
    }
}

/// A model cannot be steered to an exact word count: its output (trimmed at a sentence
/// boundary) may miss a word budget by this share either way. Extractive output never exceeds it.
pub const ABSTRACTIVE_WORD_TOLERANCE: f64 = ABSTRACTIVE_WORD_TOLERANCE_PERCENT as f64 / 100.0;
/// [`ABSTRACTIVE_WORD_TOLERANCE`] in percent.
pub const ABSTRACTIVE_WORD_TOLERANCE_PERCENT: usize = 15;
/// Largest word budget `compare` accepts (longer than any window's worth of summary).
pub const MAX_BUDGET_WORDS: usize = 1000;
/// Largest sentence budget `compare` accepts.
pub const MAX_BUDGET_SENTENCES: usize = 50;

/// Parses one `--words` value (clap value parser).
pub fn parse_word_budget(value: &str) -> Result<usize, String> {
    parse_budget(value, "word", MAX_BUDGET_WORDS)
}

/// Parses one `--sentences` value (clap value parser).
pub fn parse_sentence_budget(value: &str) -> Result<usize, String> {
    parse_budget(value, "sentence", MAX_BUDGET_SENTENCES)
}

fn parse_budget(value: &str, unit: &str, max: usize) -> Result<usize, String> {
    let count: usize = value
        .trim()
        .parse()
        .map_err(|_| format!("'{value}' is not a whole number; give {unit} budgets from 1 to {max}, separated by commas (e.g. 25,60,120)"))?;
    if (1..=max).contains(&count) {
        Ok(count)
    } else {
        Err(format!("a {unit} budget of {count} is out of range; give budgets from 1 to {max}"))
    }
}

/// Default number of bullet points.
pub const DEFAULT_BULLETS: usize = 4;
/// Hard cap on headline length, in words.
pub const HEADLINE_MAX_WORDS: usize = 14;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_word_budgets_in_increasing_order() {
        let budgets: Vec<Budget> = [LengthPreset::Short, LengthPreset::Medium, LengthPreset::Long].iter().map(|p| p.budget()).collect();
        assert_eq!(budgets, vec![Budget::Words(40), Budget::Words(80), Budget::Words(160)]);
        assert_eq!(NamedBudget::preset(LengthPreset::Short).label, "short");
        assert_eq!(NamedBudget::plain(Budget::Sentences(1)).label, "1 sentence");
        assert_eq!(serde_json::to_value(Budget::Words(25)).expect("json"), serde_json::json!({"words": 25}));
    }

    #[test]
    fn abstractive_word_range_is_fifteen_percent_either_way() {
        assert_eq!(Budget::Words(100).abstractive_word_range(), Some((85, 115)));
        assert_eq!(Budget::Words(25).abstractive_word_range(), Some((22, 28)));
        assert_eq!(Budget::Words(1).abstractive_word_range(), Some((1, 1)));
        assert_eq!(Budget::Sentences(3).abstractive_word_range(), None);
    }

    #[test]
    fn budget_values_are_checked() {
        assert_eq!(parse_word_budget(" 25 "), Ok(25));
        assert_eq!(parse_sentence_budget("3"), Ok(3));
        let zero = parse_word_budget("0").expect_err("zero");
        assert!(zero.contains("out of range") && zero.contains("1 to 1000"), "{zero}");
        let text = parse_word_budget("abc").expect_err("abc");
        assert!(text.contains("'abc' is not a whole number"), "{text}");
        assert!(parse_word_budget("-5").is_err());
        assert!(parse_sentence_budget("51").is_err());
    }
}
