"""maskvat evaluate on a small lab split: the truth's own sound scores best."""

import numpy as np
import pytest

from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.errors import MaskvatError
from maskvat.evaluation.evaluate import evaluate_dirs
from maskvat.lab.build import build_split
from maskvat.media import read_audio, write_audio


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("evallab")
    split = build_split(root, "test", 3, seed=2, duration=2.0, bank="procedural", workers=1, progress=False)
    AudioTokenizer.from_preset("tiny").save_pretrained(root / "codec")
    own, noise = root / "own", root / "noise"
    own.mkdir()
    noise.mkdir()
    rng = np.random.default_rng(0)
    for video in sorted(split.glob("*.mp4")):
        wav = read_audio(video)
        write_audio(own / f"{video.stem}.wav", wav)
        write_audio(noise / f"{video.stem}.wav", (0.05 * rng.standard_normal(len(wav))).astype(np.float32))
    return split, root / "codec", own, noise


def test_reference_sound_beats_noise(lab, one_torch_thread):
    split, codec, own, noise = lab
    good = evaluate_dirs(own, split, codec=str(codec), progress=False)
    bad = evaluate_dirs(noise, split, codec=str(codec), progress=False)
    assert good["n_files"] == 3 and good["frames"]["fdm"] > 0
    assert good["fdd"] < 1e-6 and good["fdm"] < 1e-6 and good["ns"] == pytest.approx(1.0)
    assert bad["fdd"] > 1e-4 and bad["fdm"] > 1 and bad["ns"] < 0.9  # (the untrained tiny codec has small latents)
    assert good["onsets"]["all"]["f1"] > 0.9 > bad["onsets"]["all"]["f1"]
    # the shipped SS judge reads 2.4 s windows: 2 s clips are listed, not scored
    assert "ss_seconds" not in good and len(good["not_scored"]["ss_seconds"]) == 3
    from maskvat.weights import shipped

    short = evaluate_dirs(own, split, codec=str(codec), judge=str(shipped("sync_judge")), classifier=None,
                          progress=False)  # the 1.6 s judge
    assert short["ss_files"] == 3 and short["ss_seconds"] >= 0 and "ss_seconds" not in short["not_scored"]
    # the semantic scores: the truth's own sound matches itself in the audio-semantic space
    assert good["fad_embedding"] == "lab-audio" and good["frames"]["fad"] == 6  # 1 s windows of 2 s clips
    assert good["fad"] < 1e-3 < bad["fad"]
    assert good["wc"] == pytest.approx(1.0, abs=1e-5) and bad["wc"] < 0.9
    assert -1.0 <= bad["cc"] <= 1.0 and -1.0 <= good["cc"] <= 1.0


def test_fad_uses_vggish_when_named(lab, monkeypatch, one_torch_thread):
    import torch

    from maskvat.evaluation import vggish

    split, codec, own, noise = lab
    torch.manual_seed(0)
    model = vggish.VGGishEmbedder(vggish.VGGish().eval())
    named = []
    monkeypatch.setattr(vggish.VGGishEmbedder, "from_pretrained", classmethod(lambda cls, path: named.append(path) or model))
    good = evaluate_dirs(own, split, codec=str(codec), vggish="weights.pth", judge=None, classifier=None, progress=False)
    bad = evaluate_dirs(noise, split, codec=str(codec), vggish="weights.pth", judge=None, classifier=None, progress=False)
    assert named == ["weights.pth", "weights.pth"] and good["fad_embedding"] == "vggish"
    assert good["frames"]["fad"] == 6  # two 0.96 s examples per 2 s clip
    assert abs(good["fad"]) < 1e-9 < bad["fad"]  # a random-weight VGGish: small, but not zero


def test_nothing_to_pair_is_a_clear_error(lab, tmp_path):
    split, codec, _, _ = lab
    with pytest.raises(MaskvatError, match="no file of"):  # (the folder is empty)
        evaluate_dirs(tmp_path, split, codec=str(codec), progress=False)


def test_scores_do_not_depend_on_file_order_or_names(lab, tmp_path, one_torch_thread):
    """The same pairs under other names (so another pairing order) give the same scores."""
    import shutil

    split, codec, own, noise = lab
    ref, gen = tmp_path / "ref", tmp_path / "gen"
    ref.mkdir()
    gen.mkdir()
    stems = sorted(p.stem for p in split.glob("*.mp4"))
    for i, stem in enumerate(stems):  # reverse the sorted order: z_0 <- last clip, ...
        new = f"z_{len(stems) - 1 - i}"
        shutil.copy(split / f"{stem}.mp4", ref / f"{new}.mp4")
        shutil.copy(split / f"{stem}.json", ref / f"{new}.json")  # still a lab split (CC is lab-only)
        shutil.copy(noise / f"{stem}.wav", gen / f"{new}.wav")
    a = evaluate_dirs(noise, split, codec=str(codec), judge=None, classifier=None, progress=False)
    b = evaluate_dirs(gen, ref, codec=str(codec), judge=None, classifier=None, progress=False)
    for key in ("fdd", "fdm", "fad", "wc", "cc", "ns"):
        assert b[key] == pytest.approx(a[key], rel=1e-6, abs=1e-9), key
