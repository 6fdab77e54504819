//! `engine::seq2seq` in a build without the `model` feature (the `precis` front executable):
//! the names the pipeline uses, with a model type that has no values. No model can be loaded
//! (`pick_device` says why), so every path that would run one is dead code the compiler checks
//! and the linker drops; libtorch is not linked. `main` hands every command that asks for a
//! model to `precis-model` before it gets here (`model_runtime`).

use std::time::Duration;

use anyhow::{bail, Result};

use super::placement::{DeviceChoice, Precision};
pub use super::placement::generated_tokens_total;
use crate::generation::Generation;
pub use crate::generation::GenerationSettings;
pub use crate::hub::{ModelFiles, TokenizerFiles};

/// No device: nothing runs on one in this build.
#[derive(Debug, Clone, Copy)]
pub enum Device {}

/// No architecture is run by this build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {}

impl Architecture {
    pub fn name(self) -> &'static str {
        match self {}
    }
}

/// A loaded model: none can exist in this build.
pub enum Seq2SeqModel {}

pub struct TimedVariants {
    pub outputs: Vec<Vec<Vec<i64>>>,
    pub encode: Duration,
    pub decode: Vec<Duration>,
}

/// Refuses: this executable was built without the model runtime.
pub fn pick_device(_choice: DeviceChoice, _precision: Precision) -> Result<Device> {
    bail!(
        "this precis executable was built without the model runtime (cargo feature `model`); run the `precis-model` \
         executable built beside it ({}), or use --engine extractive",
        crate::model_runtime::BUILD_HINT
    )
}

impl Seq2SeqModel {
    pub fn load_at(_files: &ModelFiles, _prefix: Option<&str>, _window: Option<usize>, device: Device, _precision: Precision) -> Result<Seq2SeqModel> {
        match device {}
    }

    pub fn configured_generation(&self) -> &Generation {
        match *self {}
    }

    pub fn network_implementation(&self) -> &'static str {
        match *self {}
    }

    pub fn architecture(&self) -> Architecture {
        match *self {}
    }

    pub fn precision(&self) -> Precision {
        match *self {}
    }

    pub fn window(&self) -> usize {
        match *self {}
    }

    pub fn encode(&self, _text: &str) -> Vec<i64> {
        match *self {}
    }

    pub fn count_tokens(&self, _text: &str) -> usize {
        match *self {}
    }

    pub fn count_text_tokens(&self, _text: &str) -> usize {
        match *self {}
    }

    pub fn special_output_tokens(&self) -> u32 {
        match *self {}
    }

    pub fn generate(&self, _inputs: &[Vec<i64>], _settings: &GenerationSettings) -> Result<Vec<Vec<i64>>> {
        match *self {}
    }

    pub fn generate_variants(&self, _inputs: &[Vec<i64>], _settings: &[GenerationSettings]) -> Result<Vec<Vec<Vec<i64>>>> {
        match *self {}
    }

    pub fn generate_variants_timed(&self, _inputs: &[Vec<i64>], _settings: &[GenerationSettings]) -> Result<TimedVariants> {
        match *self {}
    }

    pub fn decode(&self, _ids: &[i64]) -> String {
        match *self {}
    }
}
