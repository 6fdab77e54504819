#!/usr/bin/env bash
# Builds precis's two executables (docs/ARCHITECTURE.md, "Start-up"):
#   target/<profile>/precis        the front, without libtorch: starts in milliseconds, runs every
#                                  command that needs no model, hands the others to precis-model
#   target/<profile>/precis-model  the same program with the model runtime (libtorch, via tch)
# Needs libtorch first (scripts/setup.sh). Extra arguments go to cargo (e.g. --quiet).
#   scripts/build.sh               release build (target/release)
#   scripts/build.sh --debug       debug build (target/debug), as the tests use
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
profile=(--release)
args=()
for arg in "$@"; do
  case "$arg" in
    --debug) profile=() ;;
    *) args+=("$arg") ;;
  esac
done
cd "$root"
# The model executable first: built with the `model` feature, it links libtorch.
cargo build --locked "${profile[@]}" "${args[@]}" --features model --bin precis-model
# The front last, without the feature (a `--features model` build of `precis` would link libtorch).
cargo build --locked "${profile[@]}" "${args[@]}" --bin precis
