//! One file per subcommand; each turns parsed arguments into work and output.

pub mod batch;
pub mod eval;
pub mod models;
pub mod summarize;

use crate::cli::EngineArgs;
use crate::hub::cache::HubSettings;
use crate::pipeline::SummarizeOptions;

/// Resolves the shared engine flags into validated options (no work done yet).
pub fn summarize_options(args: &EngineArgs) -> SummarizeOptions {
    SummarizeOptions {
        engine: args.engine,
        model: args.model.clone(),
        headline_model: args.headline_model.clone(),
        length: args.length,
        bullets: args.bullets,
        long: args.long,
        device: args.device,
        hub: HubSettings::from_env(args.offline, !args.quiet),
    }
}
