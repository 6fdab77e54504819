#!/usr/bin/env bash
# Main-text extraction on the article-extraction benchmark pages: precision, recall and F1 of
# `precis extract` (and of trafilatura, when it is installed), scored by the benchmark's own
# metric (score.py beside the pages), on all pages and on each half of them.
#
#   bench/extract.sh [PAGES_DIR]        default: ../shared/pages (ID.html + truth.jsonl + score.py)
#
# The halves split the pages by the first hex digit of their id (0-7 / 8-f, ids are hashes):
# constants tuned on one half are checked on the other. Environment:
#   PRECIS=path/to/precis           use this binary instead of building target/release/precis
#   TRAFILATURA_PYTHON=path/python  a Python with trafilatura (default: python3, if it has it)
# Seconds are wall time for all pages in one process each; they are noisy on a busy machine.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pages=$(cd "${1:-$root/../shared/pages}" && pwd)
[ -f "$pages/truth.jsonl" ] || { echo "no truth.jsonl in $pages" >&2; exit 1; }
score="$pages/score.py"
[ -f "$score" ] || score="$root/../shared/pages/score.py"
[ -f "$score" ] || { echo "no score.py beside the pages or in ../shared/pages" >&2; exit 1; }

if [ -z "${PRECIS:-}" ]; then
  (cd "$root" && cargo build --release --locked --quiet)
  PRECIS="$root/target/release/precis"
fi
python=${TRAFILATURA_PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Truth of each half, and the list of pages.
python3 - "$pages" "$work" <<'PY'
import json, sys
pages, work = sys.argv[1:]
rows = [l for l in open(f"{pages}/truth.jsonl") if l.strip()]
halves = {"all": rows, "half_0-7": [], "half_8-f": []}
for line in rows:
    (halves["half_0-7"] if json.loads(line)["id"][0] in "01234567" else halves["half_8-f"]).append(line)
for name, lines in halves.items():
    open(f"{work}/truth-{name}.jsonl", "w").writelines(lines)
open(f"{work}/pages.txt", "w").write("\n".join(f"{pages}/{json.loads(l)['id']}.html" for l in rows) + "\n")
PY

seconds_of() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }

# precis: one process for all pages; a refused page is reported and scores as empty.
start=$(date +%s.%N)
set +e
xargs -d '\n' "$PRECIS" extract --format jsonl <"$work/pages.txt" >"$work/precis.raw.jsonl" 2>"$work/precis.err"
status=$?
set -e
precis_seconds=$(seconds_of "$start" "$(date +%s.%N)")
python3 - "$work/precis.raw.jsonl" >"$work/precis.jsonl" <<'PY'
import json, os, sys
for line in open(sys.argv[1]):
    if line.strip():
        record = json.loads(line)
        print(json.dumps({"id": os.path.splitext(os.path.basename(record["origin"]))[0], "articleBody": record["text"]}))
PY
refused=$(grep -c 'has no text\|could not be read' "$work/precis.err" || true)

have_trafilatura=no
if "$python" -c 'import trafilatura' 2>/dev/null; then
  have_trafilatura=yes
  start=$(date +%s.%N)
  "$python" - "$work/pages.txt" >"$work/trafilatura.jsonl" <<'PY'
import json, os, sys, trafilatura
for path in open(sys.argv[1]).read().split("\n"):
    if path:
        text = trafilatura.extract(open(path, encoding="utf-8", errors="replace").read()) or ""
        print(json.dumps({"id": os.path.splitext(os.path.basename(path))[0], "articleBody": text}))
PY
  trafilatura_seconds=$(seconds_of "$start" "$(date +%s.%N)")
  trafilatura_version=$("$python" -c 'import trafilatura; print(trafilatura.__version__)')
fi

echo "pages: $pages ($(wc -l <"$work/truth-all.jsonl") pages; precis exit status $status, $refused refused)"
printf '%-22s %-9s %7s %10s %7s %8s\n' extractor pages F1 precision recall seconds
report() { # name predictions seconds
  for half in all half_0-7 half_8-f; do
    read -r f1 precision recall n < <(python3 "$score" "$work/truth-$half.jsonl" "$2" | awk '{print $2, $4, $6, $8}')
    printf '%-22s %-9s %7s %10s %7s %8s\n' "$1" "$half" "$f1" "$precision" "$recall" "$([ "$half" = all ] && echo "$3" || echo "")"
  done
}
report precis "$work/precis.jsonl" "$precis_seconds"
if [ "$have_trafilatura" = yes ]; then
  report "trafilatura $trafilatura_version" "$work/trafilatura.jsonl" "$trafilatura_seconds"
else
  echo "(trafilatura not installed for $python: set TRAFILATURA_PYTHON to compare)"
fi
