#!/usr/bin/env bash
# Start-up of commands that run no model: wall time (median of RUNS, default 11) and peak RSS of
# the whole process, timed from outside. Reference in the same run: a C program that links
# libtorch_cpu and libc10 and calls nothing (the floor any binary linking libtorch pays, and
# what `precis-model`, the executable with the model runtime, pays), and `/bin/true` (the floor
# of starting a process at all).
#
#   bench/startup.sh                  the release build of this checkout
#   PRECIS=/path/to/precis bench/startup.sh   another build (e.g. one linked with --cuda)
set -euo pipefail
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${RUNS:-11}
"$root/scripts/setup.sh"
cd "$root"
if [ -z "${PRECIS:-}" ]; then scripts/build.sh --quiet; fi
precis=${PRECIS:-$root/target/release/precis}
libtorch=$root/.venv/libtorch
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# The libtorch floor: a program whose only content is needing libtorch_cpu and libc10.
printf 'int main(void) { return 0; }\n' > "$scratch/probe.c"
gcc -O2 -o "$scratch/libtorch-probe" "$scratch/probe.c" -Wl,--no-as-needed -L"$libtorch/lib" \
  -ltorch_cpu -lc10 -Wl,-rpath,"$libtorch/lib"

# Inputs for the commands: the founding sample, a summary of it, a predictions file for eval,
# and two shard outputs for merge.
sample=$root/samples/abe-cameron-summit.txt
"$precis" summarize "$sample" --engine extractive --format json > "$scratch/summary.json"
python3 - "$scratch" <<'PY'
import json, sys
scratch = sys.argv[1]
record = json.load(open(f"{scratch}/summary.json"))
open(f"{scratch}/summary.txt", "w").write(record["abstract"])
with open(f"{scratch}/predictions.jsonl", "w") as out:
    out.write(json.dumps({"id": "a", "prediction": record["abstract"], "reference": record["abstract"]}) + "\n")
PY
printf '{"id":"one","text":"The council met on Monday. It voted to close the bridge for repairs. Work starts in May."}\n' > "$scratch/items.jsonl"
"$precis" batch "$scratch/items.jsonl" --engine extractive --shard 1/2 --out "$scratch/part1.jsonl" --quiet 2>/dev/null || true
"$precis" batch "$scratch/items.jsonl" --engine extractive --shard 2/2 --out "$scratch/part2.jsonl" --quiet 2>/dev/null || true

measure() {  # label, command...: prints "label  median ms  peak MB"
  local label=$1; shift
  "$@" > /dev/null 2>&1 || true   # warm the page cache
  python3 - "$runs" "$label" "$@" <<'PY'
import os, statistics, subprocess, sys, tempfile, time
runs, label, command = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
times, peaks = [], []
# Peak RSS from GNU time (a small C parent): a child forked from Python would count Python's pages.
with tempfile.NamedTemporaryFile() as report:
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report.name, *command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
        peaks.append(int(open(report.name).read().split()[-1]) / 1024)
print(f"{label:<40}{statistics.median(times) * 1000:>10.1f}{max(peaks):>10.1f}")
PY
}

printf '%-40s%10s%10s\n' "command" "ms" "peak MB"
measure "/bin/true" /bin/true
measure "C program linking libtorch_cpu+c10" "$scratch/libtorch-probe"
measure "precis-model --version" "$(dirname "$precis")/precis-model" --version
measure "precis --version" "$precis" --version
measure "precis --help" "$precis" --help
measure "precis summarize --engine extractive" "$precis" summarize "$sample" --engine extractive
measure "precis compare --engine extractive" "$precis" compare "$sample" --engine extractive --words 25,60,120
measure "precis extract" "$precis" extract "$sample"
measure "precis check" "$precis" check --article "$sample" --summary "$scratch/summary.txt"
measure "precis eval --predictions" "$precis" eval --predictions "$scratch/predictions.jsonl"
measure "precis merge" "$precis" merge "$scratch/merged.jsonl" "$scratch/part1.jsonl" "$scratch/part2.jsonl"
echo "precis: $precis (libraries it needs: $(readelf -d "$precis" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' | tr '\n' ' '))" >&2
