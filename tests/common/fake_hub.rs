//! A loopback HTTP server posing as the Hugging Face Hub, for tests.
//!
//! It answers the model API, `GET /api/models/{repo}[/revision/{revision}]`, with the commit
//! (`sha`) and the file list (`siblings`) at that revision, and
//! `GET|HEAD /{repo}/resolve/{revision}/{filename}` like the Hub does:
//! `X-Repo-Commit`, an `ETag` (a git-style id for small files, the sha256 for LFS
//! files, which also get `X-Linked-Etag` / `X-Linked-Size`), and for LFS files one
//! redirect to `http://127.0.0.1:{port}/cdn/...` (the same server), standing in for the Hub's CDN.
//! Each file can misbehave on purpose (see [`Behaviour`]). Every request is
//! recorded, so a test can assert that offline mode made none.
//!
//! Usable from integration tests (`mod common;` then `common::fake_hub::FakeHub`)
//! and from unit tests (`#[path = "../../tests/common/fake_hub.rs"] mod fake_hub;`).
//! Standard library only, plus `sha2` (a dependency of precis) for the sha256 etags.
//! The server stops when the [`FakeHub`] is dropped; every loop in it is bounded.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// How a file's download goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Served correctly.
    Serve,
    /// 404 with `X-Error-Code: EntryNotFound`, as if the repo lacked the file.
    NotFound,
    /// Full `Content-Length` / `X-Linked-Size` announced, only `send` bytes sent, then the connection closed.
    Truncate { send: usize },
    /// The sha256 of the real bytes announced as `X-Linked-Etag`, altered bytes of the same length sent.
    Corrupt,
    /// Headers sent, then no body for [`FakeHubBuilder::stall_for`] (longer than any test client timeout).
    Stall,
    /// 500 Internal Server Error.
    ServerError,
}

/// One file of one commit of a repository on the fake Hub.
#[derive(Clone, Debug)]
pub struct HubFile {
    pub repo_id: String,
    pub commit: String,
    pub filename: String,
    pub bytes: Vec<u8>,
    pub behaviour: Behaviour,
    /// Served as an LFS file (sha256 etag, `X-Linked-*`, CDN redirect) whatever its size.
    pub lfs: bool,
}

impl HubFile {
    pub fn new(
        repo_id: &str,
        commit: &str,
        filename: &str,
        bytes: impl Into<Vec<u8>>,
        behaviour: Behaviour,
    ) -> HubFile {
        HubFile {
            repo_id: repo_id.to_string(),
            commit: commit.to_string(),
            filename: filename.to_string(),
            bytes: bytes.into(),
            behaviour,
            lfs: false,
        }
    }

    /// Marks the file as stored in LFS even if it is small.
    pub fn lfs(mut self) -> HubFile {
        self.lfs = true;
        self
    }
}

/// A request the server received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// The request target exactly as sent (still percent-encoded).
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Configures a [`FakeHub`] before starting it.
pub struct FakeHubBuilder {
    files: Vec<HubFile>,
    aliases: Vec<(String, String, String)>,
    lfs_threshold: usize,
    redirect_lfs: bool,
    stall_for: Duration,
}

impl FakeHubBuilder {
    /// Makes `revision` (a branch, tag or ref such as `refs/pr/2`) of `repo_id` point at `commit`.
    /// Without an alias, `main` points at the commit of the repo's first file.
    pub fn alias(mut self, repo_id: &str, revision: &str, commit: &str) -> FakeHubBuilder {
        self.aliases.push((
            repo_id.to_string(),
            revision.to_string(),
            commit.to_string(),
        ));
        self
    }

    /// Files larger than this many bytes are LFS files (default 10 000, like the Hub's 10 MB in spirit).
    pub fn lfs_threshold(mut self, bytes: usize) -> FakeHubBuilder {
        self.lfs_threshold = bytes;
        self
    }

    /// Whether LFS files are redirected to `/cdn/...` (default) or served directly.
    pub fn redirect_lfs(mut self, redirect: bool) -> FakeHubBuilder {
        self.redirect_lfs = redirect;
        self
    }

    /// How long [`Behaviour::Stall`] withholds the body (default 3 s).
    pub fn stall_for(mut self, duration: Duration) -> FakeHubBuilder {
        self.stall_for = duration;
        self
    }

    pub fn start(self) -> FakeHub {
        FakeHub::launch(self)
    }
}

/// The running server; stops when dropped.
pub struct FakeHub {
    address: SocketAddr,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
    shutdown: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

/// Upper bound on a server's life, in case a test leaks it. Generous: one server may serve a
/// whole test of several debug-build `precis` runs on a loaded machine (tests/models.rs's layouts
/// test took 9 minutes at a load average of 25 on 2 cores, and 5 minutes cut it off).
const MAX_LIFETIME: Duration = Duration::from_secs(1800);
/// How long a connection may take to send its request.
const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_REQUEST_HEAD: usize = 64 * 1024;

impl FakeHub {
    /// Starts a server with default settings serving `files`.
    pub fn start(files: Vec<HubFile>) -> FakeHub {
        FakeHub::builder(files).start()
    }

    pub fn builder(files: Vec<HubFile>) -> FakeHubBuilder {
        FakeHubBuilder {
            files,
            aliases: Vec::new(),
            lfs_threshold: 10_000,
            redirect_lfs: true,
            stall_for: Duration::from_secs(3),
        }
    }

    /// The base URL to use as `HF_ENDPOINT`, e.g. `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests
            .lock()
            .map(|requests| requests.clone())
            .unwrap_or_default()
    }

    fn launch(config: FakeHubBuilder) -> FakeHub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("fake hub: bind 127.0.0.1:0");
        let address = listener.local_addr().expect("fake hub: local address");
        listener
            .set_nonblocking(true)
            .expect("fake hub: non-blocking listener");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let shutdown = Arc::new(AtomicBool::new(false));
        let state = Arc::new(ServerState {
            config,
            address,
            requests: Arc::clone(&requests),
            shutdown: Arc::clone(&shutdown),
        });
        let acceptor = thread::spawn(move || accept_loop(listener, state));
        FakeHub {
            address,
            requests,
            shutdown,
            acceptor: Some(acceptor),
        }
    }
}

impl Drop for FakeHub {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

struct ServerState {
    config: FakeHubBuilder,
    address: SocketAddr,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
    shutdown: Arc<AtomicBool>,
}

impl ServerState {
    fn stopping(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }
}

fn accept_loop(listener: TcpListener, state: Arc<ServerState>) {
    let started = Instant::now();
    let mut connections: Vec<JoinHandle<()>> = Vec::new();
    while !state.stopping() && started.elapsed() < MAX_LIFETIME {
        match listener.accept() {
            Ok((stream, _)) => {
                let state = Arc::clone(&state);
                connections.push(thread::spawn(move || handle_connection(stream, &state)));
            }
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
        connections.retain(|connection| !connection.is_finished());
    }
    // Tell stalled handlers to give up, then wait for them: each is bounded by its timeouts.
    state.shutdown.store(true, Ordering::SeqCst);
    for connection in connections {
        let _ = connection.join();
    }
}

fn handle_connection(mut stream: TcpStream, state: &ServerState) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(REQUEST_READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(REQUEST_READ_TIMEOUT));
    let Some(request) = read_request(&mut stream) else {
        return;
    };
    if let Ok(mut requests) = state.requests.lock() {
        requests.push(request.clone());
    }
    respond(&mut stream, &request, state);
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Both);
}

fn read_request(stream: &mut TcpStream) -> Option<RecordedRequest> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        if head.len() > MAX_REQUEST_HEAD {
            return None;
        }
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return None,
            Ok(count) => head.extend_from_slice(&buffer[..count]),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let path = request_line.next()?.to_string();
    let headers = lines
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        .collect();
    Some(RecordedRequest {
        method,
        path,
        headers,
    })
}

/// Status, headers and body of a response, plus how to send the body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    behaviour: Behaviour,
}

impl Reply {
    fn error(status: u16, code: &str, message: &str) -> Reply {
        Reply {
            status,
            headers: vec![
                ("X-Error-Code".into(), code.into()),
                ("X-Error-Message".into(), message.into()),
                ("Content-Type".into(), "text/plain".into()),
            ],
            body: message.as_bytes().to_vec(),
            behaviour: Behaviour::Serve,
        }
    }
}

fn respond(stream: &mut TcpStream, request: &RecordedRequest, state: &ServerState) {
    let reply = if request.method != "GET" && request.method != "HEAD" {
        Reply::error(405, "MethodNotAllowed", "only GET and HEAD are served")
    } else {
        route(request, state)
    };
    send(stream, request, reply, state);
}

fn route(request: &RecordedRequest, state: &ServerState) -> Reply {
    let path = request.path.split(['?', '#']).next().unwrap_or_default();
    if let Some(rest) = path.strip_prefix("/cdn/") {
        return serve_cdn(rest, state);
    }
    if let Some(rest) = path.strip_prefix("/api/models/") {
        return serve_model_info(rest, state);
    }
    let Some((repo_part, after)) = path.trim_start_matches('/').split_once("/resolve/") else {
        return Reply::error(404, "NotFound", "no such route");
    };
    let Some((revision_part, filename_part)) = after.split_once('/') else {
        return Reply::error(404, "EntryNotFound", "no file name");
    };
    let repo_id = percent_decode(repo_part);
    let revision = percent_decode(revision_part);
    let filename = percent_decode(filename_part);
    let config = &state.config;

    let repo_files: Vec<(usize, &HubFile)> = config
        .files
        .iter()
        .enumerate()
        .filter(|(_, file)| file.repo_id == repo_id)
        .collect();
    let commit = match resolve_revision(config, &repo_id, &revision) {
        Ok(commit) => commit,
        Err(reply) => return reply,
    };

    let found = repo_files
        .iter()
        .find(|(_, file)| file.commit == commit && file.filename == filename);
    let Some(&(index, file)) = found else {
        return with_commit(
            Reply::error(404, "EntryNotFound", "Entry not found"),
            &commit,
        );
    };
    match file.behaviour {
        Behaviour::NotFound => {
            return with_commit(
                Reply::error(404, "EntryNotFound", "Entry not found"),
                &commit,
            )
        }
        Behaviour::ServerError => {
            return Reply::error(
                500,
                "InternalError",
                "Internal Error - We're working hard to fix this as soon as possible!",
            )
        }
        _ => {}
    }

    let sha256 = sha256_hex(&file.bytes);
    let is_lfs =
        file.lfs || file.behaviour == Behaviour::Corrupt || file.bytes.len() > config.lfs_threshold;
    let mut headers = vec![("X-Repo-Commit".to_string(), commit.clone())];
    if !is_lfs {
        // The Hub names small files by their git blob sha1; a 40-hex stand-in will do.
        let git_like_id = &sha256_hex(
            &[
                format!("blob {}\0", file.bytes.len()).as_bytes(),
                &file.bytes,
            ]
            .concat(),
        )[..40];
        headers.push(("ETag".into(), format!("W/\"{git_like_id}\"")));
        return Reply {
            status: 200,
            headers,
            body: file.bytes.clone(),
            behaviour: file.behaviour.clone(),
        };
    }
    headers.push(("X-Linked-Etag".into(), format!("\"{sha256}\"")));
    headers.push(("X-Linked-Size".into(), file.bytes.len().to_string()));
    headers.push(("ETag".into(), format!("\"{sha256}\"")));
    if config.redirect_lfs {
        // Absolute, like the Hub's CDN links: huggingface_hub follows relative
        // redirects during its HEAD call as if the repo had been renamed.
        headers.push((
            "Location".into(),
            format!("http://{}/cdn/{index}/{sha256}", state.address),
        ));
        return Reply {
            status: 302,
            headers,
            body: Vec::new(),
            behaviour: Behaviour::Serve,
        };
    }
    Reply {
        status: 200,
        headers,
        body: file.bytes.clone(),
        behaviour: file.behaviour.clone(),
    }
}

/// The commit `revision` names in `repo_id`, or the Hub's error reply: 401 for a repository it
/// does not have (as the Hub answers an anonymous request for a missing or private one), 404 for
/// an unknown revision. `main` is the commit of the repo's first file unless aliased.
fn resolve_revision(config: &FakeHubBuilder, repo_id: &str, revision: &str) -> Result<String, Reply> {
    let mut repo_files = config.files.iter().filter(|file| file.repo_id == repo_id);
    let Some(first_file) = repo_files.next() else {
        return Err(Reply::error(401, "RepoNotFound", "Repository Not Found"));
    };
    let aliased = config
        .aliases
        .iter()
        .find(|(repo, alias, _)| repo == repo_id && alias == revision)
        .map(|(_, _, commit)| commit.clone());
    if first_file.commit == revision || repo_files.any(|file| file.commit == revision) {
        Ok(revision.to_string())
    } else if let Some(commit) = aliased {
        Ok(commit)
    } else if revision == "main" {
        Ok(first_file.commit.clone())
    } else {
        Err(Reply::error(
            404,
            "RevisionNotFound",
            &format!("Invalid rev id: {revision}"),
        ))
    }
}

/// `/api/models/{owner}/{name}[/revision/{revision}]`: the model API's answer (`id`, `sha`,
/// `siblings`), listing the files of the commit that exist (not those served as 404).
fn serve_model_info(rest: &str, state: &ServerState) -> Reply {
    let (repo_part, revision) = match rest.split_once("/revision/") {
        Some((repo, revision)) => (repo, percent_decode(revision)),
        None => (rest, "main".to_string()),
    };
    let repo_id = percent_decode(repo_part);
    let commit = match resolve_revision(&state.config, &repo_id, &revision) {
        Ok(commit) => commit,
        Err(reply) => return reply,
    };
    let siblings: Vec<String> = state
        .config
        .files
        .iter()
        .filter(|file| file.repo_id == repo_id && file.commit == commit && file.behaviour != Behaviour::NotFound)
        .map(|file| format!("{{\"rfilename\":{}}}", json_string(&file.filename)))
        .collect();
    let body = format!(
        "{{\"id\":{},\"modelId\":{},\"sha\":{},\"private\":false,\"siblings\":[{}]}}",
        json_string(&repo_id),
        json_string(&repo_id),
        json_string(&commit),
        siblings.join(",")
    );
    Reply {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.into_bytes(),
        behaviour: Behaviour::Serve,
    }
}

/// A JSON string literal (the fake Hub's names are plain ASCII; quotes and backslashes escaped).
fn json_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `/cdn/{index}/{sha256}`: the body of an LFS file, with the CDN's own ETag and no Hub headers.
fn serve_cdn(rest: &str, state: &ServerState) -> Reply {
    let file = rest
        .split('/')
        .next()
        .and_then(|index| index.parse::<usize>().ok())
        .and_then(|index| state.config.files.get(index));
    match file {
        Some(file) => Reply {
            status: 200,
            headers: vec![(
                "ETag".into(),
                format!("\"cdn-{}\"", &sha256_hex(&file.bytes)[..32]),
            )],
            body: file.bytes.clone(),
            behaviour: file.behaviour.clone(),
        },
        None => Reply::error(404, "NotFound", "no such CDN object"),
    }
}

fn with_commit(mut reply: Reply, commit: &str) -> Reply {
    reply.headers.push(("X-Repo-Commit".into(), commit.into()));
    reply
}

fn send(stream: &mut TcpStream, request: &RecordedRequest, reply: Reply, state: &ServerState) {
    let mut body = reply.body;
    if reply.behaviour == Behaviour::Corrupt {
        // Same length, different bytes.
        for byte in body.iter_mut().step_by(997) {
            *byte ^= 0xA5;
        }
    }
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        reply.status,
        reason_phrase(reply.status)
    );
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    // Always the full length, whatever is actually sent.
    head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    if !reply
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("Content-Type"))
    {
        head.push_str("Content-Type: application/octet-stream\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    if stream.write_all(head.as_bytes()).is_err()
        || stream.flush().is_err()
        || request.method == "HEAD"
    {
        return;
    }
    match reply.behaviour {
        Behaviour::Truncate { send } => {
            let _ = stream.write_all(&body[..send.min(body.len())]);
        }
        Behaviour::Stall => {
            let deadline = Instant::now() + state.config.stall_for;
            while Instant::now() < deadline && !state.stopping() {
                thread::sleep(Duration::from_millis(10));
            }
        }
        _ => {
            let _ = stream.write_all(&body);
        }
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        _ => "Unknown",
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Decodes `%XX` escapes; malformed ones are kept as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}
