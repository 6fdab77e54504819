//! `--shard auto`: this process's shard, read from the job scheduler's environment.
//!
//! Owns the `--shard` value (`I/N`, `auto`, `auto/N`) and the reading of Slurm job array,
//! Kubernetes Indexed Job and AWS Batch array job variables into a `Shard`. It must not read the
//! process environment itself except in `process_environment` (the caller passes the variables
//! in, so tests can give any environment), nor plan items (that is `plan`).

use std::collections::BTreeMap;

use super::plan::Shard;

/// Environment variables by name.
pub type Environment = BTreeMap<String, String>;

/// The shard count for schedulers that give a process its index but not the count (Kubernetes
/// Indexed Jobs): set it to the Job's `completions`. `--shard auto/N` gives the same.
pub const SHARD_COUNT_VARIABLE: &str = "PRECIS_SHARD_COUNT";

const SLURM_ID: &str = "SLURM_ARRAY_TASK_ID";
const SLURM_MIN: &str = "SLURM_ARRAY_TASK_MIN";
const SLURM_MAX: &str = "SLURM_ARRAY_TASK_MAX";
const SLURM_COUNT: &str = "SLURM_ARRAY_TASK_COUNT";
const SLURM_STEP: &str = "SLURM_ARRAY_TASK_STEP";
const KUBERNETES_INDEX: &str = "JOB_COMPLETION_INDEX";
const AWS_INDEX: &str = "AWS_BATCH_JOB_ARRAY_INDEX";
const AWS_SIZE: &str = "AWS_BATCH_JOB_ARRAY_SIZE";

const SLURM: &str = "Slurm job array";
const KUBERNETES: &str = "Kubernetes Indexed Job";
const AWS_BATCH: &str = "AWS Batch array job";

/// The value of `--shard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardSpec {
    /// `I/N`, given on the command line.
    Fixed(Shard),
    /// `auto` or `auto/N`: the index (and count) from the scheduler's environment; `N`, when
    /// given, must agree with it.
    Auto { count: Option<u64> },
}

impl ShardSpec {
    /// Parses `I/N` (1 ≤ I ≤ N), `auto` or `auto/N` (N ≥ 1).
    pub fn parse(text: &str) -> Result<ShardSpec, String> {
        let trimmed = text.trim();
        if trimmed.eq_ignore_ascii_case("auto") {
            return Ok(ShardSpec::Auto { count: None });
        }
        if let Some((_, count)) = trimmed.split_once('/').filter(|(prefix, _)| prefix.trim().eq_ignore_ascii_case("auto")) {
            return match count.trim().parse::<u64>() {
                Ok(count) if count > 0 => Ok(ShardSpec::Auto { count: Some(count) }),
                _ => Err(format!("'{text}' is not a shard; auto/N needs a shard count N ≥ 1, e.g. --shard auto/8")),
            };
        }
        Shard::parse(text).map(ShardSpec::Fixed).map_err(|error| format!("{error}, or auto (the index from Slurm, a Kubernetes Indexed Job or AWS Batch)"))
    }
}

/// The shard this process takes, and where it came from (for a notice on stderr).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedShard {
    pub shard: Shard,
    /// "Slurm job array (SLURM_ARRAY_TASK_ID=12, …)" for `auto`; None for `I/N`.
    pub origin: Option<String>,
}

/// `--shard auto` could not be resolved from the environment: an invalid command line (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ShardEnvironmentError(pub String);

/// The process's environment, variables that are not UTF-8 left out (none of ours can be).
pub fn process_environment() -> Environment {
    std::env::vars_os().filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?))).collect()
}

/// The shard for `spec`: `I/N` as given, `auto` from the one scheduler whose array variables are set.
pub fn resolve(spec: ShardSpec, environment: &Environment) -> Result<ResolvedShard, ShardEnvironmentError> {
    let requested_count = match spec {
        ShardSpec::Fixed(shard) => return Ok(ResolvedShard { shard, origin: None }),
        ShardSpec::Auto { count } => count,
    };
    let present: Vec<&str> = [SLURM_ID, KUBERNETES_INDEX, AWS_INDEX].into_iter().filter(|name| environment.contains_key(*name)).collect();
    let (index_from_zero, count, scheduler) = match present.as_slice() {
        [] => {
            return Err(error(
                format!("--shard auto found no job array index: none of {SLURM_ID} (Slurm job array), {KUBERNETES_INDEX} (Kubernetes Indexed Job), {AWS_INDEX} (AWS Batch array job) is set"),
                environment,
                "run it as a task of one of those, or give the shard yourself with --shard I/N (e.g. GNU parallel: --shard {#}/N)",
            ))
        }
        [SLURM_ID] => slurm(environment)?,
        [KUBERNETES_INDEX] => kubernetes(environment, requested_count)?,
        [AWS_INDEX] => aws_batch(environment)?,
        _ => {
            return Err(error(
                format!("--shard auto found the array indexes of more than one scheduler ({})", present.join(", ")),
                environment,
                "unset the ones that do not belong to this job, or give --shard I/N",
            ))
        }
    };
    // Every count that was given must agree: a mismatch means the shards would not partition the plan.
    let mut expectations = vec![];
    if let Some(requested) = requested_count {
        expectations.push((requested, format!("--shard auto/{requested}")));
    }
    if let Some(value) = environment.get(SHARD_COUNT_VARIABLE) {
        let from_variable = number(environment, SHARD_COUNT_VARIABLE, value)?;
        expectations.push((from_variable, format!("{SHARD_COUNT_VARIABLE}={value}")));
    }
    for (expected, said_by) in expectations {
        if expected != count {
            return Err(error(
                format!("--shard auto: {said_by} disagrees with the {scheduler}, which has {count} tasks"),
                environment,
                &format!("make them agree (the shard count must be the number of tasks in the array), or drop {said_by}"),
            ));
        }
    }
    let names: &[&str] = match scheduler {
        SLURM => &[SLURM_ID, SLURM_MIN, SLURM_MAX, SLURM_STEP, SLURM_COUNT],
        KUBERNETES => &[KUBERNETES_INDEX, SHARD_COUNT_VARIABLE],
        _ => &[AWS_INDEX, AWS_SIZE],
    };
    let shown: Vec<String> = names.iter().filter_map(|name| environment.get(*name).map(|value| format!("{name}={value}"))).collect();
    Ok(ResolvedShard { shard: Shard { index: index_from_zero + 1, count }, origin: Some(format!("{scheduler} ({})", shown.join(", "))) })
}

/// Slurm numbers the tasks of `--array=MIN-MAX:STEP` by their array index; the shard is the
/// task's place in that range. Lists that are not a range (`--array=1,2,7`) cannot be mapped.
fn slurm(environment: &Environment) -> Result<(u64, u64, &'static str), ShardEnvironmentError> {
    let required = |name: &str| -> Result<u64, ShardEnvironmentError> {
        match environment.get(name) {
            Some(value) => number(environment, name, value),
            None => Err(error(format!("--shard auto: {SLURM_ID} is set but {name} is not"), environment, "run under Slurm 14.10 or later, which sets it for job arrays, or give --shard I/N")),
        }
    };
    let id = required(SLURM_ID)?;
    let min = required(SLURM_MIN)?;
    let count = required(SLURM_COUNT)?;
    let step = match environment.get(SLURM_STEP) {
        Some(value) => number(environment, SLURM_STEP, value)?,
        None => 1,
    };
    let range_hint = "submit the array as a range, e.g. sbatch --array=1-8 (or 0-7, or 10-24:2), with one task per shard";
    if count == 0 || step == 0 {
        return Err(error(format!("--shard auto: the Slurm array has {count} tasks and step {step}"), environment, range_hint));
    }
    if id < min || (id - min) % step != 0 {
        return Err(error(format!("--shard auto: {SLURM_ID}={id} is not in the range that starts at {SLURM_MIN}={min} with step {step}"), environment, range_hint));
    }
    let place = (id - min) / step;
    let consistent_max = match environment.get(SLURM_MAX) {
        Some(value) => number(environment, SLURM_MAX, value)? == min + (count - 1) * step,
        None => true,
    };
    if place >= count || !consistent_max {
        return Err(error(
            format!("--shard auto: the Slurm array is not a range of {SLURM_COUNT} tasks from {SLURM_MIN} with step {SLURM_STEP} (an index list such as --array=1,2,7?)"),
            environment,
            range_hint,
        ));
    }
    Ok((place, count, SLURM))
}

/// A Kubernetes Indexed Job gives each pod `JOB_COMPLETION_INDEX` (0 to completions − 1), not
/// the count: that comes from `--shard auto/N` or `PRECIS_SHARD_COUNT`.
fn kubernetes(environment: &Environment, requested_count: Option<u64>) -> Result<(u64, u64, &'static str), ShardEnvironmentError> {
    let index = number(environment, KUBERNETES_INDEX, &environment[KUBERNETES_INDEX])?;
    let count = match (requested_count, environment.get(SHARD_COUNT_VARIABLE)) {
        (Some(count), _) => count,
        (None, Some(value)) => number(environment, SHARD_COUNT_VARIABLE, value)?,
        (None, None) => {
            return Err(error(
                format!("--shard auto: a Kubernetes Indexed Job gives the pod its index ({KUBERNETES_INDEX}) but not the shard count"),
                environment,
                &format!("set {SHARD_COUNT_VARIABLE} to the Job's completions in the pod's env, or give --shard auto/N"),
            ))
        }
    };
    if count == 0 || index >= count {
        return Err(error(
            format!("--shard auto: {KUBERNETES_INDEX}={index} is not below the shard count {count}"),
            environment,
            &format!("the shard count ({SHARD_COUNT_VARIABLE} or auto/N) must equal the Job's completions"),
        ));
    }
    Ok((index, count, KUBERNETES))
}

/// AWS Batch gives each child of an array job its index (from 0) and the array's size.
fn aws_batch(environment: &Environment) -> Result<(u64, u64, &'static str), ShardEnvironmentError> {
    let index = number(environment, AWS_INDEX, &environment[AWS_INDEX])?;
    let Some(size) = environment.get(AWS_SIZE) else {
        return Err(error(format!("--shard auto: {AWS_INDEX} is set but {AWS_SIZE} is not"), environment, "AWS Batch sets both for the children of an array job: run it as one, or give --shard I/N"));
    };
    let size = number(environment, AWS_SIZE, size)?;
    if size == 0 || index >= size {
        return Err(error(format!("--shard auto: {AWS_INDEX}={index} is not below {AWS_SIZE}={size}"), environment, "run it as a child of an AWS Batch array job, or give --shard I/N"));
    }
    Ok((index, size, AWS_BATCH))
}

fn number(environment: &Environment, name: &str, value: &str) -> Result<u64, ShardEnvironmentError> {
    value.trim().parse().map_err(|_| error(format!("--shard auto: {name}={value:?} is not a whole number ≥ 0"), environment, "fix the variable, or give --shard I/N"))
}

/// The message: what is wrong, every scheduler variable that was seen, what to do.
fn error(what: String, environment: &Environment, what_to_do: &str) -> ShardEnvironmentError {
    let seen: Vec<String> = environment
        .iter()
        .filter(|(name, _)| name.starts_with("SLURM_ARRAY_") || name.starts_with("AWS_BATCH_JOB_ARRAY_") || *name == KUBERNETES_INDEX || *name == SHARD_COUNT_VARIABLE)
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    let seen = if seen.is_empty() { "none".to_string() } else { seen.join(", ") };
    ShardEnvironmentError(format!("{what}; scheduler variables seen: {seen}; {what_to_do}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment(pairs: &[(&str, &str)]) -> Environment {
        pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
    }

    fn auto(count: Option<u64>, pairs: &[(&str, &str)]) -> Result<Shard, String> {
        resolve(ShardSpec::Auto { count }, &environment(pairs)).map(|resolved| resolved.shard).map_err(|error| error.0)
    }

    fn shard(index: u64, count: u64) -> Shard {
        Shard { index, count }
    }

    #[test]
    fn parses_fixed_auto_and_auto_with_a_count() {
        assert_eq!(ShardSpec::parse("2/8"), Ok(ShardSpec::Fixed(shard(2, 8))));
        assert_eq!(ShardSpec::parse("auto"), Ok(ShardSpec::Auto { count: None }));
        assert_eq!(ShardSpec::parse("auto/7"), Ok(ShardSpec::Auto { count: Some(7) }));
        for bad in ["auto/0", "auto/x", "auto/", "0/3", "9/3", "automatic"] {
            assert!(ShardSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slurm_arrays_from_zero_from_one_and_with_a_step() {
        let slurm = |id: &str, min: &str, max: &str, step: &str, count: &str| {
            auto(None, &[(SLURM_ID, id), (SLURM_MIN, min), (SLURM_MAX, max), (SLURM_STEP, step), (SLURM_COUNT, count)])
        };
        // --array=0-6
        assert_eq!(slurm("0", "0", "6", "1", "7"), Ok(shard(1, 7)));
        assert_eq!(slurm("6", "0", "6", "1", "7"), Ok(shard(7, 7)));
        // --array=1-3
        assert_eq!(slurm("1", "1", "3", "1", "3"), Ok(shard(1, 3)));
        assert_eq!(slurm("3", "1", "3", "1", "3"), Ok(shard(3, 3)));
        // --array=10-22:2 (10, 12, …, 22)
        assert_eq!(slurm("14", "10", "22", "2", "7"), Ok(shard(3, 7)));
        // Off the step, or a list that is not a range (--array=1,2,7: count 3, max 7).
        assert!(slurm("13", "10", "22", "2", "7").unwrap_err().contains("not in the range"));
        assert!(slurm("2", "1", "7", "1", "3").unwrap_err().contains("SLURM_ARRAY_TASK_MAX=7"));
        // Without STEP and MAX (older Slurm): step 1.
        assert_eq!(auto(None, &[(SLURM_ID, "5"), (SLURM_MIN, "4"), (SLURM_COUNT, "3")]), Ok(shard(2, 3)));
        let missing = auto(None, &[(SLURM_ID, "5"), (SLURM_COUNT, "3")]).unwrap_err();
        assert!(missing.contains("SLURM_ARRAY_TASK_MIN is not") && missing.contains("SLURM_ARRAY_TASK_ID=5"), "{missing}");
    }

    #[test]
    fn kubernetes_takes_the_count_from_auto_n_or_the_precis_variable() {
        assert_eq!(auto(Some(3), &[(KUBERNETES_INDEX, "0")]), Ok(shard(1, 3)));
        assert_eq!(auto(None, &[(KUBERNETES_INDEX, "6"), (SHARD_COUNT_VARIABLE, "7")]), Ok(shard(7, 7)));
        assert_eq!(auto(Some(7), &[(KUBERNETES_INDEX, "6"), (SHARD_COUNT_VARIABLE, "7")]), Ok(shard(7, 7)));
        let no_count = auto(None, &[(KUBERNETES_INDEX, "2")]).unwrap_err();
        assert!(no_count.contains(SHARD_COUNT_VARIABLE) && no_count.contains("JOB_COMPLETION_INDEX=2"), "{no_count}");
        assert!(auto(Some(3), &[(KUBERNETES_INDEX, "3")]).unwrap_err().contains("not below"));
        let disagree = auto(Some(3), &[(KUBERNETES_INDEX, "1"), (SHARD_COUNT_VARIABLE, "4")]).unwrap_err();
        assert!(disagree.contains("disagrees"), "{disagree}");
        assert!(auto(None, &[(KUBERNETES_INDEX, "one"), (SHARD_COUNT_VARIABLE, "4")]).unwrap_err().contains("not a whole number"));
    }

    #[test]
    fn aws_batch_index_and_size() {
        assert_eq!(auto(None, &[(AWS_INDEX, "0"), (AWS_SIZE, "3")]), Ok(shard(1, 3)));
        assert_eq!(auto(Some(7), &[(AWS_INDEX, "6"), (AWS_SIZE, "7")]), Ok(shard(7, 7)));
        assert!(auto(Some(8), &[(AWS_INDEX, "6"), (AWS_SIZE, "7")]).unwrap_err().contains("--shard auto/8 disagrees"));
        assert!(auto(None, &[(AWS_INDEX, "0")]).unwrap_err().contains("AWS_BATCH_JOB_ARRAY_SIZE is not"));
        assert!(auto(None, &[(AWS_INDEX, "3"), (AWS_SIZE, "3")]).unwrap_err().contains("not below"));
    }

    #[test]
    fn no_scheduler_or_two_schedulers_are_errors_naming_what_was_seen() {
        let none = auto(None, &[("HOME", "/root"), (SLURM_COUNT, "4")]).unwrap_err();
        assert!(none.contains("no job array index") && none.contains("SLURM_ARRAY_TASK_COUNT=4") && !none.contains("HOME"), "{none}");
        assert!(auto(None, &[]).unwrap_err().contains("variables seen: none"));
        let two = auto(None, &[(KUBERNETES_INDEX, "0"), (AWS_INDEX, "0"), (AWS_SIZE, "2")]).unwrap_err();
        assert!(two.contains("more than one scheduler"), "{two}");
    }

    #[test]
    fn fixed_shards_ignore_the_environment() {
        let resolved = resolve(ShardSpec::Fixed(shard(2, 5)), &environment(&[(KUBERNETES_INDEX, "0")])).unwrap();
        assert_eq!(resolved.shard, shard(2, 5));
    }
}
