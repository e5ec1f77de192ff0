"""benchmarks/paper_gpu.py --tiny: the paradigms section (MaskVAT vs V-AURA vs VTA-LDM) on toy sizes."""

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "paper_gpu.py"


def test_paradigms_section_times_the_three_generators_with_their_call_counts(tmp_path):
    steps, flow_steps = 4, 2
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path), "--tiny", "--only", "paradigms",
                           "--reps", "1", "--steps", str(steps), "--flow-steps", str(flow_steps)],
                          check=False, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})  # toy sizes: threads only contend
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "paper_gpu.json").read_text())
    rows = {r["model"]: r for r in results["paradigms"]}
    assert list(rows) == ["paper-adaln-b", "paper-vaura", "paper-vtaldm"]
    assert all(r["s_per_clip"] > 0 for r in rows.values())
    assert rows["paper-adaln-b"]["network_calls"] == steps  # N decoder passes (CFG rows in one batch)
    length = rows["paper-vaura"]["L"]
    assert rows["paper-vaura"]["network_calls"] == length + 8  # every frame + the delay pattern's K - 1 steps
    assert rows["paper-vtaldm"]["network_calls"] == 2 * flow_steps  # Heun: two velocity calls a step
    assert rows["paper-vtaldm"]["nearest_codes_s"] > 0
    assert results["paradigm_ratios"]["vaura_over_maskvat"] > 0
    table = (tmp_path / "paper_gpu.md").read_text()
    assert "| paper-vaura |" in table and "V-AURA / MaskVAT" in table
    assert not results["sampling"] and not results["training"]
