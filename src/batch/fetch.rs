//! `--fetch`: downloading an item's linked article page when the item carries only a link or a
//! teaser. http(s) only, with connect and read timeouts, a redirect limit, a size cap and a user
//! agent, and at most [`MAX_PER_HOST`] downloads from one host at a time whatever `--jobs` is;
//! any failure (unreachable, 404, timeout, too large) is that item's error. The page's
//! encoding is its `Content-Type` charset when the server gives one.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::input::{self, Document};

/// Article pages larger than this are refused.
pub const MAX_PAGE_BYTES: u64 = 5 * 1024 * 1024;
/// Redirects followed before giving up.
pub const MAX_REDIRECTS: u32 = 5;
/// Feed content shorter than this (in words) is a teaser: with `--fetch`, its link is read instead.
pub const TEASER_MAX_WORDS: usize = 80;

/// Politeness: concurrent downloads from one host (over all workers).
pub const MAX_PER_HOST: usize = 2;

static DOWNLOADS_PER_HOST: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());
static HOST_FREED: Condvar = Condvar::new();

/// A download slot for one host, given back when dropped.
struct HostSlot {
    host: String,
}

impl HostSlot {
    fn acquire(host: &str) -> HostSlot {
        // A poisoned lock only means another worker panicked; the counts are still right.
        let mut counts = DOWNLOADS_PER_HOST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while counts.get(host).copied().unwrap_or(0) >= MAX_PER_HOST {
            counts = HOST_FREED.wait(counts).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        *counts.entry(host.to_string()).or_insert(0) += 1;
        HostSlot { host: host.to_string() }
    }
}

impl Drop for HostSlot {
    fn drop(&mut self) {
        let mut counts = DOWNLOADS_PER_HOST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = counts.get_mut(&self.host) {
            *count = count.saturating_sub(1);
        }
        HOST_FREED.notify_all();
    }
}

/// The `host[:port]` of an http(s) URL, lower-cased.
fn host_of(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Downloads `url` and extracts its main article text.
pub fn fetch_document(url: &str, timeout: Duration) -> Result<Document, String> {
    let Some(host) = host_of(url) else {
        return Err(format!("cannot fetch {url}: only http and https links are downloaded"));
    };
    let _slot = HostSlot::acquire(&host);
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(timeout)
        .timeout_read(timeout)
        .timeout(timeout * 3)
        .redirects(MAX_REDIRECTS)
        .user_agent(&format!("precis/{} (news summarizer; batch --fetch)", env!("CARGO_PKG_VERSION")))
        .build();
    let response = agent.get(url).call().map_err(|error| match error {
        ureq::Error::Status(code, response) => format!("cannot fetch {url}: HTTP {code} {}", response.status_text()),
        ureq::Error::Transport(transport) => format!("cannot fetch {url}: {transport}"),
    })?;
    // The server's charset decides the page's encoding before what the page declares itself.
    let charset = response.header("Content-Type").and_then(input::decode::charset_of_content_type);
    let mut bytes = Vec::new();
    response.into_reader().take(MAX_PAGE_BYTES + 1).read_to_end(&mut bytes).map_err(|error| format!("cannot fetch {url}: {error}"))?;
    if bytes.len() as u64 > MAX_PAGE_BYTES {
        return Err(format!("cannot fetch {url}: the page is over {} MiB", MAX_PAGE_BYTES / (1024 * 1024)));
    }
    input::document_from_download(url, &bytes, charset.as_deref()).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_keeps_the_port_and_refuses_other_schemes() {
        assert_eq!(host_of("https://News.Example.org:8443/a/b?c").as_deref(), Some("news.example.org:8443"));
        assert_eq!(host_of("http://user@example.org/x").as_deref(), Some("example.org"));
        assert_eq!(host_of("ftp://example.org/x"), None);
        assert_eq!(host_of("file:///etc/passwd"), None);
    }

    #[test]
    fn host_slots_are_released_when_dropped() {
        let host = "slots.test";
        let slots: Vec<HostSlot> = (0..MAX_PER_HOST).map(|_| HostSlot::acquire(host)).collect();
        drop(slots);
        // Would block forever if the slots above were not given back.
        let _again: Vec<HostSlot> = (0..MAX_PER_HOST).map(|_| HostSlot::acquire(host)).collect();
    }
}
