#!/usr/bin/env bash
# Install maskvat into ./.venv from nothing (Python >= 3.11 and pip are all it needs).
# torch is pinned to the CPU build first: an unpinned torch would pull a multi-GB CUDA build.
# On a GPU machine, install the torch build you want into .venv before running this.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
say() { echo "install: $*" >&2; }
[ -x .venv/bin/python ] || { say "creating .venv"; "$PY" -m venv .venv; }
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  say "installing torch 2.13.0 (large: several minutes, much longer on a slow link or a busy machine; pip shows its progress)"
  .venv/bin/python -m pip install --progress-bar on "torch==2.13.0"
fi
say "installing maskvat and its dependencies"
.venv/bin/python -m pip install -q -e .
.venv/bin/maskvat --version
