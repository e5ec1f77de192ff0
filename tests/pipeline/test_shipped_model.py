"""The shipped default (lab) generator works offline and its sound lands on the true events."""

import pytest

from maskvat.pipeline.generate import Pipeline
from maskvat.lab.build import build_split
from maskvat.lab.score import score_dirs
from maskvat.media import write_audio
from maskvat.sampling.sampler import SamplerSettings


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("shipped")
    return build_split(root, "test", 3, seed=11, duration=4.0, bank="procedural", workers=1, progress=False)


def test_shipped_model_generates_onsets_on_the_events(clips, tmp_path, one_torch_thread):
    pipe = Pipeline.load()  # the default: shipped model, codec and encoders, no network
    assert pipe.model.config.codec == "lab" and pipe.codec.n_levels == 9
    videos = sorted(clips.glob("*.mp4"))
    for i, _, result in pipe.generate_many(videos, batch_size=3, settings=SamplerSettings(steps=8), seed=0):
        assert result.codes.shape == (9, 345) and result.wav.shape == (176400,)
        write_audio(tmp_path / f"{videos[i].stem}.wav", result.wav, result.sample_rate)
    scores = score_dirs(clips, tmp_path)["families"]["all"]
    # the shipped model puts most sounds on their frames (F1 0.85, median offset 3 ms, when written)
    assert scores["f1"] > 0.6 and scores["median_abs_offset_ms"] < 25, scores
