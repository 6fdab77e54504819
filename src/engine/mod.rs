//! Summarization engines: `seq2seq` (pretrained models: their configuration read by `config`,
//! precis's own BART, T5 and PEGASUS in `bart`, `t5`, `pegasus` (built from `layers`) or
//! rust-bert's networks, behind `network`, decoded by precis's own loop in `decode`) and
//! `extractive` (sentence ranking, no model). The pipeline picks one per output.

// The model runtime (libtorch through tch) is the `model` feature: the `precis` front
// executable is built without it and starts `precis-model` when a model runs (see
// docs/ARCHITECTURE.md, "Start-up"). Without it, `seq2seq` is `without_models.rs`: the same
// names, with a model type that cannot be made, so every model path is dead code there.
#[cfg(feature = "model")]
pub mod bart;
#[cfg(feature = "model")]
pub mod config;
#[cfg(feature = "model")]
pub mod decode;
pub mod extractive;
#[cfg(feature = "model")]
pub mod kernel_threads;
#[cfg(feature = "model")]
pub mod kernels;
#[cfg(feature = "model")]
pub mod layers;
#[cfg(feature = "model")]
pub mod network;
#[cfg(feature = "model")]
pub mod pegasus;
pub mod placement;
#[cfg(feature = "model")]
pub mod seq2seq;
#[cfg(not(feature = "model"))]
#[path = "without_models.rs"]
pub mod seq2seq;
#[cfg(feature = "model")]
pub mod t5;

#[cfg(feature = "model")]
/// Whether `PRECIS_PROFILE=1` asks the engine to print where its time goes (to stderr).
pub(crate) fn profiling() -> bool {
    static PROFILING: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PROFILING.get_or_init(|| std::env::var_os("PRECIS_PROFILE").is_some_and(|v| v == "1"))
}
