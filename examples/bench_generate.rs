//! precis's side of bench/compare.sh: runs `Seq2SeqModel::generate` on given token ids with given
//! settings and prints timings, peak memory and the generated ids as one JSON object.
//! Not part of the CLI: the benchmark needs exact input ids and decoding, which
//! `precis summarize` (headline + abstract + bullets from text) does not give.
//!
//! usage: bench_generate MODEL_DIR INPUTS_JSON THREADS RUNS BATCH_SIZE [PRECISION]
//! BATCH_PART=R/N times only inputs R-1, R-1+N, … of the batch (`none`: no batch; RUNS may be 0).
//! With BENCH_TARGETS=FILE (bench/compare.py's targets: {"beam"|"greedy"|"batch": [[input ids,
//! target ids], …]}), the targets are also scored teacher-forced after the timed runs
//! (`Seq2SeqModel::score`) and printed as "log_probs".
//! PRECISION: fp32 (default), bf16 or int8 (`--precision` of the CLI); the side is named
//! "precis" at fp32 and "precis PRECISION" otherwise.
//! INPUTS_JSON: {"article": [ids…], "batch": [[ids…], …], "new_tokens": 80, "beams": 4,
//!               "no_repeat_ngram": 3, "length_penalty": 2.0}

use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use clap::ValueEnum;
use precis::engine::kernels::{Precision, DEFAULT_PRECISION};
use precis::engine::seq2seq::{GenerationSettings, Seq2SeqModel};
use serde_json::{json, Value};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (model_dir, inputs_path, threads, runs, batch_size, precision) = match args.as_slice() {
        [_, model_dir, inputs_path, threads, runs, batch_size] => (model_dir, inputs_path, threads, runs, batch_size, DEFAULT_PRECISION),
        [_, model_dir, inputs_path, threads, runs, batch_size, precision] => {
            let precision = Precision::from_str(precision, true).map_err(|e| anyhow!("PRECISION: {e}"))?;
            (model_dir, inputs_path, threads, runs, batch_size, precision)
        }
        _ => return Err(anyhow!("usage: bench_generate MODEL_DIR INPUTS_JSON THREADS RUNS BATCH_SIZE [PRECISION]")),
    };
    let threads: i32 = threads.parse().context("THREADS")?;
    let runs: usize = runs.parse().context("RUNS")?;
    let batch_size: usize = batch_size.parse().context("BATCH_SIZE")?;
    tch::set_num_threads(threads);
    tch::set_num_interop_threads(1);

    let inputs: Value = serde_json::from_str(&std::fs::read_to_string(inputs_path)?)?;
    let ids = |value: &Value| -> Result<Vec<i64>> {
        value.as_array().ok_or_else(|| anyhow!("ids must be a list"))?.iter().map(|id| id.as_i64().ok_or_else(|| anyhow!("bad id"))).collect()
    };
    let article = ids(&inputs["article"])?;
    // BATCH_INPUTS=N keeps the first N inputs of the batch (a quicker run).
    let batch_inputs: usize = std::env::var("BATCH_INPUTS").ok().and_then(|n| n.parse().ok()).unwrap_or(usize::MAX);
    let all_batch: Vec<Vec<i64>> =
        inputs["batch"].as_array().ok_or_else(|| anyhow!("no batch"))?.iter().take(batch_inputs).map(&ids).collect::<Result<_>>()?;
    // BATCH_PART=R/N times inputs R-1, R-1+N, … (bench/compare.sh's rounds); `none`, no batch.
    let (part, parts) = match std::env::var("BATCH_PART").as_deref() {
        Err(_) => (1, 1),
        Ok("none") => (1, 0),
        Ok(part) => {
            let (part, parts) = part.split_once('/').ok_or_else(|| anyhow!("BATCH_PART must be R/N or none"))?;
            let (part, parts): (usize, usize) = (part.parse().context("BATCH_PART")?, parts.parse().context("BATCH_PART")?);
            if part == 0 || part > parts {
                return Err(anyhow!("BATCH_PART must be R/N with 1 <= R <= N"));
            }
            (part, parts)
        }
    };
    let batch: Vec<Vec<i64>> = if parts == 0 { Vec::new() } else { all_batch.into_iter().skip(part - 1).step_by(parts).collect() };
    let number = |key: &str| inputs[key].as_f64().ok_or_else(|| anyhow!("no {key}"));
    // Lengths count the decoder start token, as transformers' max_length does.
    let length = number("new_tokens")? as u32 + 1;
    let settings = |beams: u32| GenerationSettings {
        min_tokens: length,
        max_tokens: length,
        beams,
        length_penalty: number("length_penalty").unwrap_or(1.0),
        no_repeat_ngram: number("no_repeat_ngram").unwrap_or(0.0) as u32,
        early_stopping: false,
    };
    let beam = settings(number("beams")? as u32);
    let greedy = settings(1);

    let started = Instant::now();
    let files = precis::hub::ModelFiles::in_directory(std::path::Path::new(model_dir))?;
    let model = Seq2SeqModel::load_at(&files, Some(""), None, tch::Device::Cpu, precision)?;
    if model.precision() != precision {
        return Err(anyhow!("the model runs at {} here, not {}", model.precision().name(), precision.name()));
    }
    let load_seconds = started.elapsed().as_secs_f64();

    let time = |settings: &GenerationSettings| -> Result<(Vec<f64>, Vec<i64>)> {
        let mut seconds = Vec::new();
        let mut output = Vec::new();
        for _ in 0..runs {
            let start = Instant::now();
            output = model.generate(std::slice::from_ref(&article), settings)?.pop().unwrap_or_default();
            seconds.push(start.elapsed().as_secs_f64());
        }
        Ok((seconds, output))
    };
    // Warm-up: one decoding of each kind, not timed.
    model.generate(std::slice::from_ref(&article), &greedy)?;
    let (beam_seconds, beam_ids) = time(&beam)?;
    let (greedy_seconds, greedy_ids) = time(&greedy)?;

    // The batch: sorted by length so that each padded batch holds similar lengths.
    let mut order: Vec<usize> = (0..batch.len()).collect();
    order.sort_by_key(|&i| batch[i].len());
    let start = Instant::now();
    let mut batch_ids = vec![Vec::new(); batch.len()];
    for chunk in order.chunks(batch_size.max(1)) {
        let group: Vec<Vec<i64>> = chunk.iter().map(|&i| batch[i].clone()).collect();
        for (&i, output) in chunk.iter().zip(model.generate(&group, &beam)?) {
            batch_ids[i] = output;
        }
    }
    let batch_seconds = start.elapsed().as_secs_f64();

    let mut log_probs = serde_json::Map::new();
    if let Some(path) = std::env::var_os("BENCH_TARGETS") {
        let targets: Value = serde_json::from_str(&std::fs::read_to_string(&path).with_context(|| format!("BENCH_TARGETS {path:?}"))?)?;
        for (kind, pairs) in targets.as_object().ok_or_else(|| anyhow!("targets must be an object"))? {
            let pairs: Vec<(Vec<i64>, Vec<i64>)> = pairs
                .as_array()
                .ok_or_else(|| anyhow!("targets {kind} must be a list"))?
                .iter()
                .map(|pair| Ok((ids(&pair[0])?, ids(&pair[1])?)))
                .collect::<Result<_>>()?;
            let mut order: Vec<usize> = (0..pairs.len()).collect();
            order.sort_by_key(|&i| pairs[i].0.len());
            let mut scores = vec![Vec::new(); pairs.len()];
            for chunk in order.chunks(batch_size.max(1)) {
                let sources: Vec<Vec<i64>> = chunk.iter().map(|&i| pairs[i].0.clone()).collect();
                let targets: Vec<Vec<i64>> = chunk.iter().map(|&i| pairs[i].1.clone()).collect();
                for (&i, scored) in chunk.iter().zip(model.score(&sources, &targets)?) {
                    scores[i] = scored;
                }
            }
            log_probs.insert(kind.clone(), json!(scores));
        }
    }

    println!(
        "{}",
        json!({
            "side": if precision == Precision::Fp32 { "precis".to_string() } else { format!("precis {}", precision.name()) },
            "load_seconds": load_seconds,
            "beam_seconds": beam_seconds,
            "greedy_seconds": greedy_seconds,
            "batch_seconds": batch_seconds,
            "peak_rss_mb": peak_rss_mb(),
            "beam_ids": beam_ids,
            "greedy_ids": greedy_ids,
            "batch_ids": batch_ids,
            "log_probs": if log_probs.is_empty() { Value::Null } else { Value::Object(log_probs) },
        })
    );
    Ok(())
}

/// VmHWM of this process, in MB (0 where /proc is not there).
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
