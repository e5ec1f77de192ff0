"""MaskVAT training: a tiny model overfits one clip; a killed run resumes on the same path."""

import json

import pytest
import torch
from safetensors.torch import save_file

from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.errors import MaskvatError
from maskvat.pipeline.features import load_training_set
from maskvat.train.generator import TrainConfig, lr_at, train

TINY = dict(d_model=32, n_layers=2, n_heads=4, enc_layers=1, max_frames=20, semantic_dim=6, sync_dim=5, audio_dim=4)


def make_cache(folder, n=4, length=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    folder.mkdir(parents=True)
    clips = [f"c{i}" for i in range(n)]
    feats = {"semantic": torch.randn(n, 4, 6, generator=g).half(), "sync": torch.randn(n, 10, 5, generator=g).half(),
             "audio": torch.randn(n, 10, 4, generator=g).half()}
    save_file(feats, str(folder / "features.safetensors"), metadata={"info": json.dumps({"clips": clips})})
    codes = torch.randint(0, 1024, (n, 9, length), generator=g).to(torch.int16)
    save_file({"codes": codes}, str(folder / "codes.safetensors"), metadata={"info": json.dumps({"clips": clips})})
    return folder


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    AudioTokenizer.from_preset("tiny").save_pretrained(root / "codec")
    return root, make_cache(root / "cache", n=1), make_cache(root / "cache4", n=4, seed=1)


def config(root, cache, **kw):
    base = dict(model="lab-adaln-b", model_overrides=TINY, train_cache=str(cache), val_cache=str(cache),
                codec=str(root / "codec"), batch_size=4, warmup_steps=5, eval_every=1000, checkpoint_every=1000)
    return TrainConfig(**{**base, **kw})


def test_tiny_model_overfits_one_clip(setup, tmp_path, one_torch_thread):
    root, one, _ = setup
    cfg = config(root, one, steps=120, lr=3e-3, lr_end=3e-3, eval_every=120)
    last = train(cfg, tmp_path / "run", progress=False)
    assert last["ce"] < 0.5, last  # from ln(1024) = 6.9
    assert last["val_acc"] > 0.9
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()
    assert (tmp_path / "run" / "curves.png").stat().st_size > 1000


@pytest.mark.parametrize("variant", ["lab-adaln-b", "lab-hybrid"])
def test_resume_after_interruption_continues_the_same_run(setup, tmp_path, variant, one_torch_thread):
    root, _, four = setup
    cfg = config(root, four, model=variant, steps=6, lr=1e-3, checkpoint_every=1)
    whole = train(cfg, tmp_path / "whole", progress=False)
    train(cfg, tmp_path / "split", progress=False, stop_after=3)
    resumed = train(cfg, tmp_path / "split", progress=False)
    assert resumed["step"] == whole["step"] == 6
    assert resumed["loss"] == pytest.approx(whole["loss"], rel=1e-6)
    if variant == "lab-hybrid":
        assert "contrastive" in whole and "mse" in whole


def test_resume_refuses_other_settings(setup, tmp_path, one_torch_thread):
    root, _, four = setup
    train(config(root, four, steps=1), tmp_path / "r", progress=False)
    with pytest.raises(MaskvatError, match="other settings.*lr"):
        train(config(root, four, steps=1, lr=0.5), tmp_path / "r", progress=False)


def test_lr_schedule_warms_up_then_decays():
    cfg = TrainConfig(steps=100, warmup_steps=10, lr=2e-4, lr_end=1e-6)
    assert lr_at(0, cfg) == pytest.approx(2e-5)
    assert lr_at(9, cfg) == pytest.approx(2e-4)
    assert lr_at(100, cfg) == pytest.approx(1e-6)
    assert lr_at(50, cfg) < lr_at(20, cfg)


def test_cache_with_mismatched_clips_is_refused(tmp_path):
    make_cache(tmp_path / "a", n=2)
    save_file({"codes": torch.zeros(3, 9, 20, dtype=torch.int16)}, str(tmp_path / "a" / "codes.safetensors"),
              metadata={"info": json.dumps({"clips": ["x", "y", "z"]})})
    with pytest.raises(MaskvatError, match="different clips"):
        load_training_set(tmp_path / "a")


def test_ddp_two_processes_on_cpu(setup, tmp_path):
    """Accelerate under torchrun: 2 processes, gloo, a few synchronised steps."""
    import os
    import subprocess
    import sys
    from dataclasses import asdict
    from pathlib import Path

    root, _, four = setup
    cfg = config(root, four, steps=3, batch_size=2, checkpoint_every=1)
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([str(torchrun), "--nproc_per_node", "2", "--master_port", "29533",
                           str(Path(__file__).with_name("ddp_worker.py")), json.dumps(asdict(cfg)), str(tmp_path / "ddp")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ranks = [json.loads((tmp_path / "ddp" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world"] == 2 and "gloo" in r["backend"] for r in ranks)
    assert torch.load(tmp_path / "ddp" / "checkpoint.pt", weights_only=False)["step"] == 3


def test_cli_stop_after_then_resume_finishes_the_run(setup, tmp_path, one_torch_thread):
    from dataclasses import asdict

    from maskvat.cli.main import main

    root, _, four = setup
    cfg_file = tmp_path / "cfg.json"
    cfg_file.write_text(json.dumps(asdict(config(root, four, steps=4, checkpoint_every=1))))
    run = tmp_path / "run"
    assert main(["train", "--config", str(cfg_file), "--out", str(run), "--stop-after", "3"]) == 0
    assert len((run / "log.csv").read_text().strip().splitlines()) == 1 + 3  # header + 3 steps
    extra = json.loads((run / "model" / "config.json").read_text())["extra"]
    assert (extra["steps"], extra["finished"]) == (3, False)  # the model so far, marked unfinished
    assert main(["train", "--config", str(cfg_file), "--out", str(run)]) == 0
    assert len((run / "log.csv").read_text().strip().splitlines()) == 1 + 4
    extra = json.loads((run / "model" / "config.json").read_text())["extra"]
    assert (extra["steps"], extra["finished"]) == (4, True)
    assert main(["train", "--config", str(cfg_file), "--out", str(run), "--stop-after", "0"]) == 2
