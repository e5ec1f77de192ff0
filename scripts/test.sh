#!/usr/bin/env bash
# The test suite (what CI runs, after scripts/install.sh): installs the test tools and the
# published-metrics tests' reference packages into ./.venv where they are missing, then runs pytest.
# Arguments go to pytest (e.g. `bash scripts/test.sh tests/media -x`).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "test: $*" >&2; }
[ -x .venv/bin/python ] || { say "no .venv: run scripts/install.sh (or scripts/quickstart.sh) first"; exit 2; }
if ! .venv/bin/python -c "import pytest, kaldi_native_fbank, importlinter, panns_inference, torchlibrosa" 2>/dev/null; then
  say "installing the test tools (pytest, the reference implementations the tests compare against)"
  .venv/bin/python -m pip install -q -e ".[test]"
fi
# The published-metrics tests' references that need torchaudio (av-benchmark's resampler; PaSST), without
# their dependencies and off sys.path: torchaudio's PyPI build needs CUDA libraries to import as a package,
# and hear21passt's timm would pull torchvision, so the tests read their pure-Python modules from here
# (tests/evaluation/reference_packages.py).
if [ ! -d .venv/reference/hear21passt ]; then
  say "unpacking the published-metrics tests' reference packages"
  .venv/bin/python -m pip install -q --no-deps --target .venv/reference "torchaudio==2.11.1" "hear21passt==0.0.26"
fi
exec .venv/bin/python -m pytest "$@"
