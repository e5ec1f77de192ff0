"""Weights that ship inside the package (fp16 safetensors + config), found by name.

    lab/codec        the project's own DAC-architecture codec (``maskvat codec train``)
    lab/sync_judge   the first lab sync judge (1.6 s windows); its video tower is the ``lab-sync`` encoder
    lab/ss_judge     the sync judge of the SS metric (2.4 s windows, four judges voting; ``maskvat evaluate --judge lab``)
    lab/model        the default MaskVAT generator (``maskvat train``)
    lab/scav         the SCAV beam selector (``maskvat scav train``)
    lab/sound_classifier  the lab sound-class classifier of the class-accuracy metric (``maskvat lab classifier``)
    lab/semantic     the semantic encoder pair: ``lab-semantic`` (frames) and ``lab-audio`` (sound)
"""

from __future__ import annotations

from pathlib import Path

from maskvat.errors import MaskvatError

ROOT = Path(__file__).resolve().parent


def asset(name: str) -> Path:
    """The folder of shipped weights ``name`` (e.g. "lab/codec"); a clear error if absent."""
    path = ROOT / name
    if not path.is_dir():
        raise MaskvatError(f"shipped weights {name!r} are missing from {ROOT} (reinstall maskvat, or pass a folder)")
    return path
