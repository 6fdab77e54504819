//! `precis serve`: the HTTP server's options, resolved and checked before anything starts; the
//! server itself is `serve`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, ServeArgs};
use crate::serve::{self, Limits, ServeConfig, UrlPolicy, API_KEY_ENV};

pub fn run(args: &ServeArgs) -> Result<()> {
    let api_key = args.api_key.as_deref().map(str::trim).filter(|key| !key.is_empty()).map(str::to_string);
    if args.api_key.is_some() && api_key.is_none() {
        invalid_command_line(format!("--api-key (or {API_KEY_ENV}) is empty; give a key, or leave it out to serve on loopback without one"));
    }
    if !args.host.is_loopback() && api_key.is_none() {
        invalid_command_line(format!(
            "--host {} is not a loopback address: anyone who can reach it could use the server, so it needs an API key; \
             set {API_KEY_ENV} (or --api-key), or serve on 127.0.0.1",
            args.host
        ));
    }
    let config = ServeConfig {
        address: SocketAddr::new(args.host, args.port),
        options: super::summarize_options(&args.engine),
        limits: Limits {
            max_body_bytes: args.max_body_bytes,
            max_queue: args.max_queue,
            max_batch: args.max_batch,
            batch_wait: Duration::from_millis(args.batch_wait),
            request_timeout: Duration::from_secs_f64(args.request_timeout),
            drain_timeout: Duration::from_secs_f64(args.drain_timeout),
            fetch_timeout: Duration::from_secs_f64(args.fetch_timeout),
        },
        api_key,
        url_policy: UrlPolicy { allow_all: args.allow_private_urls, allowed_networks: args.allow_url_network.clone() },
        quiet: args.engine.core.quiet,
    };
    serve::run(config)
}

/// Options that cannot go together are a command-line error (exit status 2), as clap's own are.
fn invalid_command_line(message: String) -> ! {
    let mut command = Cli::command();
    let mut serve = command.find_subcommand_mut("serve").map(|serve| serve.clone()).unwrap_or(command);
    serve.error(clap::error::ErrorKind::ArgumentConflict, message).exit()
}
