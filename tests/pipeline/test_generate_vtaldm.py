"""The generation pipeline with a tiny (untrained) VTA-LDM: Pipeline.load by the folder's kind,
a long video in windows, the solver setting, editing keeps the kept sound, and
``maskvat generate --model``."""

import wave

import numpy as np
import pytest
import torch

from maskvat.cli.main import main
from maskvat.model.vtaldm import VTALDM
from maskvat.pipeline import generate as generate_module
from maskvat.pipeline.generate import Pipeline
from maskvat.sampling.sampler import SamplerSettings


@pytest.fixture(scope="module")
def tiny_vtaldm(tmp_path_factory):
    """``Pipeline.debug("vtaldm")`` (random tiny VTA-LDM over the tiny codec) saved as a pipeline folder."""
    return Pipeline.debug("vtaldm", max_frames=40).save_pretrained(tmp_path_factory.mktemp("vtaldm"))


@pytest.fixture
def silent_video(make_video):
    return make_video("silent.mp4", 38, 25.0)  # 1.52 s, no audio stream


def test_load_and_generate_a_long_video_in_windows(tiny_vtaldm, silent_video, monkeypatch, one_torch_thread):
    pipe = Pipeline.load(tiny_vtaldm)
    assert isinstance(pipe.model, VTALDM)
    calls, real = [], generate_module.sample_latent

    def record(model, cond, length, settings, gen, **kw):
        calls.append((settings.solver, kw.get("keep")))
        return real(model, cond, length, settings, gen, **kw)

    monkeypatch.setattr(generate_module, "sample_latent", record)
    s = SamplerSettings(steps=2, solver="euler")
    out = pipe.generate(silent_video, settings=s, seed=1, overlap=0.2)
    assert len(out.windows) >= 3  # 1.52 s at 86 frames/s is 131 frames; windows of 40
    assert out.codes.shape == (9, 131) and (out.codes < 1024).all()  # every frame filled
    assert out.wav.shape == (int(round(1.52 * 44100)),) and np.isfinite(out.wav).all()
    assert calls[0] == ("euler", None) and len(calls) == len(out.windows)
    for _, keep in calls[1:]:  # a later window: the previous window's frames held fixed, at its start
        frames = keep[0]
        n = int(frames.sum())
        assert n > 0 and frames[:n].all() and not frames[n:].any()
    again = pipe.generate(silent_video, settings=s, seed=1, overlap=0.2)
    assert torch.equal(out.codes, again.codes)  # same seed, same output
    other = pipe.generate(silent_video, settings=s, seed=2, overlap=0.2)
    assert not torch.equal(out.codes, other.codes)


def test_editing_keeps_the_kept_sound(tiny_vtaldm, silent_video, tmp_path, one_torch_thread):
    pipe = Pipeline.load(tiny_vtaldm)
    s = SamplerSettings(steps=2)
    first = pipe.generate(silent_video, settings=s, seed=1)
    edit = pipe.generate(silent_video, settings=s, seed=3, keep=first.wav, regenerate=[(0.5, 0.9)])
    assert edit.codes.shape == first.codes.shape and edit.wav.shape == first.wav.shape
    sampled = list(edit.regenerated)
    assert sampled and all(a > 0 and b < first.codes.shape[1] for a, b in sampled)
    outside = torch.ones(first.codes.shape[1], dtype=torch.bool)
    for a, b in sampled:
        outside[a:b] = False
    inside = ~outside
    kept = pipe.codec.encode(torch.from_numpy(first.wav))[0]
    assert torch.equal(edit.codes[:, outside], kept[:, outside])  # the kept sound's tokens, as they were
    assert not torch.equal(edit.codes[:, inside], kept[:, inside])


def test_cli_generate_with_a_vtaldm_model_writes_a_wav_of_the_videos_length(tiny_vtaldm, silent_video, tmp_path,
                                                                             one_torch_thread):
    out = tmp_path / "out"
    assert main(["generate", str(silent_video), "-o", str(out), "--model", str(tiny_vtaldm), "--steps", "2",
                 "--solver", "euler"]) == 0
    with wave.open(str(out / "silent.wav")) as w:
        assert w.getframerate() == 44100 and w.getnframes() == int(round(1.52 * 44100))
    assert (out / "silent_maskvat.mp4").is_file()
