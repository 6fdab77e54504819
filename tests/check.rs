//! End to end: `precis check` on pairs and JSON Lines files (bad lines included), and the
//! `--guard` on model outputs through `summarize`, `compare`, `batch` and `eval` with the tiny
//! fixture models, whose random weights write gibberish: exactly what the guard must catch.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::{precis, run, scratch, stderr, stdout};
use serde_json::{json, Value};

const BART: &str = "tests/fixtures/models/bart-tiny";
const T5: &str = "tests/fixtures/models/t5-tiny";
const SEED: &str = "samples/abe-cameron-summit.txt";

const ARTICLE: &str = "Prime Minister Shinzo Abe met his British counterpart David Cameron in London on Thursday. \
The two leaders agreed to boost security cooperation. Japan will buy 20 British jets.";

fn json_out(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}\nstderr: {}", stdout(output), stderr(output)))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn a_pair_is_checked_and_the_flagged_spans_are_marked() {
    let dir = scratch("check-pair");
    let article = write(&dir, "article.txt", ARTICLE);
    let summary = write(&dir, "summary.txt", "Shinzo Abe met Barack Obama in London. Japan will buy 21 British jets.");
    let output = run(precis(&dir).args(["check", "--article", arg(&article), "--summary", arg(&summary)]));
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    // Not a terminal: plain brackets, each flagged span with its kind and reason.
    assert!(text.contains("Shinzo Abe met [Barack Obama] in London."), "{text}");
    assert!(text.contains("Japan will buy [21] British jets."), "{text}");
    assert!(text.contains("name \"Barack Obama\" (not in the article): the source never names this"), "{text}");
    assert!(text.contains("number \"21\" (not in the article)"), "{text}");
    assert!(text.contains("best support: article sentence 3"), "{text}");

    let output = run(precis(&dir).args(["check", "--article", arg(&article), "--summary", arg(&summary), "--format", "json"]));
    assert!(output.status.success(), "{}", stderr(&output));
    let check = json_out(&output);
    let score = check["score"].as_f64().expect("score");
    assert!(score > 0.0 && score < 1.0, "{score}");
    let spans: Vec<&Value> = check["sentences"].as_array().expect("sentences").iter().flat_map(|s| s["unsupported"].as_array().expect("spans")).collect();
    assert_eq!(spans.len(), 2, "{spans:?}");
    assert_eq!(spans[0]["kind"], "name");
    assert_eq!((spans[0]["start"].as_u64(), spans[0]["end"].as_u64()), (Some(15), Some(27)));
    assert_eq!(spans[1]["kind"], "number");
}

#[test]
fn a_summary_on_standard_input_and_a_copied_summary_score_one() {
    let dir = scratch("check-stdin");
    let article = write(&dir, "article.txt", ARTICLE);
    let mut child = precis(&dir)
        .args(["check", "--article", arg(&article), "--summary", "-", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn precis");
    child.stdin.take().expect("stdin").write_all(ARTICLE.as_bytes()).expect("write stdin");
    let output = child.wait_with_output().expect("wait");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(json_out(&output)["score"], 1.0);
}

#[test]
fn data_lines_are_checked_in_order_and_bad_lines_are_named() {
    let dir = scratch("check-data");
    let lines = [
        json!({"id": "good", "article": ARTICLE, "summary": "Japan will buy 20 British jets.", "human": 1.0, "set": "a"}).to_string(),
        "{\"article\": \"no closing brace\"".to_string(),
        json!({"article": ARTICLE, "human": 0.0, "set": "a"}).to_string(),
        String::new(),
        json!({"article": ARTICLE, "summary": "  ", "human": 0.0, "set": "b"}).to_string(),
        json!({"id": 7, "article": ARTICLE, "summary": "Germany will buy 45 jets from Mars.", "human": 0.0, "set": "b"}).to_string(),
    ];
    let data = write(&dir, "pairs.jsonl", &(lines.join("\n") + "\n"));
    let output = run(precis(&dir).args(["check", "--data", arg(&data), "--format", "jsonl", "--human-field", "human", "--group-field", "set"]));
    assert_eq!(output.status.code(), Some(1), "bad lines make the run fail: {}", stderr(&output));
    let err = stderr(&output);
    let file = data.display().to_string();
    assert!(err.contains(&format!("{file} line 2: invalid JSON")), "{err}");
    assert!(err.contains(&format!("{file} line 3: missing field \"summary\" (rename it with --summary-field)")), "{err}");
    assert!(err.contains(&format!("{file} line 5: field \"summary\" is empty")), "{err}");
    assert!(err.contains("3 of 5 lines"), "{err}");
    let records: Vec<Value> = stdout(&output).lines().map(|l| serde_json::from_str(l).expect("jsonl line")).collect();
    let numbers: Vec<u64> = records.iter().map(|r| r["line"].as_u64().expect("line")).collect();
    assert_eq!(numbers, [1, 2, 3, 5, 6], "one object per non-blank input line, in order");
    assert_eq!(records[0]["id"], "good");
    assert_eq!(records[0]["faithfulness"], 1.0);
    assert_eq!(records[0]["flagged"], false);
    assert!(records[1]["error"].as_str().expect("error").starts_with("invalid JSON"));
    assert_eq!(records[4]["id"], 7);
    assert!(records[4]["faithfulness"].as_f64().expect("score") < 0.8);
    assert_eq!(records[4]["flagged"], true);
    assert_eq!(records[4]["group"], "b");
    let kinds: Vec<&str> = records[4]["sentences"][0]["unsupported"].as_array().expect("spans").iter().map(|s| s["kind"].as_str().expect("kind")).collect();
    assert!(kinds.contains(&"name") && kinds.contains(&"number"), "{kinds:?}");
}

#[test]
fn the_aggregate_correlates_with_the_human_field_per_group() {
    let dir = scratch("check-aggregate");
    let summaries = [
        ("Japan will buy 20 British jets.", 1.0, "x"),
        ("The two leaders agreed to boost security cooperation.", 1.0, "x"),
        ("Japan will sell 45 tanks to Brazil.", 0.0, "x"),
        ("Shinzo Abe met David Cameron in London on Thursday.", 1.0, "y"),
        ("Angela Merkel met Barack Obama in Paris on Friday.", 0.0, "y"),
        ("Abe met Cameron in Tokyo in 2019.", 0.5, "y"),
    ];
    let lines: Vec<String> = summaries.iter().map(|(s, h, g)| json!({"text": ARTICLE, "abstract": s, "judged": h, "dataset": g}).to_string()).collect();
    let data = write(&dir, "judged.jsonl", &lines.join("\n"));
    let output = run(precis(&dir).args([
        "check", "--data", arg(&data), "--article-field", "text", "--summary-field", "abstract", "--human-field", "judged", "--group-field", "dataset", "--format", "json",
    ]));
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json_out(&output);
    assert_eq!(report["all"]["records"], 6);
    assert_eq!(report["bad_lines"], 0);
    assert!(report["all"]["pearson"].as_f64().expect("pearson") > 0.8, "{report}");
    assert!(report["all"]["spearman"].as_f64().expect("spearman") > 0.8, "{report}");
    let groups = report["groups"].as_array().expect("groups");
    assert_eq!(groups.iter().map(|g| g["group"].as_str().expect("name")).collect::<Vec<_>>(), ["x", "y"]);
    assert_eq!(groups[0]["records"], 3);
    assert!((groups[0]["flagged_share"].as_f64().expect("share") - 1.0 / 3.0).abs() < 1e-9);

    let text = run(precis(&dir).args(["check", "--data", arg(&data), "--article-field", "text", "--summary-field", "abstract", "--human-field", "judged"]));
    assert!(text.status.success());
    assert!(stdout(&text).contains("correlation with judged"), "{}", stdout(&text));
}

#[test]
fn invalid_command_lines_and_inputs_are_refused_clearly() {
    let dir = scratch("check-cli");
    let article = write(&dir, "article.txt", ARTICLE);
    let empty = write(&dir, "empty.txt", "");
    // clap: exit 2.
    for args in [
        vec!["check"],
        vec!["check", "--article", arg(&article)],
        vec!["check", "--data", arg(&article), "--article", arg(&article), "--summary", arg(&article)],
        vec!["check", "--article", arg(&article), "--summary", arg(&article), "--human-field", "x"],
        vec!["check", "--data", arg(&article), "--format", "yaml"],
    ] {
        let output = run(precis(&dir).args(&args));
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
    }
    let output = run(precis(&dir).args(["check", "--article", arg(&article), "--summary", arg(&empty)]));
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("--summary") && stderr(&output).contains("empty"), "{}", stderr(&output));
    let output = run(precis(&dir).args(["check", "--article", "-", "--summary", "-"]));
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("can be read only once"), "{}", stderr(&output));
    let output = run(precis(&dir).args(["check", "--data", arg(&dir.join("missing.jsonl"))]));
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("cannot read --data"), "{}", stderr(&output));
    assert!(!stderr(&output).contains("panicked"));
}

fn summarize(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["summarize", SEED, "--model", BART, "--headline-model", T5, "--long", "truncate", "--quiet"];
    args.extend_from_slice(extra);
    run(precis(dir).args(&args))
}

#[test]
fn guard_flag_reports_the_gibberish_of_a_random_model_and_changes_nothing() {
    let dir = scratch("guard-flag");
    let flagged = summarize(&dir, &["--format", "json"]);
    assert!(flagged.status.success(), "{}", stderr(&flagged));
    let record = json_out(&flagged);
    let faithfulness = &record["faithfulness"];
    assert_eq!(faithfulness["guard"], "flag", "flag is the default");
    let abstract_check = &faithfulness["abstract"];
    let spans = abstract_check["unsupported"].as_array().expect("abstract spans");
    assert!(!spans.is_empty(), "the random model's abstract is not the article's: {record}");
    assert!(abstract_check["score"].as_f64().expect("score") < 0.9);
    assert!(faithfulness["headline"]["score"].is_f64());
    assert_eq!(faithfulness["dropped"].as_array().map(Vec::len), Some(0));
    // Offsets point into the abstract as printed.
    let abstract_chars: Vec<char> = record["abstract"].as_str().expect("abstract").chars().collect();
    for span in spans {
        let (start, end) = (span["start"].as_u64().expect("start") as usize, span["end"].as_u64().expect("end") as usize);
        assert_eq!(abstract_chars[start..end].iter().collect::<String>(), span["text"].as_str().expect("text"));
    }
    // Same texts with the guard off; no faithfulness object then.
    let off = json_out(&summarize(&dir, &["--format", "json", "--guard", "off"]));
    assert_eq!(off["abstract"], record["abstract"]);
    assert_eq!(off["bullets"], record["bullets"]);
    assert!(off["faithfulness"].is_null());
    // Text output marks the flagged spans with brackets (not a terminal) and sums them up.
    let text = summarize(&dir, &[]);
    assert!(text.status.success());
    let shown = stdout(&text);
    let first = spans[0]["text"].as_str().expect("span text");
    let first_word = first.split_whitespace().next().expect("a word");
    assert!(shown.contains(&format!("[{first_word}")), "{shown}");
    assert!(shown.contains("flagged"), "{shown}");
}

#[test]
fn guard_drop_removes_unsupported_sentences_and_says_why() {
    let dir = scratch("guard-drop");
    let output = summarize(&dir, &["--format", "json", "--guard", "drop"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let record = json_out(&output);
    let dropped = record["faithfulness"]["dropped"].as_array().expect("dropped");
    assert!(!dropped.is_empty(), "{record}");
    for item in dropped {
        let reason = item["reason"].as_str().expect("reason");
        assert!(reason.starts_with("name ") || reason.contains("number") || reason.contains("date"), "{reason}");
    }
    let warnings: Vec<&str> = record["warnings"].as_array().expect("warnings").iter().map(|w| w.as_str().expect("warning")).collect();
    assert!(warnings.iter().filter(|w| w.starts_with("--guard drop removed")).count() >= dropped.len(), "{warnings:?}");
    let abstract_ = record["abstract"].as_str().expect("abstract");
    if abstract_.is_empty() {
        assert!(warnings.iter().any(|w| w.contains("the abstract is empty")), "an empty abstract is explained: {warnings:?}");
        let text = stdout(&summarize(&dir, &["--guard", "drop"]));
        assert!(text.contains("no abstract: --guard drop removed every sentence"), "{text}");
    }
    // What is left has no number or name the article lacks.
    for check in record["faithfulness"]["bullets"].as_array().expect("bullet checks") {
        for span in check["unsupported"].as_array().expect("spans") {
            let kind = span["kind"].as_str().expect("kind");
            assert!(kind == "word" || kind == "quote" || span["elsewhere_in_source"] == true, "{span}");
        }
    }
    assert!(stderr(&output).contains("--guard drop removed"), "warnings go to stderr too: {}", stderr(&output));
}

#[test]
fn extractive_outputs_are_not_checked() {
    let dir = scratch("guard-extractive");
    let output = run(precis(&dir).args(["summarize", SEED, "--engine", "extractive", "--format", "json"]));
    assert!(output.status.success());
    assert!(json_out(&output)["faithfulness"].is_null());
}

#[test]
fn compare_batch_and_eval_carry_the_check() {
    let dir = scratch("guard-others");
    let compare = run(precis(&dir).args(["compare", SEED, "--model", BART, "--words", "20,40", "--format", "json", "--quiet"]));
    assert!(compare.status.success(), "{}", stderr(&compare));
    for variant in json_out(&compare)["variants"].as_array().expect("variants") {
        if variant["text"].as_str().is_some_and(|t| !t.is_empty()) {
            assert!(variant["faithfulness"]["score"].is_f64(), "{variant}");
        }
    }

    let items = write(&dir, "items.jsonl", &(json!({"id": "seed", "text": std::fs::read_to_string(common::root().join(SEED)).expect("seed")}).to_string() + "\n"));
    let out = dir.join("out.jsonl");
    let batch = run(precis(&dir).args(["batch", arg(&items), "--out", arg(&out), "--model", BART, "--headline-model", T5, "--long", "truncate", "--quiet"]));
    assert!(batch.status.success(), "{}", stderr(&batch));
    let line = std::fs::read_to_string(&out).expect("batch output");
    let record: Value = serde_json::from_str(line.trim()).expect("record");
    assert_eq!(record["faithfulness"]["guard"], "flag");
    assert!(record["faithfulness"]["abstract"]["unsupported"].as_array().is_some_and(|s| !s.is_empty()), "{record}");

    let predictions = write(
        &dir,
        "predictions.jsonl",
        &[
            json!({"article": ARTICLE, "reference": "Japan buys jets.", "prediction": "Japan will buy 20 British jets."}).to_string(),
            json!({"article": ARTICLE, "reference": "Japan buys jets.", "prediction": "Germany will buy 45 tanks."}).to_string(),
            json!({"reference": "Japan buys jets.", "prediction": "No article on this line."}).to_string(),
        ]
        .join("\n"),
    );
    let eval = run(precis(&dir).args(["eval", "--predictions", arg(&predictions), "--format", "json"]));
    assert!(eval.status.success(), "{}", stderr(&eval));
    let report = json_out(&eval);
    assert_eq!(report["faithfulness_records"], 2);
    let mean = report["mean_faithfulness"].as_f64().expect("mean");
    assert!(mean > 0.5 && mean < 1.0, "{mean}");
    let text = run(precis(&dir).args(["eval", "--predictions", arg(&predictions)]));
    assert!(stdout(&text).contains("mean faithfulness"), "{}", stdout(&text));
}
