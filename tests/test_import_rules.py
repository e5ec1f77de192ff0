"""The import rules of pyproject.toml ([tool.importlinter]): two wings with one-way stairs, no cycles.

Inference (media, dsp, codec, encoders, model, sampling, scav, pipeline, weights) never imports
training, training data, the lab, evaluation or the CLI; nothing imports the CLI; no cycle
between sibling modules at any depth. Checked with import-linter, which reads every import,
also those inside functions.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin"})


def test_the_package_keeps_every_import_contract():
    done = lint(ROOT, ROOT / "src")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_a_wrong_way_import_breaks_a_contract(tmp_path):
    """The same check on a copy of the package where the model imports a trainer must fail."""
    shutil.copytree(ROOT / "src" / "maskvat", tmp_path / "src" / "maskvat",
                    ignore=shutil.ignore_patterns("assets", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    layers = tmp_path / "src" / "maskvat" / "model" / "layers.py"
    layers.write_text(layers.read_text() + "\n\ndef _wrong_way():\n    from maskvat.train import generator  # noqa\n")
    done = lint(tmp_path, tmp_path / "src")
    assert done.returncode != 0
    assert "maskvat.model.layers -> maskvat.train.generator" in done.stdout
