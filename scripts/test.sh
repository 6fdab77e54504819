#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs libtorch if needed, then runs every test.
# No network is used by the tests: models are tiny fixtures, the Hub is a loopback server.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh"
# tests/serve.rs drives the web page in headless Chromium (Debian's package): install it where missing.
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium for the page test (tests/serve.rs)" >&2
  if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq chromium >/dev/null \
    || { "${apt_get[@]}" update -qq && DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq chromium >/dev/null; }
fi
cd "$root"
# Two builds, as users get them (scripts/build.sh): the model runtime's own tests (unit tests of
# the kernels, networks and readers; parity with transformers; precisions; the pickle reader) in
# the `--features model` build; then every command-line test against the front `precis`, which
# hands model commands to the debug precis-model built here.
cargo test --locked --features model --lib --test parity --test precision --test pickle "$@"
cargo build --locked --features model --bin precis-model
cargo test --locked --test '*' "$@"
