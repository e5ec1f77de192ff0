"""The model folder every generator family shares: ``save_pretrained`` / ``from_pretrained``.

A folder is ``config.json`` ({"kind": KIND, the family's config fields, optionally "extra"})
and ``model.safetensors`` (fp16 unless ``half=False``), written by ``maskvat.weights.save_module``;
``maskvat.model.generators.load_generator`` reads the kind and picks the family. MaskVAT
(``maskvat.model.maskvat``), V-AURA (``maskvat.model.vaura``) and VTA-LDM
(``maskvat.model.vtaldm``) take this mixin with their own ``KIND``, ``CONFIG``, ``WHAT`` and ``HINT``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from maskvat.weights import load_module, load_strict, resolve, save_module, snapshot


class GeneratorFolder:
    """Mixin (before ``nn.Module``) giving a generator its folder format.

    KIND: the folder's "kind"; CONFIG: the config dataclass (``to_dict`` / ``from_dict``);
    WHAT: the model in errors ("a V-AURA model"); HINT: what to pass, in the error for a
    source that is neither a folder nor a hub id."""

    KIND: str
    CONFIG: type
    WHAT: str
    HINT: str

    def save_pretrained(self, folder: str | os.PathLike, *, half: bool = True, extra: dict | None = None) -> None:
        """FOLDER/config.json ({"kind": KIND, the config, plus ``extra``}) + FOLDER/model.safetensors
        (fp16 by default), written atomically."""
        save_module(folder, self, self.KIND, {**self.config.to_dict(), **({"extra": extra} if extra else {})},
                    half=half)

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, *, device: str | torch.device = "cpu",
                        local_files_only: bool = False):
        """A folder written by ``save_pretrained``, a shipped name ("lab", "hits": their generator),
        or a model-hub id holding such a folder (cache first, then a download unless offline).
        Float32 weights, eval mode, on ``device``; MaskvatError (one line) for anything else."""
        folder = snapshot(resolve(source, "generator"), "model", local_files_only=local_files_only, hint=cls.HINT)
        model, _ = cls.read_folder(folder)
        return model.to(device).eval()

    @classmethod
    def read_folder(cls, folder: str | os.PathLike):
        """(model, the ``extra`` dict saved with it) of a folder written by ``save_pretrained``."""
        meta, state = load_module(folder, cls.KIND, cls.WHAT)
        extra = meta.pop("extra", {})
        model = cls(cls.CONFIG.from_dict(meta))
        load_strict(model, state, Path(folder) / "model.safetensors")
        return model, extra

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
