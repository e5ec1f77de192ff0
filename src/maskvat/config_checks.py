"""Typed dataclass configs from plain dicts (JSON files, checkpoints), refusing unknown keys."""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path
from typing import TypeVar

from maskvat.errors import MaskvatError

T = TypeVar("T")


def from_checked_dict(cls: type[T], data: dict, what: str) -> T:
    """``cls(**data)``, or one clear error naming every key ``cls`` does not have.

    what: how the error names the source, e.g. "runs/a/config.json: training option"."""
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise MaskvatError(f"unknown {what}(s): {', '.join(sorted(unknown))} "
                           f"(known: {', '.join(f.name for f in fields(cls))})")
    return cls(**data)


def read_config_file(path: str | os.PathLike) -> dict:
    """The JSON object of a config file; one clear error if it is missing, not JSON or not an object."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise MaskvatError(f"{path}: no such config file") from None
    except json.JSONDecodeError as exc:
        raise MaskvatError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise MaskvatError(f"{path}: a config file holds one JSON object (names and values)")
    return data
