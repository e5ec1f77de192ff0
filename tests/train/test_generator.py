"""MaskVAT training: a tiny model overfits one clip; a killed run resumes on the same path."""

import json

import pytest
import torch

from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.data.extract import write_cache
from maskvat.errors import MaskvatError
from maskvat.train.generator import GeneratorTrainer, TrainConfig, lr_at, train

# the debug sizes (model_config("debug-*")), with the small feature widths of the caches below
TINY = dict(max_frames=20, window_seconds=20 / 86.1328125, semantic_dim=6, sync_dim=5, audio_dim=4,
            semantic_encoder="sem", sync_encoder="syn", audio_encoder="aud")
ENCODERS = {"semantic": {"name": "sem", "dim": 6, "rate": 4 / (20 / 86.1328125)},
            "sync": {"name": "syn", "dim": 5, "rate": 10 / (20 / 86.1328125)},
            "audio": {"name": "aud", "dim": 4, "rate": 10 / (20 / 86.1328125)}}
CODEC = {"name": "tiny", "levels": 9, "codebook_size": 1024, "sample_rate": 44100, "hop_length": 512,
         "rate": 44100 / 512}


def make_cache(folder, n=4, length=20, seed=0, roles=("semantic", "sync", "audio")):
    """A shard cache of n clips: codes [9, length], features at rates spanning the same time."""
    g = torch.Generator().manual_seed(seed)
    clips = [{"key": f"c{i}", "codes": torch.randint(0, 1024, (9, length), generator=g),
              "semantic": torch.randn(4, 6, generator=g), "sync": torch.randn(10, 5, generator=g),
              "audio": torch.randn(10, 4, generator=g)} for i in range(n)]
    return write_cache(folder, clips, encoders={r: ENCODERS[r] for r in roles}, codec=CODEC)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    AudioTokenizer.from_preset("tiny").save_pretrained(root / "codec")
    return root, make_cache(root / "cache", n=1), make_cache(root / "cache4", n=4, seed=1)


def config(root, cache, **kw):
    base = dict(model="debug-adaln-b", model_overrides=TINY, train_cache=str(cache), val_cache=str(cache),
                codec=str(root / "codec"), batch_size=4, warmup=5, eval_every=1000, checkpoint_every=1000)
    return TrainConfig(**{**base, **kw})


def test_tiny_model_overfits_one_clip(setup, tmp_path, one_torch_thread):
    root, one, _ = setup
    cfg = config(root, one, steps=120, lr=3e-3, lr_end=3e-3, eval_every=120)
    last = train(cfg, tmp_path / "run", progress=False)
    assert last["ce"] < 0.5, last  # from ln(1024) = 6.9
    assert last["val_acc"] > 0.9
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()
    assert (tmp_path / "run" / "curves.png").stat().st_size > 1000


@pytest.mark.parametrize("variant", ["debug-adaln-b", "debug-hybrid"])
def test_resume_after_interruption_continues_the_same_run(setup, tmp_path, variant, one_torch_thread):
    root, _, four = setup
    cfg = config(root, four, model=variant, steps=6, lr=1e-3, checkpoint_every=1)
    whole = train(cfg, tmp_path / "whole", progress=False)
    train(cfg, tmp_path / "split", progress=False, stop_after=3)
    resumed = train(cfg, tmp_path / "split", progress=False)
    assert resumed["step"] == whole["step"] == 6
    assert resumed["loss"] == pytest.approx(whole["loss"], rel=1e-6)
    if variant == "debug-hybrid":
        assert "contrastive" in whole and "mse" in whole


def test_resume_refuses_other_settings(setup, tmp_path, one_torch_thread):
    root, _, four = setup
    train(config(root, four, steps=1), tmp_path / "r", progress=False)
    with pytest.raises(MaskvatError, match="other settings.*lr"):
        train(config(root, four, steps=1, lr=0.5), tmp_path / "r", progress=False)


def test_lr_schedule_warms_up_then_decays():
    cfg = TrainConfig(steps=100, warmup=10, lr=2e-4, lr_end=1e-6)
    assert lr_at(0, cfg) == pytest.approx(2e-5)
    assert lr_at(9, cfg) == pytest.approx(2e-4)
    assert lr_at(100, cfg) == pytest.approx(1e-6)
    assert lr_at(50, cfg) < lr_at(20, cfg)


def test_hybrid_without_the_audio_stream_is_refused_unless_switched_off(setup, tmp_path, one_torch_thread):
    root, _, _ = setup
    cache = make_cache(tmp_path / "noaudio", roles=("semantic", "sync"))
    with pytest.raises(MaskvatError, match="no audio stream"):
        train(config(root, cache, model="debug-hybrid", steps=1), tmp_path / "r", progress=False)
    last = train(config(root, cache, model="debug-hybrid", steps=1, auxiliary=False), tmp_path / "r2", progress=False)
    assert "mse" not in last and last["step"] == 1


def test_random_windows_of_longer_clips(setup, tmp_path, one_torch_thread):
    """Clips of 50 frames train a 20-frame window: each step a window at its own random start."""
    root, _, _ = setup
    cache = make_cache(tmp_path / "long", n=3, length=50)
    from maskvat.data.dataset import StepBatches

    steps = StepBatches(cache, batch_size=3, window_seconds=20 / 86.1328125, seed=0)
    a, b = steps.batch(0), steps.batch(1)
    assert a["codes"].shape == (3, 9, 20) and a["semantic"].shape[1] == 4
    assert not torch.equal(a["codes"], b["codes"]) and torch.equal(steps.batch(0)["codes"], a["codes"])
    last = train(config(root, cache, steps=2), tmp_path / "r", progress=False)
    assert last["step"] == 2


DDP_VARIANTS = ("debug-adaln-b", "debug-seq2seq", "debug-hybrid", "debug-vaura", "debug-vtaldm")


def test_ddp_two_processes_on_cpu(setup, tmp_path):
    """Accelerate under torchrun: 2 processes, gloo, a few synchronised steps of every variant in
    one launch (every parameter of every variant, the V-AURA and VTA-LDM generators too, gets a
    gradient: DDP stops at step 2 otherwise)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root, _, four = setup
    runs = [(config(root, four, model=v, steps=3, batch_size=2, checkpoint_every=1).to_dict(), str(tmp_path / v))
            for v in DDP_VARIANTS]
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([str(torchrun), "--nproc_per_node", "2", "--master_port", "29533",
                           str(Path(__file__).with_name("ddp_worker.py")), json.dumps(runs)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for variant in DDP_VARIANTS:
        ranks = [json.loads((tmp_path / variant / f"rank{r}.json").read_text()) for r in (0, 1)]
        assert all(r["world"] == 2 and "gloo" in r["backend"] for r in ranks), variant
        assert torch.load(tmp_path / variant / "checkpoint.pt", weights_only=False)["step"] == 3, variant


def test_cli_stop_after_then_resume_finishes_the_run(setup, tmp_path, one_torch_thread):
    from maskvat.cli.main import main

    root, _, four = setup
    cfg_file = tmp_path / "cfg.json"
    cfg_file.write_text(json.dumps(config(root, four, steps=4, checkpoint_every=1).to_dict()))
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


@pytest.mark.parametrize("path", sorted(p for p in __import__("pathlib").Path(__file__).parents[2].glob("configs/*.json")
                                         if not p.name.startswith("fit-")),  # fit's configs: tests/train/test_fit.py
                         ids=lambda p: p.name)
def test_every_shipped_config_loads_and_names_a_model(path):
    from maskvat.model.config import model_config

    cfg = TrainConfig.from_file(path)
    mcfg = model_config(cfg.model, **cfg.model_overrides)
    assert cfg.steps > cfg.warmup, "the learning rate must decay after the warm-up"
    if cfg.model.startswith("paper-"):
        assert cfg.codec == "descript/dac_44khz" and mcfg.max_frames == 862 and cfg.batch_size == 50


def test_half_precision_on_a_cpu_only_where_it_has_units_for_it(monkeypatch, setup, tmp_path, one_torch_thread,
                                                                 capsys):
    """bf16 autocast on a CPU without avx512_bf16/amx_bf16 is emulated, several times slower than
    fp32: such a run uses fp32 and says so; a GPU, or a CPU with the units, keeps the config's."""
    from maskvat.train import loop

    assert loop.run_precision("bf16", cpu=True, flags={"avx2", "fma"}) == "no"
    assert loop.run_precision("bf16", cpu=True, flags={"avx2", "amx_bf16"}) == "bf16"
    assert loop.run_precision("fp16", cpu=True, flags={"avx512_bf16"}) == "no"
    assert loop.run_precision("bf16", cpu=False, flags={"avx2"}) == "bf16"
    assert loop.run_precision("bf16", cpu=True, flags=None) == "bf16"  # unknown (not Linux): as asked
    assert loop.run_precision("no", cpu=True, flags=set()) == "no"
    monkeypatch.setattr(loop, "cpu_flags", lambda: {"avx2"})
    root, cache, _ = setup
    trainer = GeneratorTrainer(config(root, cache, steps=1, precision="bf16"), tmp_path / "run", progress=False)
    trainer.run(device="cpu")
    assert trainer.accelerator.mixed_precision == "no"
    assert "precision bf16 asked, fp32 used" in capsys.readouterr().out


@pytest.mark.parametrize("rank,printed", [("0", True), ("1", False)])
def test_cli_train_prints_its_result_once_under_torchrun(monkeypatch, capsys, tmp_path, rank, printed):
    """torchrun starts one `maskvat train` per process: only rank 0 prints the result and paths
    (two interleaved copies before)."""
    import maskvat.train.generator as generator
    from maskvat.cli.main import main

    monkeypatch.setattr(generator, "train", lambda cfg, out, **kw: {"step": 2, "loss": 1.0})
    monkeypatch.setenv("RANK", rank)
    cfg_file = tmp_path / "cfg.json"
    cfg_file.write_text(json.dumps({"model": "debug-adaln-b", "train_cache": "x"}))
    assert main(["train", "--config", str(cfg_file), "--out", str(tmp_path / "run")]) == 0
    assert ("model: " in capsys.readouterr().out) == printed
