#!/usr/bin/env bash
# `precis serve` under load, on loopback only: wrk (Debian's package) posts articles to
# /v1/summarize from 1, 4, 16 and 64 concurrent clients (one connection each), with the extractive
# engine and with the benchmark model (random weights with sshleifer/distilbart-cnn-12-6's shape,
# built as bench/compare.sh builds it, and the tiny T5 fixture for headlines). Each run is bounded:
# every client stops after its share of requests (a fixed count, no time window), and wrk is
# stopped once the server has answered them all (at most LIMIT seconds). A fresh server per run.
#
# Prints per run: requests, seconds, requests/s, p50/p95/p99 latency, status counts, the mean
# model batch size (from /metrics), the server's peak RSS and its RSS when the load started and
# when it ended. With the model it also runs `precis batch` on the same articles and prints the
# served articles/s at 16 clients against it, and an overload run (64 clients, --max-queue 16)
# where the clients beyond capacity must get 429 and nobody a 5xx. Not a test.
#
#   bench/serve.sh                       everything
#   ENGINES=extractive bench/serve.sh    only the extractive engine (seconds)
#   LEVELS="1 16" ENGINES=model bench/serve.sh
#
# Articles: the first 64 of ../shared/eval/cnndm-dev.jsonl (EVAL_DIR), each cut to its leading
# whole sentences within 900 bytes: the benchmark model's tokenizer has no merges (a token per
# byte), so that keeps every input within its 1,024-token window, as real articles are for the real
# model (≈ 900 BPE tokens for 4,000 characters) — one model pass per article, no chunking.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
eval_dir=${EVAL_DIR:-$root/../shared/eval}
work=${BENCH_DIR:-$root/target/bench-serve}
model=${MODEL_DIR:-$root/target/bench-compare/model}
headline_model=$root/tests/fixtures/models/t5-tiny
levels=${LEVELS:-"1 4 16 64"}
engines=${ENGINES:-"extractive model"}
extractive_requests=${EXTRACTIVE_REQUESTS:-2048}
limit=${LIMIT:-1800}
port=${PORT:-18080}
base="http://127.0.0.1:$port"

command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }; }
"$root/scripts/setup.sh"
cd "$root"
scripts/build.sh --quiet
mkdir -p "$work"
if [[ $engines == *model* ]] && [ ! -f "$model/model.safetensors" ]; then
  "$root/scripts/setup.sh" --reference
  echo "== building the random-weight distilbart-cnn-12-6-shaped model in $model" >&2
  "$root/.venv/bin/python" bench/compare.py make-model "$model"
fi

# Request bodies (one JSON object per line) and the same articles as batch JSONL.
python3 - "$eval_dir/cnndm-dev.jsonl" "$work" <<'PY'
import json, re, sys
source, work = sys.argv[1], sys.argv[2]
articles = []
for line in open(source):
    if not line.strip():
        continue
    record = json.loads(line)
    kept = ""
    for sentence in re.split(r"(?<=[.!?])\s+", record["article"].strip()):
        candidate = (kept + " " + sentence).strip()
        if len(candidate.encode()) > 900:
            break
        kept = candidate
    if kept:
        articles.append((record.get("id", f"cnndm-{len(articles)}"), kept))
    if len(articles) == 64:
        break
with open(f"{work}/bodies.jsonl", "w") as bodies, open(f"{work}/items.jsonl", "w") as items:
    for number, (identifier, text) in enumerate(articles):
        bodies.write(json.dumps({"id": identifier, "text": text}) + "\n")
        if number < 32:
            items.write(json.dumps({"id": identifier, "text": text}) + "\n")
PY

cat >"$work/load.lua" <<'LUA'
-- One connection per thread; thread i posts bodies i, i + clients, i + 2 clients, ... and stops
-- after QUOTA answers. done() prints one JSON line with the latencies and status counts.
-- `statuses` is global: done() reads each thread's with thread:get, which sees globals only.
local bodies, threads = {}, {}
statuses = {}
local quota, clients = tonumber(os.getenv("WRK_QUOTA")), tonumber(os.getenv("WRK_CLIENTS"))
local next_body, answered = 0, 0

function setup(thread)
  thread:set("number", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("WRK_BODIES")) do table.insert(bodies, line) end
  next_body = number
  wrk.method = "POST"
  wrk.path = "/v1/summarize"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local body = bodies[(next_body % #bodies) + 1]
  next_body = next_body + clients
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  statuses[tostring(status)] = (statuses[tostring(status)] or 0) + 1
  answered = answered + 1
  if answered >= quota then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do totals[status] = (totals[status] or 0) + count end
  end
  local parts = {}
  for status, count in pairs(totals) do table.insert(parts, string.format('"%s": %d', status, count)) end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "seconds": %.3f, "p50_ms": %.1f, "p95_ms": %.1f, "p99_ms": %.1f, "max_ms": %.1f, "statuses": {%s}, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, table.concat(parts, ", "), e.connect + e.read + e.write + e.timeout))
end
LUA

metric_sum() { curl -s "$base/metrics" | awk -v name="$1" 'index($0, name) == 1 {sum += $NF} END {printf "%s", sum + 0}'; }
rss_mb() { awk -v field="$2" '$1 == field":" {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

results=$work/results.jsonl
: >"$results"

# run LABEL CLIENTS QUOTA SERVER-ARGS...: a fresh server, one bounded wrk run, one JSON line.
run() {
  local label=$1 clients=$2 quota=$3; shift 3
  target/release/precis serve --port "$port" --quiet "$@" 2>"$work/server.log" &
  local server=$!
  local deadline=$((SECONDS + 600))
  until curl -sf "$base/readyz" >/dev/null; do
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; return 1; }
    [ $SECONDS -lt $deadline ] || { echo "server not ready" >&2; kill "$server"; return 1; }
    sleep 0.2
  done
  local rss_start peak rss_end samples=$work/rss.txt
  rss_start=$(rss_mb "$server" VmRSS)
  (while kill -0 "$server" 2>/dev/null; do rss_mb "$server" VmRSS >>"$samples" 2>/dev/null || true; echo >>"$samples"; sleep 1; done) &
  local sampler=$!
  WRK_QUOTA=$quota WRK_CLIENTS=$clients WRK_BODIES=$work/bodies.jsonl \
    wrk -t "$clients" -c "$clients" -d "${limit}s" --timeout 900s -s "$work/load.lua" "$base" >"$work/wrk.out" 2>&1 &
  local wrk_pid=$!
  local target=$((clients * quota)) end=$((SECONDS + limit))
  while kill -0 "$wrk_pid" 2>/dev/null; do
    local answered
    answered=$(metric_sum 'precis_http_requests_total{route="/v1/summarize"')
    if [ "${answered%.*}" -ge "$target" ] || [ $SECONDS -ge $end ]; then kill -INT "$wrk_pid" 2>/dev/null || true; break; fi
    sleep 0.05
  done
  wait "$wrk_pid" || true
  local mean_batch
  mean_batch=$(python3 -c 'import sys; s, c = float(sys.argv[1]), float(sys.argv[2]); print(round(s / c, 2) if c else "null")' \
    "$(metric_sum 'precis_model_batch_size_sum')" "$(metric_sum 'precis_model_batch_size_count')")
  peak=$(rss_mb "$server" VmHWM)
  rss_end=$(rss_mb "$server" VmRSS)
  kill "$sampler" 2>/dev/null || true
  kill -TERM "$server"
  wait "$server" || true
  local rss_max
  rss_max=$(sort -n "$samples" | tail -1)
  rm -f "$samples"
  local line
  line=$(grep '^WRK_RESULT ' "$work/wrk.out" | sed 's/^WRK_RESULT //') || { cat "$work/wrk.out" >&2; return 1; }
  python3 - "$label" "$clients" "$line" "$mean_batch" "$peak" "$rss_start" "$rss_max" "$rss_end" >>"$results" <<'PY'
import json, sys
label, clients, line, mean_batch, peak, start, high, end = sys.argv[1:]
result = json.loads(line)
result.update(label=label, clients=int(clients), mean_batch=None if mean_batch == "null" else float(mean_batch),
              peak_rss_mb=int(peak), rss_start_mb=int(start), rss_max_mb=int(high or start), rss_end_mb=int(end))
print(json.dumps(result))
PY
  tail -1 "$results" >&2
}

echo "== $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for engine in $engines; do
  for clients in $levels; do
    case $engine in
      extractive) run extractive "$clients" $((extractive_requests / clients)) --engine extractive ;;
      # 8 articles for 1 client, 16 for 4, 32 for 16 (the batch's 32), 64 for 64.
      model)
        case $clients in 1) quota=8 ;; 4) quota=4 ;; 16) quota=2 ;; *) quota=1 ;; esac
        run model "$clients" "$quota" --engine abstractive --model "$model" --headline-model "$headline_model" ;;
    esac
  done
done

batch_rate=""
if [[ $engines == *model* ]]; then
  echo "== precis batch on the 32 articles (jobs 1)" >&2
  rm -f "$work/batch.jsonl"
  start=$(date +%s.%N)
  target/release/precis batch "$work/items.jsonl" --out "$work/batch.jsonl" --jobs 1 --quiet \
    --engine abstractive --model "$model" --headline-model "$headline_model"
  end=$(date +%s.%N)
  # Model loading is not serving (the server loads before its clients start): take it out, as
  # `precis summarize` of one short article reports it (timings_ms.load) for the same models.
  echo "Abe met Cameron in London on Thursday. They agreed to cooperate on defence." >"$work/tiny.txt"
  load_ms=$(target/release/precis summarize "$work/tiny.txt" --format json --quiet --engine abstractive --model "$model" --headline-model "$headline_model" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["timings_ms"]["load"])')
  batch_rate=$(python3 -c 'import sys; start, end, load, n = map(float, sys.argv[1:]); print(f"{n / (end - start - load / 1000):.4f} {end - start:.1f} {load / 1000:.1f} {n:.0f}")' \
    "$start" "$end" "$load_ms" "$(wc -l <"$work/batch.jsonl")")
  echo "batch: $batch_rate (articles/s, wall s, load s, articles)" >&2
  echo "== overload: 64 clients, --max-queue 16" >&2
  run "model --max-queue 16" 64 1 --engine abstractive --model "$model" --headline-model "$headline_model" --max-queue 16
fi
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$results" "$batch_rate" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
batch = float(sys.argv[2].split()[0]) if sys.argv[2] else None
print(f"{'run':<22}{'clients':>8}{'requests':>9}{'seconds':>9}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}  {'statuses':<20}{'batch':>6}{'peak MB':>9}{'RSS start/max/end MB':>22}")
for r in rows:
    statuses = " ".join(f"{k}:{v}" for k, v in sorted(r["statuses"].items())) + (f" sock:{r['socket_errors']}" if r["socket_errors"] else "")
    batch_size = "-" if r["mean_batch"] is None else f"{r['mean_batch']:.2f}"
    print(f"{r['label']:<22}{r['clients']:>8}{r['requests']:>9}{r['seconds']:>9.1f}{r['requests'] / r['seconds']:>9.2f}{r['p50_ms']:>9.0f}{r['p95_ms']:>9.0f}{r['p99_ms']:>9.0f}  {statuses:<20}{batch_size:>6}{r['peak_rss_mb']:>9}{r['rss_start_mb']:>8}/{r['rss_max_mb']}/{r['rss_end_mb']:<6}")
served = [r for r in rows if r["label"] == "model" and r["clients"] == 16]
if batch and served:
    r = served[0]
    rate = r["statuses"].get("200", 0) / r["seconds"]
    print(f"model, 16 clients: {rate:.3f} articles/s served; precis batch on the same 32 articles: {batch:.3f} articles/s; ratio {rate / batch:.2f}x")
for r in rows:
    bad = {k: v for k, v in r["statuses"].items() if k.startswith("5")}
    if bad or r["socket_errors"]:
        print(f"WARNING: {r['label']} at {r['clients']} clients: 5xx {bad}, socket errors {r['socket_errors']}")
PY
