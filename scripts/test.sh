#!/usr/bin/env bash
# The test suite (what CI runs, after scripts/install.sh): installs the test tools and the
# published-metrics tests' reference packages into ./.venv where they are missing, then runs pytest.
# Arguments go to pytest (e.g. `bash scripts/test.sh tests/media -x`).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "test: $*" >&2; }
[ -x .venv/bin/python ] || { say "no .venv: run scripts/install.sh (or scripts/quickstart.sh) first"; exit 2; }
if ! .venv/bin/python -c "import pytest, kaldi_native_fbank, importlinter, panns_inference, torchlibrosa, selenium, gradio" 2>/dev/null; then
  say "installing the test tools (pytest, the reference implementations the tests compare against, selenium) and the workstation's extra (gradio)"
  .venv/bin/python -m pip install -q -e ".[test,ui]"
fi
# The workstation's browser tests drive Debian's headless Chromium (tests/ui/test_browser.py; they skip, saying
# why, where it is missing). As root on Debian (CI), install it; elsewhere say how.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian's chromium and chromium-driver for the browser tests"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } \
      || say "could not install chromium: the browser tests will skip"
  else
    say "no /usr/bin/chromium: the browser tests will skip (apt-get install chromium chromium-driver)"
  fi
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
