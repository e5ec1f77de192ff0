"""``maskvat evaluate --synchformer``: DeSync per clip and in the summary, clips it cannot score
listed with the reason, and a missing or foreign checkpoint refused in one line (exit 2). The
network is a tiny random Synchformer (its numerics are test_synchformer's)."""

from __future__ import annotations

import pytest
import torch
from published_helpers import picture_clips

from maskvat.cli.main import main
from maskvat.evaluation.desync import FPS, DesyncScorer, frame_size
from maskvat.evaluation.evaluate import evaluate_dirs
from maskvat.evaluation.synchformer import Synchformer, SynchformerConfig
from maskvat.media import decode_frames, probe, read_audio

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = SynchformerConfig(dim=32, heads=2, video_depth=1, audio_depth=1, image=32, sync_depth=1, sync_heads=2)


def tiny_scorer(source, seconds):
    torch.manual_seed(0)
    model = Synchformer(TINY)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.2)
    return DesyncScorer(model, seconds=seconds, source=str(source))


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """References: c0.mp4 (6 s, moving picture), c1.mp4 (3 s: under DeSync's 4.8 s), c2.wav (no
    picture); generated: noise of each length."""
    return picture_clips(tmp_path_factory.mktemp("desync"))


def test_desync_per_clip_and_clips_it_cannot_score(clips, monkeypatch):
    monkeypatch.setattr(DesyncScorer, "from_pretrained", classmethod(lambda cls, source, seconds: tiny_scorer(source,
                                                                                                             seconds)))
    out = evaluate_dirs(clips / "gen", clips / "ref", codec=None, judge=None, classifier=None,
                        synchformer="synchformer_state_dict.pth", progress=False)
    rows = {r["clip"]: r for r in out["per_clip"]}
    assert "desync" in rows["c0"] and "desync" not in rows["c1"] and "desync" not in rows["c2"]
    reasons = {x["clip"]: x["reason"] for x in out["not_scored"]["desync"]}
    assert "shorter than DeSync's 4.8 s window" in reasons["c1"] and "no picture" in reasons["c2"]
    assert out["desync"] == rows["c0"]["desync"] and out["desync_files"] == 1
    assert out["published"]["synchformer"] == {"weights": "synchformer_state_dict.pth", "sample_rate": 16000,
                                               "seconds": 8.0}
    # the figure is the scorer's on the reference's picture and the generated sound (6 s: 17 segments)
    scorer = tiny_scorer("x", 8.0)
    video = clips / "ref" / "c0.mp4"
    frames = decode_frames(video, FPS, size=frame_size(*probe(video).video.display_size), duration=6.0).frames
    d = scorer.score(scorer.video_features(frames), read_audio(clips / "gen" / "c0.wav"), 44100)
    assert rows["c0"]["desync"] == pytest.approx(d.seconds) and len(d.offsets) == 2


def test_cli_reports_desync_and_refuses_bad_checkpoints_in_one_line(clips, tmp_path, capsys, monkeypatch):
    args = ["evaluate", "--reference", str(clips / "ref"), "--generated", str(clips / "gen"), "--codec", "none",
            "--judge", "none", "--classifier", "none"]
    missing = tmp_path / "synchformer_state_dict.pth"
    assert main([*args, "--synchformer", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{missing}: no such file" in err
    torch.save({"model": {"fc1.weight": torch.zeros(3)}}, tmp_path / "other.pt")
    assert main([*args, "--synchformer", str(tmp_path / "other.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a Synchformer checkpoint" in err
    monkeypatch.setattr(DesyncScorer, "from_pretrained", classmethod(lambda cls, source, seconds: tiny_scorer(source,
                                                                                                             seconds)))
    assert main([*args, "--synchformer", "synchformer_state_dict.pth"]) == 0
    out = capsys.readouterr().out
    assert "DeSync s (Synchformer) ↓" in out
    assert "DeSync s (Synchformer): 2 clip(s) not scored" in out
    assert "DeSync: Synchformer from synchformer_state_dict.pth; each clip's first 8 s" in out
