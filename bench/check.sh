#!/usr/bin/env bash
# Speed of `precis check --data`: summary/article pairs per second, start-up included (the whole
# command, timed from outside), on the 900 pairs of faithfulness-dev.jsonl and on the same
# pairs repeated 10 times (9,000 pairs, written to a temporary file). The reference, measured
# in the same run, is precis's start-up alone (`precis --version`). Needs ../shared/eval/ beside
# the project root (or EVAL_DIR).
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
for _ in 1 2 3 4 5 6 7 8 9 10; do cat "$data"; done > "$scratch/x10.jsonl"

now() { date +%s.%N; }
# Best of three runs of a command (seconds), output discarded.
best_of_three() {
  local best=""
  for _ in 1 2 3; do
    local start end
    start=$(now)
    "$@" > /dev/null
    end=$(now)
    best=$(python3 -c "import sys; a=float(sys.argv[1]); b=sys.argv[2]; print(min(a, float(b)) if b else a)" "$(python3 -c "print($end - $start)")" "$best")
  done
  echo "$best"
}

# CPU seconds (user + system) of one run: what a busy machine does not inflate.
cpu_seconds() {
  /usr/bin/time -f '%U %S' -o "$scratch/time" "$@" > /dev/null
  python3 -c "import sys; u, s = map(float, open(sys.argv[1]).read().split()[-2:]); print(u + s)" "$scratch/time"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)   cores: $(nproc)"
startup=$(best_of_three "$precis" --version)
printf '%-34s %8.3f s wall %8.3f s cpu\n' "start-up (precis --version)" "$startup" "$(cpu_seconds "$precis" --version)"
for file in "$data" "$scratch/x10.jsonl"; do
  pairs=$(grep -c . "$file")
  seconds=$(best_of_three "$precis" check --data "$file" --format json)
  cpu=$(cpu_seconds "$precis" check --data "$file" --format json)
  python3 -c "import sys; p, s, r, c = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]); print('%-34s %8.3f s wall %8.3f s cpu  %7.0f pairs/s  (%.1f× start-up)' % ('check --data, %d pairs' % p, s, c, p / s, s / r))" "$pairs" "$seconds" "$startup" "$cpu"
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
