//! Downloading the page of a `url` request, with the address policy applied where it cannot be
//! dodged: after DNS resolution (every address the name resolves to is checked, and the
//! connection goes only to checked addresses, so a name that changes its answer between check
//! and connection gains nothing) and on every redirect (followed here one hop at a time, each
//! checked like the first). http(s) only, timeouts, a redirect limit and a size cap.
//!
//! Blocking (ureq): the server calls it on tokio's blocking pool. It must not summarize.

use std::io::{self, Read};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use url::Url;

use super::addresses::UrlPolicy;
use crate::batch::fetch::{MAX_PAGE_BYTES, MAX_REDIRECTS};
use crate::input::{self, Document};

/// Why a page could not be had; each becomes its own HTTP status.
#[derive(Debug, PartialEq, Eq)]
pub enum FetchError {
    /// Not an http(s) URL (400).
    Invalid(String),
    /// The address policy refused it, on the first hop or after a redirect (403).
    Refused(String),
    /// The site could not be reached or did not answer with a page (502).
    Failed(String),
    /// The page came, but is not an article precis can read (400).
    Unreadable(String),
}

/// Downloads `url` (following up to [`MAX_REDIRECTS`] redirects, each checked against `policy`)
/// and extracts its main text.
pub fn fetch_document(url: &str, policy: &UrlPolicy, timeout: Duration) -> Result<Document, FetchError> {
    let mut current = parse_http_url(url, url)?;
    for hop in 0..=MAX_REDIRECTS {
        let refusal: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        let agent = agent(policy, timeout, refusal.clone());
        let where_ = if hop == 0 { format!("url {url}") } else { format!("url {url} redirected to {current}, and that") };
        let response = match agent.get(current.as_str()).call() {
            Ok(response) => response,
            Err(ureq::Error::Status(code, response)) => {
                return Err(FetchError::Failed(format!("cannot fetch {url}: {} answered HTTP {code} {}", current, response.status_text())))
            }
            Err(ureq::Error::Transport(transport)) => {
                // The resolver records a refusal before ureq wraps it into a DNS error.
                let refused = refusal.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
                return Err(match refused {
                    Some(reason) => FetchError::Refused(format!(
                        "{where_} resolves to {reason}; the server does not fetch from loopback, private, link-local or metadata addresses (start it with --allow-private-urls or --allow-url-network to allow them)"
                    )),
                    None => FetchError::Failed(format!("cannot fetch {current}: {transport}")),
                });
            }
        };
        if (300..400).contains(&response.status()) {
            let Some(location) = response.header("location") else {
                return Err(FetchError::Failed(format!("cannot fetch {url}: {current} answered HTTP {} without a Location header", response.status())));
            };
            let next = current.join(location).map_err(|_| FetchError::Failed(format!("cannot fetch {url}: {current} redirected to an invalid address {location:?}")))?;
            current = parse_http_url(url, next.as_str())?;
            continue;
        }
        let mut bytes = Vec::new();
        response
            .into_reader()
            .take(MAX_PAGE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|error| FetchError::Failed(format!("cannot fetch {current}: {error}")))?;
        if bytes.len() as u64 > MAX_PAGE_BYTES {
            return Err(FetchError::Failed(format!("cannot fetch {url}: the page is over {} MiB", MAX_PAGE_BYTES / (1024 * 1024))));
        }
        let mut document = input::document_from_bytes(current.as_str(), &bytes).map_err(|error| FetchError::Unreadable(error.to_string()))?;
        document.id = url.to_string();
        document.origin = url.to_string();
        if current.as_str() != url {
            document.warnings.push(format!("{url} redirected to {current}; the article was read from there"));
        }
        return Ok(document);
    }
    Err(FetchError::Failed(format!("cannot fetch {url}: more than {MAX_REDIRECTS} redirects")))
}

/// `candidate` as an http(s) URL with a host, else an error about `original` (the request's).
fn parse_http_url(original: &str, candidate: &str) -> Result<Url, FetchError> {
    let parsed = Url::parse(candidate).map_err(|error| FetchError::Invalid(format!("url {candidate:?} is not a valid URL ({error}); give an http or https address")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        let what = if candidate == original { format!("url {original}") } else { format!("url {original} redirected to {candidate}, which") };
        return Err(FetchError::Invalid(format!("{what} is not http or https; only web pages are fetched")));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(FetchError::Invalid(format!("url {candidate:?} has no host")));
    }
    Ok(parsed)
}

/// A one-request agent whose name resolution refuses addresses the policy forbids (recording
/// why in `refusal`), follows no redirect by itself and uses no proxy (through a proxy, the
/// address checked would be the proxy's).
fn agent(policy: &UrlPolicy, timeout: Duration, refusal: Arc<Mutex<Option<String>>>) -> ureq::Agent {
    let policy = policy.clone();
    let resolver = move |netloc: &str| -> io::Result<Vec<SocketAddr>> {
        let addresses: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
        for address in &addresses {
            if let Some(kind) = policy.refusal(address.ip()) {
                let host = netloc.rsplit_once(':').map_or(netloc, |(host, _)| host);
                let literal = host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip == address.ip());
                let reason = if literal {
                    format!("{} ({kind})", address.ip())
                } else {
                    format!("{} ({kind}, the address of {host})", address.ip())
                };
                *refusal.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(reason.clone());
                return Err(io::Error::new(io::ErrorKind::PermissionDenied, reason));
            }
        }
        Ok(addresses)
    };
    ureq::AgentBuilder::new()
        .timeout_connect(timeout)
        .timeout_read(timeout)
        .timeout(timeout * 3)
        .redirects(0)
        .try_proxy_from_env(false)
        .resolver(resolver)
        .user_agent(&format!("precis/{} (news summarizer; serve)", env!("CARGO_PKG_VERSION")))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_with_a_host_are_taken() {
        assert!(matches!(parse_http_url("x", "file:///etc/passwd"), Err(FetchError::Invalid(m)) if m.contains("not http or https")));
        assert!(matches!(parse_http_url("x", "not a url"), Err(FetchError::Invalid(m)) if m.contains("not a valid URL")));
        assert!(parse_http_url("x", "https://example.org/a?b").is_ok());
    }

    #[test]
    fn literal_loopback_addresses_are_refused_before_any_connection() {
        // Refused inside name resolution: nothing is sent anywhere.
        let error = fetch_document("http://127.0.0.1:9/page", &UrlPolicy::default(), Duration::from_secs(2)).expect_err("refused");
        match error {
            FetchError::Refused(message) => assert!(message.contains("127.0.0.1 (a loopback address)"), "{message}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}
