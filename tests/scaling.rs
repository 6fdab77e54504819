//! Odd input shapes at about 2 MB through the real binary, each under a generous time bound,
//! so a step that is quadratic in some shape cannot come back unnoticed. The bound is not a
//! speed claim (a debug build on a busy machine): linear work takes a few seconds here, while
//! a quadratic step on 2 MB takes hours. Speed and memory at 1, 10 and 50 MB are measured by
//! `bench/scaling.sh` (README "Scaling"), with the same shapes.

mod common;

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;

const SIZE: usize = 2_000_000;
/// Far above what linear work takes in a debug build under load, far below quadratic.
const TIME_BOUND: Duration = Duration::from_secs(120);

const SEED_ARTICLE: &str = include_str!("../samples/abe-cameron-summit.txt");

/// `unit` repeated to fill about `budget` bytes (never more).
fn fill(unit: &str, budget: usize) -> String {
    unit.repeat(budget / unit.len())
}

fn article_html() -> String {
    SEED_ARTICLE.split("\n\n").skip(1).map(str::trim).filter(|p| !p.is_empty()).map(|p| format!("<p>{p}</p>")).collect()
}

fn page(inner: &str) -> String {
    format!("<!DOCTYPE html><html><head><title>Abe and Cameron</title></head><body>{inner}</body></html>")
}

/// One input of the shape `name`, about `size` bytes, and its file extension.
fn shape(name: &str, size: usize) -> (String, &'static str) {
    let article = article_html();
    let room = size.saturating_sub(article.len() + 200);
    match name {
        "nested-divs" => {
            let levels = room / "<div></div>".len();
            (page(&format!("{}{article}{}", "<div>".repeat(levels), "</div>".repeat(levels))), "html")
        }
        "empty-spans" => {
            let spans = fill("<span></span>", room / 2);
            (page(&format!("<div>{spans}</div><article>{article}</article><div>{spans}</div>")), "html")
        }
        "huge-attribute" => (page(&format!("<div data-blob=\"{}\"><article>{article}</article></div>", fill("x", room))), "html"),
        "huge-comment" => (page(&format!("<!-- {} --><article>{article}</article>", fill("comment text without end ", room))), "html"),
        "entities" => {
            let sentence = "Caf&eacute; owners &amp; their &#8220;regulars&#8221; paid &euro;5 &mdash; or &#x24;6 &ndash; for &lt;b&gt;bread&lt;/b&gt;&nbsp;today. ";
            (page(&fill(&format!("<p>{}</p>\n", sentence.repeat(8)), room)), "html")
        }
        "one-word" => (fill("abcdefghijklmnopqrstuvwxyz", size), "txt"),
        "repeated-words" => (fill("word ", size), "txt"),
        "tiny-sentences" => {
            let line: String = (0..100).map(|i| format!("{}. ", ["Bav", "Kel", "Tos", "Mir", "Dun"][i % 5])).collect();
            (fill(&format!("{}\n", line.trim_end()), size), "txt")
        }
        "long-words" => {
            let long_word = "ka".repeat(5_000) + "lumbo";
            let url = format!("https://example.com/{}?{}", ["news", "world", "asia"].repeat(300).join("/"), (0..300).map(|i| format!("k{i}=v{i}")).collect::<Vec<_>>().join("&"));
            let sentence = format!("The ministry published the report at {url} on Tuesday, and officials called it {long_word} in a statement. Critics said the findings were incomplete.\n\n");
            (fill(&sentence, size), "txt")
        }
        "mixed-scripts" => {
            let paragraph = "Премьер-министр Абэ встретился с Кэмероном в Лондоне в четверг. 安倍晋三首相は木曜日にロンドンでキャメロン首相と会談した。 \
                التقى رئيس الوزراء آبي بكاميرون في لندن يوم الخميس. Zoë and Chloe\u{301} met Ñan\u{303}du at the cafe\u{301} \u{1F600} on Thursday. \
                Z\u{351}\u{352}\u{353}a\u{354}\u{355}\u{356}l\u{357}\u{358}\u{359}g\u{35a}o text is still text, officials said. \
                प्रधानमंत्री आबे ने गुरुवार को लंदन में कैमरन से मुलाकात की। Ο πρωθυπουργός Άμπε συναντήθηκε με τον Κάμερον στο Λονδίνο.\n\n";
            (fill(paragraph, size), "txt")
        }
        "nested-quotes" => {
            let cycle: String = (1..=500).chain((1..500).rev()).map(|depth| format!("{} The council met again on Tuesday to discuss the budget.\n", ">".repeat(depth))).collect();
            let mut text = "# Quotes\n\n".to_string();
            while text.len() + cycle.len() <= size {
                text.push_str(&cycle);
            }
            (text, "md")
        }
        "feed" => {
            let mut text = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Wire</title>\n".to_string();
            let mut item = 0;
            while text.len() < size {
                text.push_str(&format!("<item><guid>{item}</guid><description>Item {item} rose.</description></item>\n"));
                item += 1;
            }
            text.push_str("</channel></rss>\n");
            (text, "rss")
        }
        "giant-jsonl" => {
            let prose = fill(&(SEED_ARTICLE.to_string() + "\n\n"), size);
            (serde_json::json!({ "id": "giant", "text": prose }).to_string() + "\n", "jsonl")
        }
        other => panic!("unknown shape {other}"),
    }
}

struct Workspace {
    dir: PathBuf,
    cache: PathBuf,
}

impl Workspace {
    fn new(name: &str) -> Workspace {
        let dir = common::scratch(&format!("scaling-{name}"));
        let cache = dir.join("cache");
        std::fs::write(dir.join("summary.txt"), "Abe met Cameron in London on Thursday. The two leaders agreed on 28 points.\n").expect("write summary");
        Workspace { dir, cache }
    }

    fn input(&self, name: &str) -> PathBuf {
        let (text, extension) = shape(name, SIZE);
        assert!(text.len() > SIZE * 9 / 10 && text.len() <= SIZE * 11 / 10, "{name}: {} bytes", text.len());
        let path = self.dir.join(format!("{name}.{extension}"));
        std::fs::write(&path, text).expect("write input");
        path
    }

    /// Runs precis with `args`, checks it succeeded within [`TIME_BOUND`], returns the output.
    fn run(&self, what: &str, args: &[&str]) -> Output {
        let started = Instant::now();
        let output = common::precis(&self.cache).args(args).output().expect("run precis");
        let took = started.elapsed();
        assert!(output.status.success(), "{what}: {}", String::from_utf8_lossy(&output.stderr));
        assert!(took < TIME_BOUND, "{what} took {took:?} on {SIZE} bytes: is a step superlinear again?");
        eprintln!("{what}: {took:?}");
        output
    }
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

/// `summarize --engine extractive`, `extract` and `check` on one text shape; returns the
/// summary record and the extracted text.
fn text_commands(name: &str) -> (Value, String) {
    let workspace = Workspace::new(name);
    let input = workspace.input(name);
    let input = input.to_str().expect("utf-8 path");
    let summary = json(&workspace.run(&format!("{name} summarize"), &["summarize", input, "--engine", "extractive", "--format", "json", "--quiet"]));
    assert!(!summary["abstract"].as_str().unwrap_or_default().is_empty(), "{name}: {summary}");
    let extracted = json(&workspace.run(&format!("{name} extract"), &["extract", input, "--format", "json"]));
    let text = extracted["text"].as_str().unwrap_or_default().to_string();
    let summary_path = workspace.dir.join("summary.txt");
    let check = json(&workspace.run(&format!("{name} check"), &["check", "--article", input, "--summary", summary_path.to_str().expect("utf-8 path"), "--format", "json"]));
    assert!(check.is_object(), "{name}: {check}");
    (summary, text)
}

/// A sentence of the seed article's body, which every HTML shape carries whole.
const LEAD: &str = "Britain is one of the 28 members of the bloc.";

fn assert_article_found(name: &str, text: &str) {
    assert!(text.contains(LEAD), "{name}: the article is not in the extracted text: {}", &text[..text.len().min(300)]);
}

#[test]
fn deeply_nested_elements() {
    let (_, text) = text_commands("nested-divs");
    assert_article_found("nested-divs", &text);
}

#[test]
fn very_many_empty_elements() {
    let (_, text) = text_commands("empty-spans");
    assert_article_found("empty-spans", &text);
}

#[test]
fn a_huge_attribute() {
    let (_, text) = text_commands("huge-attribute");
    assert_article_found("huge-attribute", &text);
}

#[test]
fn a_huge_comment() {
    let (_, text) = text_commands("huge-comment");
    assert_article_found("huge-comment", &text);
    assert!(!text.contains("comment text"));
}

#[test]
fn many_entities() {
    let (_, text) = text_commands("entities");
    assert!(text.contains("Café owners & their “regulars” paid €5 — or $6 – for <b>bread</b>"), "{}", &text[..text.len().min(300)]);
}

#[test]
fn one_huge_line_without_spaces_or_punctuation() {
    let (summary, text) = text_commands("one-word");
    assert_eq!(text.len(), SIZE / 26 * 26);
    assert_eq!(summary["stats"]["input_sentences"], 1);
}

#[test]
fn one_line_of_repeated_words() {
    let (summary, _) = text_commands("repeated-words");
    assert_eq!(summary["stats"]["input_words"], SIZE / 5);
}

#[test]
fn a_million_tiny_sentences() {
    let (summary, _) = text_commands("tiny-sentences");
    // 100 sentences of 5 bytes a line ("Bav. " …, the last without its space, then "\n").
    assert_eq!(summary["stats"]["input_sentences"], SIZE / 500 * 100);
}

#[test]
fn very_long_words_and_urls() {
    let (summary, _) = text_commands("long-words");
    assert!(summary["abstract"].as_str().unwrap_or_default().contains("Critics said"), "{summary}");
}

#[test]
fn mixed_scripts_and_combining_characters() {
    let (_, text) = text_commands("mixed-scripts");
    assert!(text.contains("安倍晋三首相は木曜日にロンドンでキャメロン首相と会談した。"));
    assert!(text.contains("Chloe\u{301}"));
}

#[test]
fn deeply_nested_markdown_quotes() {
    let (_, text) = text_commands("nested-quotes");
    assert!(text.contains("The council met again on Tuesday to discuss the budget."));
}

/// `batch --engine extractive` on one feed-like shape; returns the output records.
fn batch(name: &str) -> Vec<Value> {
    let workspace = Workspace::new(name);
    let input = workspace.input(name);
    let out = workspace.dir.join("out.jsonl");
    workspace.run(
        &format!("{name} batch"),
        &["batch", input.to_str().expect("utf-8 path"), "--engine", "extractive", "--out", out.to_str().expect("utf-8 path"), "--quiet"],
    );
    std::fs::read_to_string(&out).expect("batch output").lines().map(|line| serde_json::from_str(line).expect("a JSON record")).collect()
}

#[test]
fn a_feed_of_tens_of_thousands_of_items() {
    let records = batch("feed");
    let items = shape("feed", SIZE).0.matches("<item>").count();
    assert_eq!(records.len(), items);
}

#[test]
fn a_giant_jsonl_line() {
    let records = batch("giant-jsonl");
    assert_eq!(records.len(), 1);
    assert!(records[0]["abstract"].as_str().unwrap_or_default().contains("Abe"), "{}", records[0]);
}
