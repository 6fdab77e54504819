#!/usr/bin/env bash
# Extractive engine speed and quality on the CNN/DailyMail and BBC headline dev sets.
# Prints articles per second as measured inside precis (after start-up; no model is loaded),
# and ROUGE against the references. Needs ../shared/eval/ beside the project root.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
eval_dir=${EVAL_DIR:-$root/../shared/eval}
"$root/scripts/setup.sh"
cd "$root"
cargo build --release --locked --quiet
precis=target/release/precis
echo "== abstract vs CNN/DM highlights (Lead-3: 40.56 / 18.42 / 36.97)"
"$precis" eval --data "$eval_dir/cnndm-dev.jsonl" --engine extractive
echo
echo "== headline vs BBC headlines (first sentence cut to 12 words: 22.20 / 3.86 / 19.94)"
"$precis" eval --data "$eval_dir/headlines-dev.jsonl" --output headline --engine extractive
echo
echo "== speed, 5 passes over the 100 CNN/DM articles"
for pass in 1 2 3 4 5; do
  "$precis" eval --data "$eval_dir/cnndm-dev.jsonl" --engine extractive --format json |
    python3 -c "import json,sys; r=json.load(sys.stdin); print('pass $pass: %.0f articles/s' % r['articles_per_second'])"
done
