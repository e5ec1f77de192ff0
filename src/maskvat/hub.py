"""Loading transformers models from a local folder or a model-hub id, failing fast offline.

Order for a hub id: the local hub cache; then, unless offline mode is on, a 3 s TCP check
of the hub endpoint before downloading (huggingface_hub would otherwise retry for ~25 s).
Every failure is a one-line MaskvatError that says what to pass instead.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from maskvat.errors import MaskvatError


def looks_like_hub_id(source: str) -> bool:
    """'owner/name', not a relative or absolute file path."""
    parts = source.split("/")
    return len(parts) == 2 and all(parts) and not source.startswith((".", "~"))


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
