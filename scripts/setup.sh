#!/usr/bin/env bash
# Makes libtorch 2.4.0 (the version rust-bert 0.23 / tch 0.17 require) available to the build
# without reaching PyTorch's download site, from the PyPI `torch==2.4.0` wheel.
#
#   scripts/setup.sh              CPU libtorch in .venv/libtorch (enough to build, run and test precis)
#   scripts/setup.sh --reference  also the reference implementation in .venv (torch with its CUDA
#                                 wheels, transformers 4.44.2, ...), to regenerate test fixtures
#                                 (scripts/make_fixtures.py) and run the benchmarks in bench/
#   scripts/setup.sh --cuda       libtorch with CUDA: the whole wheel and its CUDA runtime wheels
#                                 (about 5 GB) installed in .venv, .venv/libtorch linked to it
#
# The CPU libtorch is the wheel's CPU half: its headers, libtorch_cpu, libc10 and its OpenMP, and the
# two small CUDA libraries libtorch_cpu names as dependencies (libcudart, libcupti; never called on
# CPU). That is about 0.5 GB on disk instead of 5 GB, and precis starts without loading
# libtorch_cuda (0.9 GB). libtorch.so, which only pulls in libtorch_cpu and libtorch_cuda, is
# replaced by a linker script naming libtorch_cpu, so torch-sys's `-ltorch` still resolves.
# Wheels are checked against the sha256 sums below before anything is unpacked.
#
# Idempotent: when .venv/libtorch already holds what was asked for, it only prints where it is.
# Switching between CPU and --cuda also cleans torch-sys's build (it links what it saw when built).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
libtorch="$venv/libtorch"
torch_version=2.4.0
reference_pkgs=(transformers==4.44.2 tokenizers==0.19.1 sentencepiece==0.2.3 safetensors==0.8.0 numpy==2.4.6 protobuf==7.36.2)
python=${PYTHON:-python3}
# The CPU half: wheel file name, sha256, and the members taken from it.
cpu_wheels=(
  "torch-2.4.0-cp311-cp311-manylinux1_x86_64.whl e743adadd8c8152bb8373543964551a7cb7cc20ba898dc8f9c0cdbe47c283de0"
  "nvidia_cuda_runtime_cu12-12.1.105-py3-none-manylinux1_x86_64.whl 6e258468ddf5796e25f1dc591a31029fa317d97a0a94ed93468fc86301d61e40"
  "nvidia_cuda_cupti_cu12-12.1.105-py3-none-manylinux1_x86_64.whl e54fde3983165c624cb79254ae9818a456eb6e87a7fd4d56a2352c24ee542d7e"
)
cpu_stamp="torch $torch_version cpu"

log() { printf 'setup: %s\n' "$*" >&2; }
# torch-sys decides at build time whether to link libtorch_cuda and is not rebuilt when
# .venv/libtorch changes, so a switch must drop its build outputs in both profiles.
clean_torch_sys() {
  if [ -d "$root/target" ] && command -v cargo >/dev/null; then
    log "libtorch changed: cleaning torch-sys's build so the next build links the new one"
    (cd "$root" && cargo clean -q -p torch-sys && cargo clean -q --release -p torch-sys) || true
  fi
}
mode=cpu
for arg in "$@"; do
  case "$arg" in
    --reference) reference=1 ;;
    --cuda) mode=cuda ;;
    -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) log "unknown option '$arg' (options: --reference, --cuda, --help)"; exit 2 ;;
  esac
done

ensure_venv() {
  if [ ! -x "$venv/bin/python" ]; then
    log "creating $venv"
    "$python" -m venv "$venv"
  fi
}

venv_has_torch() {
  [ -x "$venv/bin/python" ] && "$venv/bin/python" - "$torch_version" 2>/dev/null <<'PY'
import sys
try:
    import torch
except Exception:
    sys.exit(1)
sys.exit(0 if torch.__version__.split("+")[0] == sys.argv[1] else 1)
PY
}

install_full_torch() {
  ensure_venv
  if venv_has_torch; then
    log "torch $torch_version already in $venv"
  else
    log "installing torch==$torch_version with its CUDA runtime wheels into $venv (about 5 GB)"
    "$venv/bin/pip" install --disable-pip-version-check --no-cache-dir --progress-bar off "torch==$torch_version"
    venv_has_torch || { log "torch $torch_version did not import after install"; exit 1; }
  fi
}

install_cpu_libtorch() {
  if [ -f "$libtorch/precis-libtorch" ] && [ "$(cat "$libtorch/precis-libtorch")" = "$cpu_stamp" ]; then
    log "CPU libtorch $torch_version already in $libtorch"
    return
  fi
  mkdir -p "$venv"
  local work="$venv/libtorch.partial"
  rm -rf "$work" && mkdir -p "$work/wheels" "$work/lib"
  local names=() spec
  for spec in "${cpu_wheels[@]}"; do names+=("${spec%% *}"); done
  log "downloading the CPU half of libtorch $torch_version from PyPI (a 0.8 GB wheel; 0.5 GB kept)"
  # The platform flags make pip pick these exact files whatever Python runs this script.
  "$python" -m pip download --disable-pip-version-check --no-cache-dir --progress-bar off --no-deps \
    --only-binary=:all: --platform manylinux1_x86_64 --python-version 3.11 --implementation cp --abi cp311 \
    -d "$work/wheels" "torch==$torch_version" nvidia-cuda-runtime-cu12==12.1.105 nvidia-cuda-cupti-cu12==12.1.105 >&2
  for spec in "${cpu_wheels[@]}"; do
    local file=${spec%% *} sum=${spec##* }
    [ -f "$work/wheels/$file" ] || { log "pip did not download $file; is PyPI reachable?"; exit 1; }
    echo "$sum  $work/wheels/$file" | sha256sum --check --quiet - \
      || { log "$file does not match its pinned sha256 $sum; not using it"; exit 1; }
  done
  "$python" - "$work" <<'PY'
import os, sys, zipfile
work = sys.argv[1]
wheels = os.path.join(work, "wheels")
def take(wheel, keep, dest):
    with zipfile.ZipFile(os.path.join(wheels, wheel)) as z:
        for info in z.infolist():
            rel = keep(info.filename)
            if rel is None or info.is_dir():
                continue
            out = os.path.join(work, dest, rel)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with z.open(info) as src, open(out, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            os.chmod(out, 0o755 if ".so" in rel else 0o644)
cpu_libs = {"libtorch_cpu.so", "libc10.so", "libgomp-a34b3233.so.1"}
take("torch-2.4.0-cp311-cp311-manylinux1_x86_64.whl",
     lambda n: n[len("torch/"):] if n.startswith("torch/include/") or n.startswith("torch/share/")
     else (n[len("torch/"):] if n.startswith("torch/lib/") and n[len("torch/lib/"):] in cpu_libs else None), "")
take("nvidia_cuda_runtime_cu12-12.1.105-py3-none-manylinux1_x86_64.whl",
     lambda n: "libcudart.so.12" if n == "nvidia/cuda_runtime/lib/libcudart.so.12" else None, "lib")
take("nvidia_cuda_cupti_cu12-12.1.105-py3-none-manylinux1_x86_64.whl",
     lambda n: "libcupti.so.12" if n == "nvidia/cuda_cupti/lib/libcupti.so.12" else None, "lib")
PY
  # libtorch_cpu finds libc10, libgomp, libcudart and libcupti through its own rpath entry $ORIGIN.
  printf '/* precis: the CPU half of libtorch; the wheel'"'"'s libtorch.so also needs libtorch_cuda. */\nINPUT(libtorch_cpu.so)\n' \
    > "$work/lib/libtorch.so"
  rm -rf "$work/wheels"
  echo "$cpu_stamp" > "$work/precis-libtorch"
  # An earlier setup made .venv/libtorch a link to the whole wheel: remove the link, not its target.
  if [ -L "$libtorch" ]; then rm "$libtorch"; else rm -rf "$libtorch"; fi
  mv "$work" "$libtorch"
}

if [ "$mode" = cuda ]; then
  install_full_torch
  torch_dir=$("$venv/bin/python" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
  if [ "$(readlink "$libtorch" 2>/dev/null)" != "$torch_dir" ]; then
    [ -L "$libtorch" ] || rm -rf "$libtorch"
    ln -sfn "$torch_dir" "$libtorch"
    clean_torch_sys
  fi
else
  was_cuda=0
  [ -L "$libtorch" ] && was_cuda=1
  install_cpu_libtorch
  [ "$was_cuda" = 1 ] && clean_torch_sys
fi

if [ "${reference:-0}" = 1 ]; then
  install_full_torch
  if "$venv/bin/python" -c 'import transformers, sentencepiece, sys; sys.exit(transformers.__version__ != "4.44.2")' 2>/dev/null; then
    log "reference packages already in $venv"
  else
    log "installing the reference implementation: ${reference_pkgs[*]}"
    "$venv/bin/pip" install --disable-pip-version-check --no-cache-dir --progress-bar off "${reference_pkgs[@]}"
  fi
fi
log "libtorch: $libtorch ($(cat "$libtorch/precis-libtorch" 2>/dev/null || echo "torch $torch_version with CUDA"))"
