#!/usr/bin/env bash
# precis (fp32, bf16, int8) vs Hugging Face transformers 4.44.2 (PyTorch 2.4.0) vs CTranslate2
# 4.5.0 (fp32 and int8), side by side on one model: random weights with the shape of SHAPE
# (default sshleifer/distilbart-cnn-12-6; also t5-small and pegasus-cnn_dailymail), built here by
# transformers (no network needed once the venv has its packages), a fixed 780-token article, 80
# generated tokens forced (min = max), no-repeat 3-grams, length penalty 2.0, 4 beams and greedy;
# then a batch of 32 inputs of 200-1024 tokens. THREADS threads per side (default 2). ROUNDS
# rounds (default 3): in each, every side in turn (rotated order) loads, warms up, times RUNS
# (default 1) 4-beam and greedy runs of the article and a ROUNDS-th of the batch; medians over
# the rounds, the batch's time summed; load time and peak RSS per side. Then, untimed, every side
# scores transformers' outputs teacher-forced, and the report compares their log-probabilities
# with transformers' (fp32). Not a test.
#   bench/compare.sh                 everything
#   SHAPE=t5-small bench/compare.sh  another model shape (t5-small: a 512-token article, T5's window;
#                                    transformers and precis fp32 only unless SIDES says so: precis
#                                    runs T5 and PEGASUS at fp32 whatever --precision asks)
#   SIDES="transformers precis-int8 ctranslate2-int8" bench/compare.sh   (with transformers: its
#                                    outputs are the targets every side scores; without it, no accuracy)
#   ROUNDS=1 RUNS=3 bench/compare.sh (the old order: each side's runs back to back)
#   BATCH_INPUTS=N (only the first N inputs of the batch), BATCH_SIZE=8 (inputs per call on every side, sorted by length), BENCH_DIR=… (scratch, kept
#   between runs so the model is built once)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
threads=${THREADS:-2}
rounds=${ROUNDS:-3}
runs=${RUNS:-1}
batch_size=${BATCH_SIZE:-8}
shape=${SHAPE:-distilbart-cnn-12-6}
if [ "$shape" = distilbart-cnn-12-6 ]; then
  default_sides="transformers precis precis-bf16 precis-int8 ctranslate2-float32 ctranslate2-int8"
else
  default_sides="transformers precis"
fi
sides=${SIDES:-$default_sides}
work=${BENCH_DIR:-$root/target/bench-compare}
python=$root/.venv/bin/python

"$root/scripts/setup.sh" --reference
if ! "$python" -c 'import ctranslate2, sys; sys.exit(ctranslate2.__version__ != "4.5.0")' 2>/dev/null; then
  "$root/.venv/bin/pip" install --disable-pip-version-check --progress-bar off ctranslate2==4.5.0
fi
cd "$root"
cargo build --release --locked --quiet --features model --example bench_generate

model=$work/model
[ "$shape" = distilbart-cnn-12-6 ] || model=$work/$shape
if [ ! -f "$model/inputs.json" ]; then
  echo "== building the random-weight $shape-shaped model in $model" >&2
  "$python" bench/compare.py make-model "$model" "$shape"
fi
if [[ $sides == *ctranslate2* ]] && [ ! -f "$model/ct2/model.bin" ]; then
  echo "== converting it for CTranslate2" >&2
  "$python" -c 'import ctranslate2, sys; ctranslate2.converters.TransformersConverter(sys.argv[1]).convert(sys.argv[2], force=True)' "$model" "$model/ct2" >&2
fi

# Every side gets the same thread count (OpenMP, MKL and each library's own setting).
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
results=$work/results.jsonl scores=$work/scores.jsonl
: >"$results"
: >"$scores"
unset BENCH_TARGETS
# run SIDE RUNS OUT: one side's process (its own model load and warm-up), appending its record.
run() {
  local side=$1 side_runs=$2 out=$3
  case $side in
    precis) target/release/examples/bench_generate "$model" "$model/inputs.json" "$threads" "$side_runs" "$batch_size" >>"$out" ;;
    precis-*) target/release/examples/bench_generate "$model" "$model/inputs.json" "$threads" "$side_runs" "$batch_size" "${side#precis-}" >>"$out" ;;
    transformers) "$python" bench/compare.py transformers "$model" "$threads" "$side_runs" "$batch_size" >>"$out" ;;
    ctranslate2-*) "$python" bench/compare.py ctranslate2 "$model" "$threads" "$side_runs" "$batch_size" "${side#ctranslate2-}" >>"$out" ;;
    *) echo "unknown side $side" >&2; exit 2 ;;
  esac
}
# Timed rounds: in each, every side runs once (RUNS per-article runs and a part of the batch), the
# sides in a rotated order, so that a slower or faster spell of this shared machine falls on
# every side alike instead of on whichever ran then.
read -r -a order <<<"$sides"
echo "== $(nproc --all) cores, $threads threads per side, $rounds rounds, load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for ((round = 1; round <= rounds; round++)); do
  for ((i = 0; i < ${#order[@]}; i++)); do
    side=${order[(i + round - 1) % ${#order[@]}]}
    echo "== round $round/$rounds: $side" >&2
    BATCH_PART=$round/$rounds run "$side" "$runs" "$results"
  done
done
echo "== load average after the timed rounds: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# Untimed: every side scores transformers' outputs teacher-forced (the accuracy table).
if [[ " $sides " == *" transformers "* ]]; then
  "$python" bench/compare.py targets "$results" "$model" >"$work/targets.json"
  for side in $sides; do
    echo "== scoring: $side" >&2
    BATCH_PART=none BENCH_TARGETS=$work/targets.json run "$side" 0 "$scores"
  done
fi
"$python" bench/compare.py report "$results" "$("$python" -c 'import json, os, sys; print(min(int(os.environ.get("BATCH_INPUTS", 32)), len(json.load(open(sys.argv[1]))["batch"])))' "$model/inputs.json")" "$scores"
