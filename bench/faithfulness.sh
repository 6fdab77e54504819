#!/usr/bin/env bash
# Agreement of `precis check` with human judgements of real system summaries (FRANK, in
# faithfulness-dev.jsonl): Pearson and Spearman with `factuality` per dataset, all records and
# cross-validated by article, beside the FRANK baseline metrics; and how often flagged and
# unflagged summaries had entity / circumstance / out-of-article errors. The measuring itself
# is `precis check` (its --format json aggregate, and --format jsonl for bench/faithfulness.py).
# Needs ../shared/eval/ beside the project root (or EVAL_DIR) and python3 (standard library).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
eval_dir=${EVAL_DIR:-$root/../shared/eval}
data="$eval_dir/faithfulness-dev.jsonl"
"$root/scripts/setup.sh"
cd "$root"
cargo build --release --locked --quiet
precis=$root/target/release/precis
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

echo "== precis check --data faithfulness-dev.jsonl --human-field factuality --group-field dataset"
"$precis" check --data "$data" --human-field factuality --group-field dataset
echo
"$precis" check --data "$data" --format jsonl > "$scratch/checked.jsonl"
python3 "$root/bench/faithfulness.py" "$data" "$scratch/checked.jsonl"
python3 "$root/bench/faithfulness.py" probes "$data" > "$scratch/probes.jsonl"
"$precis" check --data "$scratch/probes.jsonl" --format jsonl > "$scratch/probes-checked.jsonl"
python3 "$root/bench/faithfulness.py" probe-report "$scratch/probes.jsonl" "$scratch/probes-checked.jsonl"
