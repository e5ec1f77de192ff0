"""V-AURA training on the MaskVAT loop and cache: the loss falls on a tiny cache; the model folder
loads by its kind."""

import torch

from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.data.extract import write_cache
from maskvat.model.generators import load_generator
from maskvat.model.vaura import VAURA
from maskvat.train.generator import TrainConfig, train

# the debug size (debug-vaura), with the small feature widths of the cache below
TINY = dict(max_frames=20, window_seconds=20 / 86.1328125, semantic_dim=6, sync_dim=5, audio_dim=4,
            semantic_encoder="sem", sync_encoder="syn", audio_encoder="aud")
ENCODERS = {"semantic": {"name": "sem", "dim": 6, "rate": 4 / (20 / 86.1328125)},
            "sync": {"name": "syn", "dim": 5, "rate": 10 / (20 / 86.1328125)}}
CODEC = {"name": "tiny", "levels": 9, "codebook_size": 1024, "sample_rate": 44100, "hop_length": 512,
         "rate": 44100 / 512}


def test_tiny_vaura_learns_one_clip_on_the_shared_loop(tmp_path, one_torch_thread):
    g = torch.Generator().manual_seed(0)
    clip = {"key": "c0", "codes": torch.randint(0, 1024, (9, 20), generator=g),
            "semantic": torch.randn(4, 6, generator=g), "sync": torch.randn(10, 5, generator=g)}
    cache = write_cache(tmp_path / "cache", [clip], encoders=ENCODERS, codec=CODEC)  # no audio stream needed
    AudioTokenizer.from_preset("tiny").save_pretrained(tmp_path / "codec")
    cfg = TrainConfig(model="debug-vaura", model_overrides=TINY, train_cache=str(cache), val_cache=str(cache),
                      codec=str(tmp_path / "codec"), batch_size=4, warmup=5, steps=80, lr=3e-3, lr_end=3e-3,
                      eval_every=80, checkpoint_every=1000)
    last = train(cfg, tmp_path / "run", progress=False)
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    header = log[0].split(",")
    ce = [float(row.split(",")[header.index("ce")]) for row in log[1:]]
    assert ce[0] > 6.0 and last["ce"] < 0.5 * ce[0], (ce[0], last["ce"])  # from ln(1024) = 6.9
    assert last["val_acc"] > 0.5 and "val_acc_9" in last and "mask" not in last
    model = load_generator(tmp_path / "run" / "model")
    assert isinstance(model, VAURA) and model.config.max_frames == 20
