//! End to end: the real `precis` binary on the samples, with the tiny fixture models, a loopback
//! server posing as the Hugging Face Hub, and bad input of every kind. No network is used.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::fake_hub::{Behaviour, FakeHub, HubFile};
use common::{precis, root, run, scratch, stderr, stdout};
use serde_json::Value;

const BART: &str = "tests/fixtures/models/bart-tiny";
const T5: &str = "tests/fixtures/models/t5-tiny";
const SEED: &str = "samples/abe-cameron-summit.txt";

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}\nstderr: {}", stdout(output), stderr(output)))
}

fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

fn assert_summary_shape(record: &Value) {
    let headline = record["headline"].as_str().expect("headline");
    assert!(!headline.trim().is_empty(), "empty headline");
    assert!(!headline.contains('\n'), "headline is one line: {headline:?}");
    assert!(words(headline) <= 14, "headline over 14 words: {headline:?}");
    assert!(!headline.ends_with('.'), "headline ends with a period: {headline:?}");
    let abstract_text = record["abstract"].as_str().expect("abstract");
    assert!(words(abstract_text) > 0, "empty abstract");
    assert!(!abstract_text.contains('\n'), "abstract is one paragraph");
    let bullets = record["bullets"].as_array().expect("bullets");
    assert!(!bullets.is_empty() && bullets.len() <= 4, "bullets: {bullets:?}");
    for bullet in bullets {
        assert!(words(bullet.as_str().expect("bullet text")) > 0);
    }
    for key in ["input_words", "input_sentences", "truncated", "dropped_tokens"] {
        assert!(!record["stats"][key].is_null(), "stats.{key} missing");
    }
    for key in ["load", "abstract", "total"] {
        assert!(record["timings_ms"][key].is_u64(), "timings_ms.{key} missing");
    }
}

#[test]
fn summarize_with_fixture_models_gives_headline_abstract_bullets_in_json() {
    let cache = scratch("json");
    let output = run(precis(&cache).args(["summarize", SEED, "--model", BART, "--headline-model", T5, "--format", "json", "--long", "truncate"]));
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let record = json(&output);
    assert_summary_shape(&record);
    assert_eq!(record["engine"]["abstract"], "abstractive");
    assert_eq!(record["engine"]["headline"], "abstractive");
    assert_eq!(record["models"][0]["id"], BART);
    assert_eq!(record["models"][0]["revision"], "local");
    assert_eq!(record["models"][1]["id"], T5);
    assert_eq!(record["settings"]["length"], "medium");
    // The seed article is longer than the fixture's 256-token window; under --long truncate that
    // must be reported, not hidden.
    let stats = &record["stats"];
    assert_eq!(stats["window"], 256);
    assert_eq!(stats["truncated"], true);
    let input_tokens = stats["input_tokens"].as_u64().expect("input_tokens");
    let used = stats["tokens_used"].as_u64().expect("tokens_used");
    assert!(used <= 256 && used < input_tokens);
    assert_eq!(stats["dropped_tokens"].as_u64(), Some(input_tokens - used));
    assert!(stderr(&output).contains("exceed the 256-token window") && stderr(&output).contains("dropped"), "stderr: {}", stderr(&output));
    assert!(record["warnings"].as_array().expect("warnings").iter().any(|w| w.as_str().unwrap_or("").contains("dropped")));
    // The generation settings actually used are recorded per output.
    assert_eq!(record["settings"]["generation"]["abstract"]["beams"], 4);
}

/// precis's BART with its kernels, without them (libtorch's operations, as on CPUs without
/// AVX2/FMA), and rust-bert's BART write the same summary (tests/parity.rs pins the first to
/// transformers' ids).
#[test]
fn bart_summary_is_the_same_with_precis_kernels_without_them_and_with_rust_berts_bart() {
    let cache = scratch("bart-paths");
    let summary = |env: &[(&str, &str)]| -> Value {
        let mut command = precis(&cache);
        command.args(["summarize", SEED, "--model", BART, "--headline-model", BART, "--format", "json", "--long", "truncate"]);
        for (key, value) in env {
            command.env(key, value);
        }
        let output = run(&mut command);
        assert!(output.status.success(), "{env:?}: stderr: {}", stderr(&output));
        let record = json(&output);
        serde_json::json!({ "headline": record["headline"], "abstract": record["abstract"], "bullets": record["bullets"] })
    };
    let with_kernels = summary(&[]);
    assert!(words(with_kernels["abstract"].as_str().unwrap_or_default()) > 0, "{with_kernels}");
    assert_eq!(summary(&[("PRECIS_KERNELS", "0")]), with_kernels, "without precis's kernels");
    assert_eq!(summary(&[("PRECIS_RUST_BERT_BART", "1")]), with_kernels, "with rust-bert's BART");
}

/// About 12,000 words of real article text: the text samples, repeated.
fn long_document(dir: &Path) -> PathBuf {
    let parts: Vec<String> = [SEED, "samples/port-alder-budget.txt"]
        .iter()
        .map(|p| std::fs::read_to_string(root().join(p)).expect("sample"))
        .collect();
    let mut text = String::new();
    while words(&text) < 12_000 {
        for part in &parts {
            text.push_str(part);
            text.push_str("\n\n");
        }
    }
    let path = dir.join("long.txt");
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn long_input_is_chunked_and_read_whole_by_default() {
    let cache = scratch("long");
    let path = long_document(&scratch("long-input"));
    let output = run(precis(&cache).args(["summarize", path.to_str().expect("path"), "--model", BART, "--headline-model", T5, "--format", "json"]));
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let record = json(&output);
    assert_summary_shape(&record);
    let stats = &record["stats"];
    assert!(stats["input_words"].as_u64().expect("words") >= 12_000);
    assert!(stats["chunks"].as_u64().expect("chunks") > 1, "{stats}");
    assert!(stats["passes"].as_u64().expect("passes") >= 2, "{stats}");
    assert_eq!(stats["tokens_used"], stats["input_tokens"]);
    assert_eq!(stats["truncated"], false);
    assert_eq!(stats["dropped_tokens"], 0);
    assert!(!stderr(&output).contains("dropped"), "{}", stderr(&output));
}

#[test]
fn long_input_policy_error_and_truncate_give_the_counts() {
    let cache = scratch("long-policy");
    let output = run(precis(&cache).args(["summarize", SEED, "--model", BART, "--headline-model", T5, "--long", "error"]));
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains(SEED) && message.contains("tokens exceed the 256-token window") && message.contains("--long chunk"), "{message}");
    let tokens: Vec<u64> = message.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert!(tokens.iter().any(|&t| t > 256), "the message gives the input's token count: {message}");

    let output = run(precis(&cache).args(["summarize", SEED, "--model", BART, "--headline-model", T5, "--long", "truncate", "--format", "json"]));
    let stats = &json(&output)["stats"];
    assert_eq!(stats["truncated"], true);
    assert!(stats["dropped_tokens"].as_u64().expect("dropped") > 0);
    assert_eq!(stats["chunks"], 1);
}

#[test]
fn input_within_the_window_is_read_whole() {
    let cache = scratch("whole");
    let dir = scratch("whole-input");
    let short = dir.join("short.txt");
    std::fs::write(&short, "Japan and Britain agreed on Thursday to boost security cooperation. The two leaders met in London.").expect("write");
    let output = run(precis(&cache).args(["summarize", short.to_str().expect("path"), "--model", BART, "--headline-model", T5, "--format", "json"]));
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let stats = &json(&output)["stats"];
    assert_eq!(stats["truncated"], false);
    assert_eq!(stats["dropped_tokens"], 0);
    assert_eq!(stats["input_tokens"], stats["tokens_used"]);
    assert_eq!(stats["chunks"], 1);
    assert_eq!(stats["passes"], 1);
}

#[test]
fn text_and_markdown_formats_are_readable() {
    let cache = scratch("text");
    let output = run(precis(&cache).args(["summarize", SEED, "--engine", "extractive"]));
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let text = stdout(&output);
    let first = text.lines().next().expect("a first line");
    assert!(!first.is_empty() && words(first) <= 14, "headline line: {first:?}");
    assert_eq!(text.matches("  • ").count(), 4, "{text}");
    assert!(text.contains("extractive engine"), "{text}");

    let output = run(precis(&cache).args(["summarize", SEED, "--engine", "extractive", "--format", "markdown", "--bullets", "3"]));
    let markdown = stdout(&output);
    assert!(markdown.starts_with("## "), "{markdown}");
    assert_eq!(markdown.lines().filter(|l| l.starts_with("- ")).count(), 3, "{markdown}");
}

#[test]
fn extractive_engine_is_deterministic_and_needs_no_model() {
    let cache = scratch("extractive");
    let first = run(precis(&cache).args(["summarize", SEED, "--engine", "extractive", "--format", "json"]));
    let second = run(precis(&cache).args(["summarize", SEED, "--engine", "extractive", "--format", "json"]));
    assert!(first.status.success(), "stderr: {}", stderr(&first));
    let (a, b) = (json(&first), json(&second));
    assert_summary_shape(&a);
    for key in ["headline", "abstract", "bullets"] {
        assert_eq!(a[key], b[key], "{key} differs between runs");
    }
    assert_eq!(a["engine"]["abstract"], "extractive");
    assert_eq!(a["models"].as_array().map(Vec::len), Some(0));
    assert!(a["stats"]["input_tokens"].is_null());
}

#[test]
fn every_sample_format_and_stdin_are_summarized() {
    let cache = scratch("samples");
    let samples = ["samples/port-alder-budget.txt", "samples/keswane-river-flood.md", "samples/sodium-battery-study.html"];
    let output = run(precis(&cache).args(["summarize", "--engine", "extractive", "--format", "json"]).args(samples));
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let records = json(&output);
    let records = records.as_array().expect("an array for several inputs");
    assert_eq!(records.len(), 3);
    let formats: Vec<&str> = records.iter().map(|r| r["input"]["format"].as_str().unwrap_or("")).collect();
    assert_eq!(formats, ["text", "markdown", "html"]);
    for record in records {
        assert_summary_shape(record);
        let all = format!("{} {}", record["abstract"], record["bullets"]);
        assert!(!all.contains('<') && !all.contains("Share on"), "HTML or boilerplate leaked: {all}");
    }

    let article = std::fs::read(root().join(SEED)).expect("seed");
    let mut child = precis(&cache)
        .args(["summarize", "-", "--engine", "extractive", "--format", "jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    use std::io::Write;
    child.stdin.take().expect("stdin").write_all(&article).expect("write stdin");
    let output = child.wait_with_output().expect("wait");
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let line: Value = serde_json::from_str(stdout(&output).lines().next().expect("one line")).expect("jsonl");
    assert_eq!(line["input"]["origin"], "-");
}

#[test]
fn auto_engine_falls_back_to_extractive_when_models_are_unavailable() {
    let cache = scratch("fallback");
    // Offline with an empty cache: the model is merely unavailable.
    let output = run(precis(&cache).args(["summarize", SEED, "--offline", "--format", "json"]));
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let notice = stderr(&output);
    assert!(notice.contains("using the extractive engine") && notice.contains("precis models pull"), "{notice}");
    assert_eq!(notice.lines().count(), 1, "one-line notice: {notice}");
    assert_eq!(json(&output)["engine"]["abstract"], "extractive");

    // The Hub unreachable (a loopback port nobody listens on) behaves the same.
    let output = run(precis(&cache).args(["summarize", SEED, "--format", "json"]));
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert!(stderr(&output).contains("using the extractive engine"));

    // --engine abstractive makes the missing model an error.
    let output = run(precis(&cache).args(["summarize", SEED, "--offline", "--engine", "abstractive"]));
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("precis models pull") && message.contains("config.json"), "{message}");
}

#[test]
fn bad_input_gets_a_clear_error_and_no_panic() {
    let cache = scratch("bad");
    let dir = scratch("bad-inputs");
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write");
        path.to_str().expect("path").to_string()
    };
    let empty = write("empty.txt", b"");
    let blank = write("blank.txt", b"  \n\n\t  \n");
    let binary = write("image.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0");
    let missing = dir.join("missing.txt").to_str().expect("path").to_string();
    let no_weights = dir.join("model-without-weights");
    std::fs::create_dir_all(&no_weights).expect("dir");
    std::fs::copy(root().join(BART).join("config.json"), no_weights.join("config.json")).expect("copy config");
    let no_weights = no_weights.to_str().expect("path").to_string();
    // A download that was cut short: the weights file ends early.
    let truncated = dir.join("model-with-truncated-weights");
    std::fs::create_dir_all(&truncated).expect("dir");
    for file in ["config.json", "tokenizer.json", "special_tokens_map.json"] {
        std::fs::copy(root().join(BART).join(file), truncated.join(file)).expect("copy");
    }
    let weights = std::fs::read(root().join(BART).join("model.safetensors")).expect("weights");
    std::fs::write(truncated.join("model.safetensors"), &weights[..weights.len() / 2]).expect("write");
    let truncated = truncated.to_str().expect("path").to_string();

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["summarize", &empty, "--engine", "extractive"], "empty"),
        (vec!["summarize", &blank, "--engine", "extractive"], "only whitespace"),
        (vec!["summarize", &binary, "--engine", "extractive"], "PNG image, not text"),
        (vec!["summarize", &missing, "--engine", "extractive"], "missing.txt"),
        (vec!["summarize", SEED, "--model", "no-such-model"], "unknown model 'no-such-model'"),
        (vec!["summarize", SEED, "--engine", "extractive", "--model", "no-such-model"], "unknown model"),
        (vec!["summarize", SEED, "--engine", "extractive", "--model", &no_weights], "has no weights"),
        (vec!["summarize", SEED, "--model", &no_weights, "--headline-model", T5], "has no weights"),
        (vec!["summarize", SEED, "--model", &truncated, "--headline-model", T5], "truncated or corrupt"),
        (vec!["summarize", SEED, "--bullets", "0"], "out of range"),
    ];
    for (args, expected) in cases {
        let output = run(precis(&cache).args(&args));
        let message = stderr(&output);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(!message.contains("panicked"), "{args:?} panicked: {message}");
        assert!(message.to_lowercase().contains(&expected.to_lowercase()), "{args:?}: expected {expected:?} in {message:?}");
        if args.len() > 1 && args[1] != SEED {
            assert!(message.contains(args[1]), "{args:?}: the message must name the input: {message}");
        }
    }
}

fn preset_commit(name: &str) -> (String, String) {
    let preset = precis::hub::find_preset(name).expect("presets").expect("preset exists");
    (preset.repo, preset.revision)
}

/// The fixture files served under a preset's repository and pinned revision; `weights` chooses
/// how the weights file is served.
fn hub_files(weights: Behaviour) -> Vec<HubFile> {
    let read = |dir: &str, file: &str| std::fs::read(root().join(dir).join(file)).expect("fixture file");
    let (bart_repo, bart_rev) = preset_commit("bart-large-cnn");
    let (t5_repo, t5_rev) = preset_commit("t5-small-headline");
    let hubfmt = "tests/fixtures/models/bart-tiny-hubfmt";
    vec![
        HubFile::new(&bart_repo, &bart_rev, "config.json", read(hubfmt, "config.json"), Behaviour::Serve),
        // No rust_model.ot: precis must fall back to model.safetensors, stored the way the Hub's
        // conversion bot stores it (tied embedding only as model.decoder.embed_tokens.weight).
        HubFile::new(&bart_repo, &bart_rev, "rust_model.ot", Vec::new(), Behaviour::NotFound),
        HubFile::new(&bart_repo, &bart_rev, "model.safetensors", read(hubfmt, "model.safetensors"), weights).lfs(),
        HubFile::new(&bart_repo, &bart_rev, "tokenizer.json", read(hubfmt, "tokenizer.json"), Behaviour::Serve),
        HubFile::new(&bart_repo, &bart_rev, "special_tokens_map.json", read(hubfmt, "special_tokens_map.json"), Behaviour::Serve),
        HubFile::new(&t5_repo, &t5_rev, "config.json", read(T5, "config.json"), Behaviour::Serve),
        HubFile::new(&t5_repo, &t5_rev, "model.safetensors", read(T5, "model.safetensors"), Behaviour::Serve).lfs(),
        HubFile::new(&t5_repo, &t5_rev, "tokenizer.json", read(T5, "tokenizer.json"), Behaviour::Serve),
        HubFile::new(&t5_repo, &t5_rev, "special_tokens_map.json", read(T5, "special_tokens_map.json"), Behaviour::Serve),
    ]
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn presets_download_into_the_hf_cache_and_then_run_offline() {
    let hub = FakeHub::start(hub_files(Behaviour::Serve));
    let cache = scratch("download");
    let output = run(precis(&cache).env("HF_ENDPOINT", hub.endpoint()).args(["models", "pull", "bart-large-cnn", "t5-small-headline"]));
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let (bart_repo, bart_rev) = preset_commit("bart-large-cnn");
    let snapshot = cache.join(format!("models--{}", bart_repo.replace('/', "--"))).join("snapshots").join(&bart_rev);
    assert!(snapshot.join("model.safetensors").is_file(), "not in the HF cache layout: {}", snapshot.display());
    assert!(stdout(&output).contains(&bart_rev));

    let requests_before = hub.requests().len();
    let output = run(precis(&cache).args([
        "summarize", SEED, "--offline", "--engine", "abstractive", "--model", "bart-large-cnn", "--headline-model", "t5-small-headline", "--format", "json",
    ]));
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert_eq!(hub.requests().len(), requests_before, "offline mode touched the network");
    let record = json(&output);
    assert_summary_shape(&record);
    assert_eq!(record["models"][0]["id"], bart_repo.as_str());
    assert_eq!(record["models"][0]["revision"], bart_rev.as_str());
    assert_eq!(record["models"][0]["license"], "mit");

    let output = run(precis(&cache).args(["models", "path", "bart-large-cnn"]));
    assert_eq!(stdout(&output).trim(), snapshot.to_str().expect("path"));
    let output = run(precis(&cache).args(["models", "list"]));
    assert!(stdout(&output).lines().any(|l| l.starts_with("bart-large-cnn") && l.contains(" yes ")), "{}", stdout(&output));
}

#[test]
fn failed_downloads_say_what_failed_and_leave_nothing_half_written() {
    for (behaviour, expected) in [
        (Behaviour::Truncate { send: 1000 }, "stopped after 1000"),
        (Behaviour::Corrupt, "sha256"),
        (Behaviour::NotFound, "model.safetensors"),
        (Behaviour::ServerError, "500"),
    ] {
        let label = format!("{behaviour:?}");
        let hub = FakeHub::start(hub_files(behaviour));
        let cache = scratch("failed-download");
        let output = run(precis(&cache).env("HF_ENDPOINT", hub.endpoint()).env("PRECIS_HUB_TIMEOUT_SECS", "5").args(["models", "pull", "bart-large-cnn"]));
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{label}: {message}");
        assert!(!message.contains("panicked"), "{label}: {message}");
        assert!(message.to_lowercase().contains(expected), "{label}: expected {expected:?} in {message}");
        assert!(message.contains("model.safetensors"), "{label}: the message must name the file: {message}");
        for file in files_under(&cache) {
            let name = file.to_string_lossy();
            assert!(!name.ends_with(".incomplete"), "{label}: half-written file left: {name}");
            if let Ok(len) = std::fs::metadata(&file).map(|m| m.len()) {
                assert!(len < 100_000, "{label}: a weights blob was kept: {name} ({len} bytes)");
            }
        }
    }
}

#[test]
fn eval_scores_predictions_and_names_bad_lines() {
    let cache = scratch("eval");
    let dir = scratch("eval-files");
    let good = dir.join("predictions.jsonl");
    std::fs::write(
        &good,
        "{\"reference\": \"Abe and Cameron agree to boost security ties.\", \"prediction\": \"Abe and Cameron agree to boost security ties.\"}\n\
         {\"reference\": \"Japan and the EU aim for a trade deal.\", \"prediction\": \"\"}\n",
    )
    .expect("write");
    let output = run(precis(&cache).args(["eval", "--predictions", good.to_str().expect("path"), "--format", "json", "--per-record"]));
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["records"], 2);
    let per_record = report["per_record"].as_array().expect("per_record");
    assert_eq!(per_record[0]["rouge"]["rouge1"]["f1"], 1.0);
    assert_eq!(per_record[1]["rouge"]["rouge1"]["f1"], 0.0);
    assert!((report["rouge"]["rouge1"]["f1"].as_f64().expect("mean") - 0.5).abs() < 1e-9);

    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, "{\"reference\": \"a\", \"prediction\": \"a\"}\n{\"reference\": \"b\"}\n").expect("write");
    let output = run(precis(&cache).args(["eval", "--predictions", bad.to_str().expect("path")]));
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("line 2") && message.contains("prediction"), "{message}");
}

// ---- precis compare ----

const SAMPLES: [&str; 4] = [SEED, "samples/port-alder-budget.txt", "samples/keswane-river-flood.md", "samples/sodium-battery-study.html"];

/// Words as precis counts them: whitespace-separated tokens with a letter or digit.
fn counted_words(text: &str) -> usize {
    text.split_whitespace().filter(|t| t.chars().any(char::is_alphanumeric)).count()
}

fn variant_texts(variant: &Value) -> Vec<String> {
    variant["sentence_texts"].as_array().expect("sentence_texts").iter().map(|s| s.as_str().expect("sentence").to_string()).collect()
}

/// The counts a variant reports agree with its own text.
fn assert_counts_match_text(record: &Value, variant: &Value) {
    let sentences = variant_texts(variant);
    let text = variant["text"].as_str().expect("text");
    assert_eq!(text, sentences.join(" "));
    let words = variant["words"].as_u64().expect("words") as usize;
    assert_eq!(words, counted_words(text), "{variant}");
    assert_eq!(variant["sentences"].as_u64(), Some(sentences.len() as u64));
    let input_words = record["stats"]["input_words"].as_f64().expect("input_words");
    let compression = variant["compression"].as_f64().expect("compression");
    assert!((compression - words as f64 / input_words).abs() < 1e-12, "{compression}");
}

#[test]
fn compare_gives_three_presets_in_increasing_length_with_correct_counts() {
    let cache = scratch("compare-presets");
    let output = run(precis(&cache).args(["compare", SEED, "--engine", "extractive", "--format", "json"]));
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let record = json(&output);
    assert_eq!(record["engine"], "extractive");
    let variants = record["variants"].as_array().expect("variants");
    let labels: Vec<&str> = variants.iter().map(|v| v["label"].as_str().expect("label")).collect();
    assert_eq!(labels, ["short", "medium", "long"]);
    let source = std::fs::read_to_string(root().join(SEED)).expect("sample");
    let mut previous = 0;
    for (variant, budget) in variants.iter().zip([40u64, 80, 160]) {
        assert_eq!(variant["budget"]["words"], budget);
        assert_counts_match_text(&record, variant);
        let words = variant["words"].as_u64().expect("words");
        assert!(words > previous && words <= budget, "{} words for a {budget}-word budget", words);
        previous = words;
        assert_eq!(variant["budget_met"], true);
        // Extracted sentences are the article's own: no novel bigram, every sentence complete.
        assert_eq!(variant["novel_bigrams"].as_f64(), Some(0.0));
        for sentence in variant_texts(variant) {
            assert!(sentence.ends_with(['.', '"', '”', '?', '!']), "{sentence:?}");
            let opening: String = sentence.split_whitespace().take(6).collect::<Vec<_>>().join(" ");
            assert!(source.split_whitespace().collect::<Vec<_>>().join(" ").contains(&opening), "{sentence:?}");
        }
        assert!(variant["tokens"].is_null());
    }
    // summarize --length and compare share one definition of the presets.
    for length in ["short", "medium", "long"] {
        let summary = json(&run(precis(&cache).args(["summarize", SEED, "--engine", "extractive", "--format", "json", "--length", length])));
        let variant = variants.iter().find(|v| v["label"] == length).expect("variant");
        assert_eq!(summary["abstract"], variant["text"], "{length}");
        assert_eq!(summary["settings"]["target_words"], variant["budget"]["words"]);
    }
}

#[test]
fn compare_word_and_sentence_budgets_hold_on_every_sample_with_the_extractive_engine() {
    let cache = scratch("compare-samples");
    for sample in SAMPLES {
        let output = run(precis(&cache).args(["compare", sample, "--engine", "extractive", "--words", "25,60,120", "--sentences", "1,3,5", "--format", "json"]));
        assert!(output.status.success(), "{sample}: {}", stderr(&output));
        let record = json(&output);
        let variants = record["variants"].as_array().expect("variants");
        assert_eq!(variants.len(), 6);
        for variant in variants {
            assert_counts_match_text(&record, variant);
            let words = variant["words"].as_u64().expect("words");
            let sentences = variant["sentences"].as_u64().expect("sentences");
            if let Some(budget) = variant["budget"]["words"].as_u64() {
                if variant["budget_met"] == true {
                    assert!(words <= budget, "{sample}: {words} words for {budget}");
                } else {
                    // Only when not one sentence fits: the best one whole, and a warning says so.
                    assert_eq!(sentences, 1, "{sample}: {variant}");
                    assert!(words > budget);
                    assert!(variant["warnings"][0].as_str().unwrap_or("").contains("kept whole rather than cut"), "{variant}");
                }
                if budget >= 60 {
                    assert_eq!(variant["budget_met"], true, "{sample}: {variant}");
                }
            } else {
                let budget = variant["budget"]["sentences"].as_u64().expect("a sentence budget");
                assert_eq!(sentences, budget, "{sample}: {variant}");
                assert_eq!(variant["budget_met"], true);
            }
        }
    }
}

#[test]
fn compare_with_a_fixture_model_maps_budgets_to_tokens_and_never_hides_a_miss() {
    let cache = scratch("compare-model");
    let output = run(precis(&cache).args(["compare", SEED, "--model", BART, "--words", "20,40", "--sentences", "2", "--format", "json"]));
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let record = json(&output);
    assert_eq!(record["engine"], "abstractive");
    assert_eq!(record["models"][0]["id"], BART);
    // The seed article is over the fixture's 256-token window: condensed once, read whole.
    let stats = &record["stats"];
    assert_eq!(stats["window"], 256);
    assert!(stats["chunks"].as_u64().expect("chunks") > 1, "{stats}");
    assert_eq!(stats["truncated"], false);
    let tokens_per_word = stats["tokens_per_word"].as_f64().expect("tokens_per_word");
    assert!(tokens_per_word > 1.0 && tokens_per_word < 2.0, "{tokens_per_word}");
    let variants = record["variants"].as_array().expect("variants");
    for (variant, words) in variants.iter().zip([20.0f64, 40.0]) {
        // Decoder start, forced BOS and EOS (bart-tiny's config forces a BOS) come on top.
        let generation = &variant["generation"];
        assert_eq!(generation["max_tokens"].as_u64(), Some((words * 1.5 * tokens_per_word).round() as u64 + 3), "{generation}");
        assert_eq!(generation["min_tokens"].as_u64(), Some((words * (1.0 - 0.15) * tokens_per_word).round() as u64 + 3), "{generation}");
        assert_eq!(generation["beams"], 4);
    }
    for variant in variants {
        assert_counts_match_text(&record, variant);
        assert!(variant["tokens"].as_u64().expect("tokens") > 0);
        let sentences = variant_texts(variant);
        let complete = sentences.iter().all(|s| s.trim_end_matches(['"', '”', ')']).ends_with(['.', '!', '?']));
        let words = variant["words"].as_u64().expect("words") as f64;
        if variant["budget_met"] == true {
            assert!(complete, "{variant}");
            match variant["budget"]["words"].as_f64() {
                Some(budget) => assert!(words * 100.0 >= budget * 85.0 && words * 100.0 <= budget * 115.0, "{variant}"),
                None => assert_eq!(variant["budget"]["sentences"].as_u64(), Some(sentences.len() as u64)),
            }
        } else {
            // The random-weight fixture writes no sentence ends: its text is shown as written,
            // flagged in the JSON and on stderr, and not cut to fit.
            let warning = variant["warnings"][0].as_str().expect("a warning says why");
            assert!(!warning.is_empty());
            assert!(stderr(&output).contains(warning), "{}", stderr(&output));
        }
    }
}

#[test]
fn compare_reference_scores_match_the_rouge_implementation() {
    let cache = scratch("compare-rouge");
    let dir = scratch("compare-rouge-files");
    let reference_text = "Japan and Britain agreed to boost security cooperation.\nThe leaders also discussed trade between Japan and the European Union.\n";
    let reference = dir.join("reference.txt");
    std::fs::write(&reference, reference_text).expect("write");
    let output = run(precis(&cache).args(["compare", SEED, "--engine", "extractive", "--words", "30,90", "--format", "json", "--reference"]).arg(&reference));
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let record = json(&output);
    assert_eq!(record["reference"].as_str(), reference.to_str());
    for variant in record["variants"].as_array().expect("variants") {
        let expected = precis::rouge::score(reference_text.trim_end(), &variant_texts(variant).join("\n"));
        let rouge = &variant["rouge"];
        // serde_json's default float parser can be one unit in the last place off; nothing more.
        let same = |key: &str, expected: f64| (rouge[key].as_f64().expect("a score") - expected).abs() <= 1e-15;
        assert!(same("rouge1", expected.rouge1.f1), "{rouge} vs {expected:?}");
        assert!(same("rouge2", expected.rouge2.f1), "{rouge} vs {expected:?}");
        assert!(same("rougeLsum", expected.rouge_lsum.f1), "{rouge} vs {expected:?}");
        assert!(expected.rouge1.f1 > 0.1, "the seed article's lead shares words with the reference: {rouge}");
    }
}

#[test]
fn compare_invalid_budgets_are_clear_errors() {
    let cache = scratch("compare-invalid");
    for (args, status, message) in [
        (vec!["--words", "0"], 2, "a word budget of 0 is out of range"),
        (vec!["--words", "abc"], 2, "'abc' is not a whole number"),
        (vec!["--words", "25,,60"], 2, "is not a whole number"),
        (vec!["--sentences", "0"], 2, "a sentence budget of 0 is out of range"),
        (vec!["--lengths", "huge"], 2, "huge"),
        (vec!["--lengths", "medium", "--words", "80"], 1, "medium and 80 words are the same budget"),
    ] {
        let output = run(precis(&cache).args(["compare", SEED, "--engine", "extractive"]).args(&args));
        assert_eq!(output.status.code(), Some(status), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(message), "{args:?}: {}", stderr(&output));
        assert!(stdout(&output).is_empty(), "{args:?}");
    }
    let output = run(precis(&cache).args(["compare", "no-such-file.txt", "--engine", "extractive"]));
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("no-such-file.txt"), "{}", stderr(&output));
}

#[test]
fn compare_text_fits_the_terminal_and_markdown_has_a_table() {
    let cache = scratch("compare-text");
    let wide = run(precis(&cache).env("COLUMNS", "120").args(["compare", SEED, "--engine", "extractive"]));
    assert!(wide.status.success(), "stderr: {}", stderr(&wide));
    let text = stdout(&wide);
    assert!(text.lines().all(|l| l.chars().count() <= 120), "{text}");
    let header = text.lines().next().expect("header");
    assert!(header.contains("short") && header.contains("medium") && header.contains("long"), "side by side: {text}");
    assert!(text.lines().any(|l| l.starts_with("words") && l.split_whitespace().count() == 4), "{text}");
    assert!(text.contains("extractive engine"), "{text}");

    let narrow = run(precis(&cache).env("COLUMNS", "60").args(["compare", SEED, "--engine", "extractive"]));
    let text = stdout(&narrow);
    assert!(text.lines().all(|l| l.chars().count() <= 60), "{text}");
    assert!(text.contains("── short") && text.contains("── long"), "stacked: {text}");

    let markdown = stdout(&run(precis(&cache).args(["compare", SEED, "--engine", "extractive", "--format", "markdown"])));
    assert!(markdown.starts_with("| | short | medium | long |"), "{markdown}");
    assert!(markdown.contains("### medium (80 words)"), "{markdown}");

    let help = stdout(&run(precis(&cache).args(["compare", "--help"])));
    assert!(help.contains("Examples:") && help.contains("--words") && help.contains("novel bigrams"), "{help}");
}

#[test]
fn compare_budget_beyond_the_model_window_is_capped_and_said() {
    let cache = scratch("compare-cap");
    let output = run(precis(&cache).args(["compare", SEED, "--model", BART, "--words", "300", "--long", "truncate", "--format", "json"]));
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let record = json(&output);
    assert_eq!(record["stats"]["truncated"], true);
    let variant = &record["variants"][0];
    assert_eq!(variant["generation"]["max_tokens"], 256);
    assert_eq!(variant["budget_met"], false);
    let warnings: Vec<&str> = variant["warnings"].as_array().expect("warnings").iter().filter_map(Value::as_str).collect();
    assert!(warnings.iter().any(|w| w.contains("the model writes at most 256 (its window)")), "{warnings:?}");
}

#[test]
fn hostile_inputs_are_refused_or_read_within_limits() {
    let cache = scratch("hostile");
    let dir = scratch("hostile-inputs");
    let path = |name: &str| dir.join(name).to_str().expect("path").to_string();
    let article = "<p>The harbor master said on Monday that the new breakwater would be finished before the winter storms.</p>\
                   <p>Fishing crews had asked for the work for years after waves damaged boats in the old harbor.</p>";

    // Over the 50 MiB input limit: refused before reading (a sparse file takes no disk space).
    let huge = path("huge.txt");
    std::fs::File::create(&huge).and_then(|file| file.set_len(60 * 1024 * 1024)).expect("sparse file");
    // Neither UTF-8 nor plausible Windows-1252.
    let undecodable = path("undecodable.txt");
    std::fs::write(&undecodable, (0..400u32).map(|n| 0x80 + (n * 7 % 0x7f) as u8).collect::<Vec<u8>>()).expect("write");
    // 100,000 unclosed <div>s around the article, and 7 MB of empty markup around it.
    let deep = path("deep.html");
    std::fs::write(&deep, format!("<html><body>{}{article}</body></html>", "<div>".repeat(100_000))).expect("write");
    let bloated = path("bloated.html");
    std::fs::write(&bloated, format!("<html><body><article>{article}{}</article></body></html>", "<span class=\"x\"></span>".repeat(300_000))).expect("write");

    for (input, expected) in [(&huge, "is too large: at least 62914560 bytes, and precis reads at most 52428800 bytes (50 MiB)"), (&undecodable, "is not valid UTF-8 and does not look like Windows-1252")] {
        let output = run(precis(&cache).args(["summarize", input, "--engine", "extractive"]));
        assert_eq!(output.status.code(), Some(1), "{input}: {}", stderr(&output));
        assert!(stderr(&output).contains(input.as_str()) && stderr(&output).contains(expected), "{input}: {}", stderr(&output));
    }
    for input in [&deep, &bloated] {
        let output = run(precis(&cache).args(["summarize", input, "--engine", "extractive", "--format", "json"]));
        assert!(output.status.success(), "{input}: {}", stderr(&output));
        let record = json(&output);
        assert!(record["abstract"].as_str().expect("abstract").contains("breakwater"), "{input}: {record}");
    }
}
