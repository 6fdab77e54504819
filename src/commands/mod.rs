//! One file per subcommand; each turns parsed arguments into work and output.

pub mod batch;
pub mod check;
pub mod compare;
pub mod eval;
pub mod extract;
pub mod merge;
pub mod models;
pub mod serve;
pub mod summarize;

use crate::cli::{EngineArgs, ModelArgs};
use crate::length::{LengthPreset, DEFAULT_BULLETS};
use crate::hub::cache::HubSettings;
use crate::pipeline::SummarizeOptions;

/// Resolves the shared engine flags into validated options (no work done yet).
pub fn summarize_options(args: &EngineArgs) -> SummarizeOptions {
    SummarizeOptions { headline_model: args.headline_model.clone(), length: args.length, bullets: args.bullets, ..model_options(&args.core) }
}

/// The shared flags alone (for commands that choose lengths themselves and write no headline):
/// the other options keep their defaults.
pub fn model_options(args: &ModelArgs) -> SummarizeOptions {
    SummarizeOptions {
        engine: args.engine,
        model: args.model.clone(),
        headline_model: crate::hub::DEFAULT_HEADLINE_MODEL.to_string(),
        length: LengthPreset::Medium,
        bullets: DEFAULT_BULLETS,
        long: args.long,
        device: args.device,
        precision: args.precision,
        guard: args.guard,
        hub: HubSettings::from_env(args.offline, !args.quiet),
    }
}
