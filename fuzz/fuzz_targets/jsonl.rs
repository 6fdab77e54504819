//! JSONL batch input → items → each item's Document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use precis::batch::{plan::document_for, sources::jsonl_items};
use precis_fuzz::check_document;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for item in jsonl_items("items.jsonl", &text) {
        if let Ok(document) = document_for(&item) {
            check_document(&document);
        }
    }
});
