//! The executables' `main` (`precis` and `precis-model` are the same program, with and without
//! the model runtime): parse arguments, run the command, map errors to messages and exit codes.
//! Exit codes: 0 success, 1 the work failed (bad input, missing model, failed items),
//! 2 invalid command line (from clap, and `--shard auto` without a usable scheduler environment).

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::commands;

pub fn main() {
    let mut cli = Cli::parse();
    let result = crate::model_runtime::run_here_or_hand_over(&mut cli.command).and_then(|()| match &cli.command {
        Command::Summarize(args) => commands::summarize::run(args),
        Command::Models(command) => commands::models::run(command),
        Command::Eval(args) => commands::eval::run(args),
        Command::Batch(args) => commands::batch::run(args),
        Command::Compare(args) => commands::compare::run(args),
        Command::Extract(args) => commands::extract::run(args),
        Command::Check(args) => commands::check::run(args),
        Command::Serve(args) => commands::serve::run(args),
        Command::Merge(args) => commands::merge::run(args),
    });
    if let Err(error) = result {
        // The reader went away (`precis … | head`): nothing is wrong with the work, stop quietly.
        if error.chain().any(|cause| cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)) {
            std::process::exit(0);
        }
        eprintln!("precis: error: {error:#}");
        // `--shard auto` without a usable scheduler environment is a command-line error, like clap's.
        let invalid_command_line = error.chain().any(|cause| cause.is::<crate::batch::scheduler::ShardEnvironmentError>());
        std::process::exit(if invalid_command_line { 2 } else { 1 });
    }
}
