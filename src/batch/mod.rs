//! `precis batch`: many items from feeds, JSONL and directories → one JSONL record each,
//! in parallel, resumably, optionally one shard of a larger workload.
//!
//! `item` is what every part shares (one item to summarize); `sources` reads inputs into items,
//! `feeds` reads RSS/RDF/Atom/JSON Feed, `fetch` downloads linked pages (`--fetch`), `plan`
//! computes keys and decides what to do (summarize, skip, fail; duplicates, shard, resume),
//! `output` writes whole-line records and reads them back for `--resume`. `scheduler` turns
//! `--shard auto` into a shard from Slurm, Kubernetes or AWS Batch variables, `shard_plan` is the
//! plan line a sharded output starts with, and `merge` joins shard outputs back into one, checked
//! against those lines. The command itself (`commands::batch`) runs the workers.

pub mod dates;
pub mod feeds;
pub mod fetch;
pub mod item;
pub mod output;
pub mod merge;
pub mod plan;
pub mod scheduler;
pub mod shard_plan;
pub mod sources;
