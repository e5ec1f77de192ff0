"""Typed dataclass configs from plain dicts (JSON files, checkpoints), refusing unknown keys."""

from __future__ import annotations

from dataclasses import fields
from typing import TypeVar

from maskvat.errors import MaskvatError

T = TypeVar("T")


def from_checked_dict(cls: type[T], data: dict, what: str) -> T:
    """``cls(**data)``, or one clear error naming every key ``cls`` does not have.

    what: how the error names the source, e.g. "runs/a/config.json: training option"."""
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise MaskvatError(f"unknown {what}(s): {', '.join(sorted(unknown))}")
    return cls(**data)
