"""One loader for every generator family: the folder's ``config.json`` says which (``"kind"``).

    net = load_generator("runs/x/model")       # a MaskVAT, a VAURA or a VTALDM, by the folder's kind
    kind = generator_kind(folder)              # "maskvat", "vaura" or "vtaldm"

Every family shares the folder format of ``maskvat.weights.save_module`` (config.json with a
``kind`` field + model.safetensors), so ``Pipeline.load`` and ``maskvat generate --model``
take either.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from maskvat.errors import MaskvatError
from maskvat.model.maskvat import MaskVAT
from maskvat.model.vaura import KIND as VAURA_KIND
from maskvat.model.vaura import VAURA
from maskvat.model.vtaldm import KIND as VTALDM_KIND
from maskvat.model.vtaldm import VTALDM
from maskvat.weights import resolve, snapshot

GENERATORS = {"maskvat": MaskVAT, VAURA_KIND: VAURA, VTALDM_KIND: VTALDM}


def generator_kind(folder: str | os.PathLike) -> str:
    """The ``kind`` a generator folder's config.json names ("maskvat" where it cannot tell: the
    MaskVAT loader then gives its own clear error)."""
    try:
        kind = json.loads((Path(folder) / "config.json").read_text()).get("kind")
    except (OSError, json.JSONDecodeError, AttributeError):
        return "maskvat"
    return kind if kind in GENERATORS else "maskvat"


def load_generator(source: str | os.PathLike, *, device: str | torch.device = "cpu",
                   local_files_only: bool = False):
    """The generator in ``source`` (a folder, "lab", or a hub id), of whichever family it is, in
    eval mode on ``device``."""
    where = resolve(source, "generator")
    if isinstance(where, str):  # a hub id: fetch the folder once, then read its kind
        where = snapshot(where, "model", local_files_only=local_files_only,
                         hint="pass a model folder (e.g. a `maskvat train` run's model/), or 'lab'")
    inner = Path(where) / "model"
    if (inner / "config.json").is_file() and not (Path(where) / "model.safetensors").is_file():
        raise MaskvatError(f"{where}: a training run's folder, not a model folder: pass its model, {inner}")
    cls = GENERATORS[generator_kind(where)]
    return cls.from_pretrained(where, device=device, local_files_only=local_files_only)
