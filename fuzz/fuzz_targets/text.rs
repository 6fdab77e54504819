//! Text normalizer and sentence splitter: any string, raw and normalized.
#![no_main]

use libfuzzer_sys::fuzz_target;
use precis::text::normalize;
use precis_fuzz::check_sentences;

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let normalized = normalize(&raw);
    assert_eq!(normalize(&normalized), normalized, "normalizing twice changed {raw:?}");
    check_sentences(&raw);
    check_sentences(&normalized);
});
