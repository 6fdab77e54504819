//! `precis serve`: an HTTP API and a web page over one set of loaded models.
//!
//! A front like `commands/`: it owns the routes and their JSON (`routes`, `api`), the request
//! queue and the model thread that feeds `Summarizer::summarize_many` (`queue`), the limits
//! (here), the address policy and downloads of `url` requests (`addresses`, `fetch`), the
//! metrics (`metrics`), the embedded page and API description (`assets`) and the plug for the
//! faithfulness check (`check`). It must not summarize by itself: every summary comes from the
//! pipeline, as the command line's do, with the same records.
//!
//! Threads: tokio's runtime (2 workers) answers HTTP; one model thread runs the models; page
//! downloads run on tokio's blocking pool. A panic on the model thread is caught and fails only
//! the requests it was working on.

pub mod addresses;
mod api;
mod assets;
pub mod check;
mod fetch;
mod metrics;
mod queue;
mod routes;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tokio::sync::{oneshot, watch};

use crate::pipeline::{SummarizeOptions, GENERATION_BATCH};

pub use addresses::{Network, UrlPolicy};

/// `--host`: loopback only, unless told otherwise.
pub const DEFAULT_HOST: &str = "127.0.0.1";
pub const DEFAULT_PORT: u16 = 8080;
/// `--max-body-bytes`: a long article with its JSON escaping fits many times over.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// `--max-queue`: requests waiting for the model; 64 concurrent clients are never refused.
pub const DEFAULT_MAX_QUEUE: usize = 64;
/// `--max-batch`: documents the model thread takes at once (the pipeline's batch size).
pub const DEFAULT_MAX_BATCH: usize = GENERATION_BATCH;
/// `--batch-wait`: milliseconds the model thread waits for a batch to fill (models only).
pub const DEFAULT_BATCH_WAIT_MS: u64 = 10;
/// `--request-timeout`: long enough for 64 queued articles on a slow CPU model.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: f64 = 600.0;
/// `--drain-timeout`: how long a stopping server finishes the requests it has.
pub const DEFAULT_DRAIN_TIMEOUT_SECS: f64 = 120.0;
/// `--fetch-timeout`: connecting to, and each read from, a `url` request's site.
pub const DEFAULT_FETCH_TIMEOUT_SECS: f64 = 20.0;
/// The environment variable `--api-key` is read from.
pub const API_KEY_ENV: &str = "PRECIS_API_KEY";

/// The limits every request is held to.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_queue: usize,
    pub max_batch: usize,
    pub batch_wait: Duration,
    pub request_timeout: Duration,
    pub drain_timeout: Duration,
    pub fetch_timeout: Duration,
}

/// Everything `precis serve` was told, validated.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub address: SocketAddr,
    pub options: SummarizeOptions,
    pub limits: Limits,
    pub api_key: Option<String>,
    pub url_policy: UrlPolicy,
    pub quiet: bool,
}

/// `--host`: an IP address, or `localhost`.
pub fn parse_host(host: &str) -> Result<IpAddr, String> {
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    host.trim_matches(['[', ']'])
        .parse()
        .map_err(|_| format!("'{host}' is not an address to listen on; give an IP address (127.0.0.1, ::1, 0.0.0.0 for every interface) or localhost"))
}

/// Runs the server until SIGTERM or SIGINT, drains it, and ends the process: exit status 0
/// when every request in flight was answered, 1 when the drain limit dropped some. Returns
/// only when the server could not start.
pub fn run(config: ServeConfig) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("precis-http").enable_all().build().context("cannot start the server's runtime")?;
    let drained = runtime.block_on(serve(config))?;
    let code = match drained {
        Drained::All => 0,
        Drained::Dropped(message) => {
            eprintln!("precis: error: {message}");
            1
        }
    };
    end_process(code)
}

/// How the stop went.
enum Drained {
    All,
    /// Some requests were still in flight at the drain limit (the message says how many).
    Dropped(String),
}

/// Ends the process at once, without C++ static destructors and `atexit` handlers: libtorch's
/// would run while the model thread may still be inside libtorch (finishing a batch nobody
/// waits for), and crash the exit (seen: SIGSEGV instead of the exit status).
fn end_process(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` takes a plain integer and never returns; it only skips the process's
    // exit handlers, which is its purpose here. Everything precis must write is written and
    // flushed above (stderr is unbuffered; the server writes nothing else). The drain test in
    // tests/serve.rs checks the exit status is 1, not a signal, with the model busy.
    unsafe { libc::_exit(code) }
}

async fn serve(config: ServeConfig) -> Result<Drained> {
    let metrics = Arc::new(metrics::Metrics::default());
    let queue = queue::Queue::new(config.limits.max_queue, metrics.clone());
    let listener = tokio::net::TcpListener::bind(config.address)
        .await
        .map_err(|error| anyhow!("cannot listen on {}: {error}; choose another --port (or --host)", config.address))?;
    let local = listener.local_addr()?;
    let loopback = local.ip().is_loopback();
    // Without a key, a loopback server answers only to its own names (no DNS rebinding).
    let allowed_hosts = (loopback && config.api_key.is_none()).then(|| {
        let mut hosts = vec!["localhost".to_string(), "127.0.0.1".to_string(), "[::1]".to_string()];
        let own = match local.ip() {
            IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        };
        if !hosts.contains(&own) {
            hosts.push(own);
        }
        hosts
    });
    let defaults = api::Defaults { shape: queue::OutputShape { length: config.options.length, bullets: config.options.bullets, guard: config.options.guard } };
    let app = Arc::new(routes::App::new(queue.clone(), metrics.clone(), config.limits.clone(), defaults, config.api_key.clone(), allowed_hosts, config.url_policy.clone()));

    let (loaded_sender, loaded) = oneshot::channel();
    let policy = queue::BatchPolicy { max_batch: config.limits.max_batch, wait: config.limits.batch_wait };
    queue::spawn_model_thread(config.options.clone(), queue.clone(), policy, loaded_sender).context("cannot start the model thread")?;
    eprintln!("precis: listening on http://{local}/ (loading the models)");

    let (stop_sender, stop) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        let _ = stop_sender.send(true);
    });
    let mut shutdown = stop.clone();
    let server = tokio::spawn(
        axum::serve(listener, routes::router(app.clone()))
            .with_graceful_shutdown(async move {
                let _ = shutdown.wait_for(|stopping| *stopping).await;
            })
            .into_future(),
    );

    let mut stopping = stop.clone();
    tokio::select! {
        outcome = loaded => match outcome {
            Ok(Ok(loaded)) => {
                if !config.quiet {
                    for notice in &loaded.notices {
                        eprintln!("{notice}");
                    }
                }
                app.set_readiness(routes::Readiness::Ready { engine: loaded.engine, notices: loaded.notices });
                eprintln!("precis: ready ({} engine)", match loaded.engine { crate::render::EngineKind::Abstractive => "abstractive", crate::render::EngineKind::Extractive => "extractive" });
            }
            Ok(Err(error)) => return Err(error.context("the server cannot start: the models did not load")),
            Err(_) => bail!("the server cannot start: the model thread stopped while loading the models"),
        },
        _ = stopping.wait_for(|stopping| *stopping) => {}
    }
    let _ = stopping.wait_for(|stopping| *stopping).await;

    let drain = config.limits.drain_timeout;
    eprintln!(
        "precis: stopping: no new connections; finishing {} request(s) in flight (at most {} s, --drain-timeout)",
        metrics.in_flight.load(Ordering::Relaxed),
        drain.as_secs_f64()
    );
    let drained = tokio::time::timeout(drain, server).await;
    queue.close();
    Ok(match drained {
        Ok(_) => {
            eprintln!("precis: stopped");
            Drained::All
        }
        Err(_) => Drained::Dropped(format!(
            "{} request(s) were still in flight after the {} s drain limit (--drain-timeout) and were dropped",
            metrics.in_flight.load(Ordering::Relaxed),
            drain.as_secs_f64()
        )),
    })
}

async fn wait_for_signal() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
