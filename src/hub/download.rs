//! Downloading model files from the Hugging Face Hub into the shared cache.
//!
//! [`fetch`] returns a cached file without touching the network, and otherwise
//! GETs `{endpoint}/{repo}/resolve/{revision}/{filename}` the way `huggingface_hub`
//! does: the Hub answers with the commit (`X-Repo-Commit`), the blob id
//! (`X-Linked-Etag` for LFS files, else `ETag`) and the size (`X-Linked-Size`, else
//! `Content-Length`), and redirects LFS files to a CDN. The body is streamed into
//! `blobs/<etag>.incomplete`, checked (size, and sha256 for LFS blobs), and only
//! then renamed into place and linked from `snapshots/`; a failed download never
//! leaves a partial file behind.
//!
//! Concurrent downloads of the same blob (another `precis`, or Python) are
//! serialised by the same lock file huggingface_hub uses,
//! `<cache>/.locks/models--owner--name/<etag>.lock`.

use std::fs::{self, File, TryLockError};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use super::cache::{
    blob_path, cached_file, check_filename, check_object_id, check_repo_id, check_revision,
    is_commit_sha, is_sha256, link_snapshot_file, repo_folder_name, write_ref, HubSettings,
};

/// The Hub redirects LFS files once (to its CDN); a few more hops allow for a
/// renamed repository, and stop a redirect loop.
const MAX_REDIRECTS: usize = 5;

/// Size of each read from the network and write to disk.
const CHUNK_SIZE: usize = 64 * 1024;

/// How long to wait for another process that holds a blob's download lock.
const LOCK_WAIT_LIMIT: Duration = Duration::from_secs(60 * 60);

/// Everything that can go wrong getting a file; each message names the file,
/// says what went wrong and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(
        "`{filename}` of model `{repo}` (revision `{revision}`) is not in the Hugging Face cache at {}, \
         and offline mode is on (--offline or HF_HUB_OFFLINE); run `precis models pull <model>` once \
         with network access to download it",
        cache_dir.display()
    )]
    Offline {
        repo: String,
        revision: String,
        filename: String,
        cache_dir: PathBuf,
    },

    #[error(
        "`{filename}` does not exist in model `{repo}` at revision `{revision}` (HTTP 404); \
         check the model id, revision and file name"
    )]
    NotFound {
        repo: String,
        revision: String,
        filename: String,
    },

    #[error(
        "none of the files {} exists in model `{repo}` at revision `{revision}`; \
         check the model id and revision, or that the model ships weights in a supported format",
        quoted_list(candidates)
    )]
    NoCandidateFound {
        repo: String,
        revision: String,
        candidates: Vec<String>,
    },

    #[error(
        "the Hub refused access to `{filename}` of model `{repo}` (HTTP {status} from {url}{}): \
         the model may be private or gated, or its id misspelled; {}",
        server_detail(server_message),
        if *token_sent {
            "check that the token in HF_TOKEN has read permission (and accept the model's terms on its Hub page if it is gated)"
        } else {
            "set HF_TOKEN to an access token with read permission (and accept the model's terms on its Hub page if it is gated)"
        }
    )]
    Unauthorized {
        repo: String,
        filename: String,
        url: String,
        status: u16,
        server_message: Option<String>,
        token_sent: bool,
    },

    #[error(
        "downloading `{filename}` failed: {url} answered HTTP {status}{}; the Hub (or the server \
         HF_ENDPOINT points to) may be having trouble: retry later, check HF_ENDPOINT, or use \
         --offline if the model is already cached",
        server_detail(server_message)
    )]
    Http {
        filename: String,
        url: String,
        status: u16,
        server_message: Option<String>,
    },

    #[error(
        "could not download `{filename}` from {url}: {cause}; check the network connection or \
         HF_ENDPOINT, or use --offline if the model is already cached"
    )]
    Transport {
        filename: String,
        url: String,
        cause: String,
    },

    #[error(
        "the download of `{filename}` from {url} broke off after {received} bytes: {cause}; the \
         partial file was removed; run the command again (a slow link may need a larger \
         PRECIS_HUB_TIMEOUT_SECS)"
    )]
    Interrupted {
        filename: String,
        url: String,
        received: u64,
        cause: String,
    },

    #[error(
        "the download of `{filename}` from model `{repo}` stopped after {received} of {expected} \
         bytes; the partial file was removed; run the command again"
    )]
    Truncated {
        repo: String,
        filename: String,
        expected: u64,
        received: u64,
    },

    #[error(
        "the downloaded `{filename}` from model `{repo}` is corrupt: its sha256 is {actual_sha256} \
         but the Hub announced {expected_sha256}; it was discarded; run the command again, and if \
         this repeats, a proxy or mirror (HF_ENDPOINT) is altering the file"
    )]
    Corrupt {
        repo: String,
        filename: String,
        expected_sha256: String,
        actual_sha256: String,
    },

    #[error(
        "{url} did not answer like the Hugging Face Hub when asked for `{filename}`: {reason}; \
         check that HF_ENDPOINT points to the Hub or a faithful mirror, and that no proxy rewrites \
         the responses"
    )]
    BadResponse {
        filename: String,
        url: String,
        reason: String,
    },

    #[error("could not {action} {}: {source}; check that the Hugging Face cache directory is writable \
             and the disk has free space (HF_HUB_CACHE or HF_HOME choose where it is)", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(
        "another download of `{filename}` has held the lock {} for over {} minutes; if no other \
         precis or Python download is running, delete that file and try again",
        lock_path.display(), LOCK_WAIT_LIMIT.as_secs() / 60
    )]
    LockTimeout {
        filename: String,
        lock_path: PathBuf,
    },

    #[error("invalid model file request: {reason}")]
    InvalidRequest { reason: String },

    #[error(
        "model `{repo}` has no revision `{revision}` on the Hub (HTTP 404 from {url}); check the \
         revision after `@` (a branch, a tag, a commit sha or a ref such as refs/pr/2)"
    )]
    RevisionNotFound {
        repo: String,
        revision: String,
        url: String,
    },
}

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn server_detail(message: &Option<String>) -> String {
    message
        .as_ref()
        .map(|text| format!(", server says: {text}"))
        .unwrap_or_default()
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> HubError {
    let path = path.to_path_buf();
    move |source| HubError::Io {
        action,
        path,
        source,
    }
}

/// Returns the local path of `filename` from model `repo_id` at `revision`
/// (a commit sha, a branch such as `main`, or a ref such as `refs/pr/2`),
/// downloading it into the cache unless it is already there.
///
/// A cached file is returned without any network access, so a branch like `main`
/// is not re-checked for newer commits once cached.
pub fn fetch(
    settings: &HubSettings,
    repo_id: &str,
    revision: &str,
    filename: &str,
) -> Result<PathBuf, HubError> {
    check_request(repo_id, revision, filename)?;
    if let Some(path) = cached_file(settings, repo_id, revision, filename) {
        return Ok(path);
    }
    if settings.offline {
        return Err(HubError::Offline {
            repo: repo_id.to_string(),
            revision: revision.to_string(),
            filename: filename.to_string(),
            cache_dir: settings.cache_dir.clone(),
        });
    }
    download(settings, repo_id, revision, filename)
}

/// Fetches the first of `candidates` that the model has, e.g.
/// `["model.safetensors", "rust_model.ot"]`, and returns its name and path.
///
/// A candidate already in the cache wins without any network access, even over
/// an earlier one that is not cached: one usable format is enough, and this is
/// also what lets offline mode fall back. Otherwise the candidates are tried in
/// order, moving on only when a file does not exist on the Hub; any other error
/// is returned at once, since the other files would fail the same way.
pub fn fetch_first(
    settings: &HubSettings,
    repo_id: &str,
    revision: &str,
    candidates: &[&str],
) -> Result<(String, PathBuf), HubError> {
    if candidates.is_empty() {
        return Err(HubError::InvalidRequest {
            reason: format!("no file names given for model `{repo_id}`"),
        });
    }
    for candidate in candidates {
        check_request(repo_id, revision, candidate)?;
        if let Some(path) = cached_file(settings, repo_id, revision, candidate) {
            return Ok((candidate.to_string(), path));
        }
    }
    for candidate in candidates {
        match fetch(settings, repo_id, revision, candidate) {
            Ok(path) => return Ok((candidate.to_string(), path)),
            Err(HubError::NotFound { .. }) => continue,
            Err(error) => return Err(error),
        }
    }
    Err(HubError::NoCandidateFound {
        repo: repo_id.to_string(),
        revision: revision.to_string(),
        candidates: candidates
            .iter()
            .map(|candidate| candidate.to_string())
            .collect(),
    })
}

fn check_request(repo_id: &str, revision: &str, filename: &str) -> Result<(), HubError> {
    check_repo_id(repo_id)
        .and_then(|()| check_revision(revision))
        .and_then(|()| check_filename(filename))
        .map_err(|reason| HubError::InvalidRequest { reason })
}

/// What the Hub's model API says about a repository at one revision: the commit the revision
/// points to and the names of the files at that commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoInfo {
    pub commit: String,
    pub files: Vec<String>,
}

/// Asks the Hub's model API (`GET {endpoint}/api/models/{repo}/revision/{revision}`, what
/// huggingface_hub's `model_info` calls) for the commit `revision` points to and the files there.
/// Never used offline.
pub fn repo_info(settings: &HubSettings, repo_id: &str, revision: &str) -> Result<RepoInfo, HubError> {
    check_request(repo_id, revision, "config.json")?;
    if settings.offline {
        return Err(HubError::Offline {
            repo: repo_id.to_string(),
            revision: revision.to_string(),
            filename: "the file list".to_string(),
            cache_dir: settings.cache_dir.clone(),
        });
    }
    let url = api_url(&settings.endpoint, repo_id, revision);
    let request = Download { settings, repo_id, revision, filename: "the file list (model API)" };
    let response = match request.request_following_redirects(&url) {
        Ok((response, _, _)) => response,
        Err(HubError::NotFound { .. }) => {
            return Err(HubError::RevisionNotFound { repo: repo_id.to_string(), revision: revision.to_string(), url })
        }
        Err(error) => return Err(error),
    };
    let mut body = String::new();
    response
        .into_reader()
        .take(64 * 1024 * 1024)
        .read_to_string(&mut body)
        .map_err(|error| request.bad_response(&url, &format!("its answer could not be read: {error}")))?;
    let info: serde_json::Value =
        serde_json::from_str(&body).map_err(|error| request.bad_response(&url, &format!("its answer is not JSON: {error}")))?;
    let commit = info
        .get("sha")
        .and_then(|sha| sha.as_str())
        .filter(|sha| is_commit_sha(sha))
        .ok_or_else(|| request.bad_response(&url, "its answer has no commit sha (`sha`)"))?
        .to_ascii_lowercase();
    let siblings = info
        .get("siblings")
        .and_then(|siblings| siblings.as_array())
        .ok_or_else(|| request.bad_response(&url, "its answer has no file list (`siblings`)"))?;
    let mut files = Vec::with_capacity(siblings.len());
    for sibling in siblings {
        let name = sibling
            .get("rfilename")
            .and_then(|name| name.as_str())
            .ok_or_else(|| request.bad_response(&url, "a `siblings` entry has no `rfilename`"))?;
        // A name that could escape the cache folder is not a file precis would fetch.
        if check_filename(name).is_ok() {
            files.push(name.to_string());
        }
    }
    write_ref(&settings.cache_dir, repo_id, revision, &commit)
        .map_err(io_error("record the revision of", &super::cache::repo_dir(&settings.cache_dir, repo_id)))?;
    Ok(RepoInfo { commit, files })
}

/// `{endpoint}/api/models/{repo}/revision/{revision}`, the revision as one path segment.
pub fn api_url(endpoint: &str, repo_id: &str, revision: &str) -> String {
    format!("{}/api/models/{}/revision/{}", endpoint.trim_end_matches('/'), percent_encode(repo_id, true), percent_encode(revision, false))
}

/// `{endpoint}/{repo}/resolve/{revision}/{filename}`, encoded like huggingface_hub's
/// `hf_hub_url`: the revision as one path segment (`refs/pr/2` → `refs%2Fpr%2F2`),
/// slashes in the file name kept.
pub fn resolve_url(endpoint: &str, repo_id: &str, revision: &str, filename: &str) -> String {
    format!(
        "{}/{}/resolve/{}/{}",
        endpoint.trim_end_matches('/'),
        percent_encode(repo_id, true),
        percent_encode(revision, false),
        percent_encode(filename, true),
    )
}

fn percent_encode(text: &str, keep_slashes: bool) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~');
        if unreserved || (keep_slashes && byte == b'/') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// What the Hub said about a file, gathered across the redirect chain: the Hub's
/// own response carries the `X-*` headers, the CDN's only the body.
#[derive(Default, Debug)]
struct FileMetadata {
    commit: Option<String>,
    linked_etag: Option<String>,
    etag: Option<String>,
    linked_size: Option<u64>,
    content_length: Option<u64>,
}

impl FileMetadata {
    /// Keeps the first value seen for each header, so the CDN's own `ETag`
    /// never replaces the Hub's.
    fn absorb(&mut self, response: &ureq::Response) {
        let header = |name: &str| {
            response
                .header(name)
                .map(str::trim)
                .filter(|value| !value.is_empty())
        };
        if self.commit.is_none() {
            self.commit = header("X-Repo-Commit").map(str::to_string);
        }
        if self.linked_etag.is_none() {
            self.linked_etag = header("X-Linked-Etag").map(normalize_etag);
        }
        if self.etag.is_none() {
            self.etag = header("ETag").map(normalize_etag);
        }
        if self.linked_size.is_none() {
            self.linked_size = header("X-Linked-Size").and_then(|size| size.parse().ok());
        }
        // The body's length is the last response's, not a redirect's.
        self.content_length = header("Content-Length").and_then(|size| size.parse().ok());
    }
}

/// `W/"abc"` or `"abc"` → `abc`.
fn normalize_etag(raw: &str) -> String {
    raw.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_string()
}

/// One download, from the request to the linked snapshot file.
struct Download<'a> {
    settings: &'a HubSettings,
    repo_id: &'a str,
    revision: &'a str,
    filename: &'a str,
}

fn download(
    settings: &HubSettings,
    repo_id: &str,
    revision: &str,
    filename: &str,
) -> Result<PathBuf, HubError> {
    Download {
        settings,
        repo_id,
        revision,
        filename,
    }
    .run()
}

impl Download<'_> {
    fn run(&self) -> Result<PathBuf, HubError> {
        let url = resolve_url(
            &self.settings.endpoint,
            self.repo_id,
            self.revision,
            self.filename,
        );
        let (response, metadata, final_url) = self.request_following_redirects(&url)?;

        let commit = match metadata.commit.as_deref() {
            Some(commit) => commit.to_string(),
            // A pinned commit needs no confirmation from the server.
            None if is_commit_sha(self.revision) => self.revision.to_string(),
            None => return Err(self.bad_response(&url, "the response has no X-Repo-Commit header")),
        };
        if !is_commit_sha(&commit) {
            return Err(self.bad_response(
                &url,
                &format!("X-Repo-Commit `{commit}` is not a commit sha"),
            ));
        }
        let etag = metadata
            .linked_etag
            .clone()
            .or_else(|| metadata.etag.clone())
            .ok_or_else(|| {
                self.bad_response(
                    &url,
                    "the response has neither an X-Linked-Etag nor an ETag header",
                )
            })?;
        if !check_object_id(&etag) {
            return Err(
                self.bad_response(&url, &format!("the ETag `{etag}` cannot name a cache file"))
            );
        }
        let expected_size = metadata.linked_size.or(metadata.content_length);

        let cache_dir = &self.settings.cache_dir;
        let blob = blob_path(cache_dir, self.repo_id, &etag);
        // The same content may already be cached under another commit or file name.
        if !blob.is_file() {
            let _lock = self.lock_blob(&etag)?;
            // Whoever held the lock before us may have just finished this very blob.
            if !blob.is_file() {
                self.store_blob(response, &final_url, &blob, &etag, expected_size)?;
            }
        }

        let snapshot_path =
            link_snapshot_file(cache_dir, self.repo_id, &commit, self.filename, &etag)
                .map_err(io_error("link the snapshot file for", &blob))?;
        write_ref(cache_dir, self.repo_id, self.revision, &commit)
            .map_err(io_error("record the revision of", &snapshot_path))?;
        Ok(snapshot_path)
    }

    fn bad_response(&self, url: &str, reason: &str) -> HubError {
        HubError::BadResponse {
            filename: self.filename.to_string(),
            url: url.to_string(),
            reason: reason.to_string(),
        }
    }

    fn agent(&self) -> ureq::Agent {
        ureq::AgentBuilder::new()
            .timeout_connect(self.settings.timeout)
            .timeout_read(self.settings.timeout)
            .timeout_write(self.settings.timeout)
            // Followed by hand: the Hub's headers are on the redirect, not on the CDN's answer.
            .redirects(0)
            .user_agent(&format!("precis/{}", env!("CARGO_PKG_VERSION")))
            .build()
    }

    /// GETs `url`, following redirects, and returns the final (2xx) response, the
    /// metadata gathered on the way and the URL the body comes from.
    fn request_following_redirects(
        &self,
        url: &str,
    ) -> Result<(ureq::Response, FileMetadata, String), HubError> {
        let agent = self.agent();
        let mut metadata = FileMetadata::default();
        let mut current_url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            // Identity encoding, so the bytes counted are the bytes announced.
            let mut request = agent.get(&current_url).set("Accept-Encoding", "identity");
            // The token is for the Hub only, never for the CDN it redirects to.
            if let Some(token) = self
                .settings
                .token
                .as_deref()
                .filter(|token| !token.is_empty())
            {
                if same_origin(&current_url, &self.settings.endpoint) {
                    request = request.set("Authorization", &format!("Bearer {token}"));
                }
            }
            match request.call() {
                Ok(response) if (300..400).contains(&response.status()) => {
                    metadata.absorb(&response);
                    let Some(location) = response
                        .header("Location")
                        .filter(|location| !location.trim().is_empty())
                    else {
                        let reason = format!(
                            "HTTP {} redirect without a Location header",
                            response.status()
                        );
                        return Err(self.bad_response(&current_url, &reason));
                    };
                    current_url = join_url(&current_url, location.trim());
                }
                Ok(response) => {
                    metadata.absorb(&response);
                    return Ok((response, metadata, current_url));
                }
                Err(ureq::Error::Status(status, response)) => {
                    return Err(self.status_error(&current_url, status, response))
                }
                Err(ureq::Error::Transport(transport)) => {
                    return Err(HubError::Transport {
                        filename: self.filename.to_string(),
                        url: current_url.clone(),
                        cause: transport_cause(&transport, &current_url),
                    })
                }
            }
        }
        Err(self.bad_response(url, &format!("more than {MAX_REDIRECTS} redirects")))
    }

    fn status_error(&self, url: &str, status: u16, response: ureq::Response) -> HubError {
        match status {
            404 => HubError::NotFound {
                repo: self.repo_id.to_string(),
                revision: self.revision.to_string(),
                filename: self.filename.to_string(),
            },
            401 | 403 => HubError::Unauthorized {
                repo: self.repo_id.to_string(),
                filename: self.filename.to_string(),
                url: url.to_string(),
                status,
                server_message: server_message(response),
                token_sent: self
                    .settings
                    .token
                    .as_deref()
                    .is_some_and(|token| !token.is_empty())
                    && same_origin(url, &self.settings.endpoint),
            },
            _ => HubError::Http {
                filename: self.filename.to_string(),
                url: url.to_string(),
                status,
                server_message: server_message(response),
            },
        }
    }

    /// Takes the lock huggingface_hub uses for this blob, so two processes never
    /// write the same `.incomplete` file. Returns `None` where the file system
    /// cannot lock (huggingface_hub then goes ahead too).
    fn lock_blob(&self, etag: &str) -> Result<Option<File>, HubError> {
        let lock_dir = self
            .settings
            .cache_dir
            .join(".locks")
            .join(repo_folder_name(self.repo_id));
        let lock_path = lock_dir.join(format!("{etag}.lock"));
        fs::create_dir_all(&lock_dir).map_err(io_error("create the lock directory", &lock_dir))?;
        let lock_file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_error("create the lock file", &lock_path))?;
        let started = Instant::now();
        let mut told_user = false;
        loop {
            match lock_file.try_lock() {
                Ok(()) => return Ok(Some(lock_file)),
                Err(TryLockError::Error(_)) => return Ok(None),
                Err(TryLockError::WouldBlock) => {
                    if started.elapsed() > LOCK_WAIT_LIMIT {
                        return Err(HubError::LockTimeout {
                            filename: self.filename.to_string(),
                            lock_path,
                        });
                    }
                    if !told_user {
                        eprintln!(
                            "waiting for another download of `{}` to finish ({})",
                            self.filename,
                            lock_path.display()
                        );
                        told_user = true;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }

    /// Streams the body into `<blob>.incomplete`, verifies it and renames it to `blob`.
    fn store_blob(
        &self,
        response: ureq::Response,
        url: &str,
        blob: &Path,
        etag: &str,
        expected_size: Option<u64>,
    ) -> Result<(), HubError> {
        let blob_dir = blob.parent().unwrap_or(&self.settings.cache_dir);
        fs::create_dir_all(blob_dir).map_err(io_error("create the blob directory", blob_dir))?;
        let incomplete = IncompleteFile::create(blob.with_file_name(format!("{etag}.incomplete")))?;

        let progress = self.progress_bar(expected_size);
        let verify_sha256 = is_sha256(etag);
        let copied = copy_body(
            response.into_reader(),
            &incomplete,
            &progress,
            verify_sha256,
        );
        let (received, digest) = match copied {
            Ok(result) => result,
            Err(CopyError::Read { received, error }) => {
                progress.abandon();
                return Err(self.read_error(url, received, expected_size, error));
            }
            Err(CopyError::Write(error)) => {
                progress.abandon();
                return Err(HubError::Io {
                    action: "write",
                    path: incomplete.path.clone(),
                    source: error,
                });
            }
        };

        if let Some(expected) = expected_size.filter(|expected| *expected != received) {
            progress.abandon();
            return Err(if received < expected {
                self.truncated(expected, received)
            } else {
                self.bad_response(
                    url,
                    &format!("it sent {received} bytes, more than the {expected} it announced"),
                )
            });
        }
        if let Some(actual_sha256) = digest {
            if !actual_sha256.eq_ignore_ascii_case(etag) {
                progress.abandon();
                return Err(HubError::Corrupt {
                    repo: self.repo_id.to_string(),
                    filename: self.filename.to_string(),
                    expected_sha256: etag.to_ascii_lowercase(),
                    actual_sha256,
                });
            }
        }
        progress.finish();
        incomplete.persist_as(blob)
    }

    fn read_error(
        &self,
        url: &str,
        received: u64,
        expected: Option<u64>,
        error: io::Error,
    ) -> HubError {
        match (error.kind(), expected) {
            // ureq reports a body shorter than its Content-Length this way.
            (io::ErrorKind::UnexpectedEof, Some(expected)) => self.truncated(expected, received),
            (io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock, _) => HubError::Interrupted {
                filename: self.filename.to_string(),
                url: url.to_string(),
                received,
                cause: format!("no data for {:.1} s", self.settings.timeout.as_secs_f64()),
            },
            _ => HubError::Interrupted {
                filename: self.filename.to_string(),
                url: url.to_string(),
                received,
                cause: error.to_string(),
            },
        }
    }

    fn truncated(&self, expected: u64, received: u64) -> HubError {
        HubError::Truncated {
            repo: self.repo_id.to_string(),
            filename: self.filename.to_string(),
            expected,
            received,
        }
    }

    /// A bar with bytes, rate and ETA on stderr; indicatif hides it by itself
    /// when stderr is not a terminal.
    fn progress_bar(&self, expected_size: Option<u64>) -> ProgressBar {
        if !self.settings.show_progress {
            return ProgressBar::hidden();
        }
        let (bar, template) = match expected_size {
            Some(size) => (
                ProgressBar::new(size),
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            ),
            None => (
                ProgressBar::new_spinner(),
                "{msg} {spinner} {bytes} {bytes_per_sec}",
            ),
        };
        // The templates are constant; should one ever fail to parse, the default style still works.
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(format!("{} {}", self.repo_id, self.filename));
        bar
    }
}

/// `.incomplete` download target, deleted when dropped unless persisted, so no
/// early return or panic can leave a partial file in the cache.
struct IncompleteFile {
    path: PathBuf,
    file: File,
    persisted: bool,
}

impl IncompleteFile {
    fn create(path: PathBuf) -> Result<IncompleteFile, HubError> {
        // Truncating: a leftover from a killed run is never trusted.
        let file = File::create(&path).map_err(io_error("create", &path))?;
        Ok(IncompleteFile {
            path,
            file,
            persisted: false,
        })
    }

    fn persist_as(mut self, target: &Path) -> Result<(), HubError> {
        self.file
            .sync_all()
            .map_err(io_error("flush", &self.path))?;
        fs::rename(&self.path, target)
            .map_err(io_error("move the finished download to", target))?;
        self.persisted = true;
        Ok(())
    }
}

impl Drop for IncompleteFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = fs::remove_file(&self.path);
        }
    }
}

enum CopyError {
    Read { received: u64, error: io::Error },
    Write(io::Error),
}

/// Copies the body to disk; returns the byte count and, when asked, the sha256.
fn copy_body(
    mut body: impl Read,
    target: &IncompleteFile,
    progress: &ProgressBar,
    compute_sha256: bool,
) -> Result<(u64, Option<String>), CopyError> {
    let mut hasher = compute_sha256.then(Sha256::new);
    let mut buffer = vec![0u8; CHUNK_SIZE];
    let mut received: u64 = 0;
    let mut file = &target.file;
    loop {
        let count = match body.read(&mut buffer) {
            Ok(0) => break,
            Ok(count) => count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(CopyError::Read { received, error }),
        };
        let chunk = &buffer[..count];
        file.write_all(chunk).map_err(CopyError::Write)?;
        if let Some(hasher) = hasher.as_mut() {
            hasher.update(chunk);
        }
        received += count as u64;
        progress.set_position(received);
    }
    Ok((received, hasher.map(|hasher| to_hex(&hasher.finalize()))))
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A short, single-line explanation from an error response: the Hub's
/// `X-Error-Message` header, else the start of the body.
fn server_message(response: ureq::Response) -> Option<String> {
    if let Some(message) = response.header("X-Error-Message") {
        return Some(one_line(message, 200)).filter(|text| !text.is_empty());
    }
    let mut snippet = Vec::new();
    // A bounded read: an error body is never worth waiting or allocating for.
    response
        .into_reader()
        .take(512)
        .read_to_end(&mut snippet)
        .ok()?;
    Some(one_line(&String::from_utf8_lossy(&snippet), 200)).filter(|text| !text.is_empty())
}

fn one_line(text: &str, max_chars: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

/// ureq's message without the URL it starts with, since ours names the URL already.
fn transport_cause(transport: &ureq::Transport, url: &str) -> String {
    let text = transport.to_string();
    let trimmed = transport
        .url()
        .and_then(|failed_url| {
            text.strip_prefix(&format!("{failed_url}: "))
                .map(str::to_string)
        })
        .or_else(|| text.strip_prefix(&format!("{url}: ")).map(str::to_string))
        .unwrap_or(text);
    trimmed
}

/// `scheme://host[:port]` of a URL, lower-cased.
fn origin(url: &str) -> Option<String> {
    let scheme_end = url.find("://")?;
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |offset| authority_start + offset);
    Some(url[..authority_end].to_ascii_lowercase())
}

fn same_origin(url: &str, endpoint: &str) -> bool {
    matches!((origin(url), origin(endpoint)), (Some(a), Some(b)) if a == b)
}

/// Resolves a `Location` header against the URL that sent it.
fn join_url(base: &str, location: &str) -> String {
    let lower = location.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return location.to_string();
    }
    let base_origin = origin(base).unwrap_or_default();
    if let Some(rest) = location.strip_prefix("//") {
        let scheme = base_origin.split("://").next().unwrap_or("https");
        return format!("{scheme}://{rest}");
    }
    if location.starts_with('/') {
        return format!("{base_origin}{location}");
    }
    // Relative to the base's directory (query and fragment dropped).
    let base_path_end = base.find(['?', '#']).unwrap_or(base.len());
    let base_without_query = &base[..base_path_end];
    match base_without_query.rfind('/') {
        Some(slash) if slash >= base_origin.len() => {
            format!("{}{location}", &base_without_query[..=slash])
        }
        _ => format!("{base_origin}/{location}"),
    }
}

#[cfg(test)]
#[path = "../../tests/common/fake_hub.rs"]
mod fake_hub;

#[cfg(test)]
mod tests {
    use super::fake_hub::{Behaviour, FakeHub, HubFile};
    use super::*;
    use crate::hub::cache::{ref_file_path, repo_dir, snapshot_file_path};
    use std::sync::atomic::{AtomicUsize, Ordering};

    const REPO: &str = "org/tiny-model";
    const COMMIT: &str = "1111111111111111111111111111111111111111";

    /// A fresh cache directory per test, removed when the test ends.
    struct TempCache(PathBuf);

    impl TempCache {
        fn new(label: &str) -> TempCache {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "precis-hub-test-{label}-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst)
            ));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).expect("create temp cache");
            TempCache(dir)
        }
    }

    impl Drop for TempCache {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn settings(hub: &FakeHub, cache: &TempCache) -> HubSettings {
        HubSettings {
            endpoint: hub.endpoint(),
            cache_dir: cache.0.clone(),
            offline: false,
            token: None,
            show_progress: false,
            // Generous: a loaded CI machine must not turn a slow thread into a failed test.
            timeout: Duration::from_secs(5),
        }
    }

    /// Every file under the cache whose name ends with `suffix`, or all files for "".
    fn files_in(dir: &Path, suffix: &str) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let Ok(entries) = fs::read_dir(dir) else {
            return found;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && !path.is_symlink() {
                found.extend(files_in(&path, suffix));
            } else if path.to_string_lossy().ends_with(suffix) {
                found.push(path);
            }
        }
        found
    }

    /// Asserts the cache holds no blob, no partial download and no snapshot link.
    fn assert_nothing_cached(cache: &TempCache) {
        let repo = repo_dir(&cache.0, REPO);
        assert!(
            files_in(&repo.join("blobs"), "").is_empty(),
            "blobs left: {:?}",
            files_in(&repo, "")
        );
        assert!(
            files_in(&repo.join("snapshots"), "").is_empty(),
            "snapshot left"
        );
        assert!(
            files_in(&cache.0, ".incomplete").is_empty(),
            "partial download left"
        );
    }

    fn big_bytes(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn downloads_once_then_serves_from_cache() {
        let config = br#"{"d_model": 16}"#.to_vec();
        let hub = FakeHub::start(vec![HubFile::new(
            REPO,
            COMMIT,
            "config.json",
            config.clone(),
            Behaviour::Serve,
        )]);
        let cache = TempCache::new("cached");
        let settings = settings(&hub, &cache);

        let path = fetch(&settings, REPO, "main", "config.json").expect("first fetch downloads");
        assert_eq!(fs::read(&path).unwrap(), config);
        assert_eq!(
            path,
            snapshot_file_path(&cache.0, REPO, COMMIT, "config.json")
        );
        assert_eq!(
            fs::read_to_string(ref_file_path(&cache.0, REPO, "main")).unwrap(),
            COMMIT
        );
        let requests = hub.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(
            requests[0].path,
            format!("/{REPO}/resolve/main/config.json")
        );
        let user_agent = requests[0].header("user-agent").unwrap_or_default();
        assert!(user_agent.starts_with("precis/"), "{user_agent}");
        assert_eq!(requests[0].header("authorization"), None);

        let again = fetch(&settings, REPO, "main", "config.json").expect("second fetch from cache");
        assert_eq!(again, path);
        assert_eq!(
            fetch(&settings, REPO, COMMIT, "config.json").expect("by commit"),
            path
        );
        assert_eq!(
            hub.requests().len(),
            1,
            "cached file must not cause a request"
        );
        assert!(files_in(&cache.0, ".incomplete").is_empty());
    }

    #[test]
    fn lfs_file_follows_the_redirect_and_is_verified() {
        let weights = big_bytes(300_000);
        let hub = FakeHub::start(vec![HubFile::new(
            REPO,
            COMMIT,
            "model.safetensors",
            weights.clone(),
            Behaviour::Serve,
        )]);
        let cache = TempCache::new("lfs");
        let mut settings = settings(&hub, &cache);
        settings.token = Some("hf_test_token".into());

        let path = fetch(&settings, REPO, "main", "model.safetensors").expect("LFS download");
        assert_eq!(fs::read(&path).unwrap(), weights);
        let sha = to_hex(&Sha256::digest(&weights));
        assert!(
            blob_path(&cache.0, REPO, &sha).is_file(),
            "blob named by its sha256"
        );

        let requests = hub.requests();
        assert_eq!(requests.len(), 2, "resolve, then CDN: {requests:?}");
        assert!(requests[1].path.starts_with("/cdn/"));
        assert_eq!(
            requests[0].header("authorization"),
            Some("Bearer hf_test_token")
        );
    }

    #[test]
    fn token_is_not_sent_to_another_origin() {
        let hub = FakeHub::start(vec![HubFile::new(
            REPO,
            COMMIT,
            "model.bin",
            big_bytes(20_000),
            Behaviour::Serve,
        )]);
        let cache = TempCache::new("token-origin");
        let mut settings = settings(&hub, &cache);
        // The CDN link names 127.0.0.1, so through `localhost` it is another origin.
        settings.endpoint = hub.endpoint().replace("127.0.0.1", "localhost");
        settings.token = Some("hf_test_token".into());

        fetch(&settings, REPO, "main", "model.bin").expect("download through localhost");
        let requests = hub.requests();
        assert_eq!(requests.len(), 2, "{requests:?}");
        assert_eq!(
            requests[0].header("authorization"),
            Some("Bearer hf_test_token")
        );
        assert_eq!(
            requests[1].header("authorization"),
            None,
            "token leaked to the CDN"
        );
    }

    #[test]
    fn offline_resolves_from_cache_without_requests() {
        let hub = FakeHub::start(vec![HubFile::new(
            REPO,
            COMMIT,
            "vocab.json",
            b"{}".to_vec(),
            Behaviour::Serve,
        )]);
        let cache = TempCache::new("offline-hit");
        let mut settings = settings(&hub, &cache);
        let downloaded = fetch(&settings, REPO, "main", "vocab.json").expect("download");
        let before = hub.requests().len();

        settings.offline = true;
        assert_eq!(
            fetch(&settings, REPO, "main", "vocab.json").expect("offline hit"),
            downloaded
        );
        assert_eq!(hub.requests().len(), before);
    }

    #[test]
    fn offline_with_empty_cache_fails_without_requests() {
        let hub = FakeHub::start(vec![HubFile::new(
            REPO,
            COMMIT,
            "vocab.json",
            b"{}".to_vec(),
            Behaviour::Serve,
        )]);
        let cache = TempCache::new("offline-miss");
        let mut settings = settings(&hub, &cache);
        settings.offline = true;

        let error = fetch(&settings, REPO, "main", "vocab.json").expect_err("must fail offline");
        assert!(matches!(error, HubError::Offline { .. }), "{error:?}");
        let message = error.to_string();
        for needle in [
            "vocab.json",
            REPO,
            &cache.0.display().to_string(),
            "precis models pull",
        ] {
            assert!(
                message.contains(needle),
                "`{needle}` missing from: {message}"
            );
        }
        let first = fetch_first(
            &settings,
            REPO,
            "main",
            &["model.safetensors", "rust_model.ot"],
        );
        assert!(matches!(first, Err(HubError::Offline { .. })), "{first:?}");
        assert!(
            hub.requests().is_empty(),
            "offline mode made requests: {:?}",
            hub.requests()
        );
    }

    #[test]
    fn finds_a_file_cached_by_python() {
        let cache = TempCache::new("python");
        // What huggingface_hub leaves after hf_hub_download("org/tiny-model", "rust_model.ot").
        let repo = repo_dir(&cache.0, REPO);
        let etag = "e".repeat(64);
        fs::create_dir_all(repo.join("blobs")).unwrap();
        fs::write(repo.join("blobs").join(&etag), b"weights").unwrap();
        let snapshot = repo.join("snapshots").join(COMMIT);
        fs::create_dir_all(&snapshot).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(
            format!("../../blobs/{etag}"),
            snapshot.join("rust_model.ot"),
        )
        .unwrap();
        #[cfg(not(unix))]
        fs::write(snapshot.join("rust_model.ot"), b"weights").unwrap();
        fs::create_dir_all(repo.join("refs")).unwrap();
        fs::write(repo.join("refs").join("main"), COMMIT).unwrap();

        // An endpoint nothing listens on: any request would fail the test.
        let settings = HubSettings {
            endpoint: "http://127.0.0.1:9".into(),
            cache_dir: cache.0.clone(),
            offline: false,
            token: None,
            show_progress: false,
            timeout: Duration::from_millis(200),
        };
        // Online, but the cached candidate wins without a request (the endpoint is dead).
        let (name, path) = fetch_first(
            &settings,
            REPO,
            "main",
            &["model.safetensors", "rust_model.ot"],
        )
        .expect("cached candidate used without network");
        assert_eq!(name, "rust_model.ot");
        assert_eq!(path, snapshot.join("rust_model.ot"));

        let path = fetch(&settings, REPO, "main", "rust_model.ot").expect("cached by Python");
        assert_eq!(fs::read(path).unwrap(), b"weights");

        let mut offline = settings.clone();
        offline.offline = true;
        let (name, path) = fetch_first(
            &offline,
            REPO,
            "main",
            &["model.safetensors", "rust_model.ot"],
        )
        .expect("offline falls back to the cached candidate");
        assert_eq!(name, "rust_model.ot");
        assert_eq!(path, snapshot.join("rust_model.ot"));
    }

    #[test]
    fn not_found_falls_back_to_the_next_candidate() {
        let hub = FakeHub::start(vec![
            HubFile::new(
                REPO,
                COMMIT,
                "model.safetensors",
                b"unused".to_vec(),
                Behaviour::NotFound,
            ),
            HubFile::new(
                REPO,
                COMMIT,
                "rust_model.ot",
                big_bytes(5_000),
                Behaviour::Serve,
            ),
        ]);
        let cache = TempCache::new("fallback");
        let settings = settings(&hub, &cache);

        let error = fetch(&settings, REPO, "main", "model.safetensors").expect_err("404");
        assert!(
            matches!(&error, HubError::NotFound { repo, revision, filename }
                if repo == REPO && revision == "main" && filename == "model.safetensors"),
            "{error:?}"
        );
        let (name, path) = fetch_first(
            &settings,
            REPO,
            "main",
            &["model.safetensors", "rust_model.ot"],
        )
        .expect("falls back");
        assert_eq!(name, "rust_model.ot");
        assert_eq!(fs::read(path).unwrap(), big_bytes(5_000));
        assert!(!snapshot_file_path(&cache.0, REPO, COMMIT, "model.safetensors").exists());

        let error = fetch_first(
            &settings,
            REPO,
            "main",
            &["model.safetensors", "pytorch_model.bin"],
        )
        .expect_err("nothing there");
        assert!(
            matches!(error, HubError::NoCandidateFound { .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("model.safetensors") && message.contains("pytorch_model.bin"),
            "{message}"
        );
    }

    #[test]
    fn truncated_transfer_leaves_nothing() {
        // A plain git file served directly, then an LFS file through the CDN redirect.
        for lfs in [false, true] {
            let file = HubFile::new(
                REPO,
                COMMIT,
                "model.bin",
                big_bytes(200_000),
                Behaviour::Truncate { send: 70_000 },
            );
            let threshold = if lfs { 10_000 } else { usize::MAX };
            let hub = FakeHub::builder(vec![file])
                .lfs_threshold(threshold)
                .start();
            let cache = TempCache::new("truncated");
            let error =
                fetch(&settings(&hub, &cache), REPO, "main", "model.bin").expect_err("truncated");
            assert!(
                matches!(
                    error,
                    HubError::Truncated {
                        expected: 200_000,
                        received: 70_000,
                        ..
                    }
                ),
                "lfs={lfs}: {error:?}"
            );
            assert!(error.to_string().contains("model.bin"));
            assert_nothing_cached(&cache);
            assert_eq!(hub.requests().len(), if lfs { 2 } else { 1 });
        }
    }

    #[test]
    fn corrupt_transfer_leaves_nothing() {
        let hub = FakeHub::start(vec![HubFile::new(
            REPO,
            COMMIT,
            "model.bin",
            big_bytes(50_000),
            Behaviour::Corrupt,
        )]);
        let cache = TempCache::new("corrupt");
        let error = fetch(&settings(&hub, &cache), REPO, "main", "model.bin").expect_err("corrupt");
        let HubError::Corrupt {
            expected_sha256,
            actual_sha256,
            ..
        } = &error
        else {
            panic!("expected Corrupt, got {error:?}")
        };
        assert_eq!(expected_sha256, &to_hex(&Sha256::digest(big_bytes(50_000))));
        assert_ne!(expected_sha256, actual_sha256);
        assert_nothing_cached(&cache);
    }

    #[test]
    fn stalled_transfer_times_out_and_leaves_nothing() {
        let hub = FakeHub::start(vec![HubFile::new(
            REPO,
            COMMIT,
            "model.bin",
            big_bytes(10_000),
            Behaviour::Stall,
        )]);
        let cache = TempCache::new("stall");
        let mut settings = settings(&hub, &cache);
        // Well below the fake Hub's 3 s stall.
        settings.timeout = Duration::from_millis(300);
        let started = Instant::now();
        let error = fetch(&settings, REPO, "main", "model.bin").expect_err("stalled");
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "took {:?}",
            started.elapsed()
        );
        assert!(
            matches!(error, HubError::Interrupted { received: 0, .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("PRECIS_HUB_TIMEOUT_SECS"));
        assert_nothing_cached(&cache);
    }

    #[test]
    fn server_error_names_the_status() {
        let hub = FakeHub::start(vec![HubFile::new(
            REPO,
            COMMIT,
            "config.json",
            b"{}".to_vec(),
            Behaviour::ServerError,
        )]);
        let cache = TempCache::new("500");
        let error = fetch(&settings(&hub, &cache), REPO, "main", "config.json").expect_err("500");
        assert!(
            matches!(error, HubError::Http { status: 500, .. }),
            "{error:?}"
        );
        let message = error.to_string();
        for needle in [
            "500",
            "config.json",
            "/resolve/main/config.json",
            "HF_ENDPOINT",
            "--offline",
        ] {
            assert!(
                message.contains(needle),
                "`{needle}` missing from: {message}"
            );
        }
        assert_nothing_cached(&cache);
    }

    #[test]
    fn unknown_repo_is_an_auth_error_mentioning_hf_token() {
        let hub = FakeHub::start(vec![HubFile::new(
            REPO,
            COMMIT,
            "config.json",
            b"{}".to_vec(),
            Behaviour::Serve,
        )]);
        let cache = TempCache::new("401");
        let error = fetch(
            &settings(&hub, &cache),
            "org/private-model",
            "main",
            "config.json",
        )
        .expect_err("401");
        assert!(
            matches!(error, HubError::Unauthorized { status: 401, .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("HF_TOKEN"), "{error}");
    }

    #[test]
    fn unreachable_endpoint_is_a_transport_error() {
        let cache = TempCache::new("refused");
        // Bind then drop a listener: its port is very likely closed now.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let settings = HubSettings {
            endpoint: format!("http://127.0.0.1:{port}"),
            cache_dir: cache.0.clone(),
            offline: false,
            token: None,
            show_progress: false,
            timeout: Duration::from_millis(400),
        };
        let error = fetch(&settings, REPO, "main", "config.json").expect_err("nothing listens");
        assert!(matches!(error, HubError::Transport { .. }), "{error:?}");
        let message = error.to_string();
        assert!(
            message.contains(&format!("127.0.0.1:{port}")) && message.contains("--offline"),
            "{message}"
        );
    }

    #[test]
    fn pr_revision_is_encoded_and_recorded() {
        let pr_commit = "2222222222222222222222222222222222222222";
        let hub = FakeHub::builder(vec![
            HubFile::new(
                REPO,
                COMMIT,
                "config.json",
                b"{\"main\":1}".to_vec(),
                Behaviour::Serve,
            ),
            HubFile::new(
                REPO,
                pr_commit,
                "config.json",
                b"{\"pr\":2}".to_vec(),
                Behaviour::Serve,
            ),
        ])
        .alias(REPO, "refs/pr/2", pr_commit)
        .start();
        let cache = TempCache::new("pr");
        let settings = settings(&hub, &cache);

        let path = fetch(&settings, REPO, "refs/pr/2", "config.json").expect("PR download");
        assert_eq!(fs::read(&path).unwrap(), b"{\"pr\":2}");
        assert_eq!(
            hub.requests()[0].path,
            format!("/{REPO}/resolve/refs%2Fpr%2F2/config.json")
        );
        assert_eq!(
            fs::read_to_string(cache.0.join("models--org--tiny-model/refs/refs/pr/2")).unwrap(),
            pr_commit
        );

        let main = fetch(&settings, REPO, "main", "config.json").expect("main download");
        assert_eq!(fs::read(main).unwrap(), b"{\"main\":1}");
    }

    #[test]
    fn pinned_commit_writes_no_ref() {
        // A small file stored in LFS, to also cover the sha256 path below the size threshold.
        let hub = FakeHub::start(vec![HubFile::new(
            REPO,
            COMMIT,
            "spiece.model",
            b"sp".to_vec(),
            Behaviour::Serve,
        )
        .lfs()]);
        let cache = TempCache::new("pinned");
        fetch(&settings(&hub, &cache), REPO, COMMIT, "spiece.model").expect("download by sha");
        assert!(!repo_dir(&cache.0, REPO).join("refs").exists());
        assert!(blob_path(&cache.0, REPO, &to_hex(&Sha256::digest(b"sp"))).is_file());
        assert_eq!(hub.requests().len(), 2, "LFS files are redirected");
    }

    #[test]
    fn same_blob_is_not_downloaded_twice() {
        let weights = big_bytes(100_000);
        let other_commit = "3333333333333333333333333333333333333333";
        let hub = FakeHub::builder(vec![
            HubFile::new(REPO, COMMIT, "model.bin", weights.clone(), Behaviour::Serve),
            HubFile::new(
                REPO,
                other_commit,
                "model.bin",
                weights.clone(),
                Behaviour::Serve,
            ),
        ])
        .redirect_lfs(false)
        .start();
        let cache = TempCache::new("dedupe");
        let settings = settings(&hub, &cache);
        let first = fetch(&settings, REPO, COMMIT, "model.bin").expect("first");
        let second = fetch(&settings, REPO, other_commit, "model.bin").expect("second");
        assert_ne!(first, second);
        assert_eq!(fs::read(second).unwrap(), weights);
        assert_eq!(
            files_in(&repo_dir(&cache.0, REPO).join("blobs"), "").len(),
            1
        );
    }

    #[test]
    fn concurrent_downloads_of_one_blob_agree() {
        let weights = big_bytes(2_000_000);
        let hub = FakeHub::start(vec![HubFile::new(
            REPO,
            COMMIT,
            "model.safetensors",
            weights.clone(),
            Behaviour::Serve,
        )]);
        let cache = TempCache::new("concurrent");
        let settings = settings(&hub, &cache);
        let paths: Vec<PathBuf> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..3)
                .map(|_| scope.spawn(|| fetch(&settings, REPO, "main", "model.safetensors")))
                .collect();
            workers
                .into_iter()
                .map(|worker| {
                    worker
                        .join()
                        .expect("worker thread")
                        .expect("concurrent fetch")
                })
                .collect()
        });
        assert!(paths.windows(2).all(|pair| pair[0] == pair[1]));
        assert_eq!(fs::read(&paths[0]).unwrap(), weights);
        assert_eq!(
            files_in(&repo_dir(&cache.0, REPO).join("blobs"), "").len(),
            1
        );
        assert!(files_in(&cache.0, ".incomplete").is_empty());
    }

    #[test]
    fn rejects_paths_that_escape_the_cache() {
        let cache = TempCache::new("invalid");
        let settings = HubSettings {
            endpoint: "http://127.0.0.1:9".into(),
            cache_dir: cache.0.clone(),
            offline: false,
            token: None,
            show_progress: false,
            timeout: Duration::from_millis(200),
        };
        for (repo, revision, filename) in [
            ("../x", "main", "a"),
            (REPO, "../../x", "a"),
            (REPO, "main", "../../a"),
        ] {
            let error = fetch(&settings, repo, revision, filename).expect_err("invalid");
            assert!(
                matches!(error, HubError::InvalidRequest { .. }),
                "{error:?}"
            );
        }
    }

    #[test]
    fn url_helpers() {
        assert_eq!(
            resolve_url(
                "https://huggingface.co/",
                "org/m",
                "refs/pr/2",
                "onnx/model file.onnx"
            ),
            "https://huggingface.co/org/m/resolve/refs%2Fpr%2F2/onnx/model%20file.onnx"
        );
        assert_eq!(normalize_etag("W/\"abc\""), "abc");
        assert_eq!(normalize_etag("\"abc\""), "abc");
        assert_eq!(join_url("http://h:1/a/b?q=1", "/cdn/x"), "http://h:1/cdn/x");
        assert_eq!(join_url("http://h:1/a/b", "c"), "http://h:1/a/c");
        assert_eq!(
            join_url("https://h/a", "//cdn.example/x"),
            "https://cdn.example/x"
        );
        assert_eq!(join_url("http://h/a", "https://cdn/x"), "https://cdn/x");
        assert!(same_origin("http://127.0.0.1:5/x/y", "http://127.0.0.1:5"));
        assert!(!same_origin(
            "https://cdn-lfs.hf.co/x",
            "https://huggingface.co"
        ));
    }
}
