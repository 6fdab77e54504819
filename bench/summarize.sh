#!/usr/bin/env bash
# The whole `precis summarize` of 20 articles (model loading included) against a transformers
# 4.44.2 script doing the same generations, with the default presets' shapes and settings:
# abstract and bullets by a random-weight sshleifer/distilbart-cnn-12-6-shaped model (one decoding
# serves both, as in precis), headline by the t5-small-headline preset (a random-weight
# t5-small-shaped model in that preset's snapshot of a private Hugging Face cache). Both built by
# transformers (bench/summarize.py make); the articles are the first 20 of ARTICLES that fit the
# window in one pass. THREADS threads per side (default 2), RUNS runs each (default 1), medians of
# whole-process wall times. Prints both times and the ratio. Not a test.
#   bench/summarize.sh
#   RUNS=3 THREADS=2 bench/summarize.sh
#   TRANSFORMERS_BATCH=1 bench/summarize.sh   transformers one article at a time (precis batches 8)
#   ARTICLES=… (JSONL with `article`; default ../shared/eval/cnndm-dev.jsonl), BENCH_DIR=… (scratch)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
threads=${THREADS:-2}
runs=${RUNS:-1}
articles=${ARTICLES:-$root/../shared/eval/cnndm-dev.jsonl}
transformers_batch=${TRANSFORMERS_BATCH:-8}
work=${BENCH_DIR:-$root/target/bench-summarize}
python=$root/.venv/bin/python

"$root/scripts/setup.sh" --reference
cd "$root"
scripts/build.sh --quiet
if [ ! -f "$work/articles/19.txt" ]; then
  echo "== building the random-weight models and picking 20 articles in $work" >&2
  "$python" bench/summarize.py make "$work" "$articles"
fi

export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
echo "== $(nproc --all) cores, $threads threads per side, load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$python" - "$work" "$runs" "$threads" "$transformers_batch" <<'PY'
import json, statistics, subprocess, sys, time, tomllib
from pathlib import Path

work, runs, threads, batch = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
articles = sorted(str(p) for p in (work / "articles").glob("*.txt"))
precis = ["target/release/precis", "summarize", *articles, "--engine", "abstractive", "--offline",
          "--model", str(work / "abstract-model"), "--format", "jsonl"]
transformers = [".venv/bin/python", "bench/summarize.py", "transformers", str(work), threads, batch]
env = {**__import__("os").environ, "HF_HUB_CACHE": str(work / "hf-cache")}

def timed(command):
    seconds, output = [], None
    for _ in range(runs):
        start = time.perf_counter()
        output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
        seconds.append(time.perf_counter() - start)
    return seconds, output

precis_seconds, precis_out = timed(precis)
records = [json.loads(line) for line in precis_out.splitlines() if line.strip()]
preset = lambda name: tomllib.loads(Path(f"models/{name}.toml").read_text())
abstract_settings = preset("distilbart-cnn-12-6")["generation"]["abstract"]
headline_settings = preset("t5-small-headline")["generation"]["headline"]
assert len(records) == len(articles) == 20, len(records)
for record in records:
    generation = record["settings"]["generation"]
    assert generation["abstract"] == abstract_settings and generation["headline"] == headline_settings, generation
    assert record["stats"]["chunks"] == 1 and not record["stats"]["truncated"], record["stats"]
    assert record["engine"]["abstract"] == "abstractive" and record["engine"]["headline"] == "abstractive", record["engine"]
transformers_seconds, transformers_out = timed(transformers)
reference = json.loads(transformers_out)
print(f"precis summarize, 20 articles (abstract, bullets, headline; loading included): "
      f"{statistics.median(precis_seconds):.1f} s (runs: {', '.join(f'{s:.1f}' for s in precis_seconds)})")
print(f"transformers script, same generations (batches of {batch}):                  "
      f"{statistics.median(transformers_seconds):.1f} s (runs: {', '.join(f'{s:.1f}' for s in transformers_seconds)}; "
      f"last run: load {reference['load_seconds']:.1f} s, generate {reference['generate_seconds']:.1f} s)")
print(f"abstract input tokens: precis {sum(r['stats']['input_tokens'] for r in records)}, transformers {sum(reference['abstract_input_tokens'])}; "
      f"generated (transformers, decoder start included): abstracts {sum(reference['abstract_tokens'])}, headlines {sum(reference['headline_tokens'])}")
print(f"precis speed / transformers speed: {statistics.median(transformers_seconds) / statistics.median(precis_seconds):.2f}x")
PY
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
