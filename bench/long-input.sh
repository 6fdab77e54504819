#!/usr/bin/env bash
# Long inputs under --long chunk: time and peak memory for ~1,000, ~5,000 and ~20,000 words.
# Prints, per size: words, tokens, chunks, passes, seconds, peak RSS, and the ratios against the
# 1,000-word run measured in the same invocation.
#
# It runs the tiny fixture models (tests/fixtures/models), since real weights cannot be downloaded
# here; pass MODEL=DIR HEADLINE_MODEL=DIR (or preset names) to measure real ones. With real models
# the weights dominate memory, and a pass holds at most one batch of 8 window-sized chunks.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model=${MODEL:-$root/tests/fixtures/models/bart-tiny}
headline_model=${HEADLINE_MODEL:-$root/tests/fixtures/models/t5-tiny}
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
"$root/scripts/setup.sh"
cd "$root"
scripts/build.sh --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work" <<'PY'
import sys, pathlib
work = pathlib.Path(sys.argv[1])
parts = [pathlib.Path(p).read_text() for p in ("samples/abe-cameron-summit.txt", "samples/port-alder-budget.txt")]
paragraphs = [p for part in parts for p in part.split("\n\n") if p.strip()]
for target in (1000, 5000, 20000):
    out, words, i = [], 0, 0
    while words < target:
        out.append(paragraphs[i % len(paragraphs)]); words += len(paragraphs[i % len(paragraphs)].split()); i += 1
    (work / f"{target}.txt").write_text("\n\n".join(out))
PY

printf '%-8s %8s %8s %7s %7s %9s %12s %10s %10s\n' words_in words tokens chunks passes seconds peak_rss_mb time_x rss_x
base_seconds= base_rss=
for target in 1000 5000 20000; do
  /usr/bin/time -v -o "$work/time.txt" target/release/precis summarize "$work/$target.txt" \
    --model "$model" --headline-model "$headline_model" --format json --quiet >"$work/out.json" 2>"$work/err.txt"
  seconds=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$work/time.txt")
  rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
  read -r words tokens chunks passes < <(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["stats"]; print(s["input_words"], s["input_tokens"], s["chunks"], s["passes"])' "$work/out.json")
  base_seconds=${base_seconds:-$seconds}; base_rss=${base_rss:-$rss_kb}
  awk -v t="$target" -v w="$words" -v tok="$tokens" -v c="$chunks" -v p="$passes" -v s="$seconds" -v r="$rss_kb" -v bs="$base_seconds" -v br="$base_rss" \
    'BEGIN { printf "%-8s %8d %8d %7d %7d %9.2f %12.1f %10.2f %10.2f\n", t, w, tok, c, p, s, r/1024, s/bs, r/br }'
done
