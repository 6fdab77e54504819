//! A batch input file (RSS, Atom, JSON Feed, or anything else) → items → each item's Document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use precis::batch::{plan::document_for, sources::items_from_bytes};
use precis_fuzz::check_document;

fuzz_target!(|data: &[u8]| {
    if let Ok(read) = items_from_bytes("feed", data.to_vec()) {
        for item in &read.items {
            if let Ok(document) = document_for(item) {
                check_document(&document);
            }
        }
    }
});
