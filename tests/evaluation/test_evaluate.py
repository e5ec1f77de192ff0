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
    assert "ss_seconds" in good and good["ss_seconds"] >= 0


def test_nothing_to_pair_is_a_clear_error(lab, tmp_path):
    split, codec, _, _ = lab
    with pytest.raises(MaskvatError, match="no file of"):
        evaluate_dirs(tmp_path, split, codec=str(codec), progress=False)
