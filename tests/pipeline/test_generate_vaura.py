"""The generation pipeline with a tiny (untrained) V-AURA: Pipeline.load by the folder's kind,
long videos in windows (the overlap as a prefix), and ``maskvat generate --model``."""

import wave

import numpy as np
import pytest
import torch

from maskvat.cli.main import main
from maskvat.model.vaura import VAURA
from maskvat.pipeline import generate as generate_module
from maskvat.pipeline.generate import Pipeline
from maskvat.sampling.sampler import SamplerSettings


@pytest.fixture(scope="module")
def tiny_vaura(tmp_path_factory):
    """``Pipeline.debug("vaura")`` (random tiny V-AURA over the tiny codec) saved as a pipeline folder."""
    return Pipeline.debug("vaura", max_frames=40).save_pretrained(tmp_path_factory.mktemp("vaura"))


@pytest.fixture
def silent_video(make_video):
    return make_video("silent.mp4", 38, 25.0)  # 1.52 s, no audio stream


def test_load_and_generate_a_long_video_in_windows(tiny_vaura, silent_video, monkeypatch, one_torch_thread):
    pipe = Pipeline.load(tiny_vaura)
    assert isinstance(pipe.model, VAURA)
    masks, real = [], generate_module.sample_autoregressive

    def record(model, cond, length, settings, gen, **kw):
        masks.append(kw.get("prompt_mask"))
        return real(model, cond, length, settings, gen, **kw)

    monkeypatch.setattr(generate_module, "sample_autoregressive", record)
    s = SamplerSettings(top_k=32)
    out = pipe.generate(silent_video, settings=s, seed=1, overlap=0.2)
    assert len(out.windows) >= 3  # 1.52 s at 86 frames/s is 131 frames; windows of 40
    assert out.codes.shape == (9, 131) and (out.codes < 1024).all()  # every frame filled
    assert out.wav.shape == (int(round(1.52 * 44100)),) and np.isfinite(out.wav).all()
    assert masks[0] is None and len(masks) == len(out.windows)
    for mask in masks[1:]:  # a later window: the previous window's tokens as a leading prefix
        frames = mask[0].all(0)
        n = int(frames.sum())
        assert n > 0 and frames[:n].all() and not mask[0, :, n:].any()
    again = pipe.generate(silent_video, settings=s, seed=1, overlap=0.2)
    assert torch.equal(out.codes, again.codes)  # same seed, same output


def test_cli_generate_with_a_vaura_model_writes_a_wav_of_the_videos_length(tiny_vaura, silent_video, tmp_path,
                                                                            one_torch_thread):
    out = tmp_path / "out"
    assert main(["generate", str(silent_video), "-o", str(out), "--model", str(tiny_vaura)]) == 0
    with wave.open(str(out / "silent.wav")) as w:
        assert w.getframerate() == 44100 and w.getnframes() == int(round(1.52 * 44100))
    assert (out / "silent_maskvat.mp4").is_file()
