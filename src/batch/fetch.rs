//! `--fetch`: downloading an item's linked article page when the item carries only a link or a
//! teaser. http(s) only, with connect and read timeouts, a redirect limit, a size cap and a user
//! agent; any failure (unreachable, 404, timeout, too large) is that item's error.

use std::io::Read;
use std::time::Duration;

use crate::input::{self, Document};

/// Article pages larger than this are refused.
pub const MAX_PAGE_BYTES: u64 = 5 * 1024 * 1024;
/// Redirects followed before giving up.
pub const MAX_REDIRECTS: u32 = 5;
/// Feed content shorter than this (in words) is a teaser: with `--fetch`, its link is read instead.
pub const TEASER_MAX_WORDS: usize = 80;

/// Downloads `url` and extracts its main article text.
pub fn fetch_document(url: &str, timeout: Duration) -> Result<Document, String> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!("cannot fetch {url}: only http and https links are downloaded"));
    }
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
    let mut bytes = Vec::new();
    response.into_reader().take(MAX_PAGE_BYTES + 1).read_to_end(&mut bytes).map_err(|error| format!("cannot fetch {url}: {error}"))?;
    if bytes.len() as u64 > MAX_PAGE_BYTES {
        return Err(format!("cannot fetch {url}: the page is over {} MiB", MAX_PAGE_BYTES / (1024 * 1024)));
    }
    input::document_from_bytes(url, &bytes).map_err(|error| error.to_string())
}
