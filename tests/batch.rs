//! End to end tests of `precis batch`: the real binary with the extractive engine (no model), on
//! feed fixtures written for these tests (tests/fixtures/feeds/) and on generated collections.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{precis, root, scratch};

use serde_json::Value;

const FEEDS: &str = "tests/fixtures/feeds";

/// `precis batch --engine extractive`, isolated from the real Hub and caches (`common::precis`).
fn batch(cache: &Path) -> Command {
    let mut command = precis(cache);
    command.args(["batch", "--engine", "extractive"]);
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("run precis")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Parses JSONL, failing on any line that is not a complete JSON object.
fn records(jsonl: &str) -> Vec<Value> {
    assert!(jsonl.is_empty() || jsonl.ends_with('\n'), "output does not end with a newline: {jsonl:?}");
    jsonl
        .lines()
        .enumerate()
        .map(|(index, line)| serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("line {} is not JSON ({e}): {line}", index + 1)))
        .inspect(|record| assert!(record.is_object()))
        .collect()
}

fn stdout_records(output: &Output) -> Vec<Value> {
    records(&String::from_utf8_lossy(&output.stdout))
}

fn file_records(path: &Path) -> Vec<Value> {
    records(&std::fs::read_to_string(path).expect("read output"))
}

fn ids(records: &[Value]) -> Vec<String> {
    records.iter().map(|r| r["id"].as_str().expect("id").to_string()).collect()
}

fn assert_summarized(record: &Value) {
    assert!(record["error"].is_null(), "unexpected error: {record}");
    assert!(!record["headline"].as_str().expect("headline").trim().is_empty(), "{record}");
    assert!(!record["abstract"].as_str().expect("abstract").trim().is_empty(), "{record}");
    assert!(!record["bullets"].as_array().expect("bullets").is_empty(), "{record}");
    assert_eq!(record["engine"]["abstract"], "extractive", "{record}");
    assert!(record["stats"]["input_words"].as_u64().expect("stats") > 0, "{record}");
    assert_eq!(record["key"].as_str().expect("key").len(), 64, "{record}");
}

fn by_id(records: &[Value]) -> HashMap<String, Value> {
    records.iter().map(|r| (r["id"].as_str().expect("id").to_string(), r.clone())).collect()
}

/// An invented, distinct news paragraph for item `n`.
fn generated_article(n: usize) -> String {
    let topics = ["street lighting", "the harbor wall", "school buses", "a new playground", "river cleanup", "library books", "bicycle lanes"];
    let days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"];
    let topic = topics[n % topics.len()];
    let day = days[n % days.len()];
    format!(
        "The planning committee of district {n} met on {day} to discuss {topic}. \
         Members agreed to spend {} thousand on {topic} over the next year. \
         A spokesperson said residents of district {n} had waited a long time for the decision. \
         Several shop owners welcomed the plan, but two members voted against it. \
         The next meeting of the committee in district {n} is planned for the spring.",
        (n * 37) % 900 + 10
    )
}

/// Writes `count` generated JSONL items (`gen-0`…) to `path`.
fn write_generated_jsonl(path: &Path, count: usize) {
    let mut file = std::fs::File::create(path).expect("create jsonl");
    for n in 0..count {
        let line = serde_json::json!({"id": format!("gen-{n}"), "title": format!("District {n} plan"), "text": generated_article(n)});
        writeln!(file, "{line}").expect("write jsonl");
    }
}

fn assert_each_once(records: &[Value], count: usize) {
    let ids = ids(records);
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an item appears twice");
    assert_eq!(ids.len(), count, "items missing");
    for n in 0..count {
        assert!(unique.contains(&format!("gen-{n}")), "gen-{n} missing");
    }
}

#[test]
fn rss_items_are_summarized_from_full_content_with_their_metadata() {
    let cache = scratch("rss");
    let output = run(batch(&cache).arg(format!("{FEEDS}/news.rss")));
    assert!(output.status.success(), "{}", stderr(&output));
    let records = stdout_records(&output);
    assert_eq!(ids(&records), ["gazette-ferry-returns", "gazette-library-hours", "gazette-school-garden"]);
    for record in &records {
        assert_summarized(record);
    }
    let ferry = &records[0];
    assert_eq!(ferry["title"], "Ferry service returns after winter repairs");
    assert_eq!(ferry["link"], "https://gazette.example.org/ferry-returns");
    assert_eq!(ferry["published"], "Mon, 02 Mar 2026 08:00:00 +0000");
    // content:encoded, not the one-line teaser in <description>.
    assert!(ferry["stats"]["input_words"].as_u64().unwrap() > 40, "{ferry}");
    assert!(!ferry["abstract"].as_str().unwrap().contains("teaser"), "{ferry}");
    // An escaped-HTML description is read as HTML: no tags in the output.
    assert!(!records[1]["abstract"].as_str().unwrap().contains("<p>"), "{}", records[1]);
    assert!(stderr(&output).contains("3 summarized, 0 failed"), "{}", stderr(&output));
}

#[test]
fn atom_entries_are_summarized_from_html_and_xhtml_content() {
    let cache = scratch("atom");
    let output = run(batch(&cache).arg(format!("{FEEDS}/news.atom")));
    assert!(output.status.success(), "{}", stderr(&output));
    let records = stdout_records(&output);
    assert_eq!(ids(&records), ["urn:example:valley-weekly:bridge", "urn:example:valley-weekly:orchard"]);
    for record in &records {
        assert_summarized(record);
    }
    assert_eq!(records[0]["link"], "https://valley.example.org/bridge");
    assert_eq!(records[0]["published"], "2026-03-05T07:00:00Z");
    assert!(records[0]["abstract"].as_str().unwrap().contains("bridge"), "{}", records[0]);
    assert_eq!(records[1]["published"], "2026-03-06T09:00:00Z", "updated stands in for a missing published");
    assert!(records[1]["abstract"].as_str().unwrap().contains("orchard"), "{}", records[1]);
}

#[test]
fn json_feed_items_are_summarized_from_content_html_and_content_text() {
    let cache = scratch("jsonfeed");
    let output = run(batch(&cache).arg(format!("{FEEDS}/news.json")));
    assert!(output.status.success(), "{}", stderr(&output));
    let records = stdout_records(&output);
    assert_eq!(ids(&records), ["coast-1", "coast-2"]);
    for record in &records {
        assert_summarized(record);
    }
    assert_eq!(records[1]["title"], "Seal count rises on the northern sandbanks");
    assert!(records[1]["abstract"].as_str().unwrap().contains("seals"), "{}", records[1]);
}

#[test]
fn malformed_feed_is_an_error_naming_the_feed_and_position() {
    let cache = scratch("malformed");
    let output = run(batch(&cache).arg(format!("{FEEDS}/news.rss")).arg(format!("{FEEDS}/malformed.rss")));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("malformed.rss") && message.contains("line 8"), "{message}");
    assert!(output.stdout.is_empty(), "nothing is summarized when an input is unreadable");
}

#[test]
fn directory_input_reads_text_markdown_and_html_files_recursively() {
    let cache = scratch("directory");
    let output = run(batch(&cache).arg(format!("{FEEDS}/articles")));
    assert!(output.status.success(), "{}", stderr(&output));
    let records = stdout_records(&output);
    let ids = ids(&records);
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(ids[0].ends_with("a-market.txt") && ids[1].ends_with("b-choir.md") && ids[2].ends_with("c-station.html"), "{ids:?}");
    for record in &records {
        assert_summarized(record);
    }
}

#[test]
fn jsonl_failing_item_is_recorded_and_the_exit_status_is_nonzero() {
    let cache = scratch("jsonl");
    let output = run(batch(&cache).arg(format!("{FEEDS}/items.jsonl")));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let records = stdout_records(&output);
    assert_eq!(ids(&records), ["jl-1", "jl-2", "jl-3", "jl-4"]);
    for index in [0, 1, 3] {
        assert_summarized(&records[index]);
    }
    let failed = &records[2];
    assert!(failed["error"].as_str().expect("error message").contains("no text"), "{failed}");
    assert!(failed["headline"].is_null() && failed["abstract"].is_null(), "{failed}");
    assert_eq!(failed["title"], "An item with no text");
    assert!(stderr(&output).contains("1 of 4 items failed"), "{}", stderr(&output));
}

#[test]
fn jsonl_on_standard_input() {
    let cache = scratch("stdin");
    let mut child = batch(&cache).arg("-").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let lines = std::fs::read_to_string(root().join(FEEDS).join("items.jsonl")).expect("fixture");
    child.stdin.take().expect("stdin").write_all(lines.as_bytes()).expect("write stdin");
    let output = child.wait_with_output().expect("wait");
    assert_eq!(ids(&stdout_records(&output)), ["jl-1", "jl-2", "jl-3", "jl-4"]);
}

#[test]
fn duplicate_items_are_summarized_once() {
    let cache = scratch("duplicates");
    let jsonl = cache.join("dups.jsonl");
    let same_text = generated_article(1);
    let lines = [
        serde_json::json!({"id": "one", "url": "https://example.org/one", "text": same_text}),
        serde_json::json!({"id": "one", "text": generated_article(2)}),
        serde_json::json!({"id": "two", "url": "https://example.org/one", "text": generated_article(3)}),
        serde_json::json!({"id": "three", "text": same_text}),
        serde_json::json!({"id": "four", "text": generated_article(4)}),
    ];
    std::fs::write(&jsonl, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).expect("write");
    // The same feed twice, too: its items are the same guids.
    let output = run(batch(&cache).arg(&jsonl).arg(format!("{FEEDS}/news.rss")).arg(format!("{FEEDS}/news.rss")));
    assert!(output.status.success(), "{}", stderr(&output));
    let records = stdout_records(&output);
    assert_eq!(ids(&records), ["one", "four", "gazette-ferry-returns", "gazette-library-hours", "gazette-school-garden"]);
    assert!(stderr(&output).contains("6 duplicates"), "{}", stderr(&output));
}

#[test]
fn resume_after_truncation_and_a_torn_line_finishes_every_item_once() {
    let cache = scratch("resume");
    let items = cache.join("items.jsonl");
    write_generated_jsonl(&items, 30);
    let full = cache.join("full.jsonl");
    let output = run(batch(&cache).arg(&items).arg("--out").arg(&full));
    assert!(output.status.success(), "{}", stderr(&output));
    let complete = file_records(&full);
    assert_each_once(&complete, 30);

    // Keep 10 whole lines and half of the 11th, as a machine crash mid-write could.
    let text = std::fs::read_to_string(&full).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    let partial = cache.join("partial.jsonl");
    let torn = &lines[10][..lines[10].len() / 2];
    std::fs::write(&partial, format!("{}\n{torn}", lines[..10].join("\n"))).expect("write partial");
    let output = run(batch(&cache).arg(&items).arg("--out").arg(&partial).arg("--resume"));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("torn last line"), "{}", stderr(&output));
    assert!(stderr(&output).contains("20 summarized") && stderr(&output).contains("10 already in the output"), "{}", stderr(&output));
    let resumed = file_records(&partial);
    assert_each_once(&resumed, 30);
    // The resumed records are the ones a single run writes.
    let keys = |records: &[Value]| records.iter().map(|r| r["key"].as_str().unwrap().to_string()).collect::<HashSet<_>>();
    assert_eq!(keys(&resumed), keys(&complete));

    // A second resume has nothing left to do.
    let output = run(batch(&cache).arg(&items).arg("--out").arg(&partial).arg("--resume"));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_each_once(&file_records(&partial), 30);
}

#[test]
fn existing_output_is_not_overwritten_without_resume() {
    let cache = scratch("no-overwrite");
    let out = cache.join("out.jsonl");
    std::fs::write(&out, "{\"key\":\"k\"}\n").expect("write");
    let output = run(batch(&cache).arg(format!("{FEEDS}/news.json")).arg("--out").arg(&out));
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("--resume"), "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(&out).expect("read"), "{\"key\":\"k\"}\n");
}

#[test]
fn killed_mid_batch_then_resumed_every_item_once() {
    let cache = scratch("kill");
    let items = cache.join("items.jsonl");
    let count = 4000;
    write_generated_jsonl(&items, count);
    let out = cache.join("out.jsonl");
    let mut child = batch(&cache).arg(&items).arg("--out").arg(&out).arg("--jobs").arg("2").stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let written = std::fs::read_to_string(&out).map(|t| t.lines().count()).unwrap_or(0);
        if written >= 20 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("kill -9");
    let status = child.wait().expect("wait");
    assert!(!status.success(), "the batch finished before it could be killed; make it longer");
    let before = file_records(&out);
    assert!(before.len() < count, "killed mid-batch");
    let output = run(batch(&cache).arg(&items).arg("--out").arg(&out).arg("--resume").arg("--jobs").arg("2"));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_each_once(&file_records(&out), count);
}

#[test]
fn shards_partition_the_items_exactly() {
    let cache = scratch("shards");
    let items = cache.join("items.jsonl");
    write_generated_jsonl(&items, 60);
    let mut seen = Vec::new();
    for shard in 1..=3 {
        let output = run(batch(&cache).arg(&items).arg("--shard").arg(format!("{shard}/3")));
        assert!(output.status.success(), "{}", stderr(&output));
        let mut records = stdout_records(&output);
        // A sharded output starts with its plan line (tests/shard.rs checks it with `precis merge`).
        assert!(records.remove(0).get("precis_shard_plan").is_some(), "shard {shard}: no plan line first");
        assert!(!records.is_empty() && records.len() < 60, "shard {shard}: {} items", records.len());
        seen.extend(records);
    }
    assert_each_once(&seen, 60);
    let whole = run(batch(&cache).arg(&items));
    let whole = by_id(&stdout_records(&whole));
    for record in &seen {
        assert_eq!(whole[record["id"].as_str().unwrap()]["key"], record["key"], "the key does not depend on the shard");
    }
}

#[test]
fn several_jobs_write_the_same_records_as_one() {
    let cache = scratch("jobs");
    let items = cache.join("items.jsonl");
    write_generated_jsonl(&items, 40);
    let one = run(batch(&cache).arg(&items).args(["--jobs", "1"]));
    let two = run(batch(&cache).arg(&items).args(["--jobs", "2"]));
    assert!(one.status.success() && two.status.success(), "{}{}", stderr(&one), stderr(&two));
    let (one, two) = (by_id(&stdout_records(&one)), by_id(&stdout_records(&two)));
    assert_eq!(one.len(), 40);
    for (id, record) in &one {
        assert_eq!(record["abstract"], two[id]["abstract"], "{id}");
        assert_eq!(record["key"], two[id]["key"], "{id}");
    }
}

#[test]
fn bad_shard_and_resume_without_out_are_command_line_errors() {
    let cache = scratch("usage");
    for args in [vec!["--shard", "4/3"], vec!["--shard", "0/2"], vec!["--resume"], vec!["--jobs", "0"]] {
        let output = run(batch(&cache).arg(format!("{FEEDS}/news.json")).args(&args));
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
    }
}

/// A loopback HTTP server for `--fetch` and feed URLs: `/feed.rss` (teaser items linking to the
/// pages below), `/article` (an article page), `/slow` (answers after 3 s), `/faults.rss` (items
/// linking to the faulty pages below), `/feed-error.rss` (500), `/feed-login.rss` (an HTML
/// page instead of the feed), anything else 404. Its thread is detached and ends with the test
/// binary. The faulty pages: `/dropped` (the connection closes mid-body), `/stall` (half the
/// body, then silence), `/error500`, `/endless` (a body that never ends).
fn serve_news() -> String {
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let feed = format!(
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Loopback News</title>
<item><guid>teaser</guid><title>Town hall roof</title><link>{base}/article</link><description>The roof is being fixed.</description></item>
<item><guid>missing</guid><title>Gone</title><link>{base}/missing</link><description>A page that was removed.</description></item>
<item><guid>slow</guid><title>Slow</title><link>{base}/slow</link></item>
</channel></rss>"#
    );
    let faults = format!(
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Faulty News</title>
<item><guid>dropped</guid><title>Dropped</title><link>{base}/dropped</link></item>
<item><guid>stall</guid><title>Stalled</title><link>{base}/stall</link></item>
<item><guid>error500</guid><title>Server error</title><link>{base}/error500</link></item>
<item><guid>endless</guid><title>Endless</title><link>{base}/endless</link></item>
<item><guid>teaser</guid><title>Town hall roof</title><link>{base}/article</link></item>
</channel></rss>"#
    );
    let article = "<!DOCTYPE html><html><head><title>Town hall roof repaired</title></head><body><nav><a href='/'>Home</a></nav><article>\
        <h1>Town hall roof repaired</h1>\
        <p>Roofers finished replacing the slate roof of the town hall on Wednesday, two weeks ahead of schedule.</p>\
        <p>The old roof had leaked into the council chamber during the autumn storms, and meetings had moved to the school gym.</p>\
        <p>The mayor said the council would meet in the chamber again from next month, once the ceiling has been painted.</p>\
        <p>The work was paid for from a fund set aside for repairs to public buildings.</p>\
        </article></body></html>";
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (feed, faults) = (feed.clone(), faults.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(match stream.try_clone() {
                    Ok(s) => s,
                    Err(_) => return,
                });
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    return;
                }
                let mut header = String::new();
                while reader.read_line(&mut header).map(|n| n > 2).unwrap_or(false) {
                    header.clear();
                }
                let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let mut stream = stream;
                let head = |status: &str, length: usize| format!("HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n");
                match path.as_str() {
                    "/dropped" => {
                        // Promises the whole article, sends a fifth of it and hangs up.
                        let _ = write!(stream, "{}{}", head("200 OK", article.len()), &article[..article.len() / 5]);
                        let _ = stream.shutdown(std::net::Shutdown::Both);
                        return;
                    }
                    "/stall" => {
                        let _ = write!(stream, "{}{}", head("200 OK", article.len()), &article[..article.len() / 2]);
                        let _ = stream.flush();
                        std::thread::sleep(Duration::from_secs(10));
                        return;
                    }
                    "/endless" => {
                        // No length, no end: only the client's size cap stops it.
                        let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n<html><body>");
                        let paragraph = "<p>The council met again and talked for a very long time about the same things.</p>\n".repeat(100);
                        while stream.write_all(paragraph.as_bytes()).is_ok() {}
                        return;
                    }
                    _ => {}
                }
                let (status, body) = match path.as_str() {
                    "/faults.rss" => ("200 OK", faults),
                    "/error500" | "/feed-error.rss" => ("500 Internal Server Error", "<html><body><h1>Internal Server Error</h1></body></html>".to_string()),
                    "/feed-login.rss" => ("200 OK", "<!DOCTYPE html><html><head><title>Sign in</title></head><body><h1>Sign in to read our feeds</h1><form><input name='user'></form></body></html>".to_string()),
                    "/feed.rss" => ("200 OK", feed),
                    "/article" => ("200 OK", article.to_string()),
                    "/slow" => {
                        std::thread::sleep(Duration::from_secs(3));
                        ("200 OK", article.to_string())
                    }
                    _ => ("404 Not Found", "not here".to_string()),
                };
                let _ = write!(stream, "{}{body}", head(status, body.len()));
            });
        }
    });
    base
}

#[test]
fn fetch_downloads_teaser_pages_and_records_404_and_timeout() {
    let cache = scratch("fetch");
    let base = serve_news();
    let output = run(batch(&cache).arg(format!("{base}/feed.rss")).args(["--fetch", "--fetch-timeout", "0.5"]));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let records = by_id(&stdout_records(&output));
    assert_eq!(records.len(), 3);
    let fetched = &records["teaser"];
    assert_summarized(fetched);
    assert_eq!(fetched["title"], "Town hall roof", "the feed's title is kept");
    assert!(fetched["stats"]["input_words"].as_u64().unwrap() > 50, "the page, not the teaser: {fetched}");
    assert!(!fetched["abstract"].as_str().unwrap().contains("Home"), "{fetched}");
    let missing = records["missing"]["error"].as_str().expect("404 recorded");
    assert!(missing.contains("404"), "{missing}");
    let slow = records["slow"]["error"].as_str().expect("timeout recorded");
    assert!(slow.contains("/slow") && slow.to_lowercase().contains("timed out"), "{slow}");
}

#[test]
fn without_fetch_a_link_only_item_is_skipped_with_a_hint() {
    let cache = scratch("no-fetch");
    let base = serve_news();
    let output = run(batch(&cache).arg(format!("{base}/feed.rss")));
    assert!(output.status.success(), "a skipped item is not a failure: {}", stderr(&output));
    let records = by_id(&stdout_records(&output));
    assert_summarized(&records["teaser"]);
    assert!(records["teaser"]["stats"]["input_words"].as_u64().unwrap() < 10, "the teaser itself");
    let slow = &records["slow"];
    assert!(slow["error"].is_null() && slow["abstract"].is_null(), "{slow}");
    assert!(slow["skipped"].as_str().expect("skipped").contains("--fetch"), "{slow}");
    assert!(stderr(&output).contains("2 summarized, 0 failed, 1 skipped"), "{}", stderr(&output));
}

#[test]
fn since_keeps_items_published_on_or_after_the_date() {
    let cache = scratch("since");
    let output = run(batch(&cache).arg(format!("{FEEDS}/news.rss")).arg(format!("{FEEDS}/news.atom")).arg(format!("{FEEDS}/articles")).args(["--since", "2026-03-04"]));
    assert!(output.status.success(), "{}", stderr(&output));
    let ids = ids(&stdout_records(&output));
    assert_eq!(&ids[..3], ["gazette-school-garden", "urn:example:valley-weekly:bridge", "urn:example:valley-weekly:orchard"], "{ids:?}");
    assert_eq!(ids.len(), 6, "undated files are kept: {ids:?}");
    let message = stderr(&output);
    assert!(message.contains("2 older than --since") && message.contains("3 items without a readable date"), "{message}");
}

/// With a model, items of similar length go through it together; batching must not change what
/// any item gets: every record equals `precis summarize` of that item alone.
#[test]
fn model_batches_give_the_same_summaries_as_one_item_at_a_time() {
    const BART: &str = "tests/fixtures/models/bart-tiny";
    const T5: &str = "tests/fixtures/models/t5-tiny";
    let cache = scratch("model-batches");
    let items = cache.join("items.jsonl");
    let mut file = std::fs::File::create(&items).expect("create jsonl");
    let mut texts = HashMap::new();
    for n in 0..9 {
        // Three to five sentences: three length groups.
        let text = generated_article(n).split_inclusive(". ").take(3 + n % 3).collect::<String>();
        writeln!(file, "{}", serde_json::json!({"id": format!("gen-{n}"), "text": text})).expect("write jsonl");
        texts.insert(format!("gen-{n}"), text);
    }
    drop(file);
    let model_args = ["--engine", "abstractive", "--model", BART, "--headline-model", T5];
    let output = run(precis(&cache).arg("batch").arg(&items).args(model_args).args(["--jobs", "1"]));
    assert!(output.status.success(), "{}", stderr(&output));
    let batched = by_id(&stdout_records(&output));
    assert_eq!(batched.len(), 9);
    let largest_batch = batched.values().filter_map(|r| r["stats"]["batch_size"].as_u64()).max().unwrap_or(0);
    assert!(largest_batch >= 2, "no item went through the model with another: {batched:?}");
    for (id, text) in &texts {
        let path = cache.join(format!("{id}.txt"));
        std::fs::write(&path, text).expect("write article");
        let alone = run(precis(&cache).arg("summarize").arg(&path).args(model_args).args(["--format", "json"]));
        assert!(alone.status.success(), "{}", stderr(&alone));
        let alone: Value = serde_json::from_slice(&alone.stdout).expect("json");
        let record = &batched[id];
        assert_eq!(alone["stats"]["batch_size"], 1, "{alone}");
        for field in ["headline", "abstract", "bullets"] {
            assert_eq!(record[field], alone[field], "{id} {field} (batch of {})", record["stats"]["batch_size"]);
        }
    }
}

/// Ctrl-C (SIGINT) mid-batch: the finished records are whole lines, and `--resume` finishes the rest.
#[test]
fn interrupted_with_ctrl_c_then_resumed_every_item_once() {
    let cache = scratch("sigint");
    let items = cache.join("items.jsonl");
    let count = 4000;
    write_generated_jsonl(&items, count);
    let out = cache.join("out.jsonl");
    let mut child = batch(&cache).arg(&items).arg("--out").arg(&out).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::fs::read_to_string(&out).map(|t| t.lines().count()).unwrap_or(0) < 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let interrupt = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("run kill");
    assert!(interrupt.success());
    let status = child.wait().expect("wait");
    assert!(!status.success(), "the batch finished before it could be interrupted; make it longer");
    let before = file_records(&out);
    assert!(!before.is_empty() && before.len() < count, "interrupted mid-batch: {} records", before.len());
    let output = run(batch(&cache).arg(&items).arg("--out").arg(&out).arg("--resume"));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_each_once(&file_records(&out), count);
}

#[test]
fn fetch_faults_are_recorded_per_item_and_the_batch_goes_on() {
    let cache = scratch("fetch-faults");
    let base = serve_news();
    let started = Instant::now();
    let output = run(batch(&cache).arg(format!("{base}/faults.rss")).args(["--fetch", "--fetch-timeout", "1"]));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let records = by_id(&stdout_records(&output));
    assert_eq!(records.len(), 5, "{records:?}");
    assert_summarized(&records["teaser"]);
    let error = |id: &str| records[id]["error"].as_str().unwrap_or_else(|| panic!("{id} has no error: {}", records[id])).to_string();
    let dropped = error("dropped");
    assert!(dropped.contains(&format!("{base}/dropped")) && dropped.contains("closed before all bytes were read"), "{dropped}");
    let stall = error("stall");
    assert!(stall.contains(&format!("{base}/stall")) && stall.to_lowercase().contains("timed out"), "{stall}");
    let server_error = error("error500");
    assert!(server_error.contains(&format!("{base}/error500")) && server_error.contains("HTTP 500"), "{server_error}");
    let endless = error("endless");
    assert!(endless.contains(&format!("{base}/endless")) && endless.contains("over 5 MiB"), "{endless}");
    assert!(stderr(&output).contains("4 of 5 items failed"), "{}", stderr(&output));
    assert!(started.elapsed() < Duration::from_secs(60), "faults took {:?}", started.elapsed());
}

#[test]
fn a_feed_url_that_fails_or_serves_a_web_page_stops_the_batch_naming_it() {
    let cache = scratch("feed-faults");
    let base = serve_news();
    for (path, expected) in [
        ("/feed-error.rss", "500"),
        ("/feed-login.rss", "answered with an HTML page, not an RSS, Atom or JSON feed"),
        ("/dropped", "closed before all bytes were read"),
        ("/missing.rss", "404"),
    ] {
        let url = format!("{base}{path}");
        let output = run(batch(&cache).arg(format!("{FEEDS}/news.rss")).arg(&url));
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{path}: {message}");
        assert!(message.contains(&url) && message.contains(expected), "{path}: expected {expected:?} in {message}");
        assert!(!message.contains("panicked"), "{message}");
        assert!(output.stdout.is_empty(), "{path}: nothing is summarized when an input cannot be read");
    }
}

#[test]
fn output_that_becomes_unwritable_mid_batch_keeps_whole_records_and_resume_finishes() {
    let cache = scratch("unwritable");
    let items = cache.join("items.jsonl");
    let count = 60;
    write_generated_jsonl(&items, count);
    let out = cache.join("out.jsonl");
    // Tests may run as root, whom file permissions do not stop. A file size limit does: with
    // `ulimit -f` (512-byte blocks) writes past 32 KiB fail with EFBIG, as on a full disk; the
    // signal that would kill the process instead is ignored, as a shell user's would be.
    let output = run(Command::new("sh")
        .arg("-c")
        .arg("ulimit -f 64 && trap '' XFSZ && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_precis"))
        .args(["batch", "--engine", "extractive"])
        .arg(&items)
        .arg("--out")
        .arg(&out)
        .current_dir(root())
        .env("HF_HUB_CACHE", &cache)
        .env("HF_ENDPOINT", "http://127.0.0.1:9"));
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(message.contains("cannot write to output") && message.contains("File too large") && message.contains("--resume"), "{message}");
    let written = file_records(&out);
    assert!(!written.is_empty() && written.len() < count, "{} records before the limit", written.len());
    assert_eq!(ids(&written).iter().collect::<HashSet<_>>().len(), written.len(), "an item appears twice");

    let output = run(batch(&cache).arg(&items).arg("--out").arg(&out).arg("--resume"));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains(&format!("{} already in the output", written.len())), "{}", stderr(&output));
    assert_each_once(&file_records(&out), count);

    // A device that is always full.
    let output = run(batch(&cache).arg(&items).args(["--out", "/dev/full"]));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("cannot write to output /dev/full: No space left on device"), "{}", stderr(&output));
}

#[test]
fn killed_at_random_points_then_resumed_every_item_once() {
    let cache = scratch("random-kills");
    let items = cache.join("items.jsonl");
    let count = 1500;
    write_generated_jsonl(&items, count);
    let out = cache.join("out.jsonl");
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1;
    let mut state = seed;
    let mut next_delay = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        // From before the inputs are read to well into the run.
        Duration::from_millis(state % 1500)
    };
    for round in 1..=5 {
        let delay = next_delay();
        let mut child = batch(&cache).arg(&items).arg("--out").arg(&out).args(["--resume", "--jobs", "2"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
        std::thread::sleep(delay);
        child.kill().expect("kill -9");
        child.wait().expect("wait");
        // Every line whole (`records` fails on a torn one), no item twice.
        let written = if out.exists() { file_records(&out) } else { Vec::new() };
        let unique: HashSet<String> = ids(&written).into_iter().collect();
        assert_eq!(unique.len(), written.len(), "seed {seed}, round {round} (killed after {delay:?}): an item appears twice");
    }
    let output = run(batch(&cache).arg(&items).arg("--out").arg(&out).args(["--resume", "--jobs", "2"]));
    assert!(output.status.success(), "seed {seed}: {}", stderr(&output));
    assert_each_once(&file_records(&out), count);
}

/// `precis batch … | head -1`: the reader going away is not an error of precis's (no message,
/// exit 0), however much output was still to come.
#[test]
fn a_reader_that_goes_away_ends_the_batch_quietly() {
    let cache = scratch("broken-pipe");
    let items = cache.join("items.jsonl");
    // Far more than a pipe buffer of output, so writing must meet the closed pipe.
    write_generated_jsonl(&items, 2000);
    let mut child = batch(&cache).arg(&items).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stderr(&output).contains("error"), "{}", stderr(&output));
}
