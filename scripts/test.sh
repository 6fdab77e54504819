#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs libtorch if needed, then runs every test.
# No network is used by the tests: models are tiny fixtures, the Hub is a loopback server.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh"
cd "$root"
cargo test --locked "$@"
