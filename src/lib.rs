//! precis: news articles → headline, abstract and bullet points.
//!
//! Data path: input (file, stdin) → `input::Document` → `text` (normalize, sentences) →
//! `pipeline` (engine choice, windows) → `engine` (seq2seq: precis's own networks with its
//! own decoding loop; or extractive) →
//! `render::SummaryRecord` → text / JSON / JSONL / Markdown. See docs/ARCHITECTURE.md.

pub mod batch;
pub mod chunk;
pub mod cli;
pub mod commands;
pub mod engine;
pub mod entry;
pub mod eval;
pub mod faithfulness;
pub mod generation;
pub mod hub;
pub mod input;
pub mod length;
pub mod model_runtime;
pub mod pipeline;
pub mod render;
pub mod rouge;
pub mod serve;
pub mod text;
pub mod variants;
