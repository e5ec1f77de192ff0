"""Where weights come from, in one place: shipped assets by name, local folders, model-hub ids.

    shipped("codec")                         # Path of the shipped lab codec folder
    shipped_pipeline("hits")                 # a shipped pipeline by the name users type (--model hits)
    resolve("lab", "scav")                   # the same for any name a user may pass: "lab" / "shipped"
                                             # -> shipped; an existing path -> Path; else a hub id (str)
    model = load_pretrained(DacModel, "descript/dac_44khz", "codec")   # folder or hub id, fails fast offline
    folder = snapshot("owner/name")          # a folder, or a hub repository's snapshot
    save_module(folder, model, "scav", config)            # config.json + model.safetensors (fp16)
    meta, state = load_module(folder, "scav", "a SCAV folder")
    ckpt = load_checkpoint("22-09-21T21-00-52.pt", "a SparseSync checkpoint")  # a published torch file
    file = published_file("Cnn14_16k_mAP=0.438.pth", "PANNs CNN14 checkpoint")  # file, folder or hub id
    load_exact(model, state, file, "PANNs CNN14")  # every key and shape, or one line naming the file

The shipped components are named in ``assets/index.json`` (as diffusers' ``model_index.json``
names a pipeline's parts): ``{"lab": {"generator": "lab/model", "codec": "lab/codec", ...}}``.
A pipeline folder (shipped or written by a trainer) holds ``model_index.json`` naming its own
components' sub-folders: :func:`pipeline_index` reads it.

Hub ids load from the local hub cache first; then, unless offline mode is on
(``HF_HUB_OFFLINE=1``), after a 3 s TCP check of the hub endpoint (huggingface_hub would
otherwise retry for ~25 s). Every failure is a one-line MaskvatError saying what to pass.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

import torch

from maskvat.atomic import atomic_path
from maskvat.errors import MaskvatError

ASSETS = Path(__file__).resolve().parent / "assets"
SHIPPED_NAMES = ("lab", "shipped")  # what users type for the shipped weights
INDEX_FILE = "model_index.json"


# ---- shipped assets --------------------------------------------------------------------------
def shipped_index() -> dict[str, dict[str, str]]:
    """``assets/index.json``: model name -> component -> folder under ``assets``."""
    return json.loads((ASSETS / "index.json").read_text())


def shipped(component: str, model: str = "lab") -> Path:
    """The folder of a shipped component (e.g. "codec", "generator", "ss_judge"); a clear error
    if the index does not name it or the folder is missing."""
    index = shipped_index()
    try:
        rel = index[model][component]
    except KeyError:
        names = ", ".join(f"{m}/{c}" for m, comps in index.items() for c in comps)
        raise MaskvatError(f"no shipped weights named {model}/{component} (shipped: {names})") from None
    path = ASSETS / rel
    if not path.is_dir():
        raise MaskvatError(f"shipped weights {rel!r} are missing from {ASSETS} (reinstall maskvat, or pass a folder)")
    return path


def is_shipped_name(source) -> bool:
    return isinstance(source, str) and source in SHIPPED_NAMES


def shipped_pipeline(name) -> Path | None:
    """The folder of a shipped pipeline a user names with ``--model`` / ``maskvat.load``: "lab"
    (or "shipped"), or another model of ``assets/index.json`` ("hits"); None for any other name
    (a folder or hub id). A shipped name wins over a folder of the same name (write ./hits)."""
    if not isinstance(name, str):
        return None
    if name in SHIPPED_NAMES:
        return shipped("pipeline")
    if name in shipped_index():
        return shipped("pipeline", name)
    return None


def resolve(source: str | os.PathLike, component: str) -> Path | str:
    """What to load for a user's ``source`` of ``component``: "lab"/"shipped" -> the shipped
    folder; an existing file or folder -> its Path; anything else is returned as a hub id (str),
    or refused if it cannot be one."""
    if is_shipped_name(source):
        return shipped(component)
    path = Path(source).expanduser()
    if path.exists():
        return path
    source = str(source)
    if not looks_like_hub_id(source):
        shipped_names = f" (shipped models: {', '.join(shipped_index())}; or a model folder)" if component == "generator" else ""
        raise MaskvatError(f"cannot load {component} {source!r}: no such file or folder{shipped_names}")
    return source


def pipeline_index(folder: str | os.PathLike) -> dict | None:
    """A pipeline folder's ``model_index.json`` with every component path made absolute, or None."""
    path = Path(folder) / INDEX_FILE
    if not path.is_file():
        return None
    try:
        index = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise MaskvatError(f"{path}: not valid JSON ({exc.msg})") from None
    out = {}
    for key, value in index.items():
        if isinstance(value, str) and not key.startswith("_") and (Path(folder) / value).exists():
            out[key] = Path(folder) / value
        else:
            out[key] = value
    return out


# ---- model hub and folders -------------------------------------------------------------------
WEIGHT_FILE_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".safetensors", ".pkl", ".npz", ".h5", ".onnx")


def looks_like_hub_id(source: str) -> bool:
    """'owner/name', not a relative or absolute file path: a name ending like a weights file
    ('w/Cnn14.pth') or whose first part is a folder here ('runs/model') is a path."""
    parts = source.split("/")
    if len(parts) != 2 or not all(parts) or source.startswith((".", "~")):
        return False
    return not parts[1].lower().endswith(WEIGHT_FILE_SUFFIXES) and not Path(parts[0]).is_dir()


def offline_mode() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the hub endpoint accepts a TCP connection."""
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def load_pretrained(model_cls, source: str | os.PathLike, what: str, *, local_files_only: bool = False,
                    hint: str = "pass the path of a saved folder"):
    """``model_cls.from_pretrained`` from a folder or hub id; MaskvatError naming ``what`` on failure."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    source = str(source)
    path = Path(source).expanduser()
    if path.exists():
        return _call(model_cls, str(path), what, hint, local_files_only=True)
    if not looks_like_hub_id(source):
        raise MaskvatError(f"cannot load {what} {source!r}: no such folder")
    try:
        return model_cls.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError):
        pass
    if local_files_only or offline_mode():
        raise MaskvatError(f"cannot load {what} {source!r}: not in the local cache and offline mode is on; {hint}")
    if not hub_reachable():
        raise MaskvatError(f"cannot load {what} {source!r}: not in the local cache and the model hub is unreachable; {hint}")
    return _call(model_cls, source, what, hint)


def _call(model_cls, source: str, what: str, hint: str, **kwargs):
    try:
        return model_cls.from_pretrained(source, **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        lines = str(exc).strip().splitlines()
        raise MaskvatError(f"cannot load {what} from {source!r}: {lines[0][:200] if lines else type(exc).__name__}; "
                           f"{hint}") from None


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' warnings, its load report included (for callers that raise on
    what it would warn about)."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


def checked_from_pretrained(model_cls, source: str, *, unused: tuple[str, ...] = (), **kwargs):
    """``model_cls.from_pretrained(source)`` that refuses what transformers only logs: weights the
    folder lacks (transformers fills them at random), weights of other shapes, and weights it
    does not use, except those whose names start with one of ``unused`` (a published checkpoint's
    other parts, e.g. CLIP's text tower). Raises ValueError with one line (``load_pretrained``
    turns it into a MaskvatError naming the source)."""
    try:
        with quiet_transformers():
            model, info = model_cls.from_pretrained(source, output_loading_info=True, **kwargs)
    except RuntimeError as exc:  # size mismatches, damaged files
        raise ValueError(f"the weights do not fit their config.json ({_first_line(exc)})") from None
    missing = sorted(info.get("missing_keys", ()))
    unknown = sorted(k for k in info.get("unexpected_keys", ()) if not k.startswith(unused))
    if missing:
        raise ValueError(f"{len(missing)} missing weights (e.g. {missing[0]}): not a complete checkpoint")
    if unknown:
        raise ValueError(f"{len(unknown)} unknown weights (e.g. {unknown[0]}): not this architecture")
    return model


class _Snapshot:
    """``from_pretrained`` protocol for :func:`load_pretrained`: a local folder, or a hub snapshot."""

    @staticmethod
    def from_pretrained(source: str, local_files_only: bool = False) -> Path:
        if Path(source).exists():
            return Path(source)
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(source, local_files_only=local_files_only))


def snapshot(source: str | os.PathLike, what: str, *, local_files_only: bool = False, hint: str = "pass a folder") -> Path:
    """A local folder as it is, or a hub repository's files (cache first, then a download unless offline)."""
    return load_pretrained(_Snapshot, source, what, local_files_only=local_files_only, hint=hint)


# ---- the project's own folders: config.json + model.safetensors ------------------------------
def save_module(folder: str | os.PathLike, model: torch.nn.Module, kind: str, config: dict, *, half: bool = True) -> None:
    """``FOLDER/config.json`` ({"kind": KIND, **config}) and ``FOLDER/model.safetensors``
    (floating tensors as fp16 unless ``half=False``; BatchNorm step counters dropped), written atomically."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if half and v.is_floating_point() else v).contiguous()
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
    if not folder.is_dir():
        raise MaskvatError(f"{folder}: no such folder ({what})")
    try:
        meta = json.loads((folder / "config.json").read_text())
    except FileNotFoundError:
        raise MaskvatError(f"{folder}: not {what} (no config.json)") from None
    except json.JSONDecodeError as exc:
        raise MaskvatError(f"{folder}/config.json: not valid JSON ({exc.msg})") from None
    if meta.pop("kind", None) not in ((kind,) if isinstance(kind, str) else kind):
        raise MaskvatError(f"{folder}/config.json: not {what}")
    if not (folder / "model.safetensors").is_file():
        raise MaskvatError(f"{folder}: no model.safetensors; the folder is incomplete")
    try:
        state = load_file(str(folder / "model.safetensors"))
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise MaskvatError(f"{folder}/model.safetensors: cannot read weights ({str(exc).splitlines()[0]})") from None
    return meta, {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


# ---- published torch files -------------------------------------------------------------------
class ForeignObject:
    """Stands for an object of another library inside a torch file (a training script's config
    object, a numpy scalar): its constructor arguments (``args``) and state (``state``) as data.
    Nothing of that library is imported or run."""

    def __new__(cls, *args, **kwargs):
        obj = object.__new__(cls)
        obj.args, obj.state = args, None
        return obj

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def __repr__(self) -> str:
        return f"<{self.foreign_name}>"


def load_checkpoint(path: str | os.PathLike, what: str):
    """The contents of a published torch file (``torch.save``), read with ``weights_only=True``
    so that no code in it runs. Published checkpoints often hold more than tensors beside the
    weights: SparseSync's keep their OmegaConf config object under "args" and numpy floats
    under "metrics"; torch refuses such files, and the libraries may not even be installed.
    Each such object is read as a :class:`ForeignObject` instead (a stand-in class per foreign
    name, allowed for this one load): the tensors and plain containers come out as saved.
    MaskvatError naming ``path`` and ``what`` if it is not a torch file."""
    path = Path(path)
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # a global outside torch's allow-list: stand-ins below
        pass
    except Exception as exc:  # torch raises several types for a file that is not its own
        raise MaskvatError(f"{path}: not a PyTorch checkpoint (empty, truncated or another format); expected {what}") from None
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
        stand_ins = [(type(name.rpartition(".")[2], (ForeignObject,), {"foreign_name": name}), name) for name in names]
        with torch.serialization.safe_globals(stand_ins):
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - anything else is a damaged or foreign file
        raise MaskvatError(f"{path}: not a PyTorch checkpoint (empty, truncated or another format); expected {what}") from None


PUBLISHED_SUFFIXES = (".pth", ".pt", ".ckpt")


def published_file(source: str | os.PathLike, what: str, *, suffixes: tuple[str, ...] = PUBLISHED_SUFFIXES,
                   hint: str = "pass the path of a local copy") -> Path:
    """The one published weights file that ``source`` names: a file; a folder holding exactly one
    file ending in one of ``suffixes``; or a hub id ('owner/name') whose snapshot (local cache
    first, see :func:`snapshot`) holds exactly one. MaskvatError naming the path otherwise."""
    path = Path(source).expanduser()
    if not path.exists():
        if not looks_like_hub_id(str(source)):
            raise MaskvatError(f"{source}: no such file ({what}); {hint}")
        path = snapshot(str(source), what, hint=hint)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in suffixes)
        if len(found) != 1:
            listed = f" ({', '.join(p.name for p in found)}); name the one to use" if found else ""
            raise MaskvatError(f"{path}: expected one {what} ({'/'.join(suffixes)}) in this folder, found "
                               f"{len(found)}{listed}")
        path = found[0]
    return path


def load_exact(model: torch.nn.Module, state: dict, file: str | os.PathLike, what: str) -> torch.nn.Module:
    """Load a published ``state`` into ``model`` (``load_state_dict(strict=True)``) after checking
    that its keys and shapes are exactly the model's (BatchNorm step counters may be absent); a
    MaskvatError naming ``file`` and the first few offending keys otherwise."""
    own = model.state_dict()
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    missing = [k for k in own if k not in tensors and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k} {tuple(tensors[k].shape)} (expected {tuple(own[k].shape)})" for k in own
             if k in tensors and tuple(tensors[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        parts = [f"{label} {', '.join(keys[:3])}{f' and {len(keys) - 3} more' if len(keys) > 3 else ''}"
                 for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if keys]
        raise MaskvatError(f"{file}: not {what} weights ({'; '.join(parts)})")
    full = {k: tensors[k].to(own[k].dtype) if k in tensors else own[k] for k in own}
    model.load_state_dict(full, strict=True)
    return model


def _first_line(exc: BaseException) -> str:
    lines = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()
    return lines[0][:160] if lines else type(exc).__name__


def load_strict(model: torch.nn.Module, state: dict[str, torch.Tensor], where: str | os.PathLike) -> torch.nn.Module:
    """Load ``state`` into ``model``, refusing any missing or unknown weight (a silently random
    part would be a broken model)."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise MaskvatError(f"{where}: weights do not match the config (missing {len(missing)}, unexpected "
                           f"{len(unexpected)})")
    return model
