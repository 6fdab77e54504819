#!/usr/bin/env bash
# `precis batch` throughput: items per second on the 100 CNN/DailyMail dev articles, with the
# extractive engine and with the tiny fixture models (tests/fixtures/models; real weights cannot be
# downloaded here, pass MODEL=DIR HEADLINE_MODEL=DIR to measure real ones), for --jobs 1 and 2.
# Wall-clock time of the whole command, model loading included. Not a test.
# Needs ../shared/eval/ beside the project root (or EVAL_DIR).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
eval_dir=${EVAL_DIR:-$root/../shared/eval}
model=${MODEL:-$root/tests/fixtures/models/bart-tiny}
headline_model=${HEADLINE_MODEL:-$root/tests/fixtures/models/t5-tiny}
"$root/scripts/setup.sh"
cd "$root"
scripts/build.sh --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The dev set's records carry `article`; batch JSONL wants `id` and `text`.
python3 - "$eval_dir/cnndm-dev.jsonl" "$work/items.jsonl" <<'PY'
import json, sys
with open(sys.argv[1]) as source, open(sys.argv[2], "w") as target:
    for number, line in enumerate(source):
        if line.strip():
            record = json.loads(line)
            target.write(json.dumps({"id": record.get("id", f"cnndm-{number}"), "text": record["article"]}) + "\n")
PY
items=$(wc -l <"$work/items.jsonl")

measure() {
  local label=$1 jobs=$2; shift 2
  rm -f "$work/out.jsonl"
  local start end
  start=$(date +%s.%N)
  target/release/precis batch "$work/items.jsonl" --out "$work/out.jsonl" --jobs "$jobs" --quiet "$@"
  end=$(date +%s.%N)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print('%-26s jobs %s  %5.1f s  %6.1f items/s' % (sys.argv[3], sys.argv[4], s, int(sys.argv[5])/s))" \
    "$start" "$end" "$label" "$jobs" "$items"
}

echo "== $items CNN/DM dev articles, $(nproc) cores"
for jobs in 1 2; do measure "extractive" "$jobs" --engine extractive; done
for jobs in 1 2; do measure "fixture models (tiny)" "$jobs" --engine abstractive --model "$model" --headline-model "$headline_model"; done
