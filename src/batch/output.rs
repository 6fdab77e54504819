//! The batch output: JSONL, one whole line per record, appended as each item finishes.
//!
//! Each record is serialized first and written with one `write_all` of the complete line, so a
//! killed process leaves only complete lines behind; the file is fsync'd every few records and
//! seconds so a machine crash loses little. A torn trailing line (a crash mid-write on a machine
//! failure) is detected on `--resume` and truncated away; its item is then summarized again.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::Value;

use crate::render::{ModelUsed, OutputEngines, Stats};

/// fsync after this many records or this much time, whichever comes first.
const SYNC_EVERY_RECORDS: usize = 32;
const SYNC_EVERY: Duration = Duration::from_secs(2);

/// One line of the batch output.
#[derive(Debug, Clone, Serialize)]
pub struct BatchRecord {
    /// The item's guid / id (else its link, else where it was found).
    pub id: String,
    pub link: Option<String>,
    /// The original title.
    pub title: Option<String>,
    pub published: Option<String>,
    /// Where the item was read: "news.rss item 3 (line 40, column 5)".
    pub source: String,
    /// Content hash + models + settings: what `--resume` and `--shard` go by.
    pub key: String,
    pub headline: Option<String>,
    #[serde(rename = "abstract")]
    pub abstract_: Option<String>,
    pub bullets: Option<Vec<String>>,
    pub engine: Option<OutputEngines>,
    pub models: Vec<ModelUsed>,
    pub stats: Option<Stats>,
    /// The check of the model outputs against the article (`--guard`), as `precis summarize` gives it.
    pub faithfulness: Option<crate::faithfulness::guard::Faithfulness>,
    pub warnings: Vec<String>,
    /// Why the item was not summarized although nothing failed (a title only, a link only
    /// without `--fetch`, an image only); null otherwise.
    pub skipped: Option<String>,
    /// null on success (or skip); why the item could not be summarized otherwise.
    pub error: Option<String>,
}

/// What an existing output file already holds, read for `--resume`.
#[derive(Debug, Default)]
pub struct ExistingOutput {
    pub keys: HashSet<String>,
    pub records: usize,
    /// Bytes of a torn last line that were cut off.
    pub truncated_bytes: u64,
    /// The plan line a sharded output starts with (`shard_plan`), as read.
    pub shard_plan: Option<Value>,
}

/// Reads the keys of the records in `path` (if it exists) and cuts off a torn trailing line,
/// so appending continues on a line boundary.
pub fn prepare_resume(path: &Path) -> Result<ExistingOutput> {
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(ExistingOutput::default()),
        Err(error) => return Err(error).with_context(|| format!("cannot open output {} to resume it", path.display())),
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).with_context(|| format!("cannot read output {}", path.display()))?;
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(last_newline) => last_newline + 1,
        None => 0,
    };
    let mut existing = ExistingOutput::default();
    if complete < bytes.len() {
        existing.truncated_bytes = (bytes.len() - complete) as u64;
        file.set_len(complete as u64).with_context(|| format!("cannot cut the torn last line of {}", path.display()))?;
        file.sync_all().with_context(|| format!("cannot sync {}", path.display()))?;
    }
    for (index, line) in bytes[..complete].split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record: Value = serde_json::from_slice(line).map_err(|error| {
            anyhow::anyhow!("output {} line {} is not a JSON record ({error}); it is not a precis batch output, or was edited: fix or remove that line, or write to another file", path.display(), index + 1)
        })?;
        if super::shard_plan::is_plan_line(&record) {
            existing.shard_plan = Some(record);
            continue;
        }
        let Some(key) = record.get("key").and_then(Value::as_str) else {
            bail!("output {} line {} has no `key`; it is not a precis batch record: remove that line, or write to another file", path.display(), index + 1);
        };
        existing.keys.insert(key.to_string());
        existing.records += 1;
    }
    Ok(existing)
}

/// Where records go: a file (appended, synced) or standard output.
pub struct RecordSink {
    target: Target,
    unsynced: usize,
    last_sync: Instant,
}

enum Target {
    /// `complete_len`: the file's length after its last complete record.
    File { file: File, name: String, complete_len: u64 },
    Stdout,
}

impl RecordSink {
    /// Opens `path` for appending. Without `resume`, an existing non-empty file is refused rather
    /// than overwritten, so a forgotten `--resume` never destroys finished work.
    pub fn open_file(path: &Path, resume: bool) -> Result<RecordSink> {
        if !resume {
            if let Ok(metadata) = std::fs::metadata(path) {
                if metadata.len() > 0 {
                    bail!("output {} already exists and is not empty; pass --resume to continue it, or remove it (or choose another --out)", path.display());
                }
            }
        }
        let mut file = OpenOptions::new().create(true).append(true).open(path).with_context(|| format!("cannot open output {} for writing", path.display()))?;
        let complete_len = file.seek(SeekFrom::End(0)).with_context(|| format!("cannot write to output {}", path.display()))?;
        Ok(RecordSink { target: Target::File { file, name: path.display().to_string(), complete_len }, unsynced: 0, last_sync: Instant::now() })
    }

    pub fn stdout() -> RecordSink {
        RecordSink { target: Target::Stdout, unsynced: 0, last_sync: Instant::now() }
    }

    /// Writes one record (or the plan line) as one complete line and flushes it.
    pub fn write(&mut self, record: &impl Serialize) -> Result<()> {
        let mut line = serde_json::to_vec(record).context("cannot serialize a batch record")?;
        line.push(b'\n');
        match &mut self.target {
            Target::File { file, name, complete_len } => {
                if let Err(error) = file.write_all(&line) {
                    // A full disk or a file size limit can take part of the line: cut it off, so
                    // the file still holds only whole records and `--resume` can continue it.
                    let torn = file.metadata().map_or(true, |metadata| metadata.len() > *complete_len);
                    let cut = match torn.then(|| file.set_len(*complete_len)) {
                        Some(Err(cut_error)) => format!("; its last line may be torn ({cut_error}), --resume will cut it off"),
                        _ => String::new(),
                    };
                    bail!("cannot write to output {name}: {error}{cut}; the records written so far are kept: free space (or choose another --out), then rerun with --resume");
                }
                *complete_len += line.len() as u64;
                self.unsynced += 1;
                if self.unsynced >= SYNC_EVERY_RECORDS || self.last_sync.elapsed() >= SYNC_EVERY {
                    file.sync_data().with_context(|| format!("cannot sync output {name}"))?;
                    self.unsynced = 0;
                    self.last_sync = Instant::now();
                }
            }
            Target::Stdout => {
                let stdout = std::io::stdout();
                let mut out = stdout.lock();
                out.write_all(&line).context("cannot write to standard output")?;
                out.flush().context("cannot write to standard output")?;
            }
        }
        Ok(())
    }

    /// Syncs what is left; called once at the end.
    pub fn finish(&mut self) -> Result<()> {
        if let Target::File { file, name, .. } = &mut self.target {
            file.sync_all().with_context(|| format!("cannot sync output {name}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_cuts_a_torn_last_line_and_reads_keys() {
        let dir = std::env::temp_dir().join(format!("precis-batch-output-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.jsonl");
        std::fs::write(&path, "{\"key\":\"a\"}\n{\"key\":\"b\"}\n{\"key\":\"c\",\"hea").unwrap();
        let existing = prepare_resume(&path).unwrap();
        assert_eq!(existing.records, 2);
        assert!(existing.keys.contains("a") && existing.keys.contains("b"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"key\":\"a\"}\n{\"key\":\"b\"}\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
