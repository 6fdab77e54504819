//! `POST /v1/check` and the page's marking of unsupported spans: the server's face of
//! `faithfulness` (no model; it runs on tokio's blocking pool, never on the model thread).
//! Routes are written against [`FaithfulnessCheck`], so a test can give them a check that fails.

use serde::Serialize;

use crate::faithfulness;

/// One stretch of a summary output that the article does not support.
#[derive(Debug, Clone, Serialize)]
pub struct FlaggedSpan {
    /// Character offsets (Unicode scalar values) into the summary text, `start..end`.
    pub start: usize,
    pub end: usize,
    /// Why it was flagged, for a person ("the number 12 is not in the article").
    pub reason: String,
}

/// What a check answers for one (article, summary) pair. The page marks `flagged`; the whole
/// check (scores, sentences, alignment, span kinds) goes in `details`.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub flagged: Vec<FlaggedSpan>,
    pub details: serde_json::Value,
}

/// A faithfulness check the server can call from any thread.
pub trait FaithfulnessCheck: Send + Sync {
    /// Checks `summary` against `article` (both plain text).
    fn check(&self, article: &str, summary: &str) -> anyhow::Result<CheckReport>;
}

/// The check `precis check` makes: [`faithfulness::check`] with its default weights.
pub struct ArticleCheck;

impl FaithfulnessCheck for ArticleCheck {
    fn check(&self, article: &str, summary: &str) -> anyhow::Result<CheckReport> {
        let check = faithfulness::check(article, summary)?;
        let flagged = check.spans().map(|span| FlaggedSpan { start: span.start, end: span.end, reason: span.reason.clone() }).collect();
        Ok(CheckReport { flagged, details: serde_json::to_value(&check)? })
    }
}

/// The check this binary serves.
pub fn built_in() -> Box<dyn FaithfulnessCheck> {
    Box::new(ArticleCheck)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_what_the_article_lacks_with_offsets_into_the_summary() {
        let article = "The council met on Tuesday. It approved a budget of 12 million euros for schools.";
        let summary = "The council approved a budget of 15 million euros.";
        let report = ArticleCheck.check(article, summary).expect("checked");
        assert!(!report.flagged.is_empty(), "{report:?}");
        let chars: Vec<char> = summary.chars().collect();
        let texts: Vec<String> = report.flagged.iter().map(|span| chars[span.start..span.end].iter().collect()).collect();
        assert!(texts.iter().any(|text| text.contains("15")), "{texts:?}");
        assert!(report.details["score"].as_f64().is_some_and(|score| score < 1.0), "{}", report.details);

        let supported = ArticleCheck.check(article, "The council approved a budget of 12 million euros.").expect("checked");
        assert!(supported.flagged.is_empty(), "{supported:?}");
    }

    #[test]
    fn an_empty_summary_is_an_error_not_a_score() {
        let error = ArticleCheck.check("The council met on Tuesday.", "  ").expect_err("nothing to check");
        assert!(error.to_string().contains("empty"), "{error}");
    }
}
