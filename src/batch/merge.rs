//! Shard outputs → one output in input order, checked against the plan lines they start with.
//!
//! Owns reading shard files (records are located, not kept: memory grows with the number of
//! items, not their size), the completeness checks (every shard of the plan given once, every
//! planned item present exactly once, nothing foreign) and copying the records in plan order.
//! Must not plan or summarize, nor decide where the output goes or print (`commands::merge`).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::shard_plan::{self, ShardNumber, ShardPlan, FIELD};

/// Problems of one kind listed by name before the rest are only counted.
const NAMED_PER_KIND: usize = 20;

/// Where one record of a shard file is.
#[derive(Debug)]
struct RecordPlace {
    line: usize,
    offset: u64,
    len: usize,
    key: String,
    failed: bool,
}

#[derive(Debug)]
struct ShardFile {
    name: String,
    plan: ShardPlan,
    records: Vec<RecordPlace>,
}

/// Checked shard outputs, ready to be written in input order.
#[derive(Debug)]
pub struct Merge {
    paths: Vec<PathBuf>,
    /// (file, offset, length) of each item's record, in plan order.
    order: Vec<(usize, u64, usize)>,
    pub plan_id: String,
    pub shard_count: u64,
    /// Records whose item failed in its shard (kept, as the shard wrote them).
    pub failed_records: usize,
}

impl Merge {
    pub fn items(&self) -> usize {
        self.order.len()
    }

    /// Copies every record, in plan order, to `out`.
    pub fn write_to(&self, out: &mut impl Write) -> Result<()> {
        let mut files = Vec::new();
        for path in &self.paths {
            files.push(File::open(path).with_context(|| format!("cannot reopen shard output {}", path.display()))?);
        }
        let mut line = Vec::new();
        for &(file_index, offset, len) in &self.order {
            let file = &mut files[file_index];
            line.resize(len, 0);
            file.seek(SeekFrom::Start(offset)).and_then(|_| file.read_exact(&mut line)).with_context(|| format!("cannot read shard output {}", self.paths[file_index].display()))?;
            if line.last() != Some(&b'\n') {
                bail!("shard output {} changed while it was merged; merge again", self.paths[file_index].display());
            }
            out.write_all(&line).context("cannot write the merged output")?;
        }
        out.flush().context("cannot write the merged output")
    }
}

/// What is wrong with a set of shard outputs: every problem, by name.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct MergeProblems(pub Vec<String>);

/// Reads and checks the shard outputs. An unreadable file is an error; anything missing,
/// doubled, foreign or inconsistent is listed in `MergeProblems`.
pub fn check(paths: &[PathBuf]) -> Result<Merge> {
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for path in paths {
        if let Some(file) = read_shard_file(path, &mut problems)? {
            files.push((path.clone(), file));
        }
    }
    if !problems.is_empty() && files.is_empty() {
        return Err(MergeProblems(problems).into());
    }

    // One plan: the same id, size and shard count in every file.
    let mut plans: BTreeMap<(String, u64, u64), Vec<&str>> = BTreeMap::new();
    for (_, file) in &files {
        plans.entry((file.plan.plan.clone(), file.plan.plan_items, file.plan.shard.count)).or_default().push(&file.name);
    }
    if plans.len() > 1 {
        let described: Vec<String> = plans
            .iter()
            .map(|((plan, items, count), names)| format!("plan {} ({items} items, {count} shards): {}", plan.get(..12).unwrap_or(plan), names.join(", ")))
            .collect();
        problems.push(format!("the shard outputs belong to different plans (other inputs, settings or shard counts): {}; merge the outputs of one plan", described.join("; ")));
        return Err(MergeProblems(problems).into());
    }
    let Some(((plan_id, plan_items, shard_count), _)) = plans.into_iter().next() else {
        return Err(MergeProblems(problems).into());
    };

    // Every shard once.
    let mut by_shard: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for (_, file) in &files {
        by_shard.entry(file.plan.shard.index).or_default().push(&file.name);
    }
    for (index, names) in &by_shard {
        if names.len() > 1 {
            problems.push(format!("shard {} is given {} times: {}; give each shard's output once", ShardNumber { index: *index, count: shard_count }, names.len(), names.join(", ")));
        }
    }
    let missing_shards: Vec<u64> = (1..=shard_count).filter(|index| !by_shard.contains_key(index)).collect();
    let mut planned_in_given: u64 = 0;
    let mut counted_shards = std::collections::HashSet::new();
    for (_, file) in &files {
        if counted_shards.insert(file.plan.shard.index) {
            planned_in_given += file.plan.items.len() as u64;
        }
    }
    if !missing_shards.is_empty() {
        let names: Vec<String> = missing_shards.iter().map(|index| ShardNumber { index: *index, count: shard_count }.to_string()).collect();
        problems.push(format!(
            "{} of {shard_count} shards missing: {} (no given file starts with its plan line); {} of the plan's {plan_items} items are in those shards: run them (precis batch … --shard I/{shard_count}) and give their outputs",
            missing_shards.len(),
            names.join(", "),
            plan_items.saturating_sub(planned_in_given)
        ));
    }

    // The items: each planned position known once, each planned key recorded exactly once.
    let mut planned: HashMap<&str, (u64, &str, ShardNumber)> = HashMap::new();
    let mut keys_by_position: BTreeMap<u64, &str> = BTreeMap::new();
    let mut inconsistent = Vec::new();
    for (_, file) in &files {
        for item in &file.plan.items {
            let known = keys_by_position.get(&item.position).copied();
            if item.position >= plan_items || known.is_some_and(|key| key != item.key) {
                inconsistent.push(format!("{} puts item {:?} at place {} of {plan_items}", file.name, item.id, item.position + 1));
            }
            keys_by_position.insert(item.position, &item.key);
            planned.insert(&item.key, (item.position, &item.id, file.plan.shard));
        }
    }
    let mut occurrences: HashMap<&str, Vec<(usize, &RecordPlace)>> = HashMap::new();
    let mut foreign = Vec::new();
    for (file_index, (_, file)) in files.iter().enumerate() {
        let own: std::collections::HashSet<&str> = file.plan.items.iter().map(|item| item.key.as_str()).collect();
        for record in &file.records {
            if !own.contains(record.key.as_str()) {
                let whose = planned.get(record.key.as_str()).map_or("in no given shard's plan".to_string(), |(_, _, shard)| format!("planned for shard {shard}"));
                foreign.push(format!("{} line {}: item with key {} is not in shard {}'s plan ({whose})", file.name, record.line, short(&record.key), file.plan.shard));
            }
            occurrences.entry(&record.key).or_default().push((file_index, record));
        }
    }
    let mut missing = Vec::new();
    let mut duplicated = Vec::new();
    let mut ordered: Vec<(u64, &str)> = planned.iter().map(|(key, (position, _, _))| (*position, *key)).collect();
    ordered.sort_unstable();
    for (position, key) in &ordered {
        let (_, id, shard) = planned[key];
        match occurrences.get(key).map_or(0, Vec::len) {
            1 => {}
            0 => {
                let names: Vec<&str> = files.iter().filter(|(_, file)| file.plan.shard == shard).map(|(_, file)| file.name.as_str()).collect();
                missing.push(format!("item {id:?} (place {} of {plan_items}, shard {shard}) is missing from {}", position + 1, names.join(", ")));
            }
            _ => {
                let places: Vec<String> = occurrences[key].iter().map(|(file_index, record)| format!("{} line {}", files[*file_index].1.name, record.line)).collect();
                duplicated.push(format!("item {id:?} (place {} of {plan_items}, shard {shard}) is there {} times: {}", position + 1, places.len(), places.join(", ")));
            }
        }
    }
    add_named(&mut problems, inconsistent, "places inconsistent between plan lines (edited files?)");
    add_named(&mut problems, missing, "items missing: resume their shards (precis batch … --shard I/N --out FILE --resume) and merge again");
    add_named(&mut problems, duplicated, "items duplicated");
    add_named(&mut problems, foreign, "records not in their shard's plan");
    if problems.is_empty() {
        // All shards are here: their items must be the whole plan, the one its id names.
        let recomputed = shard_plan::plan_id(keys_by_position.values().copied());
        if keys_by_position.len() as u64 != plan_items || recomputed != plan_id {
            problems.push(format!("the shards' plan lines do not add up to plan {} ({plan_items} items; they list {}): edited or mixed files; run the shards again", short(&plan_id), keys_by_position.len()));
        }
    }
    if !problems.is_empty() {
        return Err(MergeProblems(problems).into());
    }

    let mut order = Vec::with_capacity(ordered.len());
    let mut failed_records = 0;
    for (_, key) in &ordered {
        let (file_index, record) = occurrences[key][0];
        order.push((file_index, record.offset, record.len));
        failed_records += usize::from(record.failed);
    }
    Ok(Merge { paths: files.into_iter().map(|(path, _)| path).collect(), order, plan_id, shard_count, failed_records })
}

/// Reads one shard output: its plan line and where each record is. Problems with its content
/// go to `problems` (None when the file cannot be used at all); an unreadable file is an error.
fn read_shard_file(path: &Path, problems: &mut Vec<String>) -> Result<Option<ShardFile>> {
    let name = path.display().to_string();
    let file = File::open(path).with_context(|| format!("cannot open shard output {name}"))?;
    let mut reader = BufReader::new(file);
    let mut plan: Option<ShardPlan> = None;
    let mut records = Vec::new();
    let (mut offset, mut line_number) = (0u64, 0usize);
    let mut line = Vec::new();
    loop {
        line.clear();
        let len = reader.read_until(b'\n', &mut line).with_context(|| format!("cannot read shard output {name}"))?;
        if len == 0 {
            break;
        }
        line_number += 1;
        let start = offset;
        offset += len as u64;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if line.last() != Some(&b'\n') {
            problems.push(format!("{name} line {line_number} is torn (the shard was interrupted): rerun that shard with --resume, which cuts it off and finishes the shard"));
            break;
        }
        let value: Value = match serde_json::from_slice(&line) {
            Ok(value) => value,
            Err(error) => {
                problems.push(format!("{name} line {line_number} is not JSON ({error}): the file was edited or is not a precis batch output"));
                continue;
            }
        };
        if shard_plan::is_plan_line(&value) {
            if plan.is_some() || !records.is_empty() {
                problems.push(format!("{name} line {line_number} is a second {FIELD} line: shard outputs were concatenated; give each shard's output as its own file"));
                return Ok(None);
            }
            match shard_plan::from_line(value) {
                Ok(read) => plan = Some(read),
                Err(error) => {
                    problems.push(format!("{name}: {error}"));
                    return Ok(None);
                }
            }
            continue;
        }
        if plan.is_none() {
            problems.push(format!("{name} does not start with a {FIELD} line: it is not the output of `precis batch --shard` (or was written by an older precis); run that shard again"));
            return Ok(None);
        }
        match value.get("key").and_then(Value::as_str) {
            Some(key) => records.push(RecordPlace { line: line_number, offset: start, len, key: key.to_string(), failed: !value.get("error").map_or(true, Value::is_null) }),
            None => problems.push(format!("{name} line {line_number} has no `key`: it is not a precis batch record")),
        }
    }
    match plan {
        Some(plan) => Ok(Some(ShardFile { name, plan, records })),
        None => {
            if line_number == 0 {
                problems.push(format!("{name} is empty: its shard did not start (or wrote elsewhere); run that shard again"));
            } else if !problems.iter().any(|problem| problem.starts_with(&name)) {
                problems.push(format!("{name} holds no {FIELD} line: it is not the output of `precis batch --shard`"));
            }
            Ok(None)
        }
    }
}

/// Appends a kind of problem: the first few by name, the rest counted.
fn add_named(problems: &mut Vec<String>, named: Vec<String>, kind: &str) {
    if named.is_empty() {
        return;
    }
    let total = named.len();
    problems.push(format!("{total} {kind}:"));
    problems.extend(named.into_iter().take(NAMED_PER_KIND).map(|problem| format!("  {problem}")));
    if total > NAMED_PER_KIND {
        problems.push(format!("  … and {} more", total - NAMED_PER_KIND));
    }
}

fn short(key: &str) -> &str {
    key.get(..12).unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::plan::{PlannedItem, Shard};

    struct Fixture {
        dir: PathBuf,
        planned: Vec<PlannedItem>,
    }

    impl Fixture {
        fn new(name: &str, items: usize) -> Fixture {
            let dir = std::env::temp_dir().join(format!("precis-merge-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let planned = (0..items).map(|n| PlannedItem { key: shard_plan::plan_id(std::iter::once(format!("k{n}").as_str())), id: format!("item-{n}") }).collect();
            Fixture { dir, planned }
        }

        /// Writes shard `index`/`count`'s output with its records in reverse order (as workers may
        /// finish them), leaving out the items in `skip` and writing those in `twice` two times.
        fn shard(&self, index: u64, count: u64, skip: &[usize], twice: &[usize]) -> PathBuf {
            let shard = Shard { index, count };
            let mut text = format!("{}\n", serde_json::to_string(&ShardPlan::new(shard, &self.planned).line()).unwrap());
            for (n, item) in self.planned.iter().enumerate().rev().filter(|(_, item)| shard.owns(&item.key)) {
                let times = if skip.contains(&n) { 0 } else if twice.contains(&n) { 2 } else { 1 };
                for _ in 0..times {
                    text.push_str(&format!("{}\n", serde_json::json!({"id": item.id, "key": item.key, "headline": format!("headline {n}"), "error": null})));
                }
            }
            let path = self.dir.join(format!("part-{index}.jsonl"));
            std::fs::write(&path, text).unwrap();
            path
        }

        fn owner(&self, n: usize, count: u64) -> u64 {
            (1..=count).find(|index| Shard { index: *index, count }.owns(&self.planned[n].key)).unwrap()
        }
    }

    fn problems(result: Result<Merge>) -> String {
        result.unwrap_err().downcast::<MergeProblems>().expect("merge problems").to_string()
    }

    #[test]
    fn complete_shards_merge_in_plan_order() {
        let fixture = Fixture::new("complete", 30);
        let paths: Vec<PathBuf> = (1..=4).rev().map(|index| fixture.shard(index, 4, &[], &[])).collect();
        let merge = check(&paths).unwrap();
        assert_eq!(merge.items(), 30);
        let mut out = Vec::new();
        merge.write_to(&mut out).unwrap();
        let ids: Vec<String> = String::from_utf8(out).unwrap().lines().map(|line| serde_json::from_str::<Value>(line).unwrap()["id"].as_str().unwrap().to_string()).collect();
        assert_eq!(ids, (0..30).map(|n| format!("item-{n}")).collect::<Vec<_>>());
    }

    #[test]
    fn missing_and_duplicated_items_and_shards_are_named() {
        let fixture = Fixture::new("faults", 30);
        let (gone, doubled) = (3, 7);
        let paths: Vec<PathBuf> = (1..=3).map(|index| fixture.shard(index, 3, &[gone], &[doubled])).collect();
        let text = problems(check(&paths));
        assert!(text.contains(&format!("item \"item-{gone}\" (place {} of 30, shard {}/3) is missing", gone + 1, fixture.owner(gone, 3))), "{text}");
        assert!(text.contains(&format!("item \"item-{doubled}\" (place {} of 30, shard {}/3) is there 2 times", doubled + 1, fixture.owner(doubled, 3))), "{text}");

        let without_two = [paths[0].clone(), paths[2].clone()];
        let text = problems(check(&without_two));
        assert!(text.contains("1 of 3 shards missing: 2/3"), "{text}");
        let given_twice = [paths[0].clone(), paths[1].clone(), paths[2].clone(), paths[1].clone()];
        assert!(problems(check(&given_twice)).contains("shard 2/3 is given 2 times"));
    }

    #[test]
    fn mixed_plans_torn_lines_and_plain_outputs_are_refused() {
        let fixture = Fixture::new("mixed", 12);
        let three = fixture.shard(1, 3, &[], &[]);
        let two = fixture.shard(2, 2, &[], &[]);
        assert!(problems(check(&[three.clone(), two])).contains("different plans"));

        let torn = fixture.dir.join("torn.jsonl");
        let mut text = std::fs::read_to_string(&three).unwrap();
        text.push_str("{\"id\":\"x\",\"ke");
        std::fs::write(&torn, text).unwrap();
        assert!(problems(check(&[torn])).contains("is torn"));

        let plain = fixture.dir.join("plain.jsonl");
        std::fs::write(&plain, "{\"id\":\"a\",\"key\":\"00\"}\n").unwrap();
        assert!(problems(check(&[plain])).contains("does not start with a precis_shard_plan line"));
    }
}
