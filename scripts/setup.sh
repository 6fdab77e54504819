#!/usr/bin/env bash
# Makes libtorch 2.4.0 (the version rust-bert 0.23 / tch 0.17 require) available to the build
# without reaching PyTorch's download site: the PyPI `torch==2.4.0` wheel, installed into a
# project-local venv at .venv/, exposed as .venv/libtorch for .cargo/config.toml.
#
# Idempotent: when the venv already holds the right torch, it does nothing but print where it is.
#   scripts/setup.sh              libtorch only (enough to build, run and test precis)
#   scripts/setup.sh --reference  also transformers 4.44.2 etc., to regenerate test fixtures
#                                 (scripts/make_fixtures.py) and run the benchmarks in bench/
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
torch_version=2.4.0
reference_pkgs=(transformers==4.44.2 tokenizers==0.19.1 sentencepiece==0.2.3 safetensors==0.8.0 numpy==2.4.6 protobuf==7.36.2)
python=${PYTHON:-python3}

log() { printf 'setup: %s\n' "$*" >&2; }

if [ ! -x "$venv/bin/python" ]; then
  log "creating $venv"
  "$python" -m venv "$venv"
fi

has_torch() {
  "$venv/bin/python" - "$torch_version" 2>/dev/null <<'PY'
import sys
try:
    import torch
except Exception:
    sys.exit(1)
sys.exit(0 if torch.__version__.split("+")[0] == sys.argv[1] else 1)
PY
}

if has_torch; then
  log "torch $torch_version already in $venv"
else
  log "installing torch==$torch_version from PyPI into $venv (about 5 GB with its CUDA runtime wheels)"
  "$venv/bin/pip" install --disable-pip-version-check --progress-bar off "torch==$torch_version"
  has_torch || { log "torch $torch_version did not import after install"; exit 1; }
fi

# .cargo/config.toml points LIBTORCH at this link, so plain `cargo build` finds libtorch.
torch_dir=$("$venv/bin/python" -c 'import os, torch; print(os.path.dirname(torch.__file__))' 2>/dev/null)
if [ "$(readlink "$venv/libtorch" 2>/dev/null)" != "$torch_dir" ]; then
  ln -sfn "$torch_dir" "$venv/libtorch"
fi

if [ "${1:-}" = "--reference" ]; then
  if "$venv/bin/python" -c 'import transformers, sentencepiece, sys; sys.exit(transformers.__version__ != "4.44.2")' 2>/dev/null; then
    log "reference packages already in $venv"
  else
    log "installing the reference implementation: ${reference_pkgs[*]}"
    "$venv/bin/pip" install --disable-pip-version-check --progress-bar off "${reference_pkgs[@]}"
  fi
fi
log "libtorch: $venv/libtorch -> $torch_dir"
