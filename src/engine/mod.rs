//! Summarization engines: `seq2seq` (pretrained models through rust-bert) and `extractive`
//! (sentence ranking, no model). The pipeline picks one per output.

pub mod extractive;
pub mod seq2seq;
