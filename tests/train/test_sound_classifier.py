"""The sound-class classifier behind class accuracy: targets, accuracy, training, saving, evaluate."""

import json

import numpy as np
import pytest

from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.errors import MaskvatError
from maskvat.evaluation.evaluate import evaluate_dirs
from maskvat.evaluation.sound_class import SoundClassifier, set_accuracy
from maskvat.lab.build import build_split
from maskvat.media import read_audio, write_audio
from maskvat.train.sound_classifier import (
    class_targets,
    split_features,
    train_classifier,
)


def test_targets_and_set_accuracy():
    y = class_targets([{0, 3}, set(), {11}])
    assert y.shape == (3, 12) and y[0].tolist()[:4] == [1, 0, 0, 1] and y[1].sum() == 0 and y[2, 11] == 1
    assert set_accuracy([{1}, {2, 3}, set()], [{1}, {2}, set()]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        set_accuracy([{1}], [])


@pytest.fixture(scope="module")
def trained(tmp_path_factory, one_torch_thread):
    root = tmp_path_factory.mktemp("classlab")
    build_split(root / "lab", "train", 24, seed=6, duration=2.0, bank="procedural", workers=1, progress=False)
    report = train_classifier(root / "lab", root / "clf", steps=200, batch=24, progress=False)
    return root, report


def test_training_fits_the_true_audio_and_round_trips(trained):
    root, report = trained
    assert report["final_loss"] < 0.2  # from about 0.69 at the start
    model = SoundClassifier.from_pretrained(root / "clf" / "sound_classifier")
    x, sets = split_features(root / "lab" / "train", progress=False)
    assert set_accuracy(model.predict_sets(x), sets) >= 0.8
    assert json.loads((root / "clf" / "report.json").read_text())["train_clips"] == 24
    with pytest.raises(MaskvatError, match="not a sound-classifier"):
        SoundClassifier.from_pretrained(root / "lab")


def test_evaluate_reports_class_accuracy(trained, tmp_path):
    root, _ = trained
    split = root / "lab" / "train"
    own, noise = tmp_path / "own", tmp_path / "noise"
    own.mkdir()
    noise.mkdir()
    rng = np.random.default_rng(0)
    for video in sorted(split.glob("*.mp4"))[:8]:
        wav = read_audio(video)
        write_audio(own / f"{video.stem}.wav", wav)
        write_audio(noise / f"{video.stem}.wav", (0.05 * rng.standard_normal(len(wav))).astype(np.float32))
    AudioTokenizer.from_preset("tiny").save_pretrained(tmp_path / "codec")
    kw = dict(codec=str(tmp_path / "codec"), judge=None, classifier=str(root / "clf" / "sound_classifier"), progress=False)
    good, bad = evaluate_dirs(own, split, **kw), evaluate_dirs(noise, split, **kw)
    assert good["class_accuracy"] >= 0.75 > bad["class_accuracy"]


def test_codec_round_trip_features_follow_the_codec(trained, tmp_path, one_torch_thread):
    from maskvat.train.sound_classifier import codec_round_trip_features

    root, _ = trained
    AudioTokenizer.from_preset("tiny").save_pretrained(tmp_path / "codec")
    split = root / "lab" / "train"
    rt = codec_round_trip_features(split, str(tmp_path / "codec"), progress=False, limit=3)
    true, _ = split_features(split, progress=False)
    assert rt.shape == (3, *true.shape[1:])
    assert (rt - true[:3]).abs().mean() > 0.1  # an untrained codec changes the sound
