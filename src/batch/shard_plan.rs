//! The plan line a sharded batch output starts with: which plan (all shards together) the output
//! belongs to and which of its items this shard owns, so that `precis merge` can check from the
//! shard files alone that every planned item is there exactly once and every shard is given.
//!
//! Owns the line's format (building it from a plan, recognizing and reading it back); must not
//! plan items (`plan`) or merge outputs (`merge`).
//!
//! The line is `{"precis_shard_plan": {"format": 1, "plan": …, "plan_items": …, "shard":
//! {"index": I, "count": N}, "items": [{"position": …, "key": …, "id": …}, …]}}`. `plan` is the
//! sha256 of the keys of every planned item in input order: the same inputs, settings and shard
//! count give the same plan on every machine.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::plan::{PlannedItem, Shard};

/// The field that marks a plan line (a record never has it).
pub const FIELD: &str = "precis_shard_plan";

/// Bumped when the line changes in a way an older `merge` would misread.
pub const FORMAT: u32 = 1;

/// What one shard's output planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardPlan {
    pub format: u32,
    /// sha256 (hex) of the keys of every item of the plan, all shards, in input order.
    pub plan: String,
    /// Items in the whole plan, all shards.
    pub plan_items: u64,
    pub shard: ShardNumber,
    /// This shard's items, in input order.
    pub items: Vec<ShardPlanItem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ShardNumber {
    /// 1-based, as in `--shard I/N`.
    pub index: u64,
    pub count: u64,
}

impl std::fmt::Display for ShardNumber {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}/{}", self.index, self.count)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardPlanItem {
    /// 0-based place in the whole plan (input order after duplicates and `--since`).
    pub position: u64,
    pub key: String,
    /// The record's `id`, to name the item when it is missing.
    pub id: String,
}

/// The line as written (`ShardPlan::line`).
#[derive(Serialize)]
pub struct ShardPlanLineOut<'a> {
    precis_shard_plan: &'a ShardPlan,
}

/// The line as read: the plan under its marking field.
#[derive(Deserialize)]
struct ShardPlanLine {
    precis_shard_plan: ShardPlan,
}

impl ShardPlan {
    /// The plan line of `shard`, from every planned item of the whole plan.
    pub fn new(shard: Shard, planned: &[PlannedItem]) -> ShardPlan {
        let items = planned
            .iter()
            .enumerate()
            .filter(|(_, item)| shard.owns(&item.key))
            .map(|(position, item)| ShardPlanItem { position: position as u64, key: item.key.clone(), id: item.id.clone() })
            .collect();
        ShardPlan {
            format: FORMAT,
            plan: plan_id(planned.iter().map(|item| item.key.as_str())),
            plan_items: planned.len() as u64,
            shard: ShardNumber { index: shard.index, count: shard.count },
            items,
        }
    }

    /// The line to write: the plan under its marking field, its fields in declared order (the
    /// plan id and shard before the long item list, for a reader of the file's head).
    pub fn line(&self) -> ShardPlanLineOut<'_> {
        ShardPlanLineOut { precis_shard_plan: self }
    }

    /// The first 12 hex digits of the plan id, for messages.
    pub fn short_id(&self) -> &str {
        self.plan.get(..12).unwrap_or(&self.plan)
    }
}

/// sha256 over the keys in order, each ended by a newline (keys are hex, so never hold one).
pub fn plan_id<'a>(keys: impl Iterator<Item = &'a str>) -> String {
    let mut hasher = Sha256::new();
    for key in keys {
        hasher.update(key.as_bytes());
        hasher.update(b"\n");
    }
    hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// On `--resume`, whether the plan line is still to be written (a new or empty output), given
/// the plan line the output holds (`existing`, with `existing_records` records) and this run's
/// (`planned`, None without `--shard`); an error when they do not belong together.
pub fn resume_needs_line(existing: Option<Value>, existing_records: usize, planned: Option<&ShardPlan>) -> Result<bool, String> {
    let existing = existing.map(from_line).transpose()?;
    match (existing, planned) {
        (None, None) => Ok(false),
        (Some(existing), None) => Err(format!("it is the output of shard {} (it starts with a {FIELD} line); resume it with --shard {} (or --shard auto in the same scheduler task)", existing.shard, existing.shard)),
        (None, Some(_)) if existing_records == 0 => Ok(true),
        (None, Some(_)) => Err(format!("it holds {existing_records} records but no {FIELD} line: it was not written with --shard; write this shard to another file")),
        (Some(existing), Some(planned)) if existing == *planned => Ok(false),
        (Some(existing), Some(planned)) => Err(format!(
            "it was written for shard {} of plan {} ({} items) and this run plans shard {} of plan {} ({} items): the inputs, settings or shard count differ; resume with the same ones, or write to another file",
            existing.shard,
            existing.short_id(),
            existing.plan_items,
            planned.shard,
            planned.short_id(),
            planned.plan_items
        )),
    }
}

/// Whether a parsed output line is a plan line rather than a record.
pub fn is_plan_line(line: &Value) -> bool {
    line.get(FIELD).is_some()
}

/// Reads a plan line back; the error says what is wrong with it.
pub fn from_line(line: Value) -> Result<ShardPlan, String> {
    let plan: ShardPlan = serde_json::from_value::<ShardPlanLine>(line).map_err(|error| format!("its {FIELD} line is malformed ({error})"))?.precis_shard_plan;
    if plan.format != FORMAT {
        return Err(format!("its {FIELD} line has format {} and this precis reads format {FORMAT}; merge with the precis version that wrote it", plan.format));
    }
    if plan.shard.count == 0 || plan.shard.index == 0 || plan.shard.index > plan.shard.count {
        return Err(format!("its {FIELD} line names shard {}, which is not a shard", plan.shard));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(count: usize) -> Vec<PlannedItem> {
        (0..count).map(|n| PlannedItem { key: plan_id(std::iter::once(n.to_string().as_str())), id: format!("item-{n}") }).collect()
    }

    #[test]
    fn shards_of_one_plan_share_its_id_and_split_its_items() {
        let planned = planned(50);
        let shards: Vec<ShardPlan> = (1..=7).map(|index| ShardPlan::new(Shard { index, count: 7 }, &planned)).collect();
        assert!(shards.iter().all(|shard| shard.plan == shards[0].plan && shard.plan_items == 50));
        let mut positions: Vec<u64> = shards.iter().flat_map(|shard| shard.items.iter().map(|item| item.position)).collect();
        positions.sort_unstable();
        assert_eq!(positions, (0..50).collect::<Vec<u64>>());
        for shard in &shards {
            for item in &shard.items {
                assert_eq!(planned[item.position as usize].key, item.key);
                assert_eq!(planned[item.position as usize].id, item.id);
            }
        }
        // Another order of the same items is another plan.
        let mut reordered = planned.clone();
        reordered.swap(0, 1);
        assert_ne!(ShardPlan::new(Shard { index: 1, count: 7 }, &reordered).plan, shards[0].plan);
    }

    #[test]
    fn the_line_reads_back_and_is_told_from_records() {
        let plan = ShardPlan::new(Shard { index: 2, count: 3 }, &planned(10));
        let line = serde_json::to_value(plan.line()).unwrap();
        assert!(is_plan_line(&line));
        assert!(!is_plan_line(&serde_json::json!({"key": "abc", "id": "x"})));
        assert_eq!(from_line(line).unwrap(), plan);
        let wrong_format = serde_json::json!({FIELD: {"format": 9, "plan": "", "plan_items": 0, "shard": {"index": 1, "count": 1}, "items": []}});
        assert!(from_line(wrong_format).unwrap_err().contains("format 9"));
        let bad_shard = serde_json::json!({FIELD: {"format": 1, "plan": "", "plan_items": 0, "shard": {"index": 4, "count": 3}, "items": []}});
        assert!(from_line(bad_shard).unwrap_err().contains("4/3"));
    }

    #[test]
    fn resume_continues_only_the_same_shard_of_the_same_plan() {
        let plan = ShardPlan::new(Shard { index: 2, count: 3 }, &planned(10));
        let other_count = ShardPlan::new(Shard { index: 2, count: 4 }, &planned(10));
        assert_eq!(resume_needs_line(None, 0, None), Ok(false));
        assert_eq!(resume_needs_line(None, 0, Some(&plan)), Ok(true));
        assert_eq!(resume_needs_line(Some(serde_json::to_value(plan.line()).unwrap()), 5, Some(&plan)), Ok(false));
        assert!(resume_needs_line(Some(serde_json::to_value(plan.line()).unwrap()), 5, Some(&other_count)).unwrap_err().contains("shard 2/3 of plan"));
        assert!(resume_needs_line(Some(serde_json::to_value(plan.line()).unwrap()), 5, None).unwrap_err().contains("resume it with --shard 2/3"));
        assert!(resume_needs_line(None, 5, Some(&plan)).unwrap_err().contains("no precis_shard_plan line"));
    }
}
