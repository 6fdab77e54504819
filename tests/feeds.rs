//! Real-world feeds through `precis batch` (the real binary, extractive engine): the feed-rs
//! corpus read in place from `../shared/feeds/feed-rs/` against its manifest, and one small
//! fixture per case in `tests/fixtures/feeds/cases/` (written by `make_cases.py` there):
//! encodings, the repairs feed readers make, the formats, which field is summarized, items
//! with nothing to summarize, and what is refused.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{precis, root, scratch};

use serde_json::Value;

const CASES: &str = "tests/fixtures/feeds/cases";

fn batch(name: &str, inputs: &[&str]) -> Output {
    let cache = scratch(name);
    let mut command = precis(&cache);
    command.args(["batch", "--engine", "extractive"]).args(inputs);
    command.output().expect("run precis")
}

fn case(file: &str) -> String {
    format!("{CASES}/{file}")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn records(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout).lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))).collect()
}

fn by_id(records: &[Value]) -> HashMap<String, Value> {
    records.iter().map(|r| (r["id"].as_str().expect("id").to_string(), r.clone())).collect()
}

/// The generated text of a record: headline, abstract and bullets.
fn generated(record: &Value) -> String {
    let mut parts = vec![record["headline"].as_str().unwrap_or_default().to_string(), record["abstract"].as_str().unwrap_or_default().to_string()];
    parts.extend(record["bullets"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string));
    parts.join(" ")
}

/// Markup left in generated text: a tag, an entity or character reference, a CDATA end.
fn raw_markup(text: &str) -> Option<String> {
    for (index, character) in text.char_indices() {
        let rest = &text[index + character.len_utf8()..];
        if character == '<' {
            let name: String = rest.trim_start_matches('/').chars().take_while(char::is_ascii_alphabetic).collect();
            if !name.is_empty() && rest.find('>').is_some_and(|end| end < 200) {
                return Some(text[index..].chars().take(40).collect());
            }
        }
        if character == '&' {
            let reference = rest.trim_start_matches('#');
            let name: String = reference.chars().take_while(char::is_ascii_alphanumeric).collect();
            if !name.is_empty() && reference[name.len()..].starts_with(';') {
                return Some(text[index..].chars().take(20).collect());
            }
        }
    }
    text.contains("]]>").then(|| "]]>".to_string())
}

fn assert_summarized(record: &Value) {
    assert!(record["error"].is_null() && record["skipped"].is_null(), "not summarized: {record}");
    for field in ["headline", "abstract"] {
        assert!(!record[field].as_str().unwrap_or_default().trim().is_empty(), "no {field}: {record}");
    }
    assert!(record["stats"]["input_words"].as_u64().unwrap_or(0) > 0, "{record}");
    if let Some(markup) = raw_markup(&generated(record)) {
        panic!("raw markup {markup:?} in {record}");
    }
}

fn assert_skipped(record: &Value, reason: &str) {
    assert!(record["error"].is_null() && record["abstract"].is_null(), "{record}");
    let skipped = record["skipped"].as_str().unwrap_or_else(|| panic!("not skipped: {record}"));
    assert!(skipped.contains(reason), "skipped for another reason than {reason:?}: {record}");
}

/// Exit status 1, nothing written, and a message naming the input and containing each part.
fn assert_refused(output: &Output, file: &str, parts: &[&str]) {
    let message = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(output.stdout.is_empty(), "nothing is summarized: {}", String::from_utf8_lossy(&output.stdout));
    assert!(message.contains(file), "{message}");
    for part in parts {
        assert!(message.contains(part), "{part:?} missing in: {message}");
    }
}

/// The warning appears exactly once on stderr, and in every record.
fn assert_warned_once(output: &Output, records: &[Value], warning: &str) {
    let message = stderr(output);
    assert_eq!(message.matches(warning).count(), 1, "{warning:?} not stated exactly once in: {message}");
    for record in records {
        let warnings = record["warnings"].as_array().expect("warnings");
        assert!(warnings.iter().filter_map(Value::as_str).any(|w| w.contains(warning)), "{warning:?} missing in {record}");
    }
}

// ---- the feed-rs corpus, in place ----

fn corpus_dir() -> PathBuf {
    root().join("../shared/feeds/feed-rs")
}

/// Items a feed holds by a count independent of precis's reader: `<item>`/`<entry>` start
/// tags (of any prefix) in XML, the `items` array in JSON.
fn independent_item_count(path: &Path) -> usize {
    let bytes = std::fs::read(path).expect("read corpus file");
    if path.extension().is_some_and(|e| e == "json") {
        let feed: Value = serde_json::from_slice(&bytes).expect("corpus JSON");
        return feed["items"].as_array().map_or(0, Vec::len);
    }
    let text = String::from_utf8_lossy(&bytes);
    let starts = |name: &str| {
        text.match_indices('<')
            .filter(|(at, _)| {
                let tag = &text[at + 1..];
                let local = tag.split(|c: char| c.is_whitespace() || c == '>' || c == '/').next().unwrap_or("");
                let local = local.rsplit(':').next().unwrap_or("");
                local == name && !tag.starts_with('/')
            })
            .count()
    };
    // An Atom entry document is one entry; an RSS item may hold no nested items.
    starts("item") + starts("entry")
}

#[test]
fn every_valid_feed_of_the_feed_rs_corpus_is_read_and_every_malformed_file_refused() {
    let directory = corpus_dir();
    let Ok(manifest) = std::fs::read_to_string(directory.join("MANIFEST.jsonl")) else {
        eprintln!("SKIPPED: the shared feed corpus is not at {} (expected ../shared/feeds/feed-rs/ beside the repository)", directory.display());
        return;
    };
    let (mut valid, mut summarized, mut skipped, mut malformed) = (0, 0, 0, 0);
    for line in manifest.lines().filter(|line| !line.trim().is_empty()) {
        let entry: Value = serde_json::from_str(line).expect("manifest line");
        let file = entry["file"].as_str().expect("file");
        let path = directory.join(file);
        let path_arg = path.to_str().expect("utf-8 path");
        let output = batch("corpus", &[path_arg]);
        let records = records(&output);
        match entry["expected"].as_str() {
            Some("valid") => {
                valid += 1;
                assert!(output.status.success(), "{file}: {}", stderr(&output));
                let message = stderr(&output);
                let duplicates: usize = message.split(" duplicates").next().and_then(|head| head.rsplit(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0);
                assert_eq!(records.len() + duplicates, independent_item_count(&path), "{file}: every item has a record: {message}");
                for record in &records {
                    if record["skipped"].is_null() {
                        assert_summarized(record);
                        summarized += 1;
                    } else {
                        assert!(record["error"].is_null(), "{file}: {record}");
                        skipped += 1;
                    }
                }
            }
            Some("malformed") => {
                malformed += 1;
                let message = stderr(&output);
                assert_eq!(output.status.code(), Some(1), "{file}: {message}");
                assert!(message.contains(file), "{file}: the message names the file: {message}");
                assert!(records.iter().all(|r| r["abstract"].is_null()), "{file}: nothing summarized from it");
            }
            other => panic!("{file}: unknown expectation {other:?}"),
        }
    }
    assert_eq!((valid, malformed), (64, 5), "the manifest's 64 valid feeds and 5 malformed files");
    // Measured on this corpus: 100 items summarized; 2 have nothing to summarize (an image only,
    // a link only).
    assert_eq!((summarized, skipped), (100, 2));
}

#[test]
fn corpus_encodings_and_repairs_read_as_feed_rs_reads_them() {
    let directory = corpus_dir();
    if !directory.is_dir() {
        eprintln!("SKIPPED: the shared feed corpus is not at {}", directory.display());
        return;
    }
    let read = |file: &str| {
        let path = directory.join(file);
        let output = batch("corpus-detail", &[path.to_str().expect("path")]);
        assert!(output.status.success(), "{file}: {}", stderr(&output));
        (records(&output), stderr(&output))
    };
    // ISO-8859-1 declared: decoded, read as a feed.
    let (records, _) = read("rss_2.0_encoding_1.xml");
    assert_eq!(records.len(), 1);
    assert!(records[0]["title"].as_str().expect("title").contains("Revolução"), "{}", records[0]);
    // A newline before the XML declaration, stated once.
    let (records, message) = read("atom_example_4.xml");
    assert_summarized(&records[0]);
    assert!(message.contains("before the XML declaration"), "{message}");
    // &nbsp; in an RSS 2.0 feed.
    let (records, message) = read("rss_2.0_dbengines.xml");
    assert_summarized(&records[0]);
    assert!(message.contains("&nbsp;"), "{message}");
    // The Atom entry document is one item, with its title.
    let (records, _) = read("atom_entry_1.xml");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["title"], "Specifications");
    // content:encoded of "..." loses to the description.
    let (records, _) = read("rss_2.0_relurl_1.xml");
    assert!(records[0]["abstract"].as_str().expect("abstract").contains("compression"), "{}", records[0]);
}

// ---- encodings ----

#[test]
fn declared_and_marked_encodings_are_decoded_and_read_as_feeds() {
    let output = batch("latin1", &[&case("latin1.rss")]);
    let latin1 = records_of(&output);
    assert_eq!(latin1[0]["title"], "Inovação na pesca");
    assert!(generated(&latin1[0]).contains("fábrica"), "{}", latin1[0]);
    assert!(latin1[0]["warnings"].as_array().expect("warnings").is_empty(), "a declared encoding is no guess");

    let output = batch("euc-kr", &[&case("euc-kr.rss")]);
    assert_eq!(records_of(&output)[0]["title"], "항구 여객선 운항 재개");
    assert!(generated(&records_of(&output)[0]).contains("여객선"));

    for file in ["utf16le-bom.atom", "utf16be-no-bom.atom"] {
        let output = batch("utf16", &[&case(file)]);
        let german = records_of(&output);
        assert_eq!(german[0]["title"], "Fähre fährt wieder", "{file}");
        assert!(generated(&german[0]).contains("Hafenfähre"), "{file}: {}", german[0]);
    }
    let output = batch("utf16-no-bom", &[&case("utf16be-no-bom.atom")]);
    assert!(stderr(&output).contains("no byte-order mark; read as UTF-16BE"), "{}", stderr(&output));

    let output = batch("utf32", &[&case("utf32le-bom.rss")]);
    assert_summarized(&records_of(&output)[0]);
    assert!(generated(&records_of(&output)[0]).contains("harbour ferry"));
}

fn records_of(output: &Output) -> Vec<Value> {
    assert!(output.status.success(), "{}", stderr(output));
    records(output)
}

#[test]
fn encoding_guesses_and_corrections_are_warnings_and_unknown_encodings_are_refused() {
    let output = batch("mislabelled", &[&case("mislabelled-utf8.rss")]);
    let records = records_of(&output);
    assert!(generated(&records[0]).contains("café"), "{}", records[0]);
    assert_warned_once(&output, &records, "declares the encoding \"ISO-8859-1\" in its XML declaration, but its bytes are valid UTF-8");

    let output = batch("cp1252", &[&case("undeclared-cp1252.rss")]);
    let records = records_of(&output);
    assert_eq!(records[0]["title"], "Café reopens");
    assert_warned_once(&output, &records, "decoded as Windows-1252");

    let output = batch("unknown-encoding", &[&case("unknown-encoding.rss")]);
    assert_refused(&output, "unknown-encoding.rss", &["\"x-unheard-of\"", "iconv"]);
    // A feed that declares nothing and is neither UTF-8 nor Western text is refused as a feed.
    let output = batch("shift-jis", &[&case("undeclared-shift-jis.rss")]);
    assert_refused(&output, "undeclared-shift-jis.rss", &["is not valid UTF-8 and does not look like Windows-1252"]);
}

#[test]
fn the_servers_charset_decides_for_a_downloaded_feed_and_page() {
    let base = serve_encoded();
    let output = batch("http-charset", &[&format!("{base}/latin1.rss")]);
    let records = records_of(&output);
    assert_eq!(records[0]["title"], "Inovação na pesca");
    assert!(records[0]["warnings"].as_array().expect("warnings").is_empty(), "the server said: no guess, {}", records[0]);

    // --fetch: a teaser's page in Windows-1251, as the server says.
    let output = batch("http-charset-fetch", &[&format!("{base}/teaser.rss"), "--fetch"]);
    let records = records_of(&output);
    assert!(generated(&records[0]).contains("паром"), "{}", records[0]);
}

/// Serves `/latin1.rss` (ISO-8859-1 bytes, no XML declaration, `charset=ISO-8859-1`),
/// `/teaser.rss` (an item linking to `/page`) and `/page` (Windows-1251 bytes,
/// `charset=windows-1251`, no `<meta>`).
fn serve_encoded() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let latin1: Vec<u8> = "<rss version=\"2.0\"><channel><title>Notícias</title><item><guid>l1</guid><title>Inovação na pesca</title><description>A cooperativa inaugurou uma fábrica de gelo na terça-feira.</description></item></channel></rss>"
        .chars()
        .map(|c| u8::try_from(u32::from(c)).expect("latin-1"))
        .collect();
    let teaser = format!("<rss version=\"2.0\"><channel><title>T</title><item><guid>t1</guid><title>Ferry</title><link>{base}/page</link><description>Short.</description></item></channel></rss>").into_bytes();
    // "Паром вернулся в понедельник. Пассажиры довольны." in Windows-1251.
    let russian = "Паром вернулся в понедельник после ремонта. Пассажиры говорят, что паром быстрее автобуса.";
    let page: Vec<u8> = format!("<html><body><article><p>{russian}</p></article></body></html>").chars().map(windows_1251).collect();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(match stream.try_clone() {
                Ok(stream) => stream,
                Err(_) => continue,
            });
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut header = String::new();
            while reader.read_line(&mut header).map(|n| n > 2).unwrap_or(false) {
                header.clear();
            }
            let (content_type, body) = match request.split_whitespace().nth(1) {
                Some("/latin1.rss") => ("application/rss+xml; charset=ISO-8859-1", latin1.clone()),
                Some("/teaser.rss") => ("application/rss+xml", teaser.clone()),
                Some("/page") => ("text/html; charset=windows-1251", page.clone()),
                _ => ("text/plain", b"not here".to_vec()),
            };
            let mut stream = stream;
            let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(&body);
        }
    });
    base
}

/// The Windows-1251 byte of an ASCII or Russian character.
fn windows_1251(character: char) -> u8 {
    match character {
        'А'..='я' => (u32::from(character) - u32::from('А') + 0xC0) as u8,
        'ё' => 0xB8,
        'Ё' => 0xA8,
        c => u8::try_from(u32::from(c)).expect("ASCII"),
    }
}

// ---- repairs ----

#[test]
fn what_feed_readers_tolerate_is_repaired_and_stated_once() {
    let cases: &[(&str, &str)] = &[
        ("leading-blank-lines.atom", "2 blank character(s) before the XML declaration"),
        ("html-entities.rss", "HTML entity reference(s) that XML does not define (&eacute;, &ecirc;, &hellip;, &mdash;)"),
        ("netscape-0.91.rss", "the external DTD that may define them is not fetched"),
        ("undeclared-prefix.rss", "the namespace prefix `media:` is used without a declaration"),
        ("bare-ampersands.rss", "5 bare “&” character(s)"),
        ("text-after-root.rss", "after the end of the <rss> element were ignored"),
        ("control-characters.rss", "2 control character(s) that XML forbids"),
    ];
    for (file, warning) in cases {
        let output = batch("repairs", &[&case(file)]);
        assert!(output.status.success(), "{file}: {}", stderr(&output));
        let records = records(&output);
        assert_eq!(records.len(), 1, "{file}");
        assert_summarized(&records[0]);
        assert_warned_once(&output, &records, warning);
    }
    let output = batch("entities", &[&case("html-entities.rss")]);
    let record = &records(&output)[0];
    assert_eq!(record["title"], "Café reopens — with crêpes");
    assert!(generated(record).contains("Friday – with"), "{record}");
    let output = batch("ampersands", &[&case("bare-ampersands.rss")]);
    let record = &records(&output)[0];
    assert_eq!(record["title"], "P&O ferry returns");
    assert_eq!(record["link"], "http://example.org/story?id=7&src=rss");
    let output = batch("control", &[&case("control-characters.rss")]);
    assert_eq!(records(&output)[0]["title"], "Ferry returns");
}

#[test]
fn broken_structure_is_refused_with_its_line_and_column() {
    assert_refused(&batch("truncated", &[&case("truncated.rss")]), "truncated.rss", &["is truncated", "line 4, column 37", "<rss>"]);
    assert_refused(&batch("mismatched", &[&case("mismatched-tags.rss")]), "mismatched-tags.rss", &["line 3, column 27", "</description>", "<title>"]);
    assert_refused(&batch("bomb", &[&case("entity-expansion.rss")]), "entity-expansion.rss", &["entities refer to each other too deeply"]);
}

#[test]
fn xml_that_is_not_a_feed_and_cdf_are_refused_naming_what_they_are() {
    assert_refused(&batch("catalog", &[&case("catalog.xml")]), "catalog.xml", &["root element is <catalog>", "not a feed"]);
    assert_refused(&batch("cdf", &[&case("channel.cdf")]), "channel.cdf", &["Channel Definition Format (CDF)", "does not read"]);
}

// ---- formats ----

#[test]
fn rss_0_90_and_1_0_are_read() {
    let output = batch("rss090", &[&case("rss-0.90.rdf")]);
    let records = records_of(&output);
    assert_eq!(records.len(), 2);
    assert_eq!(records[1]["title"], "Market moves");
    assert_eq!(records[1]["link"], "http://harbour.example.org/market");
    assert_skipped(&records[1], "only a link");

    let output = batch("rss10", &[&case("rss-1.0.rdf")]);
    let records = records_of(&output);
    assert_summarized(&records[0]);
    assert_eq!(records[0]["id"], "http://harbour.example.org/ferry");
    assert_eq!(records[0]["published"], "2026-03-02T08:00:00Z");
    assert!(records[0]["stats"]["input_words"].as_u64().expect("words") > 30, "content:encoded, not \"Ferry back.\"");
}

#[test]
fn atom_0_3_escaped_base64_and_inline_xml_content_is_read() {
    let output = batch("atom03", &[&case("atom-0.3.xml")]);
    let records = by_id(&records_of(&output));
    assert_eq!(records.len(), 3);
    for record in records.values() {
        assert_summarized(record);
    }
    assert_eq!(records["atom03-escaped"]["title"], "Ferry returns");
    assert_eq!(records["atom03-escaped"]["published"], "2026-03-02T08:00:00Z");
    let market = &records["atom03-base64"];
    assert!(generated(market).contains("talk of the quay"), "base64 decoded: {market}");
    assert_eq!(market["published"], "2026-03-03T08:00:00Z");
    assert_eq!(records["atom03-xml"]["stats"]["input_words"], 14, "both sentences of the inline XHTML: {}", records["atom03-xml"]);
}

#[test]
fn an_atom_entry_document_is_one_item() {
    let output = batch("entry", &[&case("atom-entry.xml")]);
    let records = records_of(&output);
    assert_eq!(records.len(), 1);
    assert_summarized(&records[0]);
    assert_eq!(records[0]["id"], "urn:example:entry");
    assert_eq!(records[0]["link"], "http://harbour.example.org/ferry");
}

#[test]
fn atom_text_stays_text_and_base64_that_is_not_text_is_refused() {
    let output = batch("text-types", &[&case("atom-text-types.atom")]);
    let records = by_id(&records_of(&output));
    let text = &records["text-type"];
    assert_eq!(text["title"], "Bold tags", "an HTML title without its tags");
    assert!(text["abstract"].as_str().expect("abstract").contains("write <b> before it and </b> after it"), "type=\"text\" is not read as HTML: {text}");
    assert_skipped(&records["base64-image"], "base64-encoded image/png, not text");
    assert!(generated(&records["content-src"]).contains("harbour ferry"), "the summary, not the empty out-of-line content");
}

#[test]
fn json_feed_1_0_items() {
    let output = batch("jsonfeed10", &[&case("jsonfeed-1.0.json")]);
    let records = by_id(&records_of(&output));
    assert_summarized(&records["jf-summary"]);
    assert_skipped(&records["jf-image"], "only media");
    assert_summarized(&records["7"]);
}

// ---- which text ----

#[test]
fn the_longest_real_text_field_is_summarized() {
    let output = batch("best-field", &[&case("best-field.rss")]);
    let records = by_id(&records_of(&output));
    assert_eq!(records.len(), 5);
    for record in records.values() {
        assert_summarized(record);
    }
    let words = |id: &str| records[id]["stats"]["input_words"].as_u64().expect("words");
    assert!(words("placeholder-content") > 25, "the description, not \"...\"");
    assert!(generated(&records["media-description"]).contains("video"), "{}", records["media-description"]);
    assert!(generated(&records["itunes-summary"]).contains("podcast"), "{}", records["itunes-summary"]);
    assert!(generated(&records["xhtml-body"]).contains("body"), "{}", records["xhtml-body"]);
    // Loose text before a paragraph is the item's text too.
    assert_eq!(words("loose-text"), 17, "{}", records["loose-text"]);
}

// ---- nothing to summarize ----

#[test]
fn items_with_nothing_to_summarize_are_skipped_and_the_batch_succeeds() {
    let output = batch("nothing", &[&case("nothing-to-summarize.rss")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let records = by_id(&records(&output));
    assert_summarized(&records["has-text"]);
    assert_skipped(&records["title-only"], "it has a title but no text");
    assert_skipped(&records["link-only"], "only a link (http://example.org/elsewhere); pass --fetch");
    assert_skipped(&records["image-only"], "only media");
    assert_skipped(&records["image-html"], "no text (only images or markup)");
    assert_skipped(&records["ellipsis"], "placeholder (\"…\")");
    assert_eq!(records["title-only"]["title"], "Just a headline", "the title is kept");
    assert!(stderr(&output).contains("1 summarized, 0 failed, 5 skipped"), "{}", stderr(&output));
}

#[test]
fn a_feed_with_no_items_is_a_notice() {
    let output = batch("no-items", &[&case("no-items.rss")]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(output.stdout.is_empty());
    assert!(stderr(&output).contains("notice: feed tests/fixtures/feeds/cases/no-items.rss (RSS 2.0) has no items"), "{}", stderr(&output));
    // No model is loaded for nothing, and the output exists (empty), as for any run.
    let out = scratch("no-items-out").join("digest.jsonl");
    let cache = scratch("no-items-cache");
    let output = precis(&cache).args(["batch", "--engine", "abstractive", "--offline", "--out", out.to_str().expect("path"), &case("no-items.rss")]).output().expect("run precis");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(&out).expect("the output file"), "");
    // Beside other feeds, too.
    let output = batch("no-items-and-more", &[&case("no-items.rss"), &case("latin1.rss")]);
    assert_eq!(records_of(&output).len(), 1);
}
