//! Any model repository on the Hub, named `OWNER/NAME[@REVISION]`: its file list (the Hub's model
//! API at that revision, or offline the cache's snapshot), the choice of the files precis needs
//! among them (the configuration, weights in any form precis reads, a tokenizer), fetching them
//! into the cache, the license its model card states, and the non-preset models already cached.
//! The same choice of files serves local model directories.
//!
//! Files in, files out: it does not read configurations beyond a model card's license, nor
//! weights (`engine` reads config.json, `weights` reads tensors).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use super::cache::{self, check_revision, resolve_commit, snapshot_file_path, HubSettings};
use super::download;
use super::{ModelFiles, TokenizerFiles};

/// A repository and a revision (a branch, tag, commit sha or ref such as `refs/pr/2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSpec {
    pub repo: String,
    pub revision: String,
}

impl RepoSpec {
    /// `OWNER/NAME` or `OWNER/NAME@REVISION` (revision `main` when none is given); `None` when
    /// `spec` does not have that form.
    pub fn parse(spec: &str) -> Option<RepoSpec> {
        let (repo, revision) = spec.split_once('@').unwrap_or((spec, "main"));
        let (owner, name) = repo.split_once('/')?;
        // The Hub's rules for owner and repository names: letters, digits, `-`, `_`, `.`; not
        // starting with `-` or `.`, no `..`.
        let part_ok = |part: &str| {
            !part.is_empty()
                && part.len() <= 96
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                && !part.starts_with(['-', '.'])
                && !part.ends_with('.')
                && !part.contains("..")
        };
        if !part_ok(owner) || !part_ok(name) || check_revision(revision).is_err() {
            return None;
        }
        Some(RepoSpec { repo: repo.to_string(), revision: revision.to_string() })
    }

    pub fn display(&self) -> String {
        format!("{}@{}", self.repo, self.revision)
    }
}

/// Weights files precis reads, in order of preference: safetensors (one file, then shards), the
/// libtorch archive rust-bert uses, then PyTorch's pickle (one file, then shards).
pub const WEIGHTS_FILES: [&str; 5] =
    ["model.safetensors", "model.safetensors.index.json", "rust_model.ot", "pytorch_model.bin", "pytorch_model.bin.index.json"];

/// Tokenizer files precis reads, in order of preference (parts joined by `+`).
pub const TOKENIZER_FILES: [&[&str]; 3] = [&["tokenizer.json"], &["spiece.model"], &["vocab.json", "merges.txt"]];

/// The files precis uses from a repository or directory, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChoice {
    /// One of [`WEIGHTS_FILES`] (an index names its shards).
    pub weights: String,
    pub tokenizer: Vec<String>,
    pub special_tokens_map: bool,
    pub generation_config: bool,
    /// `README.md`, the model card (for its license).
    pub card: bool,
}

/// Picks the files precis needs among `files` (names relative to the repository root). `what`
/// names the repository or directory in errors, which say what was found and what is needed.
pub fn choose_files(files: &[String], what: &str) -> Result<FileChoice> {
    let has = |name: &str| files.iter().any(|file| file == name);
    if !has("config.json") {
        bail!("{what} has no config.json; precis needs config.json, weights ({}) and a tokenizer ({})", weights_list(), tokenizer_list());
    }
    let weights = WEIGHTS_FILES.iter().find(|name| has(name)).ok_or_else(|| {
        let found: Vec<&str> = files.iter().map(String::as_str).filter(|name| looks_like_weights(name)).collect();
        let found = if found.is_empty() { "no weights file at all".to_string() } else { format!("only {}", found.join(", ")) };
        anyhow!("{what} has no weights precis can read: it has {found}; precis reads {}", weights_list())
    })?;
    let tokenizer = TOKENIZER_FILES.iter().find(|parts| parts.iter().all(|part| has(part))).ok_or_else(|| {
        anyhow!("{what} has no tokenizer precis can read: expected {}", tokenizer_list())
    })?;
    Ok(FileChoice {
        weights: weights.to_string(),
        tokenizer: tokenizer.iter().map(|part| part.to_string()).collect(),
        special_tokens_map: has("special_tokens_map.json"),
        generation_config: has("generation_config.json"),
        card: has("README.md"),
    })
}

fn weights_list() -> String {
    "model.safetensors (or shards with model.safetensors.index.json), rust_model.ot, pytorch_model.bin (or shards with pytorch_model.bin.index.json)".to_string()
}

fn tokenizer_list() -> String {
    TOKENIZER_FILES.iter().map(|parts| parts.join(" + ")).collect::<Vec<_>>().join(", or ")
}

/// Names that hold a model's weights in some framework's format (to say what a repository has).
fn looks_like_weights(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".safetensors", ".bin", ".ot", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx", ".gguf", ".index.json", ".tflite", ".mlmodel"]
        .iter()
        .any(|extension| lower.ends_with(extension))
}

/// The local paths of a chosen file set inside `dir` (a snapshot or a model directory), once
/// every file, shards included, is there.
pub fn files_in(dir: &Path, choice: &FileChoice) -> Result<ModelFiles> {
    let path = |name: &str| dir.join(name);
    let weights = path(&choice.weights);
    if choice.weights.ends_with(".index.json") {
        for shard in super::shard_names(&weights)? {
            if !dir.join(&shard).is_file() {
                bail!("{} names the shard {shard}, which is missing from {}", weights.display(), dir.display());
            }
        }
    }
    let tokenizer = match choice.tokenizer.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["tokenizer.json"] => TokenizerFiles::Json {
            tokenizer: path("tokenizer.json"),
            special_tokens_map: choice.special_tokens_map.then(|| path("special_tokens_map.json")),
        },
        ["spiece.model"] => TokenizerFiles::SentencePiece { model: path("spiece.model") },
        ["vocab.json", "merges.txt"] => TokenizerFiles::VocabMerges { vocab: path("vocab.json"), merges: path("merges.txt") },
        other => bail!("unsupported tokenizer files {}", other.join(" + ")),
    };
    Ok(ModelFiles {
        config: path("config.json"),
        generation_config: choice.generation_config.then(|| path("generation_config.json")),
        weights,
        tokenizer,
        card: choice.card.then(|| path("README.md")),
    })
}

/// The names of the files in `dir` and its subfolders, relative to it, `/`-separated.
pub fn list_dir(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((folder, prefix)) = stack.pop() {
        let Ok(entries) = fs::read_dir(&folder) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            // is_dir / is_file follow symlinks: snapshot files are links to blobs.
            if path.is_dir() {
                stack.push((path, format!("{prefix}{name}/")));
            } else if path.is_file() {
                found.push(format!("{prefix}{name}"));
            }
        }
    }
    found.sort();
    found
}

/// A repository's model files at `spec`: from the cache's snapshot when it holds a complete set
/// (without any network access), else listed by the Hub's model API and fetched into the cache.
/// With `refresh`, the Hub is asked what the revision points to even when the cache has it
/// (`precis models pull`). Returns the commit and the files.
pub fn locate(spec: &RepoSpec, settings: &HubSettings, refresh: bool) -> Result<(String, ModelFiles)> {
    let shown = spec.display();
    if !refresh || settings.offline {
        match cached_files(spec, settings) {
            Some(Ok(found)) => return Ok(found),
            Some(Err(incomplete)) if settings.offline => {
                return Err(incomplete.context(format!(
                    "model {shown} is only partly in the Hugging Face cache and offline mode is on (--offline or HF_HUB_OFFLINE); \
                     run `precis models pull {shown}` once with network access"
                )))
            }
            None if settings.offline => bail!(
                "model {} (revision {}) is not in the Hugging Face cache at {}, and offline mode is on (--offline or HF_HUB_OFFLINE); \
                 run `precis models pull {shown}` once with network access",
                spec.repo,
                spec.revision,
                settings.cache_dir.display()
            ),
            _ => {}
        }
    }
    let info = download::repo_info(settings, &spec.repo, &spec.revision).map_err(|e| anyhow!("model {shown}: {e}"))?;
    let choice = choose_files(&info.files, &format!("model {} at revision {} (commit {})", spec.repo, spec.revision, short(&info.commit)))?;
    let files = fetch_choice(settings, &spec.repo, &info.commit, &choice).map_err(|e| anyhow!("model {shown}: {e:#}"))?;
    Ok((info.commit, files))
}

/// The complete file set of `spec` in the cache, if its revision is known there: `None` when the
/// cache has no snapshot for it, an error naming what is missing when the snapshot is partial.
fn cached_files(spec: &RepoSpec, settings: &HubSettings) -> Option<Result<(String, ModelFiles)>> {
    let commit = resolve_commit(&settings.cache_dir, &spec.repo, &spec.revision)?;
    let snapshot = snapshot_file_path(&settings.cache_dir, &spec.repo, &commit, "config.json").parent()?.to_path_buf();
    if !snapshot.is_dir() {
        return None;
    }
    let what = format!("the cached snapshot {} of {}", snapshot.display(), spec.display());
    Some(choose_files(&list_dir(&snapshot), &what).and_then(|choice| files_in(&snapshot, &choice)).map(|files| (commit, files)))
}

/// Fetches every chosen file at `commit` (shards after their index) and returns their paths.
fn fetch_choice(settings: &HubSettings, repo: &str, commit: &str, choice: &FileChoice) -> Result<ModelFiles> {
    let fetch = |name: &str| download::fetch(settings, repo, commit, name).map_err(|e| anyhow!("{e}"));
    let config = fetch("config.json")?;
    let snapshot = config.parent().map(Path::to_path_buf).ok_or_else(|| anyhow!("no snapshot folder for {}", config.display()))?;
    for optional in [(choice.generation_config, "generation_config.json"), (choice.special_tokens_map, "special_tokens_map.json"), (choice.card, "README.md")] {
        if optional.0 {
            fetch(optional.1)?;
        }
    }
    for part in &choice.tokenizer {
        fetch(part)?;
    }
    let weights = fetch(&choice.weights)?;
    if choice.weights.ends_with(".index.json") {
        for shard in super::shard_names(&weights)? {
            fetch(&shard)?;
        }
    }
    files_in(&snapshot, choice)
}

/// The license a model card (`README.md`) states in its front matter (`license: mit`), if any.
pub fn card_license(card: &Path) -> Option<String> {
    let text = fs::read_to_string(card).ok()?;
    let mut lines = text.lines();
    if lines.next()?.trim_end() != "---" {
        return None;
    }
    let mut lines = lines.take_while(|line| line.trim_end() != "---").peekable();
    while let Some(line) = lines.next() {
        let Some(value) = line.strip_prefix("license:") else { continue };
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        if !value.is_empty() {
            let value = value.trim_start_matches('[').trim_end_matches(']').split(',').next().unwrap_or(value);
            return Some(value.trim().trim_matches(|c| c == '"' || c == '\'').to_string()).filter(|v| !v.is_empty());
        }
        // A YAML list on the following lines: `- apache-2.0`.
        let item = lines.next()?.trim().strip_prefix('-')?.trim().trim_matches(|c| c == '"' || c == '\'').to_string();
        return Some(item).filter(|v| !v.is_empty());
    }
    None
}

/// The license a model's card states, or why there is none to show.
pub fn license_of(files: &ModelFiles) -> String {
    match files.card.as_deref() {
        Some(card) => card_license(card).unwrap_or_else(|| "not stated on its model card".to_string()),
        None => "unknown: the repository has no model card (README.md)".to_string(),
    }
}

/// A model in the Hugging Face cache with a complete file set precis can use.
#[derive(Debug, Clone)]
pub struct CachedModel {
    pub repo: String,
    pub commit: String,
    /// Branches, tags and refs that point at this commit in the cache.
    pub refs: Vec<String>,
    pub snapshot: PathBuf,
    pub license: String,
    /// config.json's `model_type`, as written there.
    pub model_type: String,
}

/// Every complete model snapshot in the cache (any repository, preset or not), sorted by
/// repository. Partial snapshots (a download that stopped, another library's files) are skipped.
pub fn cached_models(settings: &HubSettings) -> Vec<CachedModel> {
    let mut models = Vec::new();
    let Ok(entries) = fs::read_dir(&settings.cache_dir) else { return models };
    for entry in entries.flatten() {
        let folder = entry.file_name().to_string_lossy().into_owned();
        // huggingface_hub's own reading of folder names (`scan_cache_dir`).
        let Some(rest) = folder.strip_prefix("models--") else { continue };
        let repo = rest.split("--").collect::<Vec<_>>().join("/");
        let repo_dir = entry.path();
        let refs_dir = repo_dir.join("refs");
        let refs: Vec<(String, String)> = list_dir(&refs_dir)
            .into_iter()
            .filter_map(|name| fs::read_to_string(refs_dir.join(&name)).ok().map(|commit| (name, commit.trim().to_string())))
            .collect();
        let Ok(snapshots) = fs::read_dir(repo_dir.join("snapshots")) else { continue };
        for snapshot in snapshots.flatten() {
            let commit = snapshot.file_name().to_string_lossy().into_owned();
            let dir = snapshot.path();
            let Ok(files) = choose_files(&list_dir(&dir), "snapshot").and_then(|choice| files_in(&dir, &choice)) else { continue };
            let model_type = fs::read_to_string(&files.config)
                .ok()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                .and_then(|config| config.get("model_type").and_then(|v| v.as_str()).map(str::to_string))
                .unwrap_or_else(|| "?".to_string());
            models.push(CachedModel {
                repo: repo.clone(),
                refs: refs.iter().filter(|(_, c)| *c == commit).map(|(name, _)| name.clone()).collect(),
                license: license_of(&files),
                snapshot: dir,
                commit,
                model_type,
            });
        }
    }
    models.sort_by(|a, b| (&a.repo, &a.commit).cmp(&(&b.repo, &b.commit)));
    models
}

fn short(commit: &str) -> &str {
    if cache::is_commit_sha(commit) {
        &commit[..7]
    } else {
        commit
    }
}

/// The snapshot folder a fetched file set lives in.
pub fn snapshot_dir(files: &ModelFiles) -> Result<PathBuf> {
    files.config.parent().map(Path::to_path_buf).with_context(|| format!("no folder for {}", files.config.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_a_repository_and_a_revision() {
        assert_eq!(RepoSpec::parse("google/pegasus-xsum"), Some(RepoSpec { repo: "google/pegasus-xsum".into(), revision: "main".into() }));
        assert_eq!(RepoSpec::parse("a/b@refs/pr/2"), Some(RepoSpec { repo: "a/b".into(), revision: "refs/pr/2".into() }));
        assert_eq!(RepoSpec::parse("a_b/c.d-e@v1.0").map(|s| s.revision), Some("v1.0".to_string()));
        for not_a_repo in ["distilbart", "./dir", "a/b/c", "/abs/path", "a/b@", "a/b@../x", "-a/b", "a/.b", "a/b..c", "a b/c", ""] {
            assert_eq!(RepoSpec::parse(not_a_repo), None, "{not_a_repo}");
        }
    }

    #[test]
    fn choice_prefers_safetensors_and_names_what_it_found() {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let choice = choose_files(&names(&["config.json", "pytorch_model.bin", "model.safetensors", "spiece.model", "tokenizer.json", "README.md"]), "x").unwrap();
        assert_eq!(choice.weights, "model.safetensors");
        assert_eq!(choice.tokenizer, ["tokenizer.json"]);
        assert!(choice.card && !choice.generation_config && !choice.special_tokens_map);
        let choice = choose_files(&names(&["config.json", "pytorch_model.bin.index.json", "vocab.json", "merges.txt"]), "x").unwrap();
        assert_eq!((choice.weights.as_str(), choice.tokenizer.len()), ("pytorch_model.bin.index.json", 2));
        let error = choose_files(&names(&["config.json", "tf_model.h5", "flax_model.msgpack", "spiece.model"]), "model o/n").unwrap_err().to_string();
        assert!(error.contains("model o/n") && error.contains("tf_model.h5") && error.contains("flax_model.msgpack") && error.contains("pytorch_model.bin"), "{error}");
        let error = choose_files(&names(&["config.json", "model.safetensors"]), "x").unwrap_err().to_string();
        assert!(error.contains("no tokenizer") && error.contains("spiece.model"), "{error}");
        assert!(choose_files(&names(&["model.safetensors", "spiece.model"]), "x").unwrap_err().to_string().contains("config.json"));
    }

    #[test]
    fn licenses_come_from_the_card_front_matter() {
        let dir = std::env::temp_dir().join(format!("precis-card-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let card = dir.join("README.md");
        for (text, expected) in [
            ("---\nlanguage: en\nlicense: mit\ntags:\n- summarization\n---\n# Model\nlicense: other\n", Some("mit")),
            ("---\nlicense: \"apache-2.0\"\n---\n", Some("apache-2.0")),
            ("---\nlicense:\n- cc-by-4.0\n---\n", Some("cc-by-4.0")),
            ("---\nlicense: [bsd-3-clause, mit]\n---\n", Some("bsd-3-clause")),
            ("---\nlanguage: en\n---\nlicense: mit\n", None),
            ("# No front matter\nlicense: mit\n", None),
        ] {
            fs::write(&card, text).unwrap();
            assert_eq!(card_license(&card).as_deref(), expected, "{text:?}");
        }
        fs::remove_dir_all(dir).unwrap();
    }
}
