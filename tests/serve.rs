//! `precis serve` end to end: the real binary on loopback, real HTTP clients, the tiny fixture
//! models, a loopback page server for `url` requests, and headless Chromium for the page.
//! Every JSON answer any test gets is checked against the server's own /openapi.json.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use common::{precis, root, scratch};
use serde_json::{json, Value};

const BART: &str = "tests/fixtures/models/bart-tiny";
const T5: &str = "tests/fixtures/models/t5-tiny";
const SEED: &str = "samples/abe-cameron-summit.txt";

// ---------------------------------------------------------------------------------------------
// A running server

struct Server {
    child: Child,
    base: String,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        Server::start_with_env(args, &[])
    }

    /// `precis serve --port 0 ARGS`, once it listens and its models are loaded.
    fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        let cache = scratch(&format!("serve-cache-{}", unique()));
        let mut command = precis(&cache);
        command.args(["serve", "--port", "0"]).args(args).env_remove("PRECIS_API_KEY").stderr(Stdio::piped()).stdout(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start precis serve");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (address_sender, address) = mpsc::channel();
        let lines = child.stderr.take().expect("stderr");
        let collected = stderr.clone();
        thread::spawn(move || {
            for line in BufReader::new(lines).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("precis: listening on ") {
                    let _ = address_sender.send(rest.split_whitespace().next().unwrap_or("").trim_end_matches('/').to_string());
                }
                collected.lock().expect("stderr lines").push(line);
            }
        });
        let base = match address.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                panic!("the server did not start: {:?}", stderr.lock().expect("lines"));
            }
        };
        let server = Server { child, base, stderr };
        server.wait_ready();
        server
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if get(self, "/readyz").status == 200 {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!("the server did not become ready: {:?}", self.stderr_text());
    }

    fn stderr_text(&self) -> String {
        self.stderr.lock().expect("lines").join("\n")
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to end by itself (at most `limit`).
    fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not exit within {limit:?}: {}", self.stderr_text());
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// A metric's value (the first sample whose name and labels start with `prefix`).
    fn metric(&self, prefix: &str) -> f64 {
        let text = get(self, "/metrics").text();
        text.lines()
            .find(|line| line.starts_with(prefix))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no metric {prefix} in:\n{text}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unique() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn fixture_args() -> Vec<&'static str> {
    vec!["--engine", "abstractive", "--model", BART, "--headline-model", T5]
}

fn seed_text() -> String {
    std::fs::read_to_string(root().join(SEED)).expect("seed article")
}

/// `count` distinct real articles of similar length: the samples, with their paragraphs in
/// turn rotated (the samples are read in place; the data under ../shared is not in every checkout).
fn sample_articles(count: usize) -> Vec<String> {
    let samples: Vec<Vec<String>> = ["abe-cameron-summit.txt", "keswane-river-flood.md", "port-alder-budget.txt"]
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(root().join("samples").join(name)).expect("sample");
            text.split("\n\n").map(str::trim).filter(|p| !p.is_empty() && !p.starts_with('#')).map(str::to_string).collect()
        })
        .collect();
    (0..count)
        .map(|n| {
            let paragraphs = &samples[n % samples.len()];
            let turn = (n / samples.len()) % paragraphs.len();
            // Whole paragraphs up to about 100 words: within the fixture models' 256-token
            // window, so one model pass.
            let mut kept: Vec<String> = Vec::new();
            for paragraph in paragraphs[turn..].iter().chain(&paragraphs[..turn]) {
                let words: usize = kept.iter().chain([paragraph]).map(|p| p.split_whitespace().count()).sum();
                if !kept.is_empty() && words > 100 {
                    break;
                }
                kept.push(paragraph.clone());
            }
            kept.join("\n\n")
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// HTTP, with every answer checked against the OpenAPI document

struct Answer {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// The error message of an error answer.
    fn message(&self) -> String {
        self.json()["error"]["message"].as_str().unwrap_or_else(|| panic!("no error message: {}", self.text())).to_string()
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().timeout(Duration::from_secs(1800)).redirects(0).build()
}

fn send(server: &Server, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Answer {
    let mut request = agent().request(method, &server.url(path));
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let result = match body {
        Some(bytes) => request.send_bytes(bytes),
        None => request.call(),
    };
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("{method} {path}: {error}"),
    };
    let status = response.status();
    let headers = response.headers_names().into_iter().filter_map(|name| response.header(&name).map(|value| (name.to_ascii_lowercase(), value.to_string()))).collect();
    let mut bytes = Vec::new();
    response.into_reader().read_to_end(&mut bytes).expect("read body");
    let answer = Answer { status, headers, body: bytes };
    conforms_to_openapi(path, method, &answer);
    answer
}

fn get(server: &Server, path: &str) -> Answer {
    send(server, "GET", path, &[], None)
}

fn post(server: &Server, path: &str, body: &Value) -> Answer {
    post_with(server, path, body, &[])
}

fn post_with(server: &Server, path: &str, body: &Value, headers: &[(&str, &str)]) -> Answer {
    let mut all = vec![("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    send(server, "POST", path, &all, Some(body.to_string().as_bytes()))
}

fn openapi() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let text = std::fs::read_to_string(root().join("src/serve/assets/openapi.json")).expect("openapi.json");
        serde_json::from_str(&text).expect("openapi.json is JSON")
    })
}

/// The answer's path, method and status are documented, and a JSON body fits its schema.
fn conforms_to_openapi(path: &str, method: &str, answer: &Answer) {
    let document = openapi();
    let documented_path = if path.starts_with("/assets/") { None } else { document["paths"].get(path) };
    let Some(operations) = documented_path else {
        // Undocumented paths answer 404 with the Error schema (the document says so).
        if !path.starts_with("/assets/") {
            assert_eq!(answer.status, 404, "{method} {path} is not in openapi.json but answered {}", answer.status);
            validate(document, &json!({"$ref": "#/components/schemas/Error"}), &answer.json(), "404 body").unwrap_or_else(|e| panic!("{e}"));
        }
        return;
    };
    let Some(operation) = operations.get(method.to_ascii_lowercase()) else {
        assert_eq!(answer.status, 405, "{method} {path} is not documented but answered {}", answer.status);
        validate(document, &json!({"$ref": "#/components/schemas/Error"}), &answer.json(), "405 body").unwrap_or_else(|e| panic!("{e}"));
        return;
    };
    let status = answer.status.to_string();
    let Some(response) = operation["responses"].get(&status) else {
        panic!("{method} {path} answered {status}, which openapi.json does not document: {}", answer.text());
    };
    for header in response["headers"].as_object().into_iter().flatten().map(|(name, _)| name) {
        assert!(answer.header(header).is_some(), "{method} {path} {status}: documented header {header} missing");
    }
    let content_type = answer.header("content-type").unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    let Some(content) = response["content"].get(media) else {
        panic!("{method} {path} {status}: content type {content_type:?} is not documented ({})", response["content"]);
    };
    if media == "application/json" {
        validate(document, &content["schema"], &answer.json(), &format!("{method} {path} {status}")).unwrap_or_else(|e| panic!("{e}\nbody: {}", answer.text()));
    }
}

/// A JSON Schema check of the subset openapi.json uses: $ref, type (with null), enum,
/// minimum/maximum, properties, required, additionalProperties, items, oneOf.
fn validate(document: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.strip_prefix("#/components/schemas/").ok_or_else(|| format!("{at}: unsupported $ref {reference}"))?;
        return validate(document, &document["components"]["schemas"][name], value, &format!("{at} ({name})"));
    }
    if let Some(choices) = schema["oneOf"].as_array() {
        let matching = choices.iter().filter(|choice| validate(document, choice, value, at).is_ok()).count();
        if matching != 1 {
            return Err(format!("{at}: {value} matches {matching} of the oneOf choices, not exactly one"));
        }
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => return Err(format!("{at}: bad type in schema")),
        };
        let fits = |kind: &str| match kind {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "string" => value.is_string(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            _ => false,
        };
        if !types.iter().any(|kind| fits(kind)) {
            return Err(format!("{at}: {value} is not of type {types:?}"));
        }
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            return Err(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let (Some(minimum), Some(number)) = (schema["minimum"].as_f64(), value.as_f64()) {
        if number < minimum {
            return Err(format!("{at}: {number} is below the minimum {minimum}"));
        }
    }
    if let (Some(maximum), Some(number)) = (schema["maximum"].as_f64(), value.as_f64()) {
        if number > maximum {
            return Err(format!("{at}: {number} is above the maximum {maximum}"));
        }
    }
    if let Some(object) = value.as_object() {
        let properties = schema["properties"].as_object();
        for required in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if !object.contains_key(required) {
                return Err(format!("{at}: required field {required} is missing"));
            }
        }
        for (key, item) in object {
            match properties.and_then(|properties| properties.get(key)) {
                Some(property) => validate(document, property, item, &format!("{at}.{key}"))?,
                None => match &schema["additionalProperties"] {
                    Value::Bool(false) => return Err(format!("{at}: field {key} is not in the schema")),
                    extra @ Value::Object(_) => validate(document, extra, item, &format!("{at}.{key}"))?,
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (index, item) in array.iter().enumerate() {
            validate(document, items, item, &format!("{at}[{index}]"))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Endpoints

/// What `precis summarize|compare … --format json` prints for a file.
fn cli_json(args: &[&str]) -> Value {
    let cache = scratch(&format!("serve-cli-{}", unique()));
    let output = precis(&cache).args(args).output().expect("run precis");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("json")
}

#[test]
fn every_endpoint_answers_as_documented_with_the_extractive_engine() {
    let server = Server::start(&["--engine", "extractive"]);

    let health = get(&server, "/healthz");
    assert_eq!((health.status, health.json()), (200, json!({"status": "ok"})));
    let ready = get(&server, "/readyz").json();
    assert_eq!((ready["ready"].as_bool(), ready["engine"].as_str(), ready["check"].as_bool()), (Some(true), Some("extractive"), Some(true)));

    // The same record the command line prints for the same article.
    let summary = post(&server, "/v1/summarize", &json!({"text": seed_text(), "id": "seed", "bullets": 3}));
    assert_eq!(summary.status, 200, "{}", summary.text());
    let record = summary.json();
    let cli = cli_json(&["summarize", SEED, "--engine", "extractive", "--bullets", "3", "--format", "json"]);
    for field in ["headline", "abstract", "bullets", "engine", "models", "settings"] {
        assert_eq!(record[field], cli[field], "{field} differs from the command line's");
    }
    for field in ["input_words", "input_sentences", "output_words", "batch_size"] {
        assert_eq!(record["stats"][field], cli["stats"][field], "stats.{field}");
    }
    assert_eq!(record["input"]["id"], "seed");
    assert_eq!(record["bullets"].as_array().map(Vec::len), Some(3));

    let short = post(&server, "/v1/summarize", &json!({"text": seed_text(), "length": "short"})).json();
    assert_eq!(short["settings"]["length"], "short");
    assert!(short["stats"]["output_words"].as_u64() < record["stats"]["output_words"].as_u64(), "short is shorter than medium");
    assert!(short["input"]["id"].as_str().is_some_and(|id| id.starts_with("request-")), "{}", short["input"]);

    let html = format!("<article><h1>Summit</h1>{}</article>", seed_text().split("\n\n").map(|p| format!("<p>{p}</p>")).collect::<String>());
    let from_html = post(&server, "/v1/summarize", &json!({"html": html})).json();
    assert_eq!(from_html["input"]["format"], "html");
    assert_eq!(from_html["abstract"], record["abstract"], "the same article as HTML gives the same abstract");

    let compared = post(&server, "/v1/compare", &json!({"text": seed_text(), "lengths": ["short"], "words": [120], "sentences": [2]}));
    assert_eq!(compared.status, 200, "{}", compared.text());
    let compared = compared.json();
    let cli = cli_json(&["compare", SEED, "--engine", "extractive", "--lengths", "short", "--words", "120", "--sentences", "2", "--format", "json"]);
    let texts = |record: &Value| record["variants"].as_array().expect("variants").iter().map(|v| (v["label"].clone(), v["text"].clone(), v["words"].clone())).collect::<Vec<_>>();
    assert_eq!(texts(&compared), texts(&cli));
    let with_reference = post(&server, "/v1/compare", &json!({"text": seed_text(), "words": [60], "reference": "Japan and Britain agreed to boost defence ties."})).json();
    assert!(with_reference["variants"][0]["rouge"]["rouge1"].as_f64().is_some_and(|score| score > 0.0), "{with_reference}");

    let check = post(&server, "/v1/check", &json!({"article": seed_text(), "summary": "Abe met Cameron in 1999."}));
    assert_eq!(check.status, 200, "{}", check.text());
    let report = check.json();
    let year = "Abe met Cameron in ".chars().count() as u64;
    let flagged = report["flagged"].as_array().expect("flagged");
    assert!(flagged.iter().any(|span| span["start"] == year && span["end"] == year + 4 && span["reason"].as_str().is_some_and(|r| r.contains("date"))), "the invented year is flagged: {report}");
    let empty = post(&server, "/v1/check", &json!({"article": seed_text(), "summary": " "}));
    assert_eq!(empty.status, 422, "{}", empty.text());

    let page = get(&server, "/");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<script src=\"/assets/app.js\""));
    let policy = page.header("content-security-policy").expect("CSP");
    assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'") && !policy.contains("unsafe"), "{policy}");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    for asset in ["/assets/app.js", "/assets/app.css"] {
        let answer = get(&server, asset);
        assert_eq!(answer.status, 200, "{asset}");
        // The only address in them is SVG's XML namespace, a name, not something loaded.
        let text = answer.text().replace("http://www.w3.org/2000/svg", "");
        assert!(!text.contains("http://") && !text.contains("https://"), "{asset} loads nothing from elsewhere");
    }
    let document = get(&server, "/openapi.json").json();
    assert_eq!(&document, openapi());

    let missing = get(&server, "/v2/nothing");
    assert_eq!(missing.status, 404);
    let wrong_method = get(&server, "/v1/summarize");
    assert_eq!(wrong_method.status, 405);

    let metrics = get(&server, "/metrics");
    assert!(metrics.header("content-type").is_some_and(|t| t.starts_with("text/plain; version=0.0.4")));
    let text = metrics.text();
    assert!(text.contains("precis_http_requests_total{route=\"/v1/summarize\",status=\"200\"} 3\n"), "{text}");
    assert!(text.contains("precis_http_requests_total{route=\"/v1/check\",status=\"200\"} 1\n"), "{text}");
    assert!(text.contains("precis_http_requests_total{route=\"unmatched\",status=\"404\"} 1\n"), "{text}");
    assert!(text.contains("precis_http_request_duration_seconds_count{route=\"/v1/compare\"} 2\n"), "{text}");
    assert!(text.contains("# TYPE precis_queue_depth gauge\nprecis_queue_depth 0\n"), "{text}");
    assert!(text.contains("precis_queue_capacity 64\n"), "the default queue holds 64: {text}");
    assert!(text.contains("precis_documents_total{outcome=\"ok\"} 5\n"), "{text}");
}

#[test]
fn bad_requests_are_refused_naming_what_is_wrong() {
    let server = Server::start(&["--engine", "extractive", "--max-body-bytes", "2000"]);
    let raw = |body: &[u8], content_type: &str| send(&server, "POST", "/v1/summarize", &[("Content-Type", content_type)], Some(body));

    let invalid = raw(b"{\"text\": ", "application/json");
    assert_eq!((invalid.status, invalid.json()["error"]["code"].as_str()), (400, Some("invalid_json")));
    assert!(invalid.message().contains("not valid JSON"), "{}", invalid.message());

    let cases = [
        (json!({"text": "A sentence.", "colour": "red"}), "unknown field \"colour\""),
        (json!({"text": "A sentence.", "guard": true}), "guard: expected a string"),
        (json!({"text": "A sentence.", "guard": "loose"}), "guard: \"loose\" is not a guard"),
        (json!({"text": "A sentence.", "precision": "int8"}), "precis serve --precision fp32|bf16|int8"),
        (json!({"text": "A sentence.", "bullets": 0}), "bullets: 0 is out of range"),
        (json!({"text": "A sentence.", "bullets": "four"}), "bullets: expected a whole number"),
        (json!({"text": "A sentence.", "length": "huge"}), "length: \"huge\" is not a length"),
        (json!({"text": 7}), "text: expected a string"),
        (json!({}), "give one of the fields text, html or url"),
        (json!({"text": "A.", "url": "http://example.org/"}), "only one of"),
        (json!({"text": "   "}), "text: input request has no text to summarize"),
        (json!({"html": "<script>var a;</script>"}), "html: input request has no text to summarize"),
        (json!({"url": "file:///etc/passwd"}), "is not http or https"),
    ];
    for (body, expected) in cases {
        let answer = post(&server, "/v1/summarize", &body);
        assert_eq!(answer.status, 400, "{body}: {}", answer.text());
        assert!(answer.message().contains(expected), "{body}: {}", answer.message());
    }
    let compare = post(&server, "/v1/compare", &json!({"text": "A sentence.", "words": [0]}));
    assert_eq!(compare.status, 400);
    assert!(compare.message().starts_with("words: "), "{}", compare.message());
    let check = post(&server, "/v1/check", &json!({"article": "A."}));
    assert_eq!(check.status, 400);
    assert!(check.message().starts_with("summary: missing"));

    let form = raw(b"text=hello", "application/x-www-form-urlencoded");
    assert_eq!(form.status, 415);
    assert!(form.message().contains("Content-Type: application/json"), "{}", form.message());

    let big = json!({"text": "word ".repeat(1000)}).to_string();
    let too_large = raw(big.as_bytes(), "application/json");
    assert_eq!(too_large.status, 413, "{}", too_large.text());
    assert!(too_large.message().contains("limit of 2000 bytes (--max-body-bytes)"), "{}", too_large.message());

    // The server is unharmed.
    assert_eq!(post(&server, "/v1/summarize", &json!({"text": "Abe met Cameron in London on Thursday. They agreed on defence."})).status, 200);
}

#[test]
fn a_full_queue_answers_429_with_retry_after_and_a_late_answer_is_504() {
    let mut args = fixture_args();
    args.extend(["--max-queue", "1", "--max-batch", "1"]);
    let server = Arc::new(Server::start(&args));
    let article = seed_text();
    let statuses: Vec<(u16, Option<String>)> = thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let server = server.clone();
                let article = article.clone();
                scope.spawn(move || {
                    let answer = post(&server, "/v1/summarize", &json!({"text": article}));
                    (answer.status, answer.header("retry-after").map(str::to_string))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("client")).collect()
    });
    let refused: Vec<_> = statuses.iter().filter(|(status, _)| *status == 429).collect();
    assert!(!refused.is_empty(), "six requests on a queue of one: some must be refused: {statuses:?}");
    assert!(statuses.iter().any(|(status, _)| *status == 200), "{statuses:?}");
    assert!(statuses.iter().all(|(status, _)| *status == 200 || *status == 429), "{statuses:?}");
    for (_, retry_after) in refused {
        let seconds: u64 = retry_after.as_deref().and_then(|s| s.parse().ok()).expect("Retry-After in seconds");
        assert!((1..=120).contains(&seconds));
    }

    let mut args = fixture_args();
    args.extend(["--request-timeout", "0.2"]);
    let slow = Server::start(&args);
    let late = post(&slow, "/v1/summarize", &json!({"text": seed_text()}));
    assert_eq!(late.status, 504, "{}", late.text());
    assert!(late.message().contains("time limit of 0.2 s (--request-timeout)"), "{}", late.message());
    assert_eq!(get(&slow, "/healthz").status, 200, "the server goes on");
}

#[test]
fn the_default_limits_take_64_concurrent_requests_without_refusing_any() {
    // 64 connections at once through HTTP; that the queue itself holds 64 waiting requests with
    // the default limit is `serve::queue`'s unit test (with a model here, this would take minutes
    // of a debug build's decoding).
    let server = Arc::new(Server::start(&["--engine", "extractive"]));
    let articles = sample_articles(64);
    let statuses: Vec<u16> = thread::scope(|scope| {
        let handles: Vec<_> = articles
            .iter()
            .map(|article| {
                let server = server.clone();
                scope.spawn(move || post(&server, "/v1/summarize", &json!({"text": article})).status)
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("client")).collect()
    });
    assert_eq!(statuses, vec![200; 64]);
    assert_eq!(server.metric("precis_http_requests_total{route=\"/v1/summarize\",status=\"200\"} "), 64.0);
}

#[test]
fn concurrent_clients_share_model_batches_and_get_what_they_would_alone() {
    // Short abstracts: less decoding for the debug build. Generous time limits: on a machine
    // busy with other builds, 32 fixture summaries take minutes.
    let mut args = fixture_args();
    args.extend(["--length", "short", "--request-timeout", "1800"]);
    let server = Arc::new(Server::start(&args));
    let articles = sample_articles(32);
    let records: Vec<Value> = thread::scope(|scope| {
        let handles: Vec<_> = articles
            .iter()
            .enumerate()
            .map(|(index, article)| {
                let server = server.clone();
                scope.spawn(move || {
                    let answer = post(&server, "/v1/summarize", &json!({"text": article, "id": format!("a{index}")}));
                    assert_eq!(answer.status, 200, "{}", answer.text());
                    answer.json()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("client")).collect()
    });
    let batch_sizes: Vec<u64> = records.iter().map(|r| r["stats"]["batch_size"].as_u64().expect("batch size")).collect();
    assert!(batch_sizes.iter().any(|&size| size > 1), "32 concurrent requests, yet every model batch had one document: {batch_sizes:?}");

    let batches = server.metric("precis_model_batch_size_count ");
    let alone = server.metric("precis_model_batch_size_bucket{le=\"1\"} ");
    assert!(batches > alone, "/metrics shows no model batch larger than 1 ({alone} of {batches} batches alone)");
    assert!(server.metric("precis_queue_group_size_sum ") >= 32.0);
    assert!(server.metric("precis_generated_tokens_total ") > 0.0);
    assert_eq!(server.metric("precis_http_requests_total{route=\"/v1/summarize\",status=\"200\"} "), 32.0);

    // Batching changed no summary: each article alone gives the same record.
    for (index, record) in records.iter().enumerate().step_by(8) {
        let alone = post(&server, "/v1/summarize", &json!({"text": articles[index], "length": "short"})).json();
        assert_eq!(alone["stats"]["batch_size"], 1);
        for field in ["headline", "abstract", "bullets"] {
            assert_eq!(record[field], alone[field], "article {index}: {field} differs between batched and alone");
        }
    }

    // The guard, per request: the fixture models write words no article has, so `flag` (the
    // default) reports them, `off` checks nothing and `drop` says what it removed.
    let flagged = &records[0]["faithfulness"];
    assert_eq!(flagged["guard"], "flag", "{flagged}");
    assert!(flagged["score"].as_f64().is_some_and(|score| score < 1.0), "{flagged}");
    let off = post(&server, "/v1/summarize", &json!({"text": articles[0], "length": "short", "guard": "off"})).json();
    assert!(off["faithfulness"].is_null(), "{off}");
    assert_eq!(off["abstract"], records[0]["abstract"]);
    let dropped = post(&server, "/v1/summarize", &json!({"text": articles[0], "length": "short", "guard": "drop"})).json();
    assert_eq!(dropped["faithfulness"]["guard"], "drop", "{dropped}");
    let compared = post(&server, "/v1/compare", &json!({"text": articles[0], "words": [30], "guard": "off"})).json();
    assert!(compared["variants"][0]["faithfulness"].is_null(), "{compared}");
}

#[test]
fn sigterm_stops_accepting_finishes_requests_in_flight_and_exits_0() {
    // A drain limit no busy test machine reaches: this test is about finishing, the next about the limit.
    let mut args = fixture_args();
    args.extend(["--drain-timeout", "600"]);
    let mut server = Server::start(&args);
    let base = server.base.clone();
    let articles = sample_articles(4);
    let clients: Vec<_> = articles
        .into_iter()
        .map(|article| {
            let url = format!("{base}/v1/summarize");
            thread::spawn(move || match agent().post(&url).set("Content-Type", "application/json").send_string(&json!({"text": article}).to_string()) {
                Ok(response) => (response.status(), response.into_string().unwrap_or_default()),
                Err(ureq::Error::Status(status, response)) => (status, response.into_string().unwrap_or_default()),
                Err(error) => (0, error.to_string()),
            })
        })
        .collect();
    // Wait until all four are in (queued or on the model), then ask the server to stop.
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.metric("precis_http_requests_in_flight ") < 5.0 {
        assert!(Instant::now() < deadline, "the requests never arrived");
        thread::sleep(Duration::from_millis(20));
    }
    let kill = Command::new("kill").args(["-TERM", &server.pid().to_string()]).status().expect("run kill");
    assert!(kill.success());
    // New connections are refused once it stops accepting (allow it a moment to see the signal).
    let address = base.trim_start_matches("http://").to_string();
    let refused_deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(&address).is_ok() {
        assert!(Instant::now() < refused_deadline, "the server still accepts connections 10 s after SIGTERM");
        thread::sleep(Duration::from_millis(20));
    }
    for client in clients {
        let (status, body) = client.join().expect("client");
        assert_eq!(status, 200, "a request in flight at SIGTERM was not finished: {body}\nserver: {}", server.stderr_text());
        let record: Value = serde_json::from_str(&body).expect("record");
        assert!(!record["abstract"].as_str().unwrap_or("").is_empty());
    }
    let status = server.wait_exit(Duration::from_secs(60));
    assert_eq!(status.code(), Some(0), "{}", server.stderr_text());
    assert!(server.stderr_text().contains("precis: stopped"), "{}", server.stderr_text());
}

// ---------------------------------------------------------------------------------------------
// URLs

/// A loopback web site for `url` requests: `/article` (an HTML page), `/missing` (404) and
/// `/to?URL` (a redirect to URL). Bounded: it stops when dropped.
struct Site {
    base: String,
    stop: Arc<AtomicBool>,
}

impl Site {
    fn start(ip: &str) -> Site {
        let listener = TcpListener::bind((ip, 0)).unwrap_or_else(|e| panic!("bind {ip}: {e}"));
        let base = format!("http://{}", listener.local_addr().expect("address"));
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let page = format!(
            "<!DOCTYPE html><html><head><title>Summit in London</title></head><body><article>{}</article></body></html>",
            seed_text().split("\n\n").map(|p| format!("<p>{p}</p>")).collect::<String>()
        );
        thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(300);
            while !stopped.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => serve_page(stream, &page),
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Site { base, stop }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve_page(mut stream: TcpStream, page: &str) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut request_line = String::new();
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or("/");
    let response = if target == "/article" {
        format!("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}", page.len())
    } else if let Some(location) = target.strip_prefix("/to?") {
        format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    } else {
        "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found".to_string()
    };
    let _ = stream.write_all(response.as_bytes());
}

#[test]
fn url_requests_to_loopback_are_refused_after_resolution_and_redirects_unless_allowed() {
    let site = Site::start("127.0.0.1");
    let port = site.base.rsplit(':').next().expect("port").to_string();
    let strict = Server::start(&["--engine", "extractive"]);
    let refusals = [
        (format!("{}/article", site.base), "127.0.0.1 (a loopback address)"),
        (format!("http://localhost:{port}/article"), "(a loopback address, the address of localhost)"),
        (format!("http://[::1]:{port}/article"), "::1 (a loopback address)"),
        (format!("http://0.0.0.0:{port}/article"), "0.0.0.0 (an unspecified (\"this host\") address)"),
        (format!("http://[::ffff:127.0.0.1]:{port}/article"), "(a loopback address)"),
    ];
    for (url, reason) in &refusals {
        let answer = post(&strict, "/v1/summarize", &json!({"url": url}));
        assert_eq!(answer.status, 403, "{url}: {}", answer.text());
        assert_eq!(answer.json()["error"]["code"], "url_refused");
        assert!(answer.message().contains(reason) && answer.message().contains("--allow-private-urls"), "{url}: {}", answer.message());
    }

    // Allowed: one network (127.0.0.2), whose site redirects into a refused one (127.0.0.1).
    let allowed = Site::start("127.0.0.2");
    let one_network = Server::start(&["--engine", "extractive", "--allow-url-network", "127.0.0.2/32"]);
    let direct = post(&one_network, "/v1/summarize", &json!({"url": format!("{}/article", allowed.base)}));
    assert_eq!(direct.status, 200, "{}", direct.text());
    let record = direct.json();
    assert_eq!(record["input"]["format"], "html");
    assert_eq!(record["input"]["title"], "Summit in London");
    assert!(record["abstract"].as_str().is_some_and(|a| a.contains("Abe")), "{record}");
    let redirect = format!("{}/to?{}/article", allowed.base, site.base);
    let answer = post(&one_network, "/v1/summarize", &json!({"url": redirect}));
    assert_eq!(answer.status, 403, "{}", answer.text());
    assert!(answer.message().contains(&format!("redirected to {}/article", site.base)) && answer.message().contains("127.0.0.1 (a loopback address)"), "{}", answer.message());

    // Everything allowed: fetched, and a site's failures are 502 with the reason.
    let open = Server::start(&["--engine", "extractive", "--allow-private-urls"]);
    let fetched = post(&open, "/v1/summarize", &json!({"url": format!("{}/to?/article", site.base)}));
    assert_eq!(fetched.status, 200, "{}", fetched.text());
    assert_eq!(fetched.json()["abstract"], record["abstract"]);
    assert!(fetched.json()["warnings"].as_array().is_some_and(|w| w.iter().any(|w| w.as_str().is_some_and(|w| w.contains("redirected to")))));
    let missing = post(&open, "/v1/summarize", &json!({"url": format!("{}/missing", site.base)}));
    assert_eq!(missing.status, 502);
    assert!(missing.message().contains("HTTP 404"), "{}", missing.message());
    let closed = TcpListener::bind("127.0.0.1:0").expect("port");
    let closed_port = closed.local_addr().expect("address").port();
    drop(closed);
    let unreachable = post(&open, "/v1/summarize", &json!({"url": format!("http://127.0.0.1:{closed_port}/article")}));
    assert_eq!(unreachable.status, 502);
    assert!(unreachable.message().contains("Connection refused") || unreachable.message().contains("connection"), "{}", unreachable.message());
}

// ---------------------------------------------------------------------------------------------
// Access

#[test]
fn an_api_key_is_required_when_set_and_to_listen_beyond_loopback() {
    let server = Server::start_with_env(&["--engine", "extractive"], &[("PRECIS_API_KEY", "k3y-for-tests")]);
    let body = json!({"text": "Abe met Cameron in London on Thursday. They agreed to work together on defence."});
    let without = post(&server, "/v1/summarize", &body);
    assert_eq!(without.status, 401);
    assert_eq!(without.header("www-authenticate"), Some("Bearer"));
    assert!(without.message().contains("Authorization: Bearer"), "{}", without.message());
    let wrong = post_with(&server, "/v1/summarize", &body, &[("Authorization", "Bearer k3y-for-test")]);
    assert_eq!(wrong.status, 401);
    assert_eq!(post_with(&server, "/v1/summarize", &body, &[("Authorization", "Bearer k3y-for-tests")]).status, 200);
    assert_eq!(get(&server, "/metrics").status, 401);
    assert_eq!(send(&server, "GET", "/metrics", &[("Authorization", "Bearer k3y-for-tests")], None).status, 200);
    assert_eq!(get(&server, "/healthz").status, 200, "health checks need no key");
    assert_eq!(get(&server, "/").status, 200, "the page itself needs no key");

    for host in ["0.0.0.0", "::"] {
        let cache = scratch("serve-host");
        let output = precis(&cache).args(["serve", "--host", host, "--port", "0", "--engine", "extractive"]).env_remove("PRECIS_API_KEY").output().expect("run");
        assert_eq!(output.status.code(), Some(2), "{host}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("is not a loopback address") && stderr.contains("PRECIS_API_KEY"), "{stderr}");
    }

    // Without a key, a loopback server answers only requests addressed to its own names.
    let open = Server::start(&["--engine", "extractive"]);
    let rebound = send(&open, "GET", "/readyz", &[("Host", "attacker.example:8080")], None);
    assert_eq!(rebound.status, 403);
    assert!(rebound.message().contains("attacker.example"), "{}", rebound.message());
    assert_eq!(send(&open, "GET", "/readyz", &[("Host", "localhost:8080")], None).status, 200);
}

// ---------------------------------------------------------------------------------------------
// The page, in a real browser

/// Headless Chromium driven over the DevTools protocol.
struct Browser {
    child: Child,
    socket: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
    next_id: u64,
    _profile: PathBuf,
}

impl Browser {
    fn start() -> Browser {
        let executable = Path::new("/usr/bin/chromium");
        assert!(executable.exists(), "the page test needs Debian's chromium: run scripts/test.sh (it installs it), or `apt-get install chromium`");
        let profile = scratch(&format!("chromium-{}", unique()));
        let child = Command::new(executable)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
                "--window-size=1280,1800",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        let port_file = profile.join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(60);
        let port = loop {
            if let Some(port) = std::fs::read_to_string(&port_file).ok().and_then(|text| text.lines().next().and_then(|line| line.trim().parse::<u16>().ok())) {
                break port;
            }
            assert!(Instant::now() < deadline, "chromium did not open its DevTools port");
            thread::sleep(Duration::from_millis(100));
        };
        let targets: Value = serde_json::from_str(&agent().get(&format!("http://127.0.0.1:{port}/json/list")).call().expect("targets").into_string().expect("body")).expect("json");
        let page = targets.as_array().and_then(|targets| targets.iter().find(|t| t["type"] == "page")).expect("a page target");
        let (socket, _) = tungstenite::connect(page["webSocketDebuggerUrl"].as_str().expect("ws url")).expect("devtools socket");
        Browser { child, socket, next_id: 0, _profile: profile }
    }

    fn command(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.socket.send(tungstenite::Message::text(json!({"id": id, "method": method, "params": params}).to_string())).expect("send");
        loop {
            let message = self.socket.read().expect("devtools message");
            let Ok(text) = message.to_text() else { continue };
            let Ok(value) = serde_json::from_str::<Value>(text) else { continue };
            if value["id"] == id {
                assert!(value.get("error").is_none(), "{method}: {value}");
                return value["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression (JSON-serializable).
    fn eval(&mut self, expression: &str) -> Value {
        let result = self.command("Runtime.evaluate", json!({"expression": expression, "returnByValue": true, "awaitPromise": true}));
        assert!(result.get("exceptionDetails").is_none(), "{expression}: {result}");
        result["result"]["value"].clone()
    }

    fn wait_for(&mut self, expression: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.eval(expression) != json!(true) {
            let error = self.eval("document.getElementById('error').hidden ? '' : document.getElementById('error').textContent");
            assert!(Instant::now() < deadline, "{what} never happened; the page shows: {error}");
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// A real mouse click in the middle of the element.
    fn click(&mut self, selector: &str) {
        let center = self.eval(&format!("(() => {{ const r = document.querySelector('{selector}').getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()"));
        let (x, y) = (center[0].as_f64().expect("x"), center[1].as_f64().expect("y"));
        for kind in ["mousePressed", "mouseReleased"] {
            self.command("Input.dispatchMouseEvent", json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}));
        }
    }

    fn screenshot(&mut self, path: &Path) {
        let shot = self.command("Page.captureScreenshot", json!({"format": "png", "captureBeyondViewport": true}));
        let bytes = base64_decode(shot["data"].as_str().expect("png data"));
        std::fs::write(path, bytes).expect("write screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let clean: Vec<u8> = text.bytes().filter(|&c| c != b'=' && !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let bits = chunk.iter().enumerate().fold(0u32, |acc, (i, &c)| acc | (u32::from(value(c)) << (18 - 6 * i)));
        out.extend_from_slice(&bits.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
fn the_page_summarizes_and_compares_the_seed_article_in_chromium() {
    let server = Server::start(&["--engine", "extractive"]);
    let mut browser = Browser::start();
    browser.command("Page.enable", json!({}));
    browser.command("Page.navigate", json!({"url": server.url("/")}));
    browser.wait_for("document.readyState === 'complete' && document.getElementById('status').textContent.startsWith('ready')", "the page loading");

    // Give the file to the page's file input, as a person choosing it would.
    let document = browser.command("DOM.getDocument", json!({}));
    let input = browser.command("DOM.querySelector", json!({"nodeId": document["root"]["nodeId"], "selector": "#article-file"}));
    let seed = root().join(SEED);
    browser.command("DOM.setFileInputFiles", json!({"nodeId": input["nodeId"], "files": [seed.display().to_string()]}));
    browser.wait_for("document.getElementById('article-text').value.length > 1000", "reading the file");
    browser.click("#summarize");
    browser.wait_for("!document.getElementById('summary').hidden && document.getElementById('headline').textContent.length > 0 && !document.getElementById('compare').disabled", "the summary");
    assert_eq!(browser.eval("document.querySelectorAll('#summary mark').length"), json!(0), "the extractive engine's sentences are the article's: nothing marked");
    browser.click("#compare");
    browser.wait_for("!document.getElementById('comparison').hidden && document.querySelectorAll('#chart rect').length > 0", "the comparison");

    let shown = browser.eval(
        "JSON.stringify({
            headline: document.getElementById('headline').textContent,
            abstract: document.getElementById('abstract').textContent,
            bullets: Array.from(document.querySelectorAll('#bullets-list li')).map(li => li.textContent),
            labels: Array.from(document.querySelectorAll('#variants h3')).map(h => h.textContent),
            texts: Array.from(document.querySelectorAll('#variants p.text')).map(p => p.textContent),
            words: Array.from(document.querySelectorAll('#chart .panel-words text.value')).map(t => t.textContent),
            sentences: Array.from(document.querySelectorAll('#chart .panel-sentences text.value')).map(t => t.textContent),
            compression: Array.from(document.querySelectorAll('#chart .panel-compression text.value')).map(t => t.textContent),
            bars: ['words', 'sentences', 'compression'].map(m => document.querySelectorAll('#chart rect.bar-' + m).length),
            heights: Array.from(document.querySelectorAll('#chart rect.bar-words')).map(r => Number(r.getAttribute('height'))),
            keyShown: getComputedStyle(document.getElementById('key-row')).display !== 'none',
            numbers: document.querySelector('#variants p.numbers').textContent,
        })",
    );
    let shown: Value = serde_json::from_str(shown.as_str().expect("json string")).expect("json");
    let screenshot = root().join("target/serve-page.png");
    browser.screenshot(&screenshot);

    // What the page shows is what the API answers for the same article.
    let summary = post(&server, "/v1/summarize", &json!({"text": seed_text(), "length": "medium", "bullets": 4})).json();
    assert_eq!(shown["headline"], summary["headline"]);
    assert_eq!(shown["abstract"], summary["abstract"]);
    assert_eq!(shown["bullets"], summary["bullets"]);
    assert!(shown["bullets"].as_array().is_some_and(|b| b.len() == 4));
    let compared = post(&server, "/v1/compare", &json!({"text": seed_text()})).json();
    let variants = compared["variants"].as_array().expect("variants");
    assert_eq!(shown["labels"], json!(["short", "medium", "long"]));
    assert_eq!(shown["texts"], json!(variants.iter().map(|v| v["text"].clone()).collect::<Vec<_>>()));
    assert_eq!(shown["words"], json!(variants.iter().map(|v| v["words"].to_string()).collect::<Vec<_>>()));
    assert_eq!(shown["sentences"], json!(variants.iter().map(|v| v["sentences"].to_string()).collect::<Vec<_>>()));
    assert_eq!(shown["compression"], json!(variants.iter().map(|v| format!("{:.1}%", 100.0 * v["compression"].as_f64().expect("share"))).collect::<Vec<_>>()));
    assert_eq!(shown["bars"], json!([3, 3, 3]));
    assert_eq!(shown["keyShown"], false, "no API key field on a server without a key");
    let first = &variants[0];
    assert!(shown["numbers"].as_str().is_some_and(|n| n.starts_with(&format!("{} words · {} sentence", first["words"], first["sentences"]))), "{}", shown["numbers"]);
    // Bars are drawn to scale: the longest summary has the tallest bar.
    let heights: Vec<f64> = shown["heights"].as_array().expect("heights").iter().filter_map(Value::as_f64).collect();
    let words: Vec<f64> = variants.iter().filter_map(|v| v["words"].as_f64()).collect();
    let tallest = |values: &[f64]| values.iter().enumerate().fold(0, |best, (i, v)| if *v > values[best] { i } else { best });
    assert_eq!(tallest(&heights), tallest(&words));
    let png = std::fs::read(&screenshot).expect("screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "screenshot written to {}", screenshot.display());

    // Markup in an article is shown as text, never run.
    let hostile = "<img src=x onerror=\"window.__pwned=1\"> Abe met Cameron in London on Thursday to talk about defence. \
                   <script>window.__pwned=2</script> Both leaders agreed to cooperate on defence equipment and security. \
                   <b onmouseover=\"window.__pwned=3\">Japan</b> and Britain will hold talks on a trade deal next year.";
    browser.eval(&format!("document.getElementById('article-text').value = {}; true", json!(hostile)));
    browser.click("#summarize");
    browser.wait_for("document.getElementById('abstract').textContent.includes('<img')", "the hostile summary");
    let verdict = browser.eval("[document.querySelectorAll('#summary img, #summary script, #summary b').length, typeof window.__pwned]");
    assert_eq!(verdict, json!([0, "undefined"]), "markup from the article became elements or ran");

    // With a model, the page marks what the record's faithfulness check flagged (the fixture
    // models write words no article has), each mark's tooltip the reason.
    let model_server = Server::start(&fixture_args());
    browser.command("Page.navigate", json!({"url": model_server.url("/")}));
    browser.wait_for("document.readyState === 'complete' && document.getElementById('status').textContent.startsWith('ready')", "the page loading (model)");
    browser.eval(&format!("document.getElementById('article-text').value = {}; document.getElementById('length').value = 'short'; true", json!(seed_text())));
    browser.click("#summarize");
    browser.wait_for("!document.getElementById('summary').hidden && document.getElementById('headline').textContent.length > 0 && !document.getElementById('summarize').disabled", "the model's summary");
    let marks = browser.eval("JSON.stringify(Array.from(document.querySelectorAll('#summary mark')).map(m => [m.textContent, m.title]))");
    let marks: Vec<(String, String)> = serde_json::from_str(marks.as_str().expect("json string")).expect("json");
    let record = post(&model_server, "/v1/summarize", &json!({"text": seed_text(), "length": "short"})).json();
    let flagged: Vec<(String, String)> = ["headline", "abstract"]
        .iter()
        .flat_map(|output| record["faithfulness"][output]["unsupported"].as_array().cloned().unwrap_or_default())
        .chain(record["faithfulness"]["bullets"].as_array().into_iter().flatten().flat_map(|check| check["unsupported"].as_array().cloned().unwrap_or_default()))
        .map(|span| (span["text"].as_str().unwrap_or_default().to_string(), span["reason"].as_str().unwrap_or_default().to_string()))
        .collect();
    assert!(!flagged.is_empty(), "the fixture model's output is flagged: {record}");
    assert_eq!(marks, flagged, "the page marks exactly the spans the record flags");
    assert!(browser.eval("document.getElementById('summary-meta').textContent").as_str().is_some_and(|meta| meta.contains("faithfulness")));
}

// ---------------------------------------------------------------------------------------------

#[test]
fn models_that_cannot_load_stop_the_server_with_exit_1() {
    let cache = scratch("serve-bad-model");
    let output = precis(&cache)
        .args(["serve", "--port", "0", "--engine", "abstractive", "--model", "tests/fixtures/feeds", "--headline-model", T5])
        .env_remove("PRECIS_API_KEY")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the models did not load"), "{stderr}");
}

#[test]
fn a_drain_past_its_limit_drops_what_is_left_and_exits_1_saying_so() {
    let mut args = fixture_args();
    args.extend(["--drain-timeout", "0.3"]);
    let mut server = Server::start(&args);
    let url = server.url("/v1/summarize");
    // The whole seed article: several chunk passes, far longer than the limit.
    let client = thread::spawn(move || agent().post(&url).set("Content-Type", "application/json").send_string(&json!({"text": seed_text()}).to_string()).map(|r| r.status()).map_err(|e| e.to_string()));
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.metric("precis_http_requests_in_flight ") < 2.0 {
        assert!(Instant::now() < deadline, "the request never arrived");
        thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    // SIGINT (Ctrl-C) stops the server as SIGTERM does.
    assert!(Command::new("kill").args(["-INT", &server.pid().to_string()]).status().expect("kill").success());
    let status = server.wait_exit(Duration::from_secs(30));
    assert_eq!(status.code(), Some(1), "{status:?} {}", server.stderr_text());
    assert!(started.elapsed() < Duration::from_secs(20), "the drain limit was not kept: {:?}", started.elapsed());
    assert!(server.stderr_text().contains("1 request(s) were still in flight after the 0.3 s drain limit (--drain-timeout) and were dropped"), "{}", server.stderr_text());
    assert!(client.join().expect("client").is_err(), "the dropped request got no answer");
}
