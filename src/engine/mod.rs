//! Summarization engines: `seq2seq` (pretrained models: their configuration read by `config`,
//! precis's own BART, T5 and PEGASUS in `bart`, `t5`, `pegasus` (built from `layers`) or
//! rust-bert's networks, behind `network`, decoded by precis's own loop in `decode`) and
//! `extractive` (sentence ranking, no model). The pipeline picks one per output.

pub mod bart;
pub mod config;
pub mod decode;
pub mod extractive;
pub mod kernel_threads;
pub mod kernels;
pub mod layers;
pub mod network;
pub mod pegasus;
pub mod seq2seq;
pub mod t5;

/// Whether `PRECIS_PROFILE=1` asks the engine to print where its time goes (to stderr).
pub(crate) fn profiling() -> bool {
    static PROFILING: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PROFILING.get_or_init(|| std::env::var_os("PRECIS_PROFILE").is_some_and(|v| v == "1"))
}
