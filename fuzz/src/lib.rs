//! Invariants the fuzz targets check on every output, beyond "does not panic".

use precis::input::Document;
use precis::text::split_sentences;

/// What `Document.text` promises: never empty, no outer whitespace, paragraphs of single-spaced
/// prose separated by exactly one blank line.
pub fn check_document(document: &Document) {
    let text = &document.text;
    assert!(!text.is_empty(), "empty document text");
    assert_eq!(text.trim(), text, "document text has outer whitespace");
    for paragraph in text.split("\n\n") {
        assert!(!paragraph.is_empty(), "empty paragraph in {text:?}");
        assert!(!paragraph.contains(char::is_control), "control character in paragraph {paragraph:?}");
        assert!(!paragraph.contains("  "), "double space in paragraph {paragraph:?}");
        assert_eq!(paragraph.trim(), paragraph, "paragraph with outer whitespace: {paragraph:?}");
    }
}

/// What `split_sentences` promises for any text: no empty sentence; the sentences cover every
/// non-whitespace character once, in order; each sentence's text is its slice of the input
/// with whitespace folded to single spaces.
pub fn check_sentences(text: &str) {
    let mut previous_end = 0;
    for sentence in split_sentences(text) {
        assert!(!sentence.text.trim().is_empty(), "empty sentence in {text:?}");
        assert!(previous_end <= sentence.start && sentence.start < sentence.end, "bad offsets {}..{} after {previous_end} in {text:?}", sentence.start, sentence.end);
        let gap = text.get(previous_end..sentence.start).expect("offsets on char boundaries");
        assert!(gap.trim().is_empty(), "text {gap:?} between sentences is in none of them: {text:?}");
        let slice = text.get(sentence.start..sentence.end).expect("offsets on char boundaries");
        assert_eq!(slice.split_whitespace().collect::<Vec<_>>().join(" "), sentence.text, "in {text:?}");
        previous_end = sentence.end;
    }
    let rest = text.get(previous_end..).expect("offsets on char boundaries");
    assert!(rest.trim().is_empty(), "trailing text {rest:?} is in no sentence: {text:?}");
}
