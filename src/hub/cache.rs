//! The Hugging Face Hub file cache, laid out exactly as Python's `huggingface_hub`
//! lays it out, so a model downloaded by either side is found by the other.
//!
//! ```text
//! <cache_dir>/models--{owner}--{name}/
//!     blobs/<etag>                      file contents, named by git-sha1 or LFS sha256
//!     snapshots/<commit>/<filename>     relative symlink to ../../blobs/<etag>
//!     refs/<revision>                   text file holding the commit sha of a branch,
//!                                       tag or PR ref (`refs/pr/2` → `refs/refs/pr/2`)
//! ```
//!
//! [`HubSettings`] gathers where the Hub and the cache are, from the same
//! environment variables `huggingface_hub` reads.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The public Hub, used when `HF_ENDPOINT` is not set.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Network timeout (connect, and each read) when `PRECIS_HUB_TIMEOUT_SECS` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// Environment variable overriding [`HubSettings::timeout`], in seconds (fractions allowed).
pub const TIMEOUT_ENV_VAR: &str = "PRECIS_HUB_TIMEOUT_SECS";

/// Where models come from and where they are kept.
#[derive(Clone)]
pub struct HubSettings {
    /// Base URL of the Hub, without a trailing slash.
    pub endpoint: String,
    /// The `hub` cache directory (the one holding `models--*` folders).
    pub cache_dir: PathBuf,
    /// Never touch the network; only cached files can be used.
    pub offline: bool,
    /// Sent as `Authorization: Bearer` for private or gated models.
    pub token: Option<String>,
    /// Draw a progress bar on stderr while downloading (hidden when stderr is not a terminal).
    pub show_progress: bool,
    /// Connect timeout, and the longest wait for each read of a response.
    pub timeout: Duration,
}

impl HubSettings {
    /// Reads the settings from the environment, like `huggingface_hub` does:
    /// `HF_ENDPOINT`, `HF_HUB_CACHE` / `HF_HOME` / `XDG_CACHE_HOME` / `HOME`,
    /// `HF_HUB_OFFLINE`, `HF_TOKEN`, plus `PRECIS_HUB_TIMEOUT_SECS`.
    pub fn from_env(offline_flag: bool, show_progress: bool) -> HubSettings {
        Self::from_lookup(offline_flag, show_progress, |name| std::env::var(name).ok())
    }

    /// [`HubSettings::from_env`] over any variable lookup, so tests need not mutate
    /// the process environment.
    fn from_lookup(
        offline_flag: bool,
        show_progress: bool,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> HubSettings {
        // An empty variable counts as unset, as an exported-but-blank value usually means "default".
        let var = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        let endpoint = var("HF_ENDPOINT")
            .map(|url| url.trim().trim_end_matches('/').to_string())
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());

        let home_dir = || {
            var("HOME")
                .or_else(|| var("USERPROFILE"))
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."))
        };
        let expand_tilde = |value: String| -> PathBuf {
            match value.strip_prefix("~/") {
                Some(rest) => home_dir().join(rest),
                None if value == "~" => home_dir(),
                None => PathBuf::from(value),
            }
        };
        // HUGGINGFACE_HUB_CACHE is the older name huggingface_hub still honours.
        let cache_dir = var("HF_HUB_CACHE")
            .or_else(|| var("HUGGINGFACE_HUB_CACHE"))
            .map(expand_tilde)
            .or_else(|| var("HF_HOME").map(|home| expand_tilde(home).join("hub")))
            .or_else(|| {
                var("XDG_CACHE_HOME").map(|xdg| expand_tilde(xdg).join("huggingface").join("hub"))
            })
            .unwrap_or_else(|| home_dir().join(".cache").join("huggingface").join("hub"));

        let offline = offline_flag || var("HF_HUB_OFFLINE").is_some_and(|value| is_truthy(&value));
        let token = var("HF_TOKEN").map(|token| token.trim().to_string());
        let timeout = var(TIMEOUT_ENV_VAR)
            .and_then(|secs| secs.trim().parse::<f64>().ok())
            .filter(|secs| secs.is_finite() && *secs > 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(DEFAULT_TIMEOUT);

        HubSettings {
            endpoint,
            cache_dir,
            offline,
            token,
            show_progress,
            timeout,
        }
    }
}

// Hand-written so the token never ends up in logs or error dumps.
impl fmt::Debug for HubSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubSettings")
            .field("endpoint", &self.endpoint)
            .field("cache_dir", &self.cache_dir)
            .field("offline", &self.offline)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("show_progress", &self.show_progress)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The values huggingface_hub accepts as "true" for boolean variables.
fn is_truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

/// Whether `revision` is a full commit sha (40 lowercase or uppercase hex digits).
pub fn is_commit_sha(revision: &str) -> bool {
    revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `etag` is a sha256 (64 hex digits), i.e. the blob is an LFS file whose
/// content can be checked against its name.
pub fn is_sha256(etag: &str) -> bool {
    etag.len() == 64 && etag.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Checks a slash-separated name that becomes part of a cache path, so a hostile
/// or mistyped value can never point outside the repository folder.
fn check_relative_name(kind: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{kind} is empty"));
    }
    if value.contains('\\') || value.contains('\0') {
        return Err(format!("{kind} `{value}` contains a backslash or NUL byte"));
    }
    if value
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(format!(
            "{kind} `{value}` has an empty, `.` or `..` path segment (or a leading/trailing slash)"
        ));
    }
    Ok(())
}

/// Validates a repository id: `owner/name`, or a bare legacy `name` like `gpt2`.
pub fn check_repo_id(repo_id: &str) -> Result<(), String> {
    check_relative_name("repository id", repo_id)?;
    if repo_id.split('/').count() > 2 {
        return Err(format!(
            "repository id `{repo_id}` must look like `owner/name`"
        ));
    }
    Ok(())
}

/// Validates a revision: a commit sha, branch or tag name, or a ref such as `refs/pr/2`.
pub fn check_revision(revision: &str) -> Result<(), String> {
    check_relative_name("revision", revision)
}

/// Validates a file name inside a repository (sub-folders allowed, e.g. `onnx/model.onnx`).
pub fn check_filename(filename: &str) -> Result<(), String> {
    check_relative_name("file name", filename)
}

/// Validates a blob name (an etag) or commit taken from a server response: one plain
/// path segment of letters, digits, `-` or `_`.
pub fn check_object_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Joins a slash-separated relative name onto `base` segment by segment, so the
/// result uses the platform's separator.
fn join_slash_separated(base: &Path, name: &str) -> PathBuf {
    name.split('/')
        .fold(base.to_path_buf(), |path, part| path.join(part))
}

/// `models--owner--name`, the folder of a model repository in the cache.
pub fn repo_folder_name(repo_id: &str) -> String {
    format!("models--{}", repo_id.replace('/', "--"))
}

/// `<cache_dir>/models--owner--name`.
pub fn repo_dir(cache_dir: &Path, repo_id: &str) -> PathBuf {
    cache_dir.join(repo_folder_name(repo_id))
}

/// `<repo>/blobs/<etag>`.
pub fn blob_path(cache_dir: &Path, repo_id: &str, etag: &str) -> PathBuf {
    repo_dir(cache_dir, repo_id).join("blobs").join(etag)
}

/// `<repo>/snapshots/<commit>/<filename>`.
pub fn snapshot_file_path(
    cache_dir: &Path,
    repo_id: &str,
    commit: &str,
    filename: &str,
) -> PathBuf {
    join_slash_separated(
        &repo_dir(cache_dir, repo_id).join("snapshots").join(commit),
        filename,
    )
}

/// `<repo>/refs/<revision>`; a PR ref keeps its own `refs/` prefix, as in
/// huggingface_hub: `refs/pr/2` lives at `<repo>/refs/refs/pr/2`.
pub fn ref_file_path(cache_dir: &Path, repo_id: &str, revision: &str) -> PathBuf {
    join_slash_separated(&repo_dir(cache_dir, repo_id).join("refs"), revision)
}

/// The commit a revision points to in the cache: the revision itself when it is a
/// commit sha, else the content of its `refs/` file. `None` when unknown.
pub fn resolve_commit(cache_dir: &Path, repo_id: &str, revision: &str) -> Option<String> {
    if check_repo_id(repo_id).is_err() || check_revision(revision).is_err() {
        return None;
    }
    if is_commit_sha(revision) {
        return Some(revision.to_string());
    }
    let recorded = fs::read_to_string(ref_file_path(cache_dir, repo_id, revision)).ok()?;
    // Python writes the sha without a newline, but a hand-edited file may have one.
    let commit = recorded.trim();
    check_object_id(commit).then(|| commit.to_string())
}

/// The cached copy of `filename` from `repo_id` at `revision`, if there is one.
///
/// Returns the snapshot path (whose name keeps the file's extension); it is only
/// returned when it leads to an existing regular file, so a dangling symlink to a
/// deleted blob counts as not cached.
pub fn cached_file(
    settings: &HubSettings,
    repo_id: &str,
    revision: &str,
    filename: &str,
) -> Option<PathBuf> {
    if check_filename(filename).is_err() {
        return None;
    }
    let commit = resolve_commit(&settings.cache_dir, repo_id, revision)?;
    let path = snapshot_file_path(&settings.cache_dir, repo_id, &commit, filename);
    // is_file() follows symlinks.
    path.is_file().then_some(path)
}

/// Records that `revision` (a branch, tag or PR ref) points at `commit`.
/// Does nothing for a commit sha, which needs no ref.
pub fn write_ref(cache_dir: &Path, repo_id: &str, revision: &str, commit: &str) -> io::Result<()> {
    if is_commit_sha(revision) {
        return Ok(());
    }
    let path = ref_file_path(cache_dir, repo_id, revision);
    if fs::read_to_string(&path).is_ok_and(|current| current.trim() == commit) {
        // Unchanged: skip the write, so a read-only shared cache keeps working.
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    // No trailing newline: byte-identical to what huggingface_hub writes.
    fs::write(&path, commit)
}

/// Makes `snapshots/<commit>/<filename>` point at `blobs/<etag>` and returns the
/// snapshot path. On Unix this is a relative symlink (so the cache can be moved);
/// elsewhere the blob is copied, as huggingface_hub does without symlink support.
pub fn link_snapshot_file(
    cache_dir: &Path,
    repo_id: &str,
    commit: &str,
    filename: &str,
    etag: &str,
) -> io::Result<PathBuf> {
    let snapshot_path = snapshot_file_path(cache_dir, repo_id, commit, filename);
    if let Some(parent) = snapshot_path.parent() {
        fs::create_dir_all(parent)?;
    }
    // The link is made under a private name and renamed into place: the rename replaces whatever
    // was there (an old link, a dangling one) atomically, so two fetches of the same file — threads
    // or processes — cannot trip over each other's remove-then-create.
    static LINK_COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let unique = LINK_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let base = snapshot_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp_path = snapshot_path.with_file_name(format!(".{base}.{}-{unique}.link", std::process::id()));
    let _ = fs::remove_file(&temp_path);
    place_snapshot_file(cache_dir, repo_id, filename, etag, &temp_path)?;
    if let Err(err) = fs::rename(&temp_path, &snapshot_path) {
        let _ = fs::remove_file(&temp_path);
        return Err(err);
    }
    Ok(snapshot_path)
}

#[cfg(unix)]
fn place_snapshot_file(
    _cache_dir: &Path,
    _repo_id: &str,
    filename: &str,
    etag: &str,
    snapshot_path: &Path,
) -> io::Result<()> {
    // From snapshots/<commit>/<dirs...>/ climb to the repo folder: one `..` per
    // directory between the file and the repo folder.
    let depth = filename.split('/').count() + 1;
    let mut target = PathBuf::new();
    for _ in 0..depth {
        target.push("..");
    }
    target.push("blobs");
    target.push(etag);
    std::os::unix::fs::symlink(target, snapshot_path)
}

#[cfg(not(unix))]
fn place_snapshot_file(
    cache_dir: &Path,
    repo_id: &str,
    _filename: &str,
    etag: &str,
    snapshot_path: &Path,
) -> io::Result<()> {
    fs::copy(blob_path(cache_dir, repo_id, etag), snapshot_path).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    fn unique_temp_dir(label: &str) -> PathBuf {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "precis-cache-test-{label}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        dir
    }

    fn settings_for(cache_dir: &Path) -> HubSettings {
        HubSettings {
            endpoint: "http://127.0.0.1:9".into(),
            cache_dir: cache_dir.to_path_buf(),
            offline: true,
            token: None,
            show_progress: false,
            timeout: Duration::from_secs(1),
        }
    }

    fn settings_from(vars: &[(&str, &str)], offline_flag: bool) -> HubSettings {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HubSettings::from_lookup(offline_flag, false, |name| vars.get(name).cloned())
    }

    /// Builds the layout huggingface_hub leaves behind, by hand.
    fn python_style_download(
        cache: &Path,
        repo: &str,
        revision: &str,
        filename: &str,
        bytes: &[u8],
    ) -> PathBuf {
        let repo_folder = cache.join(repo_folder_name(repo));
        let etag = "ab".repeat(32);
        fs::create_dir_all(repo_folder.join("blobs")).unwrap();
        fs::write(repo_folder.join("blobs").join(&etag), bytes).unwrap();
        let snapshot = repo_folder.join("snapshots").join(COMMIT);
        fs::create_dir_all(&snapshot).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(format!("../../blobs/{etag}"), snapshot.join(filename)).unwrap();
        #[cfg(not(unix))]
        fs::write(snapshot.join(filename), bytes).unwrap();
        let ref_file = repo_folder.join("refs").join(revision);
        fs::create_dir_all(ref_file.parent().unwrap()).unwrap();
        fs::write(ref_file, COMMIT).unwrap();
        snapshot.join(filename)
    }

    #[test]
    fn defaults_follow_huggingface_hub() {
        let settings = settings_from(&[("HOME", "/home/reader")], false);
        assert_eq!(settings.endpoint, "https://huggingface.co");
        assert_eq!(
            settings.cache_dir,
            PathBuf::from("/home/reader/.cache/huggingface/hub")
        );
        assert!(!settings.offline);
        assert_eq!(settings.token, None);
        assert_eq!(settings.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn cache_dir_precedence() {
        let all = [
            ("HOME", "/h"),
            ("XDG_CACHE_HOME", "/xdg"),
            ("HF_HOME", "/hf-home"),
            ("HF_HUB_CACHE", "/hub-cache"),
        ];
        assert_eq!(
            settings_from(&all, false).cache_dir,
            PathBuf::from("/hub-cache")
        );
        assert_eq!(
            settings_from(&all[..3], false).cache_dir,
            PathBuf::from("/hf-home/hub")
        );
        assert_eq!(
            settings_from(&all[..2], false).cache_dir,
            PathBuf::from("/xdg/huggingface/hub")
        );
        assert_eq!(
            settings_from(&[("HOME", "/h"), ("HF_HOME", "~/hf")], false).cache_dir,
            PathBuf::from("/h/hf/hub")
        );
    }

    #[test]
    fn endpoint_offline_token_and_timeout_from_env() {
        let settings = settings_from(
            &[
                ("HF_ENDPOINT", "http://127.0.0.1:8080//"),
                ("HF_HUB_OFFLINE", "Yes"),
                ("HF_TOKEN", "hf_secret"),
                (TIMEOUT_ENV_VAR, "0.5"),
            ],
            false,
        );
        assert_eq!(settings.endpoint, "http://127.0.0.1:8080");
        assert!(settings.offline);
        assert_eq!(settings.token.as_deref(), Some("hf_secret"));
        assert_eq!(settings.timeout, Duration::from_millis(500));
        assert!(
            !format!("{settings:?}").contains("hf_secret"),
            "Debug must not print the token"
        );

        for value in ["1", "true", "TRUE", "on", "yes"] {
            assert!(
                settings_from(&[("HF_HUB_OFFLINE", value)], false).offline,
                "{value}"
            );
        }
        for value in ["0", "false", "no", ""] {
            assert!(
                !settings_from(&[("HF_HUB_OFFLINE", value)], false).offline,
                "{value}"
            );
        }
        assert!(
            settings_from(&[("HF_HUB_OFFLINE", "0")], true).offline,
            "the flag alone is enough"
        );
        assert_eq!(
            settings_from(&[(TIMEOUT_ENV_VAR, "-3")], false).timeout,
            DEFAULT_TIMEOUT
        );
    }

    #[test]
    fn layout_paths_match_huggingface_hub() {
        let cache = Path::new("/c");
        assert_eq!(
            repo_folder_name("sshleifer/distilbart-cnn-12-6"),
            "models--sshleifer--distilbart-cnn-12-6"
        );
        assert_eq!(
            ref_file_path(cache, "a/b", "main"),
            PathBuf::from("/c/models--a--b/refs/main")
        );
        assert_eq!(
            ref_file_path(cache, "a/b", "refs/pr/2"),
            PathBuf::from("/c/models--a--b/refs/refs/pr/2")
        );
        assert_eq!(
            snapshot_file_path(cache, "a/b", COMMIT, "onnx/model.onnx"),
            PathBuf::from(format!(
                "/c/models--a--b/snapshots/{COMMIT}/onnx/model.onnx"
            ))
        );
    }

    #[test]
    fn finds_a_file_downloaded_by_python() {
        let cache = unique_temp_dir("python");
        let settings = settings_for(&cache);
        let expected = python_style_download(&cache, "org/model", "main", "config.json", b"{}");

        assert_eq!(
            cached_file(&settings, "org/model", "main", "config.json"),
            Some(expected.clone())
        );
        assert_eq!(
            cached_file(&settings, "org/model", COMMIT, "config.json"),
            Some(expected.clone())
        );
        assert_eq!(fs::read(expected).unwrap(), b"{}");
        assert_eq!(
            cached_file(&settings, "org/model", "main", "missing.json"),
            None
        );
        assert_eq!(
            cached_file(&settings, "org/model", "dev", "config.json"),
            None
        );
        assert_eq!(
            cached_file(&settings, "org/other", "main", "config.json"),
            None
        );
        assert_eq!(
            cached_file(&settings, "org/model", "main", "../refs/main"),
            None
        );
        fs::remove_dir_all(cache).unwrap();
    }

    #[test]
    fn finds_a_pr_revision_and_tolerates_a_trailing_newline() {
        let cache = unique_temp_dir("pr");
        let settings = settings_for(&cache);
        let expected =
            python_style_download(&cache, "org/model", "refs/pr/2", "vocab.txt", b"a\nb\n");
        fs::write(
            ref_file_path(&cache, "org/model", "refs/pr/2"),
            format!("{COMMIT}\n"),
        )
        .unwrap();
        assert_eq!(
            cached_file(&settings, "org/model", "refs/pr/2", "vocab.txt"),
            Some(expected)
        );
        fs::remove_dir_all(cache).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn dangling_snapshot_link_is_not_cached() {
        let cache = unique_temp_dir("dangling");
        let settings = settings_for(&cache);
        python_style_download(&cache, "org/model", "main", "model.bin", b"weights");
        fs::remove_dir_all(repo_dir(&cache, "org/model").join("blobs")).unwrap();
        assert_eq!(
            cached_file(&settings, "org/model", "main", "model.bin"),
            None
        );
        fs::remove_dir_all(cache).unwrap();
    }

    #[test]
    fn link_and_ref_round_trip_with_subfolders() {
        let cache = unique_temp_dir("link");
        let settings = settings_for(&cache);
        let etag = "cd".repeat(32);
        let blob = blob_path(&cache, "org/model", &etag);
        fs::create_dir_all(blob.parent().unwrap()).unwrap();
        fs::write(&blob, b"onnx").unwrap();

        let linked =
            link_snapshot_file(&cache, "org/model", COMMIT, "onnx/model.onnx", &etag).unwrap();
        // Linking again replaces the previous link instead of failing.
        let linked_again =
            link_snapshot_file(&cache, "org/model", COMMIT, "onnx/model.onnx", &etag).unwrap();
        assert_eq!(linked, linked_again);
        write_ref(&cache, "org/model", "main", COMMIT).unwrap();
        write_ref(&cache, "org/model", COMMIT, COMMIT).unwrap();

        assert_eq!(fs::read(&linked).unwrap(), b"onnx");
        #[cfg(unix)]
        assert_eq!(
            fs::read_link(&linked).unwrap(),
            PathBuf::from(format!("../../../blobs/{etag}"))
        );
        assert_eq!(
            fs::read_to_string(ref_file_path(&cache, "org/model", "main")).unwrap(),
            COMMIT
        );
        assert!(
            !ref_file_path(&cache, "org/model", COMMIT).exists(),
            "no ref file for a sha"
        );
        assert_eq!(
            cached_file(&settings, "org/model", "main", "onnx/model.onnx"),
            Some(linked)
        );
        fs::remove_dir_all(cache).unwrap();
    }

    #[test]
    fn rejects_names_that_escape_the_cache() {
        assert!(check_repo_id("org/model").is_ok());
        assert!(check_repo_id("gpt2").is_ok());
        for bad in ["", "a/b/c", "../x", "a//b", "/abs", "a\\b"] {
            assert!(check_repo_id(bad).is_err(), "{bad:?}");
        }
        assert!(check_revision("refs/pr/2").is_ok());
        assert!(check_revision("../../etc").is_err());
        assert!(check_filename("onnx/model.onnx").is_ok());
        assert!(check_filename("/etc/passwd").is_err());
        assert!(check_object_id(&"ab".repeat(32)));
        assert!(!check_object_id("../x"));
        assert!(!check_object_id(""));
    }
}
