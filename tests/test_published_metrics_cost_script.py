"""benchmarks/published_metrics_cost.py: the DeSync and IB-score rows (toy Synchformer and
ImageBind, ``--tiny``) and the ``--only`` choice."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from maskvat.evaluation import desync as desync_module
from maskvat.evaluation import imagebind, synchformer

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "published_metrics_cost.py"


def script():
    spec = importlib.util.spec_from_file_location("published_metrics_cost", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_desync_and_ib_rows_time_the_video_and_audio_sides_of_each_clip(tmp_path):
    seconds, clips = 6, 2
    done = subprocess.run([sys.executable, str(SCRIPT), "--only", "ib", "desync", "--tiny", "--clips", str(clips),
                           "--seconds", str(seconds), "--threads", "1", "--video", "320x240",
                           "--out", str(tmp_path / "cost.json")],
                          check=False, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "cost.json").read_text())
    rows = result["rows"]
    assert list(rows) == ["DeSync (Synchformer)", "IB-score (ImageBind)"]  # only those asked, in METRICS order
    assert result["clip_seconds"] == seconds and result["video"] == "320x240" and result["tiny"]
    for row in rows.values():
        for key in ("wall_s_per_clip", "cpu_s_per_clip", "video_wall_s", "video_cpu_s", "audio_wall_s", "audio_cpu_s"):
            assert row[key] > 0, key
        assert row["wall_s_per_clip"] == pytest.approx(row["video_wall_s"] + row["audio_wall_s"], rel=0.01)
        assert len(row["scores"]) == clips  # the warm-up clip is not counted
    desync, ib = rows["DeSync (Synchformer)"], rows["IB-score (ImageBind)"]
    # DeSync: the span at 25 fps, short side the model's image (32 in the toy config), as the evaluator decodes
    assert desync["frames"] == [seconds * 25, 32, 42, 3]
    assert all(0 <= d <= 2 for d in desync["scores"])  # |offset| on the +-2 s grid
    # IB-score: int(0.5 x span) frames at the video's own size
    assert ib["frames"] == [seconds // 2, 240, 320, 3]
    assert all(-1 <= s <= 1 for s in ib["scores"])


def test_only_defaults_to_the_audio_rows_and_the_scorers_default_to_the_published_models():
    cost = script()
    assert cost.parse_args([]).only == ["panns", "passt"]  # the rows the script always gave
    assert cost.parse_args(["--only", "desync"]).only == ["desync"]
    with pytest.raises(SystemExit):
        cost.parse_args(["--only", "fad"])
    with pytest.raises(SystemExit):
        cost.parse_args(["--video", "640"])
    assert cost.desync_scorer.__defaults__ == (synchformer.PUBLISHED,)
    assert cost.ib_scorer.__defaults__ == (imagebind.PUBLISHED,)


@pytest.mark.usefixtures("one_torch_thread")  # main sets the thread count; the fixture restores it
def test_only_desync_builds_no_other_model(monkeypatch):
    cost = script()
    built = []
    monkeypatch.setattr(cost, "random_model", lambda cls, config: built.append(cls) or cls(config).eval())
    for name in ("PANNsEmbedder", "PaSSTEmbedder", "ImageBindScorer"):
        monkeypatch.setattr(cost, name, lambda *a, name=name, **k: pytest.fail(f"{name} built"))
    result = cost.main(["--only", "desync", "--tiny", "--clips", "1", "--seconds", "5", "--threads", "1"])
    assert list(result["rows"]) == ["DeSync (Synchformer)"] and built == [synchformer.Synchformer]
    assert result["rows"]["DeSync (Synchformer)"]["frames"][0] == 125


def test_the_published_models_read_frames_at_the_evaluators_size():
    """What ``evaluate`` decodes for the published models from a 640 x 360 reference of 10 s:
    DeSync 8 s at 25 fps at 398 x 224 (``desync.frame_size``), IB-score 4 frames at 640 x 360."""
    cost = script()
    rng = np.random.default_rng(0)
    with torch.device("meta"):  # the published layouts, no weights
        desync = cost.DesyncScorer(synchformer.Synchformer(synchformer.PUBLISHED), seconds=8.0, device="meta")
        ib = cost.ImageBindScorer(imagebind.ImageBind(imagebind.PUBLISHED), seconds=8.0, device="meta")
    assert cost.desync_frames(desync, 10.0, 640, 360, rng).shape == (200, 224, 398, 3)
    assert (398, 224) == desync_module.frame_size(640, 360)
    assert cost.ib_frames(ib, 10.0, 640, 360, rng).shape == (4, 360, 640, 3)
