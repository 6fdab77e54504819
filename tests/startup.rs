//! The two executables (docs/ARCHITECTURE.md, "Start-up"): `precis` without the model runtime
//! loads no libtorch for commands that run no model, hands model commands to `precis-model`
//! beside it, and says what to do when that is not built. (Start-up time and memory are
//! measured by bench/startup.sh, not here.)
//!
//! Run by scripts/test.sh against the front build, with the debug `precis-model` built beside it.
#![cfg(not(feature = "model"))]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{precis, root, run, scratch, stderr, stdout};

const SEED: &str = "samples/abe-cameron-summit.txt";

fn model_executable() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_precis")).with_file_name("precis-model")
}

/// The shared libraries the dynamic loader opens for `command` (glibc's LD_DEBUG=files).
fn libraries_loaded(command: &mut Command) -> String {
    let output = run(command.env("LD_DEBUG", "files"));
    assert!(output.status.success(), "{}", stderr(&output));
    stderr(&output).lines().filter(|line| line.contains("file=")).collect::<Vec<_>>().join("\n")
}

#[test]
fn commands_without_a_model_load_no_libtorch() {
    let cache = scratch("startup-libraries");
    let model = model_executable();
    assert!(model.is_file(), "{} must be built first (scripts/test.sh does)", model.display());
    // The check can see libtorch: precis-model loads it at start.
    let with_runtime = libraries_loaded(Command::new(&model).arg("--version"));
    assert!(with_runtime.contains("libtorch_cpu") && with_runtime.contains("libc.so"), "{with_runtime}");
    for arguments in [
        vec!["--version"],
        vec!["summarize", SEED, "--engine", "extractive"],
        vec!["extract", SEED, "--format", "json"],
        vec!["compare", SEED, "--engine", "extractive", "--words", "25,60"],
    ] {
        let loaded = libraries_loaded(precis(&cache).args(&arguments));
        assert!(loaded.contains("libc.so"), "{arguments:?}: {loaded}");
        assert!(!loaded.contains("libtorch") && !loaded.contains("libc10"), "{arguments:?} loaded libtorch:\n{loaded}");
    }
}

#[test]
fn model_commands_are_handed_to_precis_model() {
    let cache = scratch("startup-handover");
    let models = root().join("tests/fixtures/models");
    let (model, headline_model) = (models.join("bart-tiny"), models.join("t5-tiny"));
    let arguments = [
        "summarize",
        SEED,
        "--engine",
        "abstractive",
        "--model",
        model.to_str().expect("path"),
        "--headline-model",
        headline_model.to_str().expect("path"),
        "--format",
        "json",
    ];
    let front = run(precis(&cache).args(arguments).env("LD_DEBUG", "files"));
    assert!(front.status.success(), "{}", stderr(&front));
    // The model ran in this process after the hand-over (libtorch loaded) and wrote the record.
    assert!(stderr(&front).contains("libtorch_cpu"), "{}", stderr(&front));
    let record: serde_json::Value = serde_json::from_slice(&front.stdout).expect("json");
    assert_eq!(record["engine"]["abstract"], "abstractive");
    assert_eq!(record["models"][0]["id"].as_str().map(|id| id.ends_with("bart-tiny")), Some(true), "{record}");
    // The same as precis-model run directly.
    let direct = run(Command::new(model_executable()).current_dir(root()).env("HF_HUB_CACHE", &cache).env("HF_ENDPOINT", "http://127.0.0.1:9").args(arguments));
    let direct: serde_json::Value = serde_json::from_slice(&direct.stdout).expect("json");
    for field in ["headline", "abstract", "bullets"] {
        assert_eq!(record[field], direct[field], "{field}");
    }
    // Its exit code and messages pass through: a missing model is precis-model's error, exit 1.
    let failed = run(precis(&cache).args(["summarize", SEED, "--engine", "abstractive", "--model", "/nonexistent/model", "--offline"]));
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    assert!(stderr(&failed).contains("/nonexistent/model"), "{}", stderr(&failed));
}

#[test]
fn a_front_without_precis_model_beside_it_says_how_to_build_it() {
    let cache = scratch("startup-alone");
    let alone = scratch("startup-alone-bin").join("precis");
    std::fs::copy(env!("CARGO_BIN_EXE_precis"), &alone).expect("copy the front");
    let front = |engine: &str| {
        let mut alone_command = Command::new(&alone);
        alone_command.current_dir(root()).env("HF_HUB_CACHE", &cache).env("HF_ENDPOINT", "http://127.0.0.1:9").args(["summarize", SEED, "--engine", engine]);
        run(&mut alone_command)
    };
    // auto: the extractive engine, with the reason and the fix on stderr.
    let auto = front("auto");
    assert!(auto.status.success(), "{}", stderr(&auto));
    assert!(stderr(&auto).contains("using the extractive engine") && stderr(&auto).contains("precis-model is missing") && stderr(&auto).contains("scripts/build.sh"), "{}", stderr(&auto));
    assert!(stdout(&auto).contains("extractive engine"), "{}", stdout(&auto));
    // abstractive: an error with the same fix, exit 1, nothing on stdout.
    let abstractive = front("abstractive");
    assert_eq!(abstractive.status.code(), Some(1));
    assert!(stderr(&abstractive).contains("--engine abstractive") && stderr(&abstractive).contains("scripts/build.sh"), "{}", stderr(&abstractive));
    assert!(abstractive.stdout.is_empty());
    // extractive: no notice at all.
    let extractive = front("extractive");
    assert!(extractive.status.success() && !stderr(&extractive).contains("precis-model"), "{}", stderr(&extractive));
}
