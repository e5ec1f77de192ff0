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
  say "installing torch 2.13.0 (large: several minutes on a slow link or a busy machine)"
  .venv/bin/python -m pip install -q "torch==2.13.0"
fi
say "installing maskvat and its dependencies (with the test tools)"
.venv/bin/python -m pip install -q -e ".[test]"
# The published-metrics tests' references that need torchaudio (av-benchmark's resampler; PaSST), without
# their dependencies and off sys.path: torchaudio's PyPI build needs CUDA libraries to import as a package,
# and hear21passt's timm would pull torchvision, so the tests read their pure-Python modules from here
# (tests/evaluation/reference_packages.py).
[ -d .venv/reference/hear21passt ] || say "unpacking the published-metrics tests' reference packages"
[ -d .venv/reference/hear21passt ] || .venv/bin/python -m pip install -q --no-deps --target .venv/reference \
  "torchaudio==2.11.1" "hear21passt==0.0.26"
.venv/bin/maskvat --version
