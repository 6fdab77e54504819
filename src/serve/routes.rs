//! HTTP: the routes, their handlers, and the middleware every request passes (metrics, security
//! headers, the Host check, the API key). Handlers turn bodies into work for the queue and the
//! queue's answers into JSON; the records are serialized exactly as `--format json` prints them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::Semaphore;

use super::addresses::UrlPolicy;
use super::api::{self, ApiError, ArticleSource, Defaults};
use super::check::{self, FaithfulnessCheck};
use super::fetch::{self, FetchError};
use super::metrics::Metrics;
use super::queue::{JobError, Outcome, Queue, Work};
use super::{assets, Limits};
use crate::input::{self, Document};
use crate::render::EngineKind;

/// Downloads for `url` requests running at once.
const CONCURRENT_FETCHES: usize = 8;

/// Where the models stand, for `/readyz`.
#[derive(Debug, Clone)]
pub enum Readiness {
    Loading,
    Ready { engine: EngineKind, notices: Vec<String> },
}

/// Everything the handlers share.
pub struct App {
    pub queue: Arc<Queue>,
    pub metrics: Arc<Metrics>,
    pub readiness: RwLock<Readiness>,
    pub limits: Limits,
    pub defaults: Defaults,
    pub api_key: Option<String>,
    /// Host names (without port) requests must be addressed to; `None`: any. Set when the server
    /// is on loopback without an API key, so that a web page cannot reach it through a name that
    /// it re-points at 127.0.0.1 (DNS rebinding).
    pub allowed_hosts: Option<Vec<String>>,
    pub url_policy: UrlPolicy,
    pub fetches: Semaphore,
    pub check: Box<dyn FaithfulnessCheck>,
    pub next_request: AtomicU64,
}

impl App {
    pub fn new(queue: Arc<Queue>, metrics: Arc<Metrics>, limits: Limits, defaults: Defaults, api_key: Option<String>, allowed_hosts: Option<Vec<String>>, url_policy: UrlPolicy) -> App {
        App {
            queue,
            metrics,
            readiness: RwLock::new(Readiness::Loading),
            limits,
            defaults,
            api_key,
            allowed_hosts,
            url_policy,
            fetches: Semaphore::new(CONCURRENT_FETCHES),
            check: check::built_in(),
            next_request: AtomicU64::new(1),
        }
    }

    pub fn set_readiness(&self, readiness: Readiness) {
        *self.readiness.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = readiness;
    }

    fn readiness(&self) -> Readiness {
        self.readiness.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    fn queue_full(&self) -> ApiError {
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "queue_full",
            format!("the server is busy: {} requests are already waiting (--max-queue); retry after the time in Retry-After", self.queue_capacity()),
        );
        error.retry_after = Some(self.metrics.retry_after_seconds());
        error
    }

    fn queue_capacity(&self) -> usize {
        self.metrics.queue_capacity.load(Ordering::Relaxed)
    }

    /// The request's article as a document: text and HTML read as the command line reads files,
    /// a URL downloaded under the address policy.
    async fn document(&self, source: ArticleSource, id: Option<String>, title: Option<String>) -> Result<Document, ApiError> {
        let mut document = match source {
            ArticleSource::Text(text) => input::document_from_bytes("request", text.as_bytes()).map_err(|error| ApiError::bad_request(format!("text: {error}")))?,
            ArticleSource::Html(html) => {
                // A fragment is read as HTML however few tags it has (as batch reads feed content).
                let page = if looks_like_page(&html) { html } else { format!("<!DOCTYPE html><html><body>{html}</body></html>") };
                input::document_from_bytes("request", page.as_bytes()).map_err(|error| ApiError::bad_request(format!("html: {error}")))?
            }
            ArticleSource::Url(url) => {
                let _permit = self.fetches.acquire().await.map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "stopping", "the server is stopping"))?;
                let policy = self.url_policy.clone();
                let timeout = self.limits.fetch_timeout;
                let fetched = tokio::task::spawn_blocking(move || fetch::fetch_document(&url, &policy, timeout))
                    .await
                    .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "downloading the page failed inside the server"))?;
                fetched.map_err(|error| match error {
                    FetchError::Invalid(message) | FetchError::Unreadable(message) => ApiError::bad_request(format!("url: {message}")),
                    FetchError::Refused(message) => ApiError::new(StatusCode::FORBIDDEN, "url_refused", message),
                    FetchError::Failed(message) => ApiError::new(StatusCode::BAD_GATEWAY, "fetch_failed", message),
                })?
            }
        };
        let number = self.next_request.fetch_add(1, Ordering::Relaxed);
        document.id = id.unwrap_or_else(|| if document.origin == "request" { format!("request-{number}") } else { document.origin.clone() });
        if title.is_some() {
            document.title = title;
        }
        Ok(document)
    }

    /// Queues `work` and waits for the model thread's answer.
    async fn run(&self, work: Work) -> Result<Outcome, ApiError> {
        let answer = self.queue.submit(work).map_err(|_| self.queue_full())?;
        match answer.await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(JobError::Failed(message))) => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_summarized", message)),
            Ok(Err(JobError::Panicked)) => Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "summarizing this article failed inside precis (a bug, caught; the server goes on); please report it with the article",
            )),
            Ok(Err(JobError::Stopped)) | Err(_) => Err(not_ready()),
        }
    }
}

fn not_ready() -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "the models are not loaded (loading failed, or the server is stopping); see the server's log")
}

fn looks_like_page(html: &str) -> bool {
    let start: String = html.trim_start().chars().take(15).collect::<String>().to_ascii_lowercase();
    start.starts_with("<!doctype html") || start.starts_with("<html")
}

pub fn router(app: Arc<App>) -> Router {
    let max_body = app.limits.max_body_bytes;
    Router::new()
        .route("/", get(page))
        .route("/assets/app.js", get(script))
        .route("/assets/app.css", get(style))
        .route("/openapi.json", get(openapi))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/summarize", post(summarize))
        .route("/v1/compare", post(compare))
        .route("/v1/check", post(check))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .layer(middleware::from_fn_with_state(app.clone(), observe))
        .with_state(app)
}

/// Counts requests in flight; decremented even when a client goes away mid-request.
struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Outermost: metrics for every answer, and the security headers.
async fn observe(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_string(), |path| path.as_str().to_string());
    let started = Instant::now();
    app.metrics.in_flight.fetch_add(1, Ordering::Relaxed);
    let in_flight = InFlight(&app.metrics);
    let mut response = next.run(request).await;
    drop(in_flight);
    app.metrics.record_request(&route, response.status().as_u16(), started.elapsed());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(assets::CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The Host check (loopback without a key) and the API key (`/v1/…` and `/metrics`).
async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    if let Some(allowed) = &app.allowed_hosts {
        let host = request.headers().get(header::HOST).and_then(|value| value.to_str().ok()).unwrap_or("");
        if !allowed.iter().any(|name| host_name(host).eq_ignore_ascii_case(name)) {
            return error_response(ApiError::new(
                StatusCode::FORBIDDEN,
                "host_not_allowed",
                format!(
                    "the request is addressed to host {host:?}; this server (on loopback, without --api-key) answers only requests to {}",
                    allowed.join(", ")
                ),
            ));
        }
    }
    let path = request.uri().path();
    let protected = path.starts_with("/v1/") || path == "/metrics";
    if let (true, Some(key)) = (protected, &app.api_key) {
        let given = request.headers().get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()).and_then(|value| value.strip_prefix("Bearer "));
        let message = match given {
            None => Some("this server needs an API key: send the header `Authorization: Bearer KEY`"),
            Some(given) if !same_secret(given.trim().as_bytes(), key.as_bytes()) => Some("the API key in the Authorization header is not this server's"),
            Some(_) => None,
        };
        if let Some(message) = message {
            let mut response = error_response(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message));
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    next.run(request).await
}

/// `host[:port]` → `host` (IPv6 in brackets kept as written).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(name, _)| &host[..name.len() + 1]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// Compares without stopping at the first difference, so timing does not tell how much of a
/// guessed key was right.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let mut difference = given.len() ^ expected.len();
    for (index, byte) in expected.iter().enumerate() {
        difference |= usize::from(byte ^ given.get(index).copied().unwrap_or(0));
    }
    difference == 0
}

fn error_response(error: ApiError) -> Response {
    let mut response = (error.status, json_body(&error.body())).into_response();
    if let Some(seconds) = error.retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn json_body(value: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, format!("could not serialize the answer: {error}")).into_response(),
    }
}

/// A POST body: JSON (by its Content-Type, which also keeps other sites' forms out) within the size limit.
fn json_request(app: &App, headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("the body must be JSON sent with `Content-Type: application/json` (got {:?})", content_type),
        ));
    }
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body is larger than this server's limit of {} bytes (--max-body-bytes); send a shorter article", app.limits.max_body_bytes),
            )
        } else {
            ApiError::bad_request(format!("the body could not be read: {}", rejection.body_text()))
        }
    })
}

/// Runs a handler's work within the request time limit; a late answer is a 504.
async fn answer(app: &App, work: impl std::future::Future<Output = Result<Response, ApiError>>) -> Response {
    let limit = app.limits.request_timeout;
    match tokio::time::timeout(limit, work).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => error_response(error),
        Err(_) => error_response(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            format!("no answer within the time limit of {} s (--request-timeout); the server is busy or the article long: try again later", limit.as_secs_f64()),
        )),
    }
}

async fn summarize(State(app): State<Arc<App>>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    answer(&app, async {
        let body = json_request(&app, &headers, body)?;
        let request = api::parse_summarize(&body, app.defaults)?;
        if !app.queue.has_room() {
            return Err(app.queue_full());
        }
        let document = app.document(request.source, request.id, request.title).await?;
        match app.run(Work::Summarize { document, shape: request.shape }).await? {
            Outcome::Summary(record) => Ok(json_body(&record)),
            Outcome::Compare(_) => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the model thread answered with the wrong kind of record")),
        }
    })
    .await
}

async fn compare(State(app): State<Arc<App>>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    answer(&app, async {
        let body = json_request(&app, &headers, body)?;
        let request = api::parse_compare(&body, app.defaults)?;
        if !app.queue.has_room() {
            return Err(app.queue_full());
        }
        let reference = match request.reference {
            Some(text) => Some(input::document_from_bytes("reference", text.as_bytes()).map_err(|error| ApiError::bad_request(format!("reference: {error}")))?),
            None => None,
        };
        let document = app.document(request.source, request.id, request.title).await?;
        match app.run(Work::Compare { document, budgets: request.budgets, reference, guard: request.guard }).await? {
            Outcome::Compare(record) => Ok(json_body(&record)),
            Outcome::Summary(_) => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the model thread answered with the wrong kind of record")),
        }
    })
    .await
}

async fn check(State(app): State<Arc<App>>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let shared = app.clone();
    answer(&app, async move {
        let body = json_request(&shared, &headers, body)?;
        let request = api::parse_check(&body)?;
        let app = shared.clone();
        let report = tokio::task::spawn_blocking(move || app.check.check(&request.article, &request.summary))
            .await
            .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the faithfulness check failed inside precis (caught)"))?;
        match report {
            Ok(report) => Ok(json_body(&report)),
            Err(error) => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_checked", format!("{error:#}; give a non-empty article and summary"))),
        }
    })
    .await
}

async fn healthz() -> Response {
    json_body(&serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    // The page asks before marking spans; every build has the check now, the field stays for clients.
    let check = true;
    match app.readiness() {
        Readiness::Ready { engine, notices } => json_body(&serde_json::json!({ "ready": true, "engine": engine, "check": check, "notices": notices })),
        Readiness::Loading => {
            let mut response = json_body(&serde_json::json!({ "ready": false, "reason": "loading the models", "check": check }));
            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            response
        }
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let text = app.metrics.render(crate::engine::placement::generated_tokens_total());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], assets::OPENAPI).into_response()
}

async fn page() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], assets::INDEX_HTML).into_response()
}

async fn script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], assets::APP_JS).into_response()
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], assets::APP_CSS).into_response()
}

async fn not_found(request: Request<Body>) -> Response {
    error_response(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no such endpoint: {}; see /openapi.json", request.uri().path())))
}

async fn method_not_allowed(request: Request<Body>) -> Response {
    error_response(ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", format!("{} is not allowed on {}; see /openapi.json", request.method(), request.uri().path())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_their_port() {
        assert_eq!(host_name("127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(host_name("localhost"), "localhost");
        assert_eq!(host_name("[::1]:8080"), "[::1]");
        assert_eq!(host_name("[::1]"), "[::1]");
    }

    #[test]
    fn secrets_match_only_whole() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3cre", b"s3cret"));
        assert!(!same_secret(b"s3cret!", b"s3cret"));
        assert!(!same_secret(b"", b"s3cret"));
        assert!(!same_secret(b"S3cret", b"s3cret"));
    }
}
