"""--device reaches every module: the generator, the codec, every encoder and SCAV.

No GPU here, so the check loads the shipped pipeline onto PyTorch's "meta" device (tensors
with shapes and no data): any component left behind on the CPU shows up as a CPU tensor.
"""

from __future__ import annotations

import torch

from maskvat.pipeline.generate import Pipeline


def tensors_of(obj) -> list[torch.Tensor]:
    """Every parameter and buffer of the nn.Modules ``obj`` holds (itself or as attributes)."""
    mods = [obj] if isinstance(obj, torch.nn.Module) else [v for v in vars(obj).values() if isinstance(v, torch.nn.Module)]
    return [t for m in mods for t in (*m.parameters(), *m.buffers())]


def test_every_component_follows_the_device(one_torch_thread):
    pipe = Pipeline.load("lab", device="meta", scav="lab")
    feats = pipe.features
    parts = {"generator": pipe.model, "codec": pipe.codec, "scav": pipe.scav,
             "semantic": feats.semantic, "sync": feats.sync, "audio": feats.audio}
    for name, part in parts.items():
        assert part is not None, name
        devices = {t.device.type for t in tensors_of(part)}
        assert devices <= {"meta"}, f"{name} holds tensors on {devices}"
    assert tensors_of(pipe.model) and tensors_of(pipe.codec) and tensors_of(feats.sync)
    for enc in (feats.semantic, feats.sync, feats.audio):
        assert torch.device(enc.device).type == "meta"


def test_the_default_device_is_the_cpu(one_torch_thread):
    pipe = Pipeline.load("debug")
    assert {t.device.type for t in tensors_of(pipe.model) + tensors_of(pipe.codec)} == {"cpu"}
