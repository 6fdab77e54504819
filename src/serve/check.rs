//! Where the faithfulness check (issue 14) plugs into the server: `POST /v1/check` and the
//! page's marking of unsupported spans are written against [`FaithfulnessCheck`].
//!
//! This binary has no check built in yet: [`built_in`] returns `None`, `/v1/check` answers 501
//! with a message saying so, `/readyz` reports `"check": false`, and the page marks nothing.
//! Plugging a check in means implementing the trait over `src/faithfulness/` and returning it
//! from [`built_in`]; no route or page code has to change.

use serde::Serialize;

/// One stretch of a summary output that the article does not support.
#[derive(Debug, Clone, Serialize)]
pub struct FlaggedSpan {
    /// Character offsets (Unicode scalar values) into the summary text, `start..end`.
    pub start: usize,
    pub end: usize,
    /// Why it was flagged, for a person ("the number 12 is not in the article").
    pub reason: String,
}

/// What a check answers for one (article, summary) pair. The page marks `flagged`; everything
/// the check measures beyond that goes in `details`, passed through as it is.
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

/// The check built into this binary: none yet.
pub fn built_in() -> Option<Box<dyn FaithfulnessCheck>> {
    None
}

/// The message of `/v1/check`'s 501 while [`built_in`] is `None`.
pub const NOT_BUILT: &str = "the faithfulness check is not built into this binary yet (issue 14); /v1/check will answer once it is";
