//! Feeds → items: RSS 0.90–2.0, RSS 1.0 (RDF), Atom 0.3 and 1.0, Atom entry documents and
//! JSON Feed 1.0/1.1, told apart by content (never by file name).
//!
//! `classify` says what a decoded text is (a feed of some kind, JSON, other XML, or
//! something else); `xml` and `json` read the feeds; `repair` makes the tolerant repairs
//! before strict XML parsing; `content` picks each item's text. A feed that cannot be read is
//! an error naming the feed and the defect (with line and column for XML); an XML document
//! that is not a feed, or a feed format precis does not read, is an error naming what it is.
//! This module must not decode bytes (`input::decode` does) or summarize.

mod content;
mod json;
mod parts;
mod repair;
mod xml;

use anyhow::Result;
use serde_json::Value;

use super::item::BatchItem;
use xml::XmlKind;

/// A feed's items, its format ("RSS 2.0", "Atom 1.0", "JSON Feed 1.1", …) and the warnings
/// about repairs made to read it (each once, naming the feed).
#[derive(Debug)]
pub struct FeedRead {
    pub format: String,
    pub items: Vec<BatchItem>,
    pub warnings: Vec<String>,
}

/// What a decoded text is, by its content.
#[derive(Debug)]
pub enum Classified {
    /// XML whose root is a feed's (RSS, RDF, Atom, an Atom entry).
    XmlFeed,
    /// A JSON Feed, already parsed.
    JsonFeed(Value),
    /// JSON that announces itself as a JSON Feed but is broken: the error to report.
    BrokenJsonFeed(anyhow::Error),
    /// Starts like JSON (a `{`): JSONL.
    Json,
    /// XML that is not a feed: the message to report (names what it is).
    NotAFeed(String),
    /// An XHTML page, or anything else: an article.
    Other,
}

/// Tells what `text` (read from `origin`) is.
pub fn classify(origin: &str, text: &str) -> Classified {
    let trimmed = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
    if trimmed.starts_with('{') {
        return json::classify(origin, trimmed);
    }
    let Some((root, declared_xml)) = xml_root(text) else { return Classified::Other };
    match xml::kind_of_root(root) {
        XmlKind::Rss | XmlKind::Rdf | XmlKind::Atom | XmlKind::AtomEntry => Classified::XmlFeed,
        XmlKind::Cdf => Classified::NotAFeed(format!(
            "input {origin} is a Channel Definition Format (CDF) file, a feed format precis does not read; give the site's RSS or Atom feed instead"
        )),
        XmlKind::Opml => Classified::NotAFeed(format!("input {origin} is an OPML outline (a list of feeds), not a feed; give the feeds it lists instead")),
        XmlKind::Xhtml => Classified::Other,
        XmlKind::Other(name) if declared_xml || name.contains(':') => Classified::NotAFeed(format!(
            "input {origin} is an XML document whose root element is <{name}>, not a feed (RSS, RDF or Atom); precis batch reads feeds, JSONL, directories and article files"
        )),
        XmlKind::Other(_) => Classified::Other,
    }
}

/// The root element's name of an XML text, and whether the text declares itself XML;
/// also past text before an XML declaration near the start (which `repair` drops).
fn xml_root(text: &str) -> Option<(&str, bool)> {
    if let Some(root) = repair::root_start_tag(text) {
        let declared = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}').starts_with("<?xml");
        return Some((root.name, declared));
    }
    let head = &text[..text.char_indices().nth(4096).map_or(text.len(), |(index, _)| index)];
    let declaration = head.find("<?xml ")?;
    repair::root_start_tag(&text[declaration..]).map(|root| (root.name, true))
}

/// Reads a text classified as `XmlFeed`; `base_url` is the feed's address when downloaded.
pub fn read_xml_feed(origin: &str, text: &str, base_url: Option<&str>) -> Result<FeedRead> {
    xml::read(origin, text, base_url)
}

/// Reads a JSON Feed classified as `JsonFeed`.
pub fn read_json_feed(origin: &str, feed: &Value) -> Result<FeedRead> {
    json::read(origin, feed)
}

/// A JSON Feed's version as a format name.
fn json_feed_format(version: &str) -> String {
    match version.trim_end_matches('/').rsplit('/').next() {
        Some(number) if !number.is_empty() && number.chars().all(|c| c.is_ascii_digit() || c == '.') => format!("JSON Feed {number}"),
        _ => "JSON Feed".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::item::ItemBody;

    #[test]
    fn classifies_by_root_element_past_declaration_comments_and_doctype() {
        assert!(matches!(classify("a", "<?xml version=\"1.0\"?>\n<!-- c -->\n<rss version=\"2.0\">"), Classified::XmlFeed));
        assert!(matches!(classify("a", "\u{FEFF}<feed xmlns=\"http://www.w3.org/2005/Atom\">"), Classified::XmlFeed));
        assert!(matches!(classify("a", "<!DOCTYPE rss PUBLIC \"-//Netscape Communications//DTD RSS 0.91//EN\" \"http://my.netscape.com/publish/formats/rss-0.91.dtd\">\n<rss>"), Classified::XmlFeed));
        assert!(matches!(classify("a", "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">"), Classified::XmlFeed));
        assert!(matches!(classify("a", "<entry xmlns=\"http://www.w3.org/2005/Atom\">"), Classified::XmlFeed));
        assert!(matches!(classify("a", "<!DOCTYPE html><html><body>"), Classified::Other));
        assert!(matches!(classify("a", "<?xml version=\"1.0\"?><html xmlns=\"http://www.w3.org/1999/xhtml\">"), Classified::Other));
        assert!(matches!(classify("a", "<p>A paragraph.</p>"), Classified::Other));
        assert!(matches!(classify("a", "plain words"), Classified::Other));
        assert!(matches!(classify("a", "{\"id\": 1}"), Classified::Json));
    }

    #[test]
    fn other_xml_and_cdf_name_what_they_are() {
        let message = |text: &str| match classify("f.xml", text) {
            Classified::NotAFeed(message) => message,
            other => panic!("{other:?}"),
        };
        assert!(message("<?xml version=\"1.0\"?><catalog><book/></catalog>").contains("root element is <catalog>"));
        assert!(message("<?xml version=\"1.0\"?><CHANNEL HREF=\"x\"></CHANNEL>").contains("Channel Definition Format"));
        assert!(message("<opml version=\"1.0\"><body/></opml>").contains("OPML"));
    }

    /// Not a timing claim (bench/feed-scaling.sh measures): counting each item's line from the
    /// file's start made 100,000 items take hours; linear, it takes seconds even unoptimized.
    #[test]
    fn a_feed_of_many_items_on_one_line_and_on_many_is_read_in_linear_time() {
        for separator in ["", "\n"] {
            let items: String = (0..100_000).map(|i| format!("<item><guid>{i}</guid><description>Item {i} rose.</description></item>{separator}")).collect();
            let feed = format!("<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel>{items}</channel></rss>\n");
            let started = std::time::Instant::now();
            let read = read_xml_feed("big.rss", &feed, None).unwrap();
            assert_eq!(read.items.len(), 100_000);
            let last = &read.items[99_999].source;
            let expected = if separator.is_empty() { format!("(line 2, column {})", feed.rfind("<item>").unwrap() - feed.find("<rss").unwrap() + 1) } else { "(line 100001, column 1)".to_string() };
            assert!(last.ends_with(&expected), "{last} vs {expected}");
            assert!(started.elapsed() < std::time::Duration::from_secs(120), "{:?}", started.elapsed());
        }
    }

    #[test]
    fn malformed_xml_names_feed_line_and_column() {
        let error = read_xml_feed("bad.rss", "<rss><channel>\n<item><title>x</item>", None).unwrap_err().to_string();
        assert!(error.contains("bad.rss") && error.contains("line 2"), "{error}");
        let error = read_xml_feed("cut.rss", "<rss><channel>\n<item><title>x</title></item>\n", None).unwrap_err().to_string();
        assert!(error.contains("truncated") && error.contains("line 2"), "{error}");
    }

    #[test]
    fn rss_prefers_full_content_over_description() {
        let feed = r#"<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
            <item><guid>a</guid><title>T</title><description>teaser</description><content:encoded><![CDATA[<p>Full text of it.</p>]]></content:encoded></item>
            <item><guid>b</guid><description>only a teaser</description></item>
            <item><link>https://example.org/c</link></item>
        </channel></rss>"#;
        let read = read_xml_feed("f.rss", feed, None).unwrap();
        assert_eq!(read.format, "RSS 2.0");
        let items = read.items;
        assert_eq!(items.len(), 3);
        assert!(matches!(&items[0].body, ItemBody::ContentHtml(h) if h == "<p>Full text of it.</p>"));
        assert!(matches!(&items[1].body, ItemBody::ContentHtml(h) if h == "only a teaser"));
        assert!(matches!(&items[2].body, ItemBody::LinkOnly(l) if l == "https://example.org/c"));
        assert_eq!(items[0].title.as_deref(), Some("T"));
        assert!(items[1].source.contains("item 2 (line 3, column 13)"), "{}", items[1].source);
    }

    mod properties {
        use super::super::{classify, read_xml_feed, Classified};
        use proptest::prelude::*;

        /// Feed-like markup: the constructs the repairs and the reader look at, broken and
        /// shuffled, with arbitrary characters between.
        fn feed_soup() -> impl Strategy<Value = String> {
            #[rustfmt::skip]
            const PIECES: &[&str] = &[
                "<?xml version=\"1.0\"?>", "<rss version=\"2.0\">", "</rss>", "<channel>", "</channel>", "<item>", "</item>",
                "<title>", "</title>", "<description>", "</description>", "<feed xmlns=\"http://www.w3.org/2005/Atom\">", "</feed>",
                "<entry>", "</entry>", "<content type=\"xhtml\">", "<content mode=\"base64\" type=\"text/html\">", "</content>",
                "<div xmlns=\"http://www.w3.org/1999/xhtml\">", "</div>", "<media:description>", "</media:description>",
                "<content:encoded>", "</content:encoded>", "<![CDATA[", "]]>", "<!--", "-->", "<!DOCTYPE rss [", "]>",
                "<!ENTITY e \"&#60;\">", "&e;", "&nbsp;", "&amp;", "&", "&#0;", "&#x1F600;", "&#xD800;", "&unknown;", "&eacute",
                ";", "<", ">", "\"", "'", "=", "/", "\n", " ", "é", "日本", "\u{1}", "\u{FFFF}", "\u{FEFF}", "xml:base=\"/a\"",
                "<link href=\"x\"/>", "<link>http://e.org/a</link>", "<guid>g</guid>", "<rdf:RDF>", "</rdf:RDF>",
            ];
            let piece = prop_oneof![
                6 => proptest::sample::select(PIECES).prop_map(str::to_string),
                2 => "[A-Za-z ]{1,8}",
                1 => any::<char>().prop_map(String::from),
            ];
            const ROOTS: &[&str] = &["", "<rss>", "\n<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><item>", "<feed><entry>", "<entry>", "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><item>"];
            (proptest::sample::select(ROOTS), proptest::collection::vec(piece, 0..50)).prop_map(|(root, pieces)| format!("{root}{}", pieces.concat()))
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

            /// Whatever the markup, reading it ends in items or an error naming the feed; no panic,
            /// and every item's position is in the file.
            #[test]
            fn any_feed_soup_reads_or_fails_cleanly(text in feed_soup()) {
                if matches!(classify("soup.xml", &text), Classified::XmlFeed) {
                    match read_xml_feed("soup.xml", &text, None) {
                        Ok(read) => {
                            let lines = text.split('\n').count();
                            for item in read.items {
                                let line: usize = item.source.split("(line ").nth(1).and_then(|rest| rest.split(',').next()).and_then(|n| n.parse().ok()).unwrap_or(0);
                                prop_assert!(line >= 1 && line <= lines, "{} outside {lines} lines", item.source);
                            }
                        }
                        Err(error) => prop_assert!(error.to_string().contains("soup.xml"), "{error}"),
                    }
                }
            }
        }
    }

    #[test]
    fn positions_are_the_original_files_after_repairs() {
        let feed = "\n<?xml version=\"1.0\"?>\n<rss><channel><title>A&nbsp;&eacute;&nbsp;B</title>\n<item><title>x</title></item></channel></rss>";
        let read = read_xml_feed("f.rss", feed, None).unwrap();
        assert!(read.items[0].source.ends_with("(line 4, column 1)"), "{}", read.items[0].source);
        assert_eq!(read.warnings.len(), 2, "{:?}", read.warnings);
        let error = read_xml_feed("f.rss", "\n\n<?xml version=\"1.0\"?>\n<rss>&nbsp;<a></b></rss>", None).unwrap_err().to_string();
        assert!(error.contains("line 4, column 15"), "{error}");
    }
}
