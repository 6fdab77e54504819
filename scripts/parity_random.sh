#!/usr/bin/env bash
# The 1,000-random-settings comparison with transformers (docs/ARCHITECTURE.md, "What parity means"):
# scripts/parity_random.py draws the cases on the fixture models and records transformers 4.44.2's
# ids; examples/parity_random.rs runs precis on them and prints how many are identical (exit 1 if
# any differs). Not a test: it needs the reference packages and takes minutes.
#   scripts/parity_random.sh                 1,000 cases, seed 0
#   COUNT=200 SEED=3 scripts/parity_random.sh
#   PRECIS_RUST_BERT=1 scripts/parity_random.sh   rust-bert's networks instead of precis's
#   ARTICLE=… (the text the inputs are cut from; default ../shared/seeds/000_edc74ea974603a46.txt)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
count=${COUNT:-1000}
seed=${SEED:-0}
work=${PARITY_DIR:-$root/target/parity-random}
python=$root/.venv/bin/python
article=${ARTICLE:-$root/../shared/seeds/000_edc74ea974603a46.txt}
cases=$work/cases-$count-$seed.json

"$root/scripts/setup.sh" --reference
cd "$root"
cargo build --release --locked --quiet --features model --example parity_random
if [ ! -f "$cases" ]; then
  echo "== drawing $count cases (seed $seed) and running transformers on them" >&2
  "$python" scripts/parity_random.py make "$cases" --count "$count" --seed "$seed" --article "$article"
fi
echo "== precis on the same cases" >&2
target/release/examples/parity_random "$cases"
