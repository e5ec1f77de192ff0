"""``maskvat evaluate --imagebind``: IB-score per clip and in the summary, clips it cannot score
listed with the reason, and a missing or foreign checkpoint refused in one line (exit 2). The
network is a tiny random ImageBind (its numerics are test_imagebind's)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from published_helpers import picture_clips

from maskvat.cli.main import main
from maskvat.evaluation.evaluate import evaluate_dirs
from maskvat.evaluation.imagebind import FPS, ImageBind, ImageBindConfig, ImageBindScorer
from maskvat.media import decode_frames, read_audio

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = ImageBindConfig(vision_dim=32, vision_depth=1, vision_heads=2, image=28, audio_dim=24, audio_depth=1,
                       audio_heads=2, embed=16)


def tiny_scorer(source, seconds):
    torch.manual_seed(0)
    model = ImageBind(TINY)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.2)
    return ImageBindScorer(model, seconds=seconds, source=str(source))


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """References: c0.mp4 (6 s, moving picture), c1.mp4 (3 s: under IB-score's 4 s), c2.wav (no
    picture); generated: noise of each length."""
    return picture_clips(tmp_path_factory.mktemp("ibscore"))


def test_ib_score_per_clip_and_clips_it_cannot_score(clips, monkeypatch):
    monkeypatch.setattr(ImageBindScorer, "from_pretrained",
                        classmethod(lambda cls, source, seconds: tiny_scorer(source, seconds)))
    out = evaluate_dirs(clips / "gen", clips / "ref", codec=None, judge=None, classifier=None,
                        imagebind="imagebind_huge.pth", progress=False)
    rows = {r["clip"]: r for r in out["per_clip"]}
    assert "ib_score" in rows["c0"] and "ib_score" not in rows["c1"] and "ib_score" not in rows["c2"]
    reasons = {x["clip"]: x["reason"] for x in out["not_scored"]["ib_score"]}
    assert "shorter than the 4 s IB-score needs" in reasons["c1"] and "no picture" in reasons["c2"]
    assert out["ib_score"] == rows["c0"]["ib_score"] and out["ib_files"] == 1
    assert out["published"]["imagebind"] == {"weights": "imagebind_huge.pth", "sample_rate": 16000, "seconds": 8.0}
    # the figure is the scorer's on the reference's frames (6 s: 3 at 0.5 fps, each the one shown
    # just before 1, 3 and 5 s) and the generated sound
    scorer = tiny_scorer("x", 8.0)
    decoded = decode_frames(clips / "ref" / "c0.mp4", FPS, start=scorer.frame_start(0.0), duration=6.0)
    assert len(decoded.frames) == 3
    np.testing.assert_allclose(decoded.source_times, [0.96, 2.96, 4.96], atol=1e-3)
    expected = scorer.score(scorer.video_embedding(decoded.frames), read_audio(clips / "gen" / "c0.wav"), 44100)
    assert rows["c0"]["ib_score"] == pytest.approx(expected, abs=1e-6)


def test_cli_reports_ib_score_and_refuses_bad_checkpoints_in_one_line(clips, tmp_path, capsys, monkeypatch):
    args = ["evaluate", "--reference", str(clips / "ref"), "--generated", str(clips / "gen"), "--codec", "none",
            "--judge", "none", "--classifier", "none"]
    missing = tmp_path / "imagebind_huge.pth"
    assert main([*args, "--imagebind", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{missing}: no such file" in err
    torch.save({"model": {"fc1.weight": torch.zeros(3)}}, tmp_path / "other.pt")
    assert main([*args, "--imagebind", str(tmp_path / "other.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not an ImageBind checkpoint" in err
    monkeypatch.setattr(ImageBindScorer, "from_pretrained",
                        classmethod(lambda cls, source, seconds: tiny_scorer(source, seconds)))
    assert main([*args, "--imagebind", "imagebind_huge.pth"]) == 0
    out = capsys.readouterr().out
    assert "IB-score (ImageBind) ↑" in out
    assert "IB-score (ImageBind): 2 clip(s) not scored" in out
    assert "IB-score: ImageBind from imagebind_huge.pth; each clip's first 8 s" in out
