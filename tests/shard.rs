//! Sharded batches end to end: `precis batch --shard auto` under simulated Slurm job arrays,
//! Kubernetes Indexed Jobs and AWS Batch array jobs, then `precis merge`, against one machine's
//! run of the same plan. The real binary with the extractive engine, on the feed fixture
//! `tests/fixtures/feeds/news.rss` and a generated JSONL collection (with a duplicate item).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{precis, scratch};

use serde_json::Value;

const FEED: &str = "tests/fixtures/feeds/news.rss";

/// Every variable `--shard auto` reads, removed before a scenario sets its own, so the test
/// runner's environment (a CI job inside Slurm, say) cannot leak in.
const SCHEDULER_VARIABLES: &[&str] = &[
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "SLURM_ARRAY_TASK_STEP",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_JOB_ID",
    "JOB_COMPLETION_INDEX",
    "PRECIS_SHARD_COUNT",
    "AWS_BATCH_JOB_ARRAY_INDEX",
    "AWS_BATCH_JOB_ARRAY_SIZE",
];

fn batch(cache: &Path) -> Command {
    let mut command = precis(cache);
    command.args(["batch", "--engine", "extractive"]);
    for name in SCHEDULER_VARIABLES {
        command.env_remove(name);
    }
    command
}

fn merge(cache: &Path) -> Command {
    let mut command = precis(cache);
    command.arg("merge");
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("run precis")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The records of a JSONL file, each a whole JSON object, timing fields removed (none today; a
/// record that gains them must still compare equal across machines).
fn records(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
    assert!(text.ends_with('\n'), "{} does not end with a newline", path.display());
    text.lines()
        .map(|line| {
            let mut record: Value = serde_json::from_str(line).unwrap_or_else(|error| panic!("{}: not JSON ({error}): {line}", path.display()));
            if let Some(object) = record.as_object_mut() {
                object.remove("timings_ms");
            }
            record
        })
        .collect()
}

/// An invented, distinct news paragraph for item `n`.
fn generated_article(n: usize) -> String {
    let topics = ["the ferry timetable", "the town archive", "snow clearing", "a new footbridge", "the market square", "bus shelters"];
    format!(
        "Council members in ward {n} voted on Tuesday on plans for {topic}. \
         The plan sets aside {} thousand for {topic} over two years. \
         Residents of ward {n} told the meeting they had asked for the change for a long time. \
         Two members abstained, saying the cost had not been checked. \
         Work in ward {n} is due to begin after the summer holidays.",
        (n * 53) % 700 + 20,
        topic = topics[n % topics.len()]
    )
}

/// The inputs of every run here: the RSS fixture and `count` generated JSONL items, the last
/// one a copy of item 0's text under another id (a duplicate every shard must drop alike).
fn write_inputs(dir: &Path, count: usize) -> Vec<String> {
    let mut lines = String::new();
    for n in 0..count {
        lines.push_str(&format!("{}\n", serde_json::json!({"id": format!("ward-{n}"), "title": format!("Ward {n} plan"), "text": generated_article(n)})));
    }
    lines.push_str(&format!("{}\n", serde_json::json!({"id": "ward-0-again", "text": generated_article(0)})));
    let jsonl = dir.join("items.jsonl");
    std::fs::write(&jsonl, lines).expect("write items");
    vec![FEED.to_string(), jsonl.display().to_string()]
}

/// One simulated scheduler: the variables of task `task` (0-based) of `count`, and the
/// `--shard` value its tasks are given.
struct Scheduler {
    name: &'static str,
    shard_flag: fn(usize) -> String,
    variables: fn(usize, usize) -> Vec<(String, String)>,
}

fn pairs(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs.iter().map(|(name, value)| (name.to_string(), value.clone())).collect()
}

fn schedulers() -> Vec<Scheduler> {
    vec![
        // sbatch --array=1-N with 3 shards; --array=10-(10+2(N-1)):2 otherwise (not from 0, a step).
        Scheduler {
            name: "slurm",
            shard_flag: |_| "auto".to_string(),
            variables: |task, count| {
                let (min, step) = if count == 3 { (1, 1) } else { (10, 2) };
                pairs(&[
                    ("SLURM_ARRAY_JOB_ID", "4242".to_string()),
                    ("SLURM_ARRAY_TASK_ID", (min + task * step).to_string()),
                    ("SLURM_ARRAY_TASK_MIN", min.to_string()),
                    ("SLURM_ARRAY_TASK_MAX", (min + (count - 1) * step).to_string()),
                    ("SLURM_ARRAY_TASK_STEP", step.to_string()),
                    ("SLURM_ARRAY_TASK_COUNT", count.to_string()),
                ])
            },
        },
        // An Indexed Job: the count from --shard auto/N, or from PRECIS_SHARD_COUNT.
        Scheduler {
            name: "kubernetes",
            shard_flag: |count| if count == 3 { format!("auto/{count}") } else { "auto".to_string() },
            variables: |task, count| {
                let mut variables = pairs(&[("JOB_COMPLETION_INDEX", task.to_string())]);
                if count != 3 {
                    variables.push(("PRECIS_SHARD_COUNT".to_string(), count.to_string()));
                }
                variables
            },
        },
        Scheduler {
            name: "aws-batch",
            shard_flag: |_| "auto".to_string(),
            variables: |task, count| pairs(&[("AWS_BATCH_JOB_ARRAY_INDEX", task.to_string()), ("AWS_BATCH_JOB_ARRAY_SIZE", count.to_string())]),
        },
    ]
}

/// Runs every task of `scheduler` with `count` shards; returns the shard outputs.
fn run_shards(cache: &Path, dir: &Path, inputs: &[String], scheduler: &Scheduler, count: usize) -> Vec<PathBuf> {
    (0..count)
        .map(|task| {
            let out = dir.join(format!("{}-{count}-part-{task}.jsonl", scheduler.name));
            let mut command = batch(cache);
            command.args(inputs).arg("--shard").arg((scheduler.shard_flag)(count)).arg("--out").arg(&out);
            command.envs((scheduler.variables)(task, count));
            let output = run(&mut command);
            assert!(output.status.success(), "{} task {task} of {count}: {}", scheduler.name, stderr(&output));
            assert!(stderr(&output).contains(&format!("shard {}/{count} from the", task + 1)), "{} task {task}: {}", scheduler.name, stderr(&output));
            out
        })
        .collect()
}

#[test]
fn every_scheduler_with_3_and_7_shards_merges_to_the_one_machine_output() {
    let dir = scratch("shard-schedulers");
    let inputs = write_inputs(&dir, 30);
    let whole_path = dir.join("whole.jsonl");
    let whole = run(batch(&dir).args(&inputs).arg("--out").arg(&whole_path));
    assert!(whole.status.success(), "{}", stderr(&whole));
    let whole = records(&whole_path);
    // The feed's items and the 30 generated ones; the copy of ward-0 is a duplicate.
    let feed_items = std::fs::read_to_string(common::root().join(FEED)).expect("read the feed").matches("<item>").count();
    assert!(feed_items >= 3);
    let total = feed_items + 30;
    assert_eq!(whole.len(), total, "one-machine run");
    assert!(whole.iter().all(|record| record["error"].is_null() && record["headline"].is_string()));
    assert!(!whole.iter().any(|record| record["id"] == "ward-0-again"));

    for scheduler in schedulers() {
        for count in [3, 7] {
            let parts = run_shards(&dir, &dir, &inputs, &scheduler, count);
            // Each part: its plan line, then its share of the records.
            let mut sizes = Vec::new();
            for part in &parts {
                let lines = records(part);
                assert_eq!(lines[0]["precis_shard_plan"]["shard"]["count"], count, "{}", part.display());
                assert_eq!(lines[0]["precis_shard_plan"]["plan_items"], total);
                sizes.push(lines.len() - 1);
            }
            assert_eq!(sizes.iter().sum::<usize>(), total, "{} {count}: shard sizes {sizes:?}", scheduler.name);
            assert!(sizes.iter().filter(|size| **size > 0).count() >= 2, "{} {count}: the work was not split: {sizes:?}", scheduler.name);

            let merged_path = dir.join(format!("{}-{count}-merged.jsonl", scheduler.name));
            // Shards in reverse order: merge restores input order by itself.
            let output = run(merge(&dir).arg(&merged_path).args(parts.iter().rev()));
            assert!(output.status.success(), "{} {count}: {}", scheduler.name, stderr(&output));
            assert!(stderr(&output).contains(&format!("{total} items of plan")), "{}", stderr(&output));
            assert_eq!(records(&merged_path), whole, "{} with {count} shards: the merged output differs from one machine's", scheduler.name);
        }
    }
}

#[test]
fn merge_names_a_missing_shard_a_missing_item_and_a_duplicated_item() {
    let dir = scratch("shard-faults");
    let inputs = write_inputs(&dir, 30);
    let parts = run_shards(&dir, &dir, &inputs, &schedulers()[2], 7);
    let merged = dir.join("merged.jsonl");

    // Shard 4 not given.
    let without_four: Vec<&PathBuf> = parts.iter().enumerate().filter(|(task, _)| *task != 3).map(|(_, part)| part).collect();
    let output = run(merge(&dir).arg(&merged).args(&without_four));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("1 of 7 shards missing: 4/7"), "{}", stderr(&output));
    assert!(!merged.exists(), "an incomplete merge wrote its output");

    // In the largest shard: its first record dropped, its last written twice.
    let largest = parts.iter().max_by_key(|part| records(part).len()).expect("parts");
    let text = std::fs::read_to_string(largest).expect("read part");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 3, "the largest of 7 shards has at least 2 of 33 records");
    let id = |line: &str| serde_json::from_str::<Value>(line).expect("record")["id"].as_str().expect("id").to_string();
    let (dropped, doubled) = (id(lines[1]), id(lines[lines.len() - 1]));
    let mut edited: Vec<&str> = vec![lines[0]];
    edited.extend(&lines[2..]);
    edited.push(lines[lines.len() - 1]);
    std::fs::write(largest, edited.join("\n") + "\n").expect("edit part");
    let output = run(merge(&dir).arg(&merged).args(&parts));
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(message.contains(&format!("item \"{dropped}\"")) && message.contains("is missing from"), "{message}");
    assert!(message.contains(&format!("item \"{doubled}\"")) && message.contains("is there 2 times"), "{message}");
    assert!(!merged.exists(), "an incomplete merge wrote its output");

    // A shard given twice, and a plain (unsharded) output, are named too.
    let output = run(merge(&dir).arg(&merged).args(&parts).arg(&parts[0]));
    assert!(stderr(&output).contains("shard 1/7 is given 2 times"), "{}", stderr(&output));
    let plain = dir.join("plain.jsonl");
    assert!(run(batch(&dir).args(&inputs).arg("--out").arg(&plain)).status.success());
    let output = run(merge(&dir).arg(&merged).arg(&plain));
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("does not start with a precis_shard_plan line"), "{}", stderr(&output));
}

#[test]
fn an_interrupted_shard_resumed_keeps_one_plan_line_and_merges() {
    let dir = scratch("shard-resume");
    let inputs = write_inputs(&dir, 30);
    let parts = run_shards(&dir, &dir, &inputs, &schedulers()[0], 3);
    let whole_path = dir.join("whole.jsonl");
    assert!(run(batch(&dir).args(&inputs).arg("--out").arg(&whole_path)).status.success());

    // Shard 2 "killed" after its first record, mid-way through its second line.
    let text = std::fs::read_to_string(&parts[1]).expect("read part");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 3);
    std::fs::write(&parts[1], format!("{}\n{}\n{}", lines[0], lines[1], &lines[2][..10])).expect("cut part");
    let merged = dir.join("merged.jsonl");
    let output = run(merge(&dir).arg(&merged).args(&parts));
    assert!(stderr(&output).contains("is torn"), "{}", stderr(&output));

    // The same task again with --resume finishes it.
    let mut command = batch(&dir);
    command.args(&inputs).args(["--shard", "auto", "--resume", "--out"]).arg(&parts[1]).envs((schedulers()[0].variables)(1, 3));
    let output = run(&mut command);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(&parts[1]).expect("read part").matches("precis_shard_plan").count(), 1);
    let output = run(merge(&dir).arg(&merged).args(&parts));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(records(&merged), records(&whole_path));

    // Resuming it as another shard is refused before any work.
    let mut command = batch(&dir);
    command.args(&inputs).args(["--shard", "3/3", "--resume", "--out"]).arg(&parts[1]);
    let output = run(&mut command);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("it was written for shard 2/3"), "{}", stderr(&output));
}

#[test]
fn shard_auto_without_a_usable_environment_is_a_command_line_error() {
    let dir = scratch("shard-environment");
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "no job array index"),
        (vec![("JOB_COMPLETION_INDEX", "2")], "PRECIS_SHARD_COUNT"),
        (vec![("JOB_COMPLETION_INDEX", "5"), ("PRECIS_SHARD_COUNT", "3")], "JOB_COMPLETION_INDEX=5 is not below the shard count 3"),
        (vec![("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_COUNT", "4")], "but SLURM_ARRAY_TASK_MIN is not"),
        (vec![("AWS_BATCH_JOB_ARRAY_INDEX", "1"), ("AWS_BATCH_JOB_ARRAY_SIZE", "4"), ("PRECIS_SHARD_COUNT", "5")], "PRECIS_SHARD_COUNT=5 disagrees"),
    ];
    for (variables, expected) in cases {
        let output = run(batch(&dir).arg(FEED).args(["--shard", "auto"]).envs(variables.iter().copied()));
        assert_eq!(output.status.code(), Some(2), "{variables:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(expected), "{variables:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("scheduler variables seen:"), "{}", stderr(&output));
    }
}

#[test]
fn the_slurm_scripts_in_docs_deploy_run_every_array_task_and_the_merge() {
    let dir = scratch("shard-slurm-scripts");
    let inputs = write_inputs(&dir, 30);
    let whole_path = dir.join("whole.jsonl");
    assert!(run(batch(&dir).args(&inputs).arg("--out").arg(&whole_path)).status.success());

    // The tasks of the script's own `#SBATCH --array=MIN-MAX`, each as Slurm would start it.
    let script = std::fs::read_to_string(common::root().join("docs/deploy/slurm-array.sbatch")).expect("read the script");
    let range = script.lines().find_map(|line| line.strip_prefix("#SBATCH --array=")).expect("an --array line");
    let (min, max) = range.split_once('-').expect("MIN-MAX");
    let (min, max): (usize, usize) = (min.parse().expect("MIN"), max.parse().expect("MAX"));
    let parts = dir.join("parts");
    let script_command = |script: &str| {
        let mut command = Command::new("bash");
        command
            .arg(script)
            .current_dir(common::root())
            .env("PRECIS", env!("CARGO_BIN_EXE_precis"))
            .env("INPUTS", inputs.join(" "))
            .env("PARTS", &parts)
            .env("HF_HUB_CACHE", &dir)
            .env("HF_ENDPOINT", "http://127.0.0.1:9");
        for name in SCHEDULER_VARIABLES {
            command.env_remove(name);
        }
        command
    };
    for task in min..=max {
        let mut command = script_command("docs/deploy/slurm-array.sbatch");
        command.envs([
            ("SLURM_ARRAY_TASK_ID", task.to_string()),
            ("SLURM_ARRAY_TASK_MIN", min.to_string()),
            ("SLURM_ARRAY_TASK_MAX", max.to_string()),
            ("SLURM_ARRAY_TASK_STEP", "1".to_string()),
            ("SLURM_ARRAY_TASK_COUNT", (max - min + 1).to_string()),
        ]);
        let output = run(&mut command);
        assert!(output.status.success(), "task {task}: {}", stderr(&output));
    }
    let merged = dir.join("digest.jsonl");
    let output = run(script_command("docs/deploy/slurm-merge.sbatch").env("OUT", &merged));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(records(&merged), records(&whole_path));
}
