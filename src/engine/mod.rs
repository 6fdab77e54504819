//! Summarization engines: `seq2seq` (pretrained models: rust-bert's networks in `network`, decoded
//! by precis's own loop in `decode`) and `extractive` (sentence ranking, no model). The pipeline
//! picks one per output.

pub mod bart_decoder;
pub mod decode;
pub mod extractive;
pub mod network;
pub mod seq2seq;
