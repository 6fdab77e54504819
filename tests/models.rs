//! Any model by name: Hub repositories in each real layout (PyTorch pickle only, sharded
//! safetensors, the conversion bot's safetensors, fp16, bf16, T5 v1.1 in sharded pickles) served
//! by the loopback fake Hub with its model API, pulled, run, and run again offline from the
//! cache; the decoding settings a model's configuration
//! gives, with their sources; and what goes wrong (no usable weights, a hostile pickle, an
//! architecture precis does not run, a model not cached while offline).

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Output;

use common::fake_hub::{Behaviour, FakeHub, HubFile};
use common::{precis, root, run, scratch, stderr, stdout};
use serde_json::Value;

const SEED: &str = "samples/abe-cameron-summit.txt";
const MODELS: &str = "tests/fixtures/models";
const COMMIT: &str = "1111111111111111111111111111111111111111";
const PR_COMMIT: &str = "2222222222222222222222222222222222222222";

fn json(output: &Output) -> Value {
    assert!(output.status.success(), "precis failed: {}", stderr(output));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}\nstderr: {}", stdout(output), stderr(output)))
}

/// Every file of a fixture model directory (tokenizer links followed), as a repository's files
/// at `commit`; large ones are LFS files, as on the Hub.
fn repo_files(repo: &str, commit: &str, fixture: &str) -> Vec<HubFile> {
    let dir = root().join(MODELS).join(fixture);
    let mut files: Vec<HubFile> = std::fs::read_dir(&dir)
        .expect("fixture dir")
        .flatten()
        .map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let bytes = std::fs::read(entry.path()).expect("fixture file");
            let lfs = bytes.len() > 50_000;
            let file = HubFile::new(repo, commit, &name, bytes, Behaviour::Serve);
            if lfs { file.lfs() } else { file }
        })
        .collect();
    // Deterministic order: `main` is the commit of a repository's first file.
    files.sort_by(|a, b| a.filename.cmp(&b.filename));
    files
}

/// `summarize` with the abstractive engine and JSON output.
fn summarize(cache: &Path, hub: Option<&FakeHub>, model: &str, headline_model: &str, extra: &[&str]) -> Output {
    let mut command = precis(cache);
    if let Some(hub) = hub {
        command.env("HF_ENDPOINT", hub.endpoint());
    }
    command.args(["summarize", SEED, "--engine", "abstractive", "--format", "json", "--model", model, "--headline-model", headline_model]);
    run(command.args(extra))
}

fn local(fixture: &str) -> String {
    format!("{MODELS}/{fixture}")
}

#[test]
fn every_repository_layout_is_pulled_by_name_and_runs_like_its_local_copy_then_offline() {
    // (repository, fixture directory): the weights forms the Hub has.
    let layouts = [
        ("org/bart-bin-only", "bart-tiny-bin"),
        ("org/bart-sharded", "bart-tiny-sharded"),
        ("org/bart-bot-converted", "bart-tiny-hubfmt"),
        ("org/bart-fp16", "bart-tiny-fp16"),
        ("org/bart-bf16", "bart-tiny-bf16"),
        ("org/t5-v1_1", "t5-v1_1-tiny"),
        ("org/pegasus", "pegasus-tiny"),
    ];
    let files: Vec<HubFile> = layouts.iter().flat_map(|(repo, fixture)| repo_files(repo, COMMIT, fixture)).collect();
    let hub = FakeHub::start(files);
    let cache = scratch("any-model-layouts");
    let headline = "org/t5-v1_1";
    let pulled = run(precis(&cache).env("HF_ENDPOINT", hub.endpoint()).args(["models", "pull", headline]));
    assert!(pulled.status.success(), "{}", stderr(&pulled));
    let mut abstracts: HashMap<&str, String> = HashMap::new();
    for (repo, fixture) in layouts {
        let pulled = run(precis(&cache).env("HF_ENDPOINT", hub.endpoint()).args(["models", "pull", repo]));
        assert!(pulled.status.success(), "{repo}: {}", stderr(&pulled));
        let snapshot = cache.join(format!("models--{}", repo.replace('/', "--"))).join("snapshots").join(COMMIT);
        assert_eq!(stdout(&pulled).trim(), format!("{repo}\t{}", snapshot.display()), "{repo}");
        assert_eq!(std::fs::read_to_string(cache.join(format!("models--{}/refs/main", repo.replace('/', "--")))).expect("ref"), COMMIT);

        let requests = hub.requests().len();
        let from_hub = json(&summarize(&cache, None, repo, headline, &["--offline"]));
        assert_eq!(hub.requests().len(), requests, "{repo}: offline mode touched the network");
        // `main` is recorded as the commit it pointed to.
        assert_eq!(from_hub["models"][0]["id"], *repo);
        assert_eq!(from_hub["models"][0]["revision"], COMMIT);
        assert_eq!(from_hub["models"][1]["id"], headline);
        let from_directory = json(&summarize(&cache, None, &local(fixture), &local("t5-v1_1-tiny"), &["--offline"]));
        for output in ["headline", "abstract", "bullets"] {
            assert_eq!(from_hub[output], from_directory[output], "{repo}: {output} differs from the local directory's");
        }
        abstracts.insert(fixture, from_hub["abstract"].as_str().expect("abstract").to_string());
    }
    // The same weights in other files give the same summary.
    let bart = abstracts["bart-tiny-bin"].clone();
    assert!(!bart.is_empty());
    for fixture in ["bart-tiny-sharded", "bart-tiny-hubfmt"] {
        assert_eq!(abstracts[fixture], bart, "{fixture}");
    }
}

#[test]
fn a_revision_after_at_is_fetched_and_recorded_and_main_is_not_rechecked_once_cached() {
    let mut files = repo_files("org/bart", COMMIT, "bart-tiny-bin");
    files.extend(repo_files("org/bart", PR_COMMIT, "bart-tiny-sharded"));
    files.extend(repo_files("org/t5", COMMIT, "t5-v1_1-tiny"));
    let hub = FakeHub::builder(files).alias("org/bart", "refs/pr/7", PR_COMMIT).start();
    let cache = scratch("any-model-revision");

    let record = json(&summarize(&cache, Some(&hub), "org/bart@refs/pr/7", "org/t5", &[]));
    assert_eq!(record["models"][0]["revision"], PR_COMMIT);
    let api = hub.requests().iter().filter(|r| r.path.starts_with("/api/models/org/bart/revision/refs%2Fpr%2F7")).count();
    assert_eq!(api, 1, "the revision is asked of the model API once, encoded as one segment");
    assert!(hub.requests().iter().any(|r| r.path == format!("/org/bart/resolve/{PR_COMMIT}/model.safetensors.index.json")));
    assert!(hub.requests().iter().any(|r| r.path.contains("/model-00002-of-00002.safetensors")), "every shard is fetched");

    let record = json(&summarize(&cache, Some(&hub), "org/bart", "org/t5", &[]));
    assert_eq!(record["models"][0]["revision"], COMMIT);
    let before = hub.requests().len();
    let again = json(&summarize(&cache, Some(&hub), "org/bart", "org/t5", &[]));
    assert_eq!(hub.requests().len(), before, "a cached complete snapshot is used without asking the Hub");
    assert_eq!(again["abstract"], record["abstract"]);
    let record = json(&summarize(&cache, None, &format!("org/bart@{PR_COMMIT}"), "org/t5", &["--offline"]));
    assert_eq!(record["models"][0]["revision"], PR_COMMIT);
}

#[test]
fn models_list_and_path_show_cached_repositories_with_their_cards_license() {
    let mut files = repo_files("someone/fine-tuned-bart", COMMIT, "bart-tiny-sharded");
    files.push(HubFile::new("someone/fine-tuned-bart", COMMIT, "README.md", b"---\nlanguage: en\nlicense: cc-by-4.0\n---\n# A model\n".to_vec(), Behaviour::Serve));
    files.extend(repo_files("someone/no-card", COMMIT, "t5-v1_1-tiny"));
    let hub = FakeHub::start(files);
    let cache = scratch("any-model-list");
    let pulled = run(precis(&cache).env("HF_ENDPOINT", hub.endpoint()).args(["models", "pull", "someone/fine-tuned-bart", "someone/no-card@main"]));
    assert!(pulled.status.success(), "{}", stderr(&pulled));
    assert!(stderr(&pulled).contains("license: cc-by-4.0"), "{}", stderr(&pulled));

    let listed = run(precis(&cache).args(["models", "list"]));
    let text = stdout(&listed);
    let row = text.lines().find(|l| l.starts_with("someone/fine-tuned-bart @ 1111111")).unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains("bart") && row.contains("cc-by-4.0") && row.contains("main"), "{row}");
    let row = text.lines().find(|l| l.starts_with("someone/no-card @ 1111111")).unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains("t5") && row.contains("unknown: the repository has no model card"), "{row}");

    let listed: Value = serde_json::from_slice(&run(precis(&cache).args(["models", "list", "--json"])).stdout).expect("json");
    let entry = listed.as_array().expect("rows").iter().find(|r| r["repo"] == "someone/fine-tuned-bart").expect("listed");
    assert_eq!((entry["preset"].as_bool(), entry["license"].as_str(), entry["revision"].as_str()), (Some(false), Some("cc-by-4.0"), Some(COMMIT)));

    let path = run(precis(&cache).args(["models", "path", "someone/fine-tuned-bart"]));
    let snapshot = cache.join("models--someone--fine-tuned-bart/snapshots").join(COMMIT);
    assert_eq!(stdout(&path).trim(), snapshot.to_str().expect("path"));
    let record = json(&summarize(&cache, None, "someone/fine-tuned-bart", "someone/no-card", &["--offline"]));
    assert_eq!(record["models"][0]["license"], "cc-by-4.0");
    assert_eq!(record["models"][1]["license"], "unknown: the repository has no model card (README.md)");
}

/// A cache filled by Python's huggingface_hub (blobs, snapshot links, refs/main) is used offline
/// by name, without precis ever having listed the repository.
#[test]
fn a_cache_filled_by_python_is_used_offline_by_name() {
    let cache = scratch("any-model-python-cache");
    let repo_dir = cache.join("models--pythonuser--bart");
    let snapshot = repo_dir.join("snapshots").join(COMMIT);
    std::fs::create_dir_all(&snapshot).expect("snapshot");
    std::fs::create_dir_all(repo_dir.join("blobs")).expect("blobs");
    for (index, entry) in std::fs::read_dir(root().join(MODELS).join("bart-tiny-bin")).expect("fixture").flatten().enumerate() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let blob = format!("{index:064x}");
        std::fs::copy(entry.path(), repo_dir.join("blobs").join(&blob)).expect("blob");
        std::os::unix::fs::symlink(format!("../../blobs/{blob}"), snapshot.join(&name)).expect("link");
    }
    std::fs::create_dir_all(repo_dir.join("refs")).expect("refs");
    std::fs::write(repo_dir.join("refs/main"), COMMIT).expect("ref");
    let record = json(&summarize(&cache, None, "pythonuser/bart", &local("t5-tiny"), &["--offline"]));
    assert_eq!(record["models"][0]["revision"], COMMIT);
    let offline_missing = run(precis(&cache).args(["summarize", SEED, "--offline", "--engine", "abstractive", "--model", "pythonuser/other"]));
    assert_eq!(offline_missing.status.code(), Some(1));
    let message = stderr(&offline_missing);
    assert!(message.contains("pythonuser/other") && message.contains("precis models pull"), "{message}");
}

#[test]
fn what_cannot_be_run_is_a_clear_error_naming_it() {
    let bart = root().join(MODELS).join("bart-tiny");
    let read = |name: &str| std::fs::read(bart.join(name)).expect("fixture");
    let mut mbart_config: Value = serde_json::from_slice(&read("config.json")).expect("config");
    mbart_config["model_type"] = Value::from("mbart");
    let foreign = std::fs::read(root().join("tests/fixtures/pickles/foreign_global.bin")).expect("pickle");
    let files = vec![
        HubFile::new("org/tf-only", COMMIT, "config.json", read("config.json"), Behaviour::Serve),
        HubFile::new("org/tf-only", COMMIT, "tf_model.h5", b"HDF".to_vec(), Behaviour::Serve),
        HubFile::new("org/tf-only", COMMIT, "flax_model.msgpack", b"msgpack".to_vec(), Behaviour::Serve),
        HubFile::new("org/tf-only", COMMIT, "tokenizer.json", read("tokenizer.json"), Behaviour::Serve),
        HubFile::new("org/hostile", COMMIT, "config.json", read("config.json"), Behaviour::Serve),
        HubFile::new("org/hostile", COMMIT, "pytorch_model.bin", foreign, Behaviour::Serve),
        HubFile::new("org/hostile", COMMIT, "tokenizer.json", read("tokenizer.json"), Behaviour::Serve),
        HubFile::new("org/mbart", COMMIT, "config.json", serde_json::to_vec(&mbart_config).expect("json"), Behaviour::Serve),
        HubFile::new("org/mbart", COMMIT, "model.safetensors", read("model.safetensors"), Behaviour::Serve).lfs(),
        HubFile::new("org/mbart", COMMIT, "tokenizer.json", read("tokenizer.json"), Behaviour::Serve),
    ];
    let hub = FakeHub::start(files);
    let cache = scratch("any-model-errors");
    let cases: [(&str, &[&str]); 5] = [
        ("org/tf-only", &["has no weights precis can read", "tf_model.h5", "flax_model.msgpack", "pytorch_model.bin"]),
        ("org/hostile", &["posix.system", "refuses", "pytorch_model.bin"]),
        ("org/mbart", &["\"mbart\"", "bart, pegasus and t5"]),
        ("org/missing", &["org/missing", "HF_TOKEN"]),
        ("org/tf-only@no-such-branch", &["no revision `no-such-branch`"]),
    ];
    for (model, expected) in cases {
        let output = summarize(&cache, Some(&hub), model, &local("t5-tiny"), &[]);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{model}: {message}");
        assert!(!message.contains("panicked"), "{model}: {message}");
        for needle in expected {
            assert!(message.contains(needle), "{model}: expected {needle:?} in {message}");
        }
    }
    // Not a name of any kind: the command line is wrong before any work starts.
    let output = run(precis(&cache).args(["summarize", SEED, "--model", "a/b/c"]));
    assert!(!output.status.success());
    assert!(stderr(&output).contains("OWNER/NAME"), "{}", stderr(&output));
}

#[test]
fn decoding_settings_come_from_the_models_configuration_and_say_where_from() {
    let dir = scratch("any-model-config-sources");
    let bart = root().join(MODELS).join("bart-tiny");
    for name in ["model.safetensors", "tokenizer.json", "special_tokens_map.json"] {
        std::fs::copy(bart.join(name), dir.join(name)).expect("copy");
    }
    let mut config: Value = serde_json::from_slice(&std::fs::read(bart.join("config.json")).expect("config")).expect("json");
    config["task_specific_params"] = serde_json::json!({"summarization": {"min_length": 9, "max_length": 40, "num_beams": 2, "prefix": "summarize: "}});
    config["no_repeat_ngram_size"] = Value::from(2);
    std::fs::write(dir.join("config.json"), serde_json::to_vec(&config).expect("json")).expect("write");
    let mut generation: Value = serde_json::from_slice(&std::fs::read(bart.join("generation_config.json")).expect("gen")).expect("json");
    generation["max_length"] = Value::from(30);
    std::fs::write(dir.join("generation_config.json"), serde_json::to_vec(&generation).expect("json")).expect("write");

    let cache = scratch("any-model-config-cache");
    let record = json(&summarize(&cache, None, dir.to_str().expect("path"), &local("t5-v1_1-tiny"), &[]));
    let settings = &record["settings"]["generation"];
    assert_eq!(settings["abstract"]["max_tokens"], 30);
    assert_eq!(settings["abstract"]["min_tokens"], 9);
    assert_eq!(settings["abstract"]["beams"], 2);
    assert_eq!(settings["abstract"]["no_repeat_ngram"], 2);
    assert_eq!(settings["abstract"]["length_penalty"], 1.0);
    let sources = &settings["sources"]["abstract"];
    assert_eq!(sources["max_tokens"], "generation_config.json max_length");
    assert_eq!(sources["min_tokens"], "config.json task_specific_params.summarization min_length");
    assert_eq!(sources["beams"], "config.json task_specific_params.summarization num_beams");
    assert_eq!(sources["no_repeat_ngram"], "config.json no_repeat_ngram_size");
    assert_eq!(sources["length_penalty"], "transformers default");
    assert_eq!(sources["prefix"], "config.json task_specific_params.summarization prefix \"summarize: \"");
    assert_eq!(settings["sources"]["headline"]["max_tokens"], "precis default (headline)");
    // A preset's settings are the preset's.
    let record = json(&summarize(&cache, None, dir.to_str().expect("path"), &local("t5-v1_1-tiny"), &["--length", "short"]));
    assert!(record["settings"]["generation"]["sources"]["abstract"]["max_tokens"].as_str().expect("source").ends_with("scaled for --length short"));
}

/// precis's own T5 (v1.0 and v1.1) and PEGASUS give the same summary with their kernels, without
/// them (libtorch's operations, what runs on CPUs without AVX2/FMA), and as rust-bert's networks.
#[test]
fn t5_and_pegasus_summaries_are_the_same_on_every_network_path() {
    let cache = scratch("own-network-paths");
    for (model, headline) in [("t5-tiny", "t5-v1_1-tiny"), ("pegasus-tiny", "t5-tiny")] {
        let summary = |env: &[(&str, &str)]| -> Value {
            let mut command = precis(&cache);
            command.args(["summarize", SEED, "--model", &local(model), "--headline-model", &local(headline), "--format", "json", "--long", "truncate"]);
            for (key, value) in env {
                command.env(key, value);
            }
            let record = json(&run(&mut command));
            serde_json::json!({ "headline": record["headline"], "abstract": record["abstract"], "bullets": record["bullets"] })
        };
        let own = summary(&[]);
        assert!(!own["abstract"].as_str().unwrap_or_default().is_empty(), "{model}: {own}");
        assert_eq!(summary(&[("PRECIS_KERNELS", "0")]), own, "{model}: without precis's kernels");
        assert_eq!(summary(&[("PRECIS_RUST_BERT", "1")]), own, "{model}: with rust-bert's networks");
    }
}
