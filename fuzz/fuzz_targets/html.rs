//! Article bytes → Document: decoding, format detection, HTML main-text extraction (and the
//! Markdown and plain-text readers, when the bytes do not look like HTML).
#![no_main]

use libfuzzer_sys::fuzz_target;
use precis::input::document_from_bytes;
use precis_fuzz::check_document;

fuzz_target!(|data: &[u8]| {
    if let Ok(document) = document_from_bytes("page.html", data) {
        check_document(&document);
    }
});
