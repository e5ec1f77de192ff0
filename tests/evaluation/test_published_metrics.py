"""``maskvat evaluate --panns``: FD_PANNs and KL_PANNs beside the other metrics, from a checkpoint
saved in the published layout (random weights: nothing is downloaded)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from published_helpers import compact_cnn14_state

from maskvat.cli.main import main
from maskvat.evaluation.evaluate import evaluate_systems
from maskvat.evaluation.metrics import kl_softmax
from maskvat.evaluation.panns import PANNsEmbedder
from maskvat.media import read_audio, write_audio

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Three 1.4 s reference clips of different sounds (the anchors cut them to 75%: 1.05 s, over
    the 1 s minimum), noise as a generated system, and a published-layout CNN14 file."""
    root = tmp_path_factory.mktemp("published")
    ref, noise = root / "ref", root / "noise"
    for d in (ref, noise):
        d.mkdir()
    rng = np.random.default_rng(0)
    t = np.arange(int(1.4 * 44100)) / 44100
    for i, hz in enumerate((220.0, 880.0, 3000.0)):
        wav = (0.4 * np.sin(2 * np.pi * hz * t) * (np.sin(2 * np.pi * 3 * (i + 1) * t) > 0)).astype(np.float32)
        write_audio(ref / f"c{i}.wav", wav)
        write_audio(noise / f"c{i}.wav", (0.1 * rng.standard_normal(len(t))).astype(np.float32))
    torch.save({"model": compact_cnn14_state(), "iteration": 0}, root / "Cnn14_16k_mAP=0.438.pth")
    return root


class FakePaSST:
    """Stands in for PaSSTEmbedder in the wiring tests (its numerics are test_passt's): a
    768-d embedding and 527 logits that depend on the sound."""

    sample_rate = 32000

    def __init__(self, source, seconds):
        self.source, self.seconds = source, seconds

    def embed(self, wav, sample_rate):
        from maskvat.evaluation.passt import PaSSTOutput

        spec = np.abs(np.fft.rfft(wav[: 2 * 1054], axis=0))[:1054]
        return PaSSTOutput(spec[:768].astype(np.float32), np.log1p(spec[:527]).astype(np.float32))


def test_fd_and_kl_score_the_truth_best_and_pass_their_anchors(clips, monkeypatch):
    from maskvat.evaluation import passt

    monkeypatch.setattr(passt.PaSSTEmbedder, "from_pretrained",
                        classmethod(lambda cls, source, seconds: FakePaSST(source, seconds)))
    pth = str(clips / "Cnn14_16k_mAP=0.438.pth")
    out = evaluate_systems(clips / "ref", {"noise": clips / "noise"}, anchors=True, codec=None, judge=None,
                           panns=pth, passt="passt.pt", progress=False)
    truth, noise = out["columns"]["truth"], out["columns"]["noise"]
    for m in ("fd_panns", "kl_panns", "fd_passt", "kl_passt"):
        assert out["verdicts"][m]["ok"], m
        assert truth[m] == pytest.approx(0.0, abs=1e-6) and noise[m] > 1e-3, m
    assert truth["frames"]["fd_panns"] == 3  # one embedding per clip
    # the figure is the mean of the per-clip KLs, as av-benchmark averages them
    assert noise["kl_panns"] == pytest.approx(float(np.mean([r["kl_panns"] for r in noise["per_clip"]])), rel=1e-12)
    assert noise["published"] == {"panns": {"weights": pth, "sample_rate": 16000, "seconds": 8.0},
                                  "passt": {"weights": "passt.pt", "sample_rate": 32000, "seconds": 8.0}}


def test_cli_table_and_csv(clips, tmp_path, capsys):
    pth = str(clips / "Cnn14_16k_mAP=0.438.pth")
    assert main(["evaluate", "--reference", str(clips / "ref"), "--generated", str(clips / "noise"), "--codec", "none",
                 "--judge", "none", "--panns", pth, "--published-seconds", "1", "--csv", str(tmp_path / "c.csv")]) == 0
    out = capsys.readouterr().out
    assert "FD_PANNs ↓" in out and "KL_PANNs ↓" in out and "FDM (MFCC) ↓" in out
    assert f"FD_PANNs / KL_PANNs: CNN14 at 16 kHz from {pth}; each clip's first 1 s" in out
    rows = list(csv.DictReader(open(tmp_path / "c.csv")))
    assert [r["clip"] for r in rows] == ["c0", "c1", "c2"]
    # each clip's KL_PANNs is KL(softmax(reference logits) || softmax(generated logits)) of its first 1 s
    emb = PANNsEmbedder.from_pretrained(pth, seconds=1.0)
    for i, row in enumerate(rows):
        gen, ref = (emb.embed(read_audio(clips / d / f"c{i}.wav"), 44100).logits for d in ("noise", "ref"))
        assert float(row["kl_panns"]) == pytest.approx(float(kl_softmax(gen, ref)), rel=1e-5) and float(row["kl_panns"]) > 0


def test_published_seconds_cuts_each_clip(clips):
    emb = PANNsEmbedder.from_pretrained(clips / "Cnn14_16k_mAP=0.438.pth", seconds=0.5)
    wav = np.ones(44100, np.float32)
    assert len(emb.prepare(wav, 44100)) == 8000
    emb.seconds = None
    assert len(emb.prepare(wav, 44100)) == 16000


def test_missing_or_foreign_weights_exit_2_with_one_line(clips, tmp_path, capsys):
    args = ["evaluate", "--reference", str(clips / "ref"), "--generated", str(clips / "noise"), "--codec", "none",
            "--judge", "none"]
    missing = tmp_path / "Cnn14_16k_mAP=0.438.pth"
    for option in ("--panns", "--passt"):
        assert main([*args, option, str(missing)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"{missing}: no such file" in err
    torch.save({"model": {"fc1.weight": torch.zeros(3)}}, tmp_path / "vggish.pth")
    assert main([*args, "--panns", str(tmp_path / "vggish.pth")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a PANNs CNN14 checkpoint" in err
    assert main([*args, "--panns", str(missing), "--published-seconds", "-1"]) == 2
    assert "--published-seconds -1" in capsys.readouterr().err
    assert main([*args, "--published-seconds", "4"]) == 2  # read by no metric asked for: not silently ignored
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "only the published metrics read it" in err
