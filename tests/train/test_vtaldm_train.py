"""VTA-LDM training on the shared loop and cache: the codes become the codec's latent, the loss is
finite and falls, parameters move, the latent statistics come from the data, the folder loads by
its kind; the step's batch is a pure function of (seed, step)."""

import math

import torch
from test_vaura_train import CODEC, ENCODERS, TINY  # V-AURA's tiny cache layout and debug-size overrides

from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.data.extract import write_cache
from maskvat.model.generators import load_generator
from maskvat.model.vtaldm import VTALDM
from maskvat.train.generator import GeneratorTrainer, TrainConfig, build_model, train

def tiny_cache(tmp_path, clips: int = 2):
    g = torch.Generator().manual_seed(0)
    tok = AudioTokenizer.from_preset("tiny")
    tok.save_pretrained(tmp_path / "codec")
    items = [{"key": f"c{i}", "codes": tok.encode(torch.randn(20 * 512, generator=g) * 0.1)[0],
              "semantic": torch.randn(4, 6, generator=g), "sync": torch.randn(10, 5, generator=g)}
             for i in range(clips)]
    return write_cache(tmp_path / "cache", items, encoders=ENCODERS, codec=CODEC), tmp_path / "codec"


def config(cache, codec, **kw) -> TrainConfig:
    base = dict(model="debug-vtaldm", model_overrides=TINY, train_cache=str(cache), val_cache=str(cache),
                codec=str(codec), batch_size=4, warmup=2, steps=40, lr=3e-3, lr_end=3e-3, eval_every=40,
                checkpoint_every=1000)
    return TrainConfig(**{**base, **kw})


def test_tiny_vtaldm_trains_on_the_shared_loop(tmp_path, one_torch_thread):
    cache, codec = tiny_cache(tmp_path)
    cfg = config(cache, codec)
    before = build_model(cfg)
    last = train(cfg, tmp_path / "run", progress=False)
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    header = log[0].split(",")
    mse = [float(row.split(",")[header.index("mse")]) for row in log[1:]]
    assert len(mse) == 40 and all(math.isfinite(m) and m < 1e3 for m in mse)  # finite
    assert sum(mse[-10:]) / 10 < 0.8 * sum(mse[:5]) / 5, (mse[:5], mse[-10:])  # it learns
    assert "val_mse" in last and 0 < last["val_mse"] < 1e3 and "val_acc" not in last
    model = load_generator(tmp_path / "run" / "model")
    assert isinstance(model, VTALDM) and model.config.max_frames == 20 and model.config.codec_hidden == 64
    # the latent statistics come from the data (not the identity of an untrained model)
    assert not torch.allclose(model.latent_std, torch.ones_like(model.latent_std))
    moved = [not torch.allclose(a, b.float(), atol=1e-4)
             for (_, a), (_, b) in zip(before.named_parameters(), model.named_parameters())]
    assert sum(moved) > 0.9 * len(moved)


def test_flow_batch_is_seeded_and_splices_clips(tmp_path, one_torch_thread):
    cache, codec = tiny_cache(tmp_path, clips=4)
    trainer = GeneratorTrainer(config(cache, codec, model_overrides={**TINY, "concat_prob": 1.0}), tmp_path / "run")
    trainer.module = trainer.build()
    a, b = trainer.batch(3), trainer.batch(3)
    assert set(a) >= {"latent", "valid", "t", "noise", "drop", "semantic", "sync"}
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert a["latent"].shape == (4, 64, 20) and a["noise"].shape == (4, 20, 64)
    assert not torch.equal(a["t"], trainer.batch(4)["t"])
    # every item spliced: its latent is not the one of any single clip
    plain = GeneratorTrainer(config(cache, codec, model_overrides={**TINY, "concat_prob": 0.0}), tmp_path / "p")
    plain.module = plain.build()
    whole = plain.batch(3)["latent"]  # the same clips and windows (same seeds), none spliced
    for i in range(4):
        assert not any(torch.allclose(a["latent"][i], whole[j]) for j in range(4))
        assert any(torch.allclose(a["latent"][i, :, :3], whole[j, :, :3]) for j in range(4))  # its own start
