"""Saving and loading the project's small modules (SCAV, sync judge, sound classifier):
``FOLDER/config.json`` ({"kind": KIND, **config}) and ``FOLDER/model.safetensors`` (fp16).

    save_module(folder, model, "scav", asdict(model.config))
    meta, state = load_module(folder, "scav")          # meta without "kind"; state in float32
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from maskvat.errors import MaskvatError


def save_module(folder: str | os.PathLike, model: torch.nn.Module, kind: str, config: dict) -> None:
    """Floating tensors as fp16 (BatchNorm step counters dropped), written atomically."""
    from safetensors.torch import save_file

    from maskvat.media.atomic import atomic_path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.half().contiguous() if v.is_floating_point() else v.contiguous()
             for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    with atomic_path(folder / "model.safetensors") as tmp:
        save_file(state, str(tmp))
    with atomic_path(folder / "config.json") as tmp:
        tmp.write_text(json.dumps({"kind": kind, **config}, indent=1))


def load_module(folder: str | os.PathLike, kind: str | tuple[str, ...], what: str) -> tuple[dict, dict[str, torch.Tensor]]:
    """(config dict without "kind", state dict in float32) of a folder saved as ``kind`` (or as
    any of several kinds); ``what`` names it in errors ("a SCAV folder")."""
    from safetensors.torch import load_file

    folder = Path(folder)
    try:
        meta = json.loads((folder / "config.json").read_text())
    except (FileNotFoundError, NotADirectoryError):
        raise MaskvatError(f"{folder}: not {what} (no config.json)") from None
    except json.JSONDecodeError as exc:
        raise MaskvatError(f"{folder}/config.json: not valid JSON ({exc.msg})") from None
    if meta.pop("kind", None) not in ((kind,) if isinstance(kind, str) else kind):
        raise MaskvatError(f"{folder}/config.json: not {what}")
    if not (folder / "model.safetensors").is_file():
        raise MaskvatError(f"{folder}: no model.safetensors; the folder is incomplete")
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(folder / "model.safetensors")).items()}
    return meta, state
