//! Items → work: each item's document (or why it is skipped or fails), content hash and key;
//! duplicates within the run, `--shard` assignment and `--resume` skips.
//!
//! The key is sha256 of the normalized content together with the engine actually used, the
//! model names and every setting that changes the output; two runs with the same key would
//! write the same record, so `--resume` may skip it and `--shard` may assign by it.

use std::collections::HashSet;

use clap::ValueEnum;
use sha2::{Digest, Sha256};

use super::item::{BatchItem, ItemBody};
use crate::engine::placement::Precision;
use crate::input::{self, Document, SourceFormat};
use crate::pipeline::SummarizeOptions;
use crate::render::EngineKind;

/// `--shard I/N`: this process takes the items whose key hashes to I (1-based) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Parses `I/N` with 1 ≤ I ≤ N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let usage = || format!("'{text}' is not a shard; give I/N with 1 ≤ I ≤ N, e.g. --shard 2/8");
        let (index, count) = text.split_once('/').ok_or_else(usage)?;
        let index: u64 = index.trim().parse().map_err(|_| usage())?;
        let count: u64 = count.trim().parse().map_err(|_| usage())?;
        if count == 0 || index == 0 || index > count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }

    /// Stable across machines, runs and precis versions that keep the key: the key's first
    /// 64 bits modulo N.
    pub fn owns(&self, key: &str) -> bool {
        let prefix = key.get(..16).and_then(|hex| u64::from_str_radix(hex, 16).ok()).unwrap_or(0);
        prefix % self.count == self.index - 1
    }
}

/// What a worker does with an item.
#[derive(Debug, Clone)]
pub enum Task {
    /// Summarize the item's document.
    Summarize(PlannedDocument),
    /// Download the linked page (`--fetch`), then summarize it.
    FetchAndSummarize(String),
    /// Nothing to summarize: record the item as skipped, with this reason.
    Skip(String),
    /// Record the item as failed, with this reason.
    Fail(String),
}

/// The document planning read for an item, as it waits for a worker.
#[derive(Debug, Clone)]
pub enum PlannedDocument {
    /// A large document, kept: made again, the article would be held twice, in two threads'
    /// memory.
    Kept(Box<Document>),
    /// A small one, made again from the item by the worker (`document_for` gives the same
    /// document): kept, it held a small item's text and names twice more. Its bytes of text.
    Remade { text_bytes: usize },
}

impl PlannedDocument {
    pub fn text_bytes(&self) -> usize {
        match self {
            PlannedDocument::Kept(document) => document.text.len(),
            PlannedDocument::Remade { text_bytes } => *text_bytes,
        }
    }
}

/// Documents of at least this many bytes of text are kept from planning (`PlannedDocument`).
const KEEP_DOCUMENT_BYTES: usize = 64 * 1024;

/// One item ready to be summarized (or recorded as failed).
#[derive(Debug, Clone)]
pub struct WorkItem {
    pub item: BatchItem,
    pub task: Task,
    pub key: RecordKey,
}

/// A record's key (what `--resume` and `merge` match records by), kept as its digest until the
/// record is written: as hex text it took 88 bytes more an item, more than a small feed item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordKey([u8; 32]);

impl RecordKey {
    /// The key as records carry it: lowercase hex.
    pub fn hex(&self) -> String {
        hex(&self.0)
    }
}

/// What planning decided, with counts for the final summary.
#[derive(Debug, Default)]
pub struct Plan {
    pub work: Vec<WorkItem>,
    pub duplicates: usize,
    pub other_shards: usize,
    pub already_done: usize,
    /// Items published before `--since`.
    pub too_old: usize,
    /// Items kept under `--since` because their date could not be read.
    pub undated: usize,
    /// With `--shard`, every item of the plan of all shards (after `--since` and duplicates,
    /// before the shard and resume filters), in input order: what a sharded output records
    /// (`shard_plan`). Empty without `--shard`, which has no use for it.
    pub planned: Vec<PlannedItem>,
}

/// An item of the plan, whichever shard owns it.
#[derive(Debug, Clone)]
pub struct PlannedItem {
    pub key: String,
    /// The record's `id`.
    pub id: String,
}

/// The `id` of an item's record: its guid / id, else its link, else where it was found.
pub fn record_id(item: &BatchItem) -> String {
    item.id.clone().or_else(|| item.link.clone()).unwrap_or_else(|| item.source.clone())
}

/// What `plan` filters by, besides duplicates.
#[derive(Debug, Default)]
pub struct Filters<'a> {
    pub shard: Option<Shard>,
    pub done_keys: Option<&'a HashSet<String>>,
    /// `--since`, in seconds since the epoch.
    pub since: Option<i64>,
    pub fetch: bool,
}

/// The part of the key that comes from the models and settings.
pub fn settings_fingerprint(options: &SummarizeOptions, engine_used: EngineKind) -> String {
    let long = options.long.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
    let engine = match engine_used {
        // fp32 keeps the key it had before --precision existed, and `--guard` off or flag
        // (which do not change the texts) the key it had before --guard existed, so --resume
        // still finds their records; `precision=` and `guard=drop` are added when they apply.
        EngineKind::Abstractive if options.precision != Precision::Fp32 || options.guard == crate::faithfulness::guard::GuardMode::Drop => {
            let mut key = format!("abstractive model={} headline_model={} long={long}", options.model, options.headline_model);
            if options.precision != Precision::Fp32 {
                key.push_str(&format!(" precision={}", options.precision.name()));
            }
            if options.guard == crate::faithfulness::guard::GuardMode::Drop {
                key.push_str(" guard=drop");
            }
            key
        }
        EngineKind::Abstractive => format!("abstractive model={} headline_model={} long={long}", options.model, options.headline_model),
        EngineKind::Extractive => "extractive".to_string(),
    };
    format!("precis-batch-key-v1 {engine} length={} bullets={}", options.length.name(), options.bullets)
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn first_128_bits(digest: &[u8; 32]) -> u128 {
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(bytes)
}

fn hex(digest: &[u8; 32]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    digest.iter().flat_map(|&byte| [DIGITS[usize::from(byte >> 4)] as char, DIGITS[usize::from(byte & 15)] as char]).collect()
}

/// The article document of an item, or why there is none (for an item with nothing to
/// summarize, the reason it is skipped).
pub fn document_for(item: &BatchItem) -> Result<Document, String> {
    let from_bytes = |origin: &str, bytes: &[u8]| input::document_from_bytes(origin, bytes).map_err(|error| error.to_string());
    let from_content = |content: &str, format| input::document_from_content(&item.source, content, format).map_err(|error| error.to_string());
    let mut document = match &item.body {
        // A feed item's content is the article's text already: read whole.
        ItemBody::ContentHtml(html) => from_content(html, SourceFormat::Html)?,
        ItemBody::ContentText(text) => from_content(text, SourceFormat::Text)?,
        // JSONL `html` may be a whole page: its main text, however few tags it has.
        ItemBody::Html(html) => from_bytes(&item.source, format!("<!DOCTYPE html><html><body>{html}</body></html>").as_bytes())?,
        ItemBody::Text(text) => from_bytes(&item.source, text.as_bytes())?,
        ItemBody::File { path, bytes } => from_bytes(path, bytes)?,
        ItemBody::LinkOnly(url) => return Err(link_only_reason(url)),
        ItemBody::Nothing(reason) => return Err(reason.clone()),
        ItemBody::Invalid(reason) => return Err(format!("{}: {reason}", item.source)),
    };
    if item.title.is_some() {
        document.title = item.title.clone();
    }
    if let Some(id) = &item.id {
        document.id = id.clone();
    }
    document.warnings.splice(0..0, item.warnings.iter().cloned());
    Ok(document)
}

fn link_only_reason(url: &str) -> String {
    format!("it has no text, only a link ({url}); pass --fetch to download and summarize the page")
}

/// What to do with an item. With `--fetch`, an item with a link and only a teaser (or no
/// text) is downloaded; without it, an item with only a link is skipped, as is one with
/// nothing to summarize. With the task, the sha256 that identifies the item's content for
/// duplicate detection.
fn task_for(item: &BatchItem, fetch: bool) -> (Task, [u8; 32]) {
    let document = document_for(item);
    if fetch {
        if let Some(link) = item.link.as_ref().or(match &item.body {
            ItemBody::LinkOnly(url) => Some(url),
            _ => None,
        }) {
            let teaser = match &document {
                Ok(document) => crate::text::count_words(&document.text) < super::fetch::TEASER_MAX_WORDS,
                Err(_) => matches!(item.body, ItemBody::LinkOnly(_) | ItemBody::ContentHtml(_) | ItemBody::ContentText(_) | ItemBody::Html(_) | ItemBody::Text(_)),
            };
            if teaser {
                // The page is not known before it is downloaded; its address stands for it.
                return (Task::FetchAndSummarize(link.clone()), sha256(&[b"link", link.as_bytes()]));
            }
        }
    }
    match (document, &item.body) {
        (Ok(document), _) => {
            // The normalized text, kept as bytes (the key is made from its hex form, as it always was).
            let content = sha256(&[b"text", document.text.as_bytes()]);
            let planned = if document.text.len() >= KEEP_DOCUMENT_BYTES {
                PlannedDocument::Kept(Box::new(document))
            } else {
                PlannedDocument::Remade { text_bytes: document.text.len() }
            };
            (Task::Summarize(planned), content)
        }
        // A failing or skipped entry has no text; its source and reason identify it.
        (Err(reason), ItemBody::LinkOnly(_) | ItemBody::Nothing(_)) => {
            let content = sha256(&[b"skipped", item.source.as_bytes(), reason.as_bytes()]);
            (Task::Skip(reason), content)
        }
        (Err(reason), _) => {
            let content = sha256(&[b"failed", item.source.as_bytes(), reason.as_bytes()]);
            (Task::Fail(reason), content)
        }
    }
}

pub fn plan(items: Vec<BatchItem>, fingerprint: &str, filters: &Filters) -> Plan {
    // Room for every item at once: grown by doubling, the work list (a few hundred bytes an
    // item) would hold up to twice what it needs, more than small feed items' own text.
    let mut plan = Plan { work: Vec::with_capacity(items.len()), ..Plan::default() };
    if filters.shard.is_some() {
        plan.planned.reserve_exact(items.len());
    }
    let mut seen_ids = HashSet::new();
    let mut seen_links = HashSet::new();
    let mut seen_content = HashSet::new();
    // Items are taken from the end of the reversed list, and the list shrinks as it empties, so
    // the items already planned do not stay allocated beside their work (a large vector shrinks
    // in place).
    let mut items = items;
    items.reverse();
    let mut shrunk_at = items.len();
    while let Some(item) = items.pop() {
        if items.len() < shrunk_at / 2 {
            items.shrink_to_fit();
            shrunk_at = items.len();
        }
        if let Some(since) = filters.since {
            match item.published.as_deref().and_then(super::dates::parse_published) {
                Some(published) if published < since => {
                    plan.too_old += 1;
                    continue;
                }
                Some(_) => {}
                None => plan.undated += 1,
            }
        }
        let (task, content) = task_for(&item, filters.fetch);
        // Ids and links are remembered by digest: a copy of each would cost more than a small
        // feed item's own text.
        // (128 bits of sha256: a chance collision among a billion items is below 10^-20).
        let id = item.id.as_ref().map(|id| first_128_bits(&sha256(&[id.as_bytes()])));
        let link = item.link.as_ref().map(|link| first_128_bits(&sha256(&[link.as_bytes()])));
        let content_seen = first_128_bits(&content);
        let duplicate = id.is_some_and(|id| seen_ids.contains(&id)) || link.is_some_and(|link| seen_links.contains(&link)) || seen_content.contains(&content_seen);
        seen_ids.extend(id);
        seen_links.extend(link);
        seen_content.insert(content_seen);
        if duplicate {
            plan.duplicates += 1;
            continue;
        }
        let key_digest = sha256(&[fingerprint.as_bytes(), hex(&content).as_bytes()]);
        let key = hex(&key_digest);
        if filters.shard.is_some() {
            plan.planned.push(PlannedItem { key: key.clone(), id: record_id(&item) });
        }
        if filters.shard.is_some_and(|shard| !shard.owns(&key)) {
            plan.other_shards += 1;
            continue;
        }
        if filters.done_keys.is_some_and(|done| done.contains(&key)) {
            plan.already_done += 1;
            continue;
        }
        // A link or reason lives on in the task: the body is kept only to be summarized.
        let item = match task {
            Task::Summarize(PlannedDocument::Remade { .. }) => item,
            Task::Summarize(PlannedDocument::Kept(_)) | Task::FetchAndSummarize(_) | Task::Skip(_) | Task::Fail(_) => BatchItem { body: ItemBody::default(), ..item },
        };
        plan.work.push(WorkItem { item, task, key: RecordKey(key_digest) });
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys are what `--resume` and `merge` match records by: their form never changes.
    #[test]
    fn hashes_are_the_sha256_of_the_length_prefixed_parts_in_lowercase_hex() {
        // hashlib.sha256(pack("<Q", 4) + b"text" + pack("<Q", 12) + b"Item 0 rose.").hexdigest()
        assert_eq!(hex(&sha256(&[b"text", b"Item 0 rose."])), "421423adbe7467a4da2ff6931449287e74e2d19f49b29b9148e3ecca50e30cb1");
    }

    #[test]
    fn shard_parsing_and_partition() {
        assert!(Shard::parse("0/3").is_err());
        assert!(Shard::parse("4/3").is_err());
        assert!(Shard::parse("x").is_err());
        let shards: Vec<Shard> = (1..=3).map(|i| Shard::parse(&format!("{i}/3")).unwrap()).collect();
        for n in 0..200u32 {
            let key = hex(&sha256(&[&n.to_le_bytes()]));
            assert_eq!(shards.iter().filter(|s| s.owns(&key)).count(), 1);
        }
    }

    #[test]
    fn duplicates_by_id_link_or_content_are_planned_once() {
        let item = |id: &str, link: &str, text: &str| BatchItem {
            id: Some(id.into()),
            link: Some(link.into()),
            source: format!("test {id}"),
            body: ItemBody::Text(text.into()),
            ..BatchItem::default()
        };
        let items = vec![
            item("a", "l1", "First story text here."),
            item("a", "l2", "Other text entirely."),
            item("b", "l1", "Third text."),
            item("c", "l3", "First story text here."),
            item("d", "l4", "Fresh story."),
        ];
        let plan = plan(items, "fp", &Filters::default());
        assert_eq!(plan.work.len(), 2);
        assert_eq!(plan.duplicates, 3);
    }
}
