"""Every model named in ``assets/index.json`` ships as fp16 safetensors within the weights budget,
and loads by its name; the Greatest Hits model ("hits", trained by ``maskvat fit``) generates
through the command line and says, as it loads, that it is demonstration weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from safetensors import safe_open

import maskvat
from maskvat import weights
from maskvat.cli import main as cli

BUDGET_MB = 60  # the brief: all shipped weights together under about 60 MB


def test_shipped_weights_are_fp16_and_within_the_budget():
    files = sorted(weights.ASSETS.rglob("*.safetensors"))
    assert files
    for path in files:
        with safe_open(str(path), "pt") as f:
            floats = {f.get_slice(k).get_dtype() for k in f.keys()} - {"I64", "I32", "BOOL", "U8", "I8", "I16"}
        assert floats <= {"F16"}, f"{path}: {floats}"
    total = sum(p.stat().st_size for p in weights.ASSETS.rglob("*") if p.is_file()) / 1e6
    assert total < BUDGET_MB, total


def test_every_shipped_model_has_its_components():
    index = weights.shipped_index()
    assert {"lab", "hits"} <= set(index)
    for name, parts in index.items():
        folder = weights.shipped_pipeline(name)
        assert folder is not None and (folder / "model_index.json").is_file(), name
        for part, rel in parts.items():
            assert (weights.ASSETS / rel).is_dir(), f"{name}/{part}: {rel}"


def test_hits_loads_by_name_with_its_own_fitted_parts(one_torch_thread):
    hits = maskvat.load("hits")
    assert hits.summary and "demonstration weights" in hits.summary and "Greatest Hits" in hits.summary
    lab = maskvat.load("lab", scav=None)
    assert lab.summary is None
    assert (hits.codec.n_levels, hits.codec.codebook_size) == (hits.model.config.n_levels, hits.model.config.codebook_size)
    assert hits.scav is not None
    # its codec was fine-tuned on the footage: not the lab codec's weights
    name, a = next(iter(hits.codec.model.state_dict().items()))
    b = lab.codec.model.state_dict()[name]
    assert a.shape == b.shape and not np.allclose(a.float().numpy(), b.float().numpy())
    index = json.loads((weights.shipped_pipeline("hits") / "model_index.json").read_text())
    assert "The Greatest Hits" in index["_note"] and "research dataset" in index["_note"]


def test_generate_with_hits_says_what_it_is_and_writes_the_sound(make_video, tmp_path, capsys, one_torch_thread):
    video = make_video("clip.mp4", 30, 25)  # 1.2 s
    out = tmp_path / "out"
    assert cli.main(["generate", str(video), "-o", str(out), "--model", "hits", "--steps", "2", "--no-video"]) == 0
    err = capsys.readouterr().err
    assert "hits: demonstration weights" in err
    wav, rate = sf.read(out / "clip.wav")
    assert abs(len(wav) / rate - 1.2) < 1.0 / rate + 1e-6
    assert np.isfinite(wav).all() and np.sqrt(np.mean(wav ** 2)) > 1e-4
