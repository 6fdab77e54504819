//! Items → work: each item's document, content hash and key; duplicates within the run,
//! `--shard` assignment and `--resume` skips.
//!
//! The key is sha256 of the normalized content together with the engine actually used, the
//! model names and every setting that changes the output; two runs with the same key would
//! write the same record, so `--resume` may skip it and `--shard` may assign by it.

use std::collections::HashSet;

use anyhow::{bail, Result};
use clap::ValueEnum;
use sha2::{Digest, Sha256};

use super::sources::{BatchItem, ItemBody};
use crate::input::{self, Document};
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
    Summarize(Document),
    /// Download the linked page (`--fetch`), then summarize it.
    FetchAndSummarize(String),
    /// Record the item as failed, with this reason.
    Fail(String),
}

/// One item ready to be summarized (or recorded as failed).
#[derive(Debug, Clone)]
pub struct WorkItem {
    pub item: BatchItem,
    pub task: Task,
    pub key: String,
    /// sha256 of the normalized text (or of the failing entry), for duplicate detection.
    pub content_hash: String,
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
        // `--guard drop` changes the texts; flag and off do not (the key stays as it was).
        EngineKind::Abstractive if options.guard == crate::faithfulness::guard::GuardMode::Drop => {
            format!("abstractive model={} headline_model={} long={long} guard=drop", options.model, options.headline_model)
        }
        EngineKind::Abstractive => format!("abstractive model={} headline_model={} long={long}", options.model, options.headline_model),
        EngineKind::Extractive => "extractive".to_string(),
    };
    format!("precis-batch-key-v1 {engine} length={} bullets={}", options.length.name(), options.bullets)
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The article document of an item, or why there is none.
pub fn document_for(item: &BatchItem) -> Result<Document, String> {
    let from_bytes = |origin: &str, bytes: &[u8]| input::document_from_bytes(origin, bytes).map_err(|error| error.to_string());
    let mut document = match &item.body {
        ItemBody::Html(html) => {
            // Feed content is an HTML fragment; as a page it is read as HTML however few tags it has.
            let page = format!("<!DOCTYPE html><html><body>{html}</body></html>");
            from_bytes(&item.source, page.as_bytes())?
        }
        ItemBody::Text(text) => from_bytes(&item.source, text.as_bytes())?,
        ItemBody::File { path, bytes } => from_bytes(path, bytes)?,
        ItemBody::LinkOnly(url) => {
            return Err(format!("{}: the item has only a link ({url}) and no text; pass --fetch to download it, or give the text (a feed with full content, or JSONL `text`/`html`)", item.source))
        }
        ItemBody::Invalid(reason) => return Err(format!("{}: {reason}", item.source)),
    };
    if item.title.is_some() {
        document.title = item.title.clone();
    }
    if let Some(id) = &item.id {
        document.id = id.clone();
    }
    Ok(document)
}

/// Builds the work list: documents, keys, then duplicates (first occurrence wins), shard and
/// resume filters, in that order, so every shard sees the same duplicate decisions.
/// With `--fetch`, an item with a link and only a teaser (or no text) is downloaded.
fn task_for(item: &BatchItem, fetch: bool) -> Task {
    let document = document_for(item);
    if fetch {
        if let Some(link) = &item.link {
            let teaser = match &document {
                Ok(document) => crate::text::count_words(&document.text) < super::fetch::TEASER_MAX_WORDS,
                Err(_) => matches!(item.body, ItemBody::LinkOnly(_) | ItemBody::Html(_) | ItemBody::Text(_)),
            };
            if teaser {
                return Task::FetchAndSummarize(link.clone());
            }
        }
    }
    match document {
        Ok(document) => Task::Summarize(document),
        Err(reason) => Task::Fail(reason),
    }
}

pub fn plan(items: Vec<BatchItem>, fingerprint: &str, filters: &Filters) -> Result<Plan> {
    let mut plan = Plan::default();
    let had_items = !items.is_empty();
    let mut seen_ids = HashSet::new();
    let mut seen_links = HashSet::new();
    let mut seen_content = HashSet::new();
    for item in items {
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
        let task = task_for(&item, filters.fetch);
        let content_hash = match &task {
            Task::Summarize(document) => sha256_hex(&[b"text", document.text.as_bytes()]),
            // The page is not known before it is downloaded; its address stands for it.
            Task::FetchAndSummarize(url) => sha256_hex(&[b"link", url.as_bytes()]),
            // A failing entry has no text; its source and reason identify it.
            Task::Fail(reason) => sha256_hex(&[b"failed", item.source.as_bytes(), reason.as_bytes()]),
        };
        let duplicate = item.id.as_ref().is_some_and(|id| seen_ids.contains(id))
            || item.link.as_ref().is_some_and(|link| seen_links.contains(link))
            || seen_content.contains(&content_hash);
        if let Some(id) = &item.id {
            seen_ids.insert(id.clone());
        }
        if let Some(link) = &item.link {
            seen_links.insert(link.clone());
        }
        seen_content.insert(content_hash.clone());
        if duplicate {
            plan.duplicates += 1;
            continue;
        }
        let key = sha256_hex(&[fingerprint.as_bytes(), content_hash.as_bytes()]);
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
        plan.work.push(WorkItem { item, task, key, content_hash });
    }
    if !had_items {
        bail!("the inputs hold no items to summarize (empty feeds, JSONL or directories)");
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_parsing_and_partition() {
        assert!(Shard::parse("0/3").is_err());
        assert!(Shard::parse("4/3").is_err());
        assert!(Shard::parse("x").is_err());
        let shards: Vec<Shard> = (1..=3).map(|i| Shard::parse(&format!("{i}/3")).unwrap()).collect();
        for n in 0..200u32 {
            let key = sha256_hex(&[&n.to_le_bytes()]);
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
        let plan = plan(items, "fp", &Filters::default()).unwrap();
        assert_eq!(plan.work.len(), 2);
        assert_eq!(plan.duplicates, 3);
    }
}
