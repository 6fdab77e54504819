//! Which commands run a model, and where the model runtime (libtorch) lives.
//!
//! The `precis` executable is built without it (cargo feature `model` off), so that commands
//! that run no model start in milliseconds instead of paying for loading libtorch (see
//! docs/ARCHITECTURE.md, "Start-up"). A command that asks for a model is handed, command line
//! and all, to `precis-model`, the same program with the runtime, built beside it: on Unix by
//! `exec`, so its output, exit code and signals are the ones the caller sees.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};

use crate::cli::{Command, ModelArgs};
use crate::pipeline::EngineChoice;

/// The executable with the model runtime, looked for beside the running one.
pub const MODEL_EXECUTABLE: &str = "precis-model";

/// How to build it (the README's quick start runs `scripts/setup.sh`, which does).
pub const BUILD_HINT: &str = "scripts/build.sh (add --debug for target/debug), which runs cargo build --release --features model --bin precis-model";

/// The model options of a command that may run a model; `None` for one that never does.
pub fn model_args(command: &mut Command) -> Option<&mut ModelArgs> {
    match command {
        Command::Summarize(args) => Some(&mut args.engine.core),
        Command::Batch(args) => Some(&mut args.engine.core),
        Command::Compare(args) => Some(&mut args.engine),
        Command::Serve(args) => Some(&mut args.engine.core),
        Command::Eval(args) if args.data.is_some() => Some(&mut args.engine.core),
        Command::Eval(_) | Command::Models(_) | Command::Extract(_) | Command::Check(_) | Command::Merge(_) => None,
    }
}

/// Whether this executable has the model runtime compiled in.
pub const fn built_in() -> bool {
    cfg!(feature = "model")
}

/// Makes sure the command can run here: a command that may run a model, in an executable without
/// the runtime, is handed to `precis-model` (this returns only if that fails). When it is not
/// built, `--engine auto` takes the extractive engine, with a notice as for a model that is not
/// downloaded, and `--engine abstractive` is an error saying how to build it.
pub fn run_here_or_hand_over(command: &mut Command) -> Result<()> {
    if built_in() {
        return Ok(());
    }
    let Some(args) = model_args(command) else { return Ok(()) };
    if args.engine == EngineChoice::Extractive {
        return Ok(());
    }
    let executable = beside_this_executable()?;
    if executable.is_file() {
        return Err(hand_over(&executable));
    }
    let missing = format!("the model runtime is not built: {} is missing; build it with {BUILD_HINT}", executable.display());
    match args.engine {
        EngineChoice::Auto => {
            if !args.quiet {
                eprintln!("precis: using the extractive engine: {missing}.");
            }
            args.engine = EngineChoice::Extractive;
            Ok(())
        }
        EngineChoice::Abstractive | EngineChoice::Extractive => bail!("--engine abstractive: {missing}"),
    }
}

fn beside_this_executable() -> Result<PathBuf> {
    let this = std::env::current_exe().map_err(|error| anyhow!("cannot find this executable's path to run {MODEL_EXECUTABLE} beside it: {error}"))?;
    Ok(this.with_file_name(format!("{MODEL_EXECUTABLE}{}", std::env::consts::EXE_SUFFIX)))
}

/// Replaces this process with `executable`, given this process's arguments (and its name, so
/// usage lines still say `precis`). Returns only the error of a failed start.
#[cfg(unix)]
fn hand_over(executable: &std::path::Path) -> anyhow::Error {
    use std::os::unix::process::CommandExt;
    let mut arguments = std::env::args_os();
    let name = arguments.next().unwrap_or_else(|| "precis".into());
    let error = std::process::Command::new(executable).arg0(name).args(arguments).exec();
    anyhow!("cannot start the model runtime {}: {error}", executable.display())
}

/// Runs `executable` with this process's arguments and exits with its exit code.
#[cfg(not(unix))]
fn hand_over(executable: &std::path::Path) -> anyhow::Error {
    match std::process::Command::new(executable).args(std::env::args_os().skip(1)).status() {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(error) => anyhow!("cannot start the model runtime {}: {error}", executable.display()),
    }
}
