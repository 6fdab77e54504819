//! Shared support for the integration tests.
#![allow(dead_code)]

pub mod fake_hub;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh, empty directory private to this test process.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("precis-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// The binary with a private, empty Hugging Face cache and an unroutable endpoint, so no test can
/// reach the real Hub or a developer's cache by accident.
pub fn precis(cache: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_precis"));
    command
        .current_dir(root())
        .env("HF_HUB_CACHE", cache)
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env_remove("HF_HUB_OFFLINE")
        .env_remove("HF_TOKEN")
        .stdin(Stdio::null());
    command
}

/// Runs a command to its end (a test fails if it cannot start).
pub fn run(command: &mut Command) -> Output {
    command.output().expect("run precis")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}
