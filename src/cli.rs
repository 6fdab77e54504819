//! Command-line definitions (clap derive). Doc comments here are the `--help` text.

use clap::{Args, Parser, Subcommand};

use crate::engine::placement::{Precision, DEFAULT_PRECISION};
use crate::hub::{DEFAULT_HEADLINE_MODEL, DEFAULT_MODEL};
use crate::length::{LengthPreset, DEFAULT_BULLETS};
use crate::pipeline::{DeviceChoice, EngineChoice, LongInputPolicy};
use crate::render::{CompareFormat, Format};

/// Summarize news articles into a headline, an abstract and bullet points.
///
/// precis runs pretrained summarization models (DistilBART, BART, PEGASUS, T5) locally through
/// libtorch, or a fast extractive engine that needs no model at all.
///
/// Examples:
///   precis summarize samples/abe-cameron-summit.txt
///   curl -s https://example.com/story.html | precis summarize - --format json
///   precis summarize story.txt --length short --bullets 3 --engine extractive
///   precis compare story.txt --words 25,60,120
///   precis extract story.html --format json
///   precis models pull distilbart-cnn-12-6
///   precis eval --predictions preds.jsonl
#[derive(Debug, Parser)]
#[command(name = "precis", version, about, long_about, max_term_width = 100, verbatim_doc_comment)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Summarize articles: headline, abstract and bullets.
    Summarize(SummarizeArgs),
    /// List, download and locate models.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Score summaries against references with ROUGE (and length statistics).
    Eval(EvalArgs),
    // The help text is BatchArgs' doc comment (a doc comment here would replace its examples).
    Batch(BatchArgs),
    // The help text is CompareArgs' doc comment (a doc comment here would replace its examples).
    Compare(CompareArgs),
    // The help text is ExtractArgs' doc comment (a doc comment here would replace its examples).
    Extract(ExtractArgs),
    // The help text is CheckArgs' doc comment.
    Check(CheckArgs),
    // The help text is ServeArgs' doc comment (a doc comment here would replace its examples).
    Serve(ServeArgs),
    // The help text is MergeArgs' doc comment.
    Merge(MergeArgs),
}

/// Options shared by every command that summarizes: the engine and its model, long inputs,
/// the device and the network. `compare` takes these alone.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// auto: the pretrained models when they are cached or downloadable, else the extractive engine
    /// (with a notice on stderr); abstractive: models only, a missing model is an error;
    /// extractive: sentence extraction, no model.
    #[arg(long, value_enum, default_value_t = EngineChoice::Auto)]
    pub engine: EngineChoice,

    /// Model for the abstract (and the bullets): a preset name (see `precis models list`), any
    /// BART, PEGASUS or T5 repository on the Hub as OWNER/NAME[@REVISION], or a local model
    /// directory (config.json, weights, tokenizer).
    #[arg(long, value_name = "NAME|OWNER/NAME[@REV]|DIR", default_value = DEFAULT_MODEL)]
    pub model: String,

    /// Inputs longer than the model window: chunk (summarize all of it, in window-sized chunks at
    /// sentence boundaries, then the chunk summaries), truncate (read only the leading whole
    /// sentences that fit; the output says what was dropped), or error.
    #[arg(long, value_enum, default_value_t = LongInputPolicy::Chunk)]
    pub long: LongInputPolicy,

    /// Where the models run.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,

    /// How the model's weights are stored and multiplied (CPU): fp32 (the reference), bf16 (half
    /// the memory, faster) or int8 (a quarter of the memory, fastest; see the README's speed and
    /// accuracy tables). Only BART runs at bf16 and int8; PEGASUS and T5 stay in fp32, with a notice.
    #[arg(long, value_enum, default_value_t = DEFAULT_PRECISION)]
    pub precision: Precision,

    /// Never touch the network: models must already be in the Hugging Face cache
    /// (same as HF_HUB_OFFLINE=1).
    #[arg(long)]
    pub offline: bool,

    /// No progress bars or notices on stderr (errors and warnings are still printed).
    #[arg(long, short)]
    pub quiet: bool,

    /// Check every output a model wrote against the article: flag (report unsupported names,
    /// numbers, quotations and words in the output; text marks them), drop (also remove each
    /// abstract sentence or bullet with a number or name the article does not contain, and say
    /// so), or off.
    #[arg(long, value_enum, default_value_t = crate::faithfulness::guard::DEFAULT_GUARD)]
    pub guard: crate::faithfulness::guard::GuardMode,
}

/// The shared options plus those of commands that write a headline, one abstract and bullets.
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    #[command(flatten)]
    pub core: ModelArgs,

    /// Model for the headline: a preset name, a Hub repository (OWNER/NAME[@REVISION]) or a
    /// local model directory.
    #[arg(long, value_name = "NAME|OWNER/NAME[@REV]|DIR", default_value = DEFAULT_HEADLINE_MODEL)]
    pub headline_model: String,

    /// Abstract length: short ≈ 40 words, medium ≈ 80 words, long ≈ 160 words.
    #[arg(long, value_enum, default_value_t = LengthPreset::Medium)]
    pub length: LengthPreset,

    /// Number of bullet points.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BULLETS, value_parser = parse_bullet_count)]
    pub bullets: usize,
}

#[derive(Debug, Args)]
pub struct SummarizeArgs {
    /// Article files (plain text, Markdown or HTML), or - for standard input.
    #[arg(value_name = "INPUT", default_value = "-")]
    pub inputs: Vec<String>,

    #[command(flatten)]
    pub engine: EngineArgs,

    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Summarize feeds, JSONL files and directories into JSONL, one record per item.
///
/// Every item of the inputs gets one record, written as soon as it is finished.
/// Inputs are detected by content: a feed file or http(s) URL; JSONL with `id`, optional `title`,
/// and one of `text`, `html`, `url` per line; a directory of .txt/.md/.html files; - for JSONL on
/// standard input; any other file as one article. A failing item is recorded with its `error` and
/// the batch goes on; the exit status is 1 when any item failed.
///
/// Examples:
///   precis batch news.rss --out digest.jsonl --engine extractive
///   precis batch corpus/ --out corpus.jsonl --resume --jobs 2
///   precis batch items.jsonl --shard 3/8 --out part-3.jsonl
///   precis batch items.jsonl --shard auto --out part-$SLURM_ARRAY_TASK_ID.jsonl
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct BatchArgs {
    /// Feeds (files or http(s) URLs), JSONL files, directories, or - for JSONL on standard input.
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<String>,

    /// Append records to this file (default: standard output). An existing non-empty file is
    /// refused unless --resume is given.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,

    /// Continue an interrupted batch: skip items whose key (content + models + settings) is
    /// already in --out, and cut off a torn last line left by a crash.
    #[arg(long, requires = "out")]
    pub resume: bool,

    /// Worker threads, each with its own copy of the models (memory grows with N).
    #[arg(long, short, value_name = "N", default_value_t = 1, value_parser = parse_jobs)]
    pub jobs: usize,

    /// Take only shard I of N (1 ≤ I ≤ N), assigned by a stable hash of each item's key: N
    /// processes with the same inputs and settings split the work exactly, with no coordination.
    /// `auto` reads I and N from a Slurm job array, a Kubernetes Indexed Job (N from auto/N or
    /// PRECIS_SHARD_COUNT) or an AWS Batch array job. The output starts with a plan line, which
    /// `precis merge` checks the shards against.
    #[arg(long, value_name = "I/N|auto[/N]", value_parser = crate::batch::scheduler::ShardSpec::parse)]
    pub shard: Option<crate::batch::scheduler::ShardSpec>,

    /// Only items published on or after DATE (YYYY-MM-DD, UTC, or an RFC 3339 time). Items
    /// without a readable date are kept, and counted in the summary.
    #[arg(long, value_name = "DATE", value_parser = crate::batch::dates::parse_since)]
    pub since: Option<i64>,

    /// Download the linked page of an item that has only a link or a teaser (under 80 words) and
    /// summarize its main text (http(s) only, 5 redirects, 5 MiB per page).
    #[arg(long)]
    pub fetch: bool,

    /// Seconds to wait for a page (connect, and between reads) with --fetch.
    #[arg(long, value_name = "SECONDS", default_value_t = 20.0, requires = "fetch", value_parser = parse_timeout)]
    pub fetch_timeout: f64,

    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Summarize one article at several lengths and compare the summaries side by side.
///
/// Each length is a budget: a preset (--lengths short,medium,long: the same ≈ 40 / 80 / 160 words
/// as `summarize --length`), a number of words (--words) or of sentences (--sentences). Without
/// any, the three presets are compared. Every summary is whole sentences, never cut mid-sentence.
/// The extractive engine stays within a word budget; a model's output lands within ±15% of it:
/// the budget is turned into token limits by the model's tokens per word on this input, and an
/// overshoot is trimmed at a sentence boundary. A budget that could not be met is flagged
/// (`budget met: NO`, a warning, `budget_met: false` in JSON), never hidden.
///
/// For each summary: words, sentences, tokens (model), compression (output words / input words),
/// novel bigrams (share of the summary's word pairs not found in the article: 0% for copied
/// sentences, higher the more abstractive), time, and with --reference ROUGE-1/2/Lsum F1. The
/// article is read, cleaned and tokenized once, a long one is condensed once (--long), and one
/// encoder pass serves every length.
///
/// Examples:
///   precis compare story.txt
///   precis compare story.txt --words 25,60,120 --engine extractive
///   precis compare story.txt --sentences 1,3,5 --format json
///   precis compare story.html --lengths short,long --reference gold.txt --format markdown
///   COLUMNS=160 precis compare story.txt --model bart-large-cnn
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct CompareArgs {
    /// Article file (plain text, Markdown or HTML), or - for standard input.
    #[arg(value_name = "INPUT", default_value = "-")]
    pub input: String,

    /// Length presets: short ≈ 40 words, medium ≈ 80 words, long ≈ 160 words.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LENGTH,...")]
    pub lengths: Vec<LengthPreset>,

    /// Word budgets (1–1000), e.g. 25,60,120.
    #[arg(long, value_delimiter = ',', value_name = "N,...", value_parser = crate::length::parse_word_budget)]
    pub words: Vec<usize>,

    /// Sentence budgets (1–50), e.g. 1,3,5.
    #[arg(long, value_delimiter = ',', value_name = "N,...", value_parser = crate::length::parse_sentence_budget)]
    pub sentences: Vec<usize>,

    /// A reference summary (text, Markdown or HTML file) to score every length against with
    /// ROUGE-1/2/Lsum F1, as `precis eval` scores.
    #[arg(long, value_name = "FILE")]
    pub reference: Option<String>,

    /// Output format.
    #[arg(long, short, value_enum, default_value_t = CompareFormat::Text)]
    pub format: CompareFormat,

    #[command(flatten)]
    pub engine: ModelArgs,
}

/// Show the text precis reads from each input, without summarizing it.
///
/// Each input is read exactly as `summarize` reads it: decoded (UTF-8, UTF-16, Windows-1252 with a
/// warning), its format detected (plain text, Markdown or HTML), the main text of an HTML page
/// extracted (navigation, share and comment widgets, related links, captions, bylines and
/// footers left out), Markdown markup stripped, and the result normalized (one space between
/// words, paragraphs separated by one blank line). Use it to check what a summary was made from,
/// or to feed clean article text to other tools.
///
/// Output: text (the title, a blank line, the text; each input headed `==> ORIGIN <==` when
/// there are several), json (one object, an array for several inputs) or jsonl (one line per
/// input), with `origin`, `format`, `title` (null when the input has none), `text`, `words` and
/// `warnings`. Warnings are also printed on stderr. An input that cannot be read (missing, binary,
/// no readable text) is reported on stderr, the others still print, and the exit status is 1.
///
/// Examples:
///   precis extract story.html
///   precis extract pages/*.html --format jsonl > texts.jsonl
///   curl -s https://example.com/story.html | precis extract - --format json
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ExtractArgs {
    /// Files (plain text, Markdown or HTML), or - for standard input.
    #[arg(value_name = "INPUT", default_value = "-")]
    pub inputs: Vec<String>,

    /// Output format.
    #[arg(long, short, value_enum, default_value_t = ExtractFormat::Text)]
    pub format: ExtractFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExtractFormat {
    /// The title, a blank line, then the text.
    Text,
    /// One JSON object per input (an array when there are several).
    Json,
    /// One JSON object per line.
    Jsonl,
}

/// Check a summary against its article: which names, numbers, quotations and words the
/// article does not support.
///
/// Each summary sentence is aligned with the article sentences that support it best. A number
/// (digits or words, money, percentages, dates and times, ages, ordinals, units), a name, a
/// quotation or a content word is flagged when the article does not contain it (not in the
/// article) or has it only away from those sentences (out of place). Each sentence scores
/// 1/(1 + penalty), its flagged spans' weights added up; the summary scores the mean of its
/// sentences, from 0 to 1 (1: everything supported). No model is needed.
///
/// Relations between supported words (who did what to whom) and negations are not checked.
///
/// One pair: text output marks flagged spans ([brackets], or colour on a terminal) and gives
/// each sentence's score and the reasons. A dataset (--data, JSON Lines with `article` and
/// `summary` on each line): --format jsonl prints one object per line in input order, with a
/// numeric `faithfulness` and the per-sentence detail; --format json (or text) the aggregate:
/// mean score, share of records with any flagged span, and with --human-field the Pearson and
/// Spearman correlation with that field, per value of --group-field. A bad line is named on
/// stderr (and in jsonl as an object with `error`), the others are still checked, and the exit
/// status is 1.
///
/// Examples:
///   precis check --article story.txt --summary summary.txt
///   precis summarize story.txt | precis check --article story.txt --summary -
///   precis check --data pairs.jsonl --format jsonl
///   precis check --data ../shared/eval/faithfulness-dev.jsonl --format json \
///       --human-field factuality --group-field dataset
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct CheckArgs {
    /// The article (plain text, Markdown or HTML file), or - for standard input.
    #[arg(long, value_name = "FILE", requires = "summary", conflicts_with = "data")]
    pub article: Option<String>,

    /// The summary to check (a text file), or - for standard input.
    #[arg(long, value_name = "FILE", requires = "article", conflicts_with = "data")]
    pub summary: Option<String>,

    /// JSON Lines file (or - for standard input): one record per line with the article and the
    /// summary to check.
    #[arg(long, value_name = "FILE.jsonl", required_unless_present_any = ["article", "summary"])]
    pub data: Option<String>,

    /// Name of the article field in --data records.
    #[arg(long, value_name = "NAME", default_value = "article", conflicts_with_all = ["article", "summary"])]
    pub article_field: String,

    /// Name of the summary field in --data records.
    #[arg(long, value_name = "NAME", default_value = "summary", conflicts_with_all = ["article", "summary"])]
    pub summary_field: String,

    /// A numeric field of --data records (a human judgement) to correlate the score with.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["article", "summary"])]
    pub human_field: Option<String>,

    /// A field of --data records to report the aggregate for each value of (e.g. the dataset).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["article", "summary"])]
    pub group_field: Option<String>,

    /// Output format: text (marked summary, or the aggregate table for --data), json (one
    /// object: the check, or the aggregate), jsonl (one object per --data record).
    #[arg(long, short, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
    Jsonl,
}

/// Serve summaries over HTTP: a JSON API and a web page, with the models loaded once.
///
/// Endpoints: POST /v1/summarize and /v1/compare (JSON with `text`, `html` or `url`; the answers
/// are the records `--format json` prints), POST /v1/check, GET /healthz, /readyz, /metrics
/// (Prometheus), /openapi.json, and / (the page). Requests that arrive together go through the
/// model in shared batches. Binds to loopback unless told otherwise; a non-loopback --host needs
/// --api-key. SIGTERM or Ctrl-C stops taking connections and finishes the requests in flight.
///
/// Examples:
///   precis serve
///   precis serve --engine extractive --port 9000
///   PRECIS_API_KEY=secret precis serve --host 0.0.0.0 --max-queue 128
///   curl -s localhost:8080/v1/summarize -H 'content-type: application/json' -d '{"text": "…"}'
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ServeArgs {
    /// Address to listen on: an IP address or localhost. Anything but loopback needs --api-key.
    #[arg(long, default_value = crate::serve::DEFAULT_HOST, value_parser = crate::serve::parse_host)]
    pub host: std::net::IpAddr,

    /// Port to listen on (0: any free port, printed at start).
    #[arg(long, default_value_t = crate::serve::DEFAULT_PORT)]
    pub port: u16,

    /// Require `Authorization: Bearer KEY` on /v1/* and /metrics. Prefer the environment
    /// variable to the option (command lines are visible to other users).
    #[arg(long, value_name = "KEY", env = crate::serve::API_KEY_ENV, hide_env_values = true)]
    pub api_key: Option<String>,

    /// Let `url` requests fetch from loopback, private, link-local and metadata addresses
    /// (refused by default, after DNS resolution and on every redirect).
    #[arg(long)]
    pub allow_private_urls: bool,

    /// Let `url` requests fetch from this network (ADDRESS or ADDRESS/PREFIX) even if private;
    /// may be given several times.
    #[arg(long, value_name = "CIDR", value_parser = crate::serve::Network::parse)]
    pub allow_url_network: Vec<crate::serve::Network>,

    /// Largest request body in bytes; larger ones are answered 413.
    #[arg(long, value_name = "BYTES", default_value_t = crate::serve::DEFAULT_MAX_BODY_BYTES, value_parser = parse_positive_usize)]
    pub max_body_bytes: usize,

    /// Requests that may wait for the model at once; more are answered 429 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = crate::serve::DEFAULT_MAX_QUEUE, value_parser = parse_positive_usize)]
    pub max_queue: usize,

    /// Documents the model takes from the queue at once (batched by similar length).
    #[arg(long, value_name = "N", default_value_t = crate::serve::DEFAULT_MAX_BATCH, value_parser = parse_batch)]
    pub max_batch: usize,

    /// Milliseconds the model waits for a batch to fill once a request is waiting (models only).
    #[arg(long, value_name = "MS", default_value_t = crate::serve::DEFAULT_BATCH_WAIT_MS, value_parser = clap::value_parser!(u64).range(0..=1000))]
    pub batch_wait: u64,

    /// Seconds a request may take in all (download, queue, model); later ones are answered 504.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::serve::DEFAULT_REQUEST_TIMEOUT_SECS, value_parser = parse_timeout)]
    pub request_timeout: f64,

    /// Seconds a stopping server (SIGTERM, Ctrl-C) spends finishing the requests in flight.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::serve::DEFAULT_DRAIN_TIMEOUT_SECS, value_parser = parse_timeout)]
    pub drain_timeout: f64,

    /// Seconds to wait for a `url` request's site (connect, and between reads).
    #[arg(long, value_name = "SECONDS", default_value_t = crate::serve::DEFAULT_FETCH_TIMEOUT_SECS, value_parser = parse_timeout)]
    pub fetch_timeout: f64,

    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List the presets (name, repository, architecture, license, whether cached) and the other
    /// models in the cache, with the license their model card states.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Download a model's files into the Hugging Face cache (once, with network): a preset, or any
    /// Hub repository as OWNER/NAME[@REVISION] (a branch, tag, commit or refs/pr/N; default main).
    Pull {
        /// Preset names or OWNER/NAME[@REVISION].
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Print the local directory of a cached model (its snapshot in the Hugging Face cache).
    Path {
        /// Preset name or OWNER/NAME[@REVISION].
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Dataset JSONL: one record per line with `article` and a reference field; precis summarizes
    /// every article and scores the chosen output.
    #[arg(long, value_name = "FILE", conflicts_with = "predictions", required_unless_present = "predictions")]
    pub data: Option<String>,

    /// Score existing outputs: JSONL with `reference` and `prediction` on each line.
    #[arg(long, value_name = "FILE")]
    pub predictions: Option<String>,

    /// Which output to score (with --data).
    #[arg(long, value_enum, default_value_t = EvalOutput::Abstract)]
    pub output: EvalOutput,

    /// Name of the reference field in --data records (default: `reference`, or `headline` when
    /// scoring headlines).
    #[arg(long, value_name = "NAME")]
    pub reference_field: Option<String>,

    /// Output format: text (a table) or json.
    #[arg(long, short, value_enum, default_value_t = EvalFormat::Text)]
    pub format: EvalFormat,

    /// With --format json, include each record's scores.
    #[arg(long)]
    pub per_record: bool,

    /// Score at most this many records.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,

    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalOutput {
    Abstract,
    Bullets,
    Headline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalFormat {
    Text,
    Json,
}

fn parse_bullet_count(value: &str) -> Result<usize, String> {
    let count: usize = value.trim().parse().map_err(|_| format!("'{value}' is not a whole number; give a bullet count from 1 to 20"))?;
    if (1..=20).contains(&count) {
        Ok(count)
    } else {
        Err(format!("{count} bullets is out of range; give a count from 1 to 20"))
    }
}

fn parse_jobs(value: &str) -> Result<usize, String> {
    let jobs: usize = value.trim().parse().map_err(|_| format!("'{value}' is not a whole number; give a worker count from 1 to 64"))?;
    if (1..=64).contains(&jobs) {
        Ok(jobs)
    } else {
        Err(format!("{jobs} workers is out of range; give a count from 1 to 64"))
    }
}

fn parse_timeout(value: &str) -> Result<f64, String> {
    match value.trim().parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds <= 3600.0 => Ok(seconds),
        _ => Err(format!("'{value}' is not a timeout; give seconds between 0 and 3600, e.g. 20 or 0.5")),
    }
}

fn parse_positive_usize(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(number) if number > 0 => Ok(number),
        _ => Err(format!("'{value}' is not a positive whole number")),
    }
}

fn parse_batch(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(number) if (1..=64).contains(&number) => Ok(number),
        _ => Err(format!("'{value}' is not a batch size; give a number from 1 to 64")),
    }
}

/// Join the outputs of a sharded `precis batch` into one JSONL, checked complete.
///
/// Each shard output starts with the plan line `precis batch --shard` writes: the plan's id and
/// the items its shard owns. merge checks that every shard of the plan is given once, that
/// every planned item is there exactly once, and writes the records in input order, without the
/// plan lines (the same records a one-machine run writes). When anything is missing or doubled
/// it names the shards and items, writes nothing and exits with 1: rerun (or --resume) the
/// shards it names, then merge again.
///
/// Examples:
///   precis merge digest.jsonl part-*.jsonl
///   precis merge - parts/*.jsonl | jq .headline
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct MergeArgs {
    /// The merged JSONL, or - for standard output. An existing non-empty file is refused
    /// unless --force is given; it is written whole (through a temporary file) or not at all.
    #[arg(value_name = "OUT")]
    pub out: std::path::PathBuf,

    /// The shard outputs (`precis batch --shard … --out FILE`), in any order.
    #[arg(value_name = "SHARD", required = true)]
    pub shards: Vec<std::path::PathBuf>,

    /// Replace an existing OUT.
    #[arg(long)]
    pub force: bool,

    /// No summary line on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}
