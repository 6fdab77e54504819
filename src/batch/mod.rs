//! `precis batch`: many items from feeds, JSONL and directories → one JSONL record each,
//! in parallel, resumably, optionally one shard of a larger workload.
//!
//! `sources` reads inputs into items, `feeds` parses RSS/Atom/JSON Feed, `fetch` downloads linked pages (`--fetch`), `plan` computes keys and
//! decides what to do (duplicates, shard, resume), `output` writes whole-line records and reads
//! them back for `--resume`. The command itself (`commands::batch`) runs the workers.

pub mod dates;
pub mod feeds;
pub mod fetch;
pub mod output;
pub mod plan;
pub mod sources;
