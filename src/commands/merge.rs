//! `precis merge OUT SHARD...`: the outputs of a sharded `precis batch` joined into one JSONL.
//!
//! The checks and the record order are `batch::merge`'s; this command decides where the output
//! goes: standard output, or OUT written through a temporary file beside it and renamed, so OUT
//! is whole or absent. When the shards are incomplete nothing is written (an incomplete file
//! is too easily taken for the whole) and the exit status is 1.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::batch::merge::{self, MergeProblems};
use crate::cli::MergeArgs;

pub fn run(args: &MergeArgs) -> Result<()> {
    let to_stdout = args.out.as_os_str() == "-";
    if !to_stdout {
        refuse_to_overwrite(&args.out, &args.shards, args.force)?;
    }
    let merged = match merge::check(&args.shards) {
        Ok(merged) => merged,
        Err(error) => match error.downcast::<MergeProblems>() {
            Ok(problems) => {
                let place = if to_stdout { "nothing was written".to_string() } else { format!("{} was not written", args.out.display()) };
                bail!("the shard outputs do not make a complete plan; {place}:\n{problems}");
            }
            Err(error) => return Err(error),
        },
    };
    if to_stdout {
        let stdout = std::io::stdout();
        merged.write_to(&mut BufWriter::new(stdout.lock()))?;
    } else {
        write_whole(&args.out, |file| merged.write_to(file))?;
    }
    if !args.quiet {
        let failed = if merged.failed_records > 0 { format!("; {} records carry the error of an item that failed in its shard", merged.failed_records) } else { String::new() };
        let place = if to_stdout { "standard output".to_string() } else { args.out.display().to_string() };
        eprintln!("precis: merge: {} items of plan {} from {} shards, in input order, to {place}{failed}", merged.items(), &merged.plan_id[..12.min(merged.plan_id.len())], merged.shard_count);
    }
    Ok(())
}

/// An existing non-empty OUT is kept unless --force; OUT is never one of the shards.
fn refuse_to_overwrite(out: &Path, shards: &[PathBuf], force: bool) -> Result<()> {
    let same_file = |shard: &PathBuf| match (std::fs::canonicalize(shard), std::fs::canonicalize(out)) {
        (Ok(shard), Ok(out)) => shard == out,
        _ => false,
    };
    if shards.iter().any(same_file) {
        bail!("OUT {} is also given as a shard output; the merged output goes to a new file: put OUT first, then the shard files", out.display());
    }
    if !force && std::fs::metadata(out).is_ok_and(|metadata| metadata.len() > 0) {
        bail!("OUT {} already exists and is not empty; remove it, choose another OUT, or pass --force to replace it", out.display());
    }
    Ok(())
}

/// Writes `out` through a temporary file in the same directory, renamed into place when complete.
fn write_whole(out: &Path, write: impl FnOnce(&mut BufWriter<File>) -> Result<()>) -> Result<()> {
    let name = out.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_else(|| "merged".to_string());
    let temporary = out.with_file_name(format!(".{name}.precis-merge-{}", std::process::id()));
    let result = (|| -> Result<()> {
        let file = File::create(&temporary).with_context(|| format!("cannot create {} (beside OUT {})", temporary.display(), out.display()))?;
        let mut writer = BufWriter::new(file);
        write(&mut writer)?;
        let file = writer.into_inner().map_err(|error| error.into_error()).with_context(|| format!("cannot write {}", temporary.display()))?;
        file.sync_all().with_context(|| format!("cannot sync {}", temporary.display()))?;
        std::fs::rename(&temporary, out).with_context(|| format!("cannot rename {} to {}", temporary.display(), out.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.with_context(|| format!("OUT {} was not written", out.display()))
}
