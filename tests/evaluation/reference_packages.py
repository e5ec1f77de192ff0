"""The published metrics' reference implementations, for the equivalence tests.

- ``panns_inference`` and ``torchlibrosa`` (CNN14 and its front end) are in the ``test`` extra
  (their dependencies are numpy, librosa and matplotlib, all already here). ``panns_inference``'s
  package ``__init__`` downloads AudioSet's label CSV at import time, so its ``models`` module is
  imported on its own.
- torchaudio (av-benchmark's resampler; PaSST's mel bank) is not a dependency: its PyPI wheel is
  built for CUDA and its compiled extension does not load here. ``hear21passt`` (PaSST) needs
  torchaudio and timm (which needs torchvision). ``scripts/test.sh`` unpacks both
  (``--no-deps``) into ``.venv/reference``, off ``sys.path``, and the pure-Python modules the
  references use are imported from there on their own: torchaudio's extension stubbed as
  unavailable, its SpecAugment masks (training only) as identities, and timm's download helper
  (used only to fetch weights) as absent.

Each import leaves nothing of the package in ``sys.modules`` (transformers looks torchaudio up).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path

REFERENCE_DIR = Path(sys.prefix) / "reference"


def _isolated(root: str, root_dir: Path, module: str, extra: dict[str, types.ModuleType] | None = None):
    """Import ``root.module`` from ``root_dir`` with stub parent packages (no ``__init__`` runs)."""
    def ours(name: str) -> bool:
        return name == root or name.startswith(root + ".")

    extra = extra or {}
    saved = {k: v for k, v in sys.modules.items() if ours(k) or k in extra}
    for k in saved:
        del sys.modules[k]
    try:
        parts = module.split(".")
        for i in range(len(parts)):
            name = ".".join([root, *parts[:i]])
            pkg = types.ModuleType(name)
            pkg.__path__ = [str(root_dir.joinpath(*parts[:i]))]
            sys.modules[name] = pkg
        sys.modules.update(extra)
        return importlib.import_module(f"{root}.{module}")
    finally:
        for k in [k for k in sys.modules if ours(k) or k in extra]:
            del sys.modules[k]
        sys.modules.update(saved)


def panns_models():
    """``panns_inference.models`` (its ``Cnn14``), without the package's label download."""
    spec = importlib.util.find_spec("panns_inference")
    assert spec is not None, "panns_inference is missing: run scripts/test.sh (it installs the test extra)"
    return _isolated("panns_inference", Path(spec.submodule_search_locations[0]), "models")


def _torchaudio_dir() -> Path:
    path = REFERENCE_DIR / "torchaudio"
    assert path.is_dir(), f"{path} is missing: run scripts/test.sh (it unpacks the reference torchaudio there)"
    return path


def _no_extension() -> dict[str, types.ModuleType]:
    ext = types.ModuleType("torchaudio._extension")
    ext._IS_TORCHAUDIO_EXT_AVAILABLE = False
    return {"torchaudio._extension": ext}


def torchaudio_functional():
    """``torchaudio.functional.functional`` (``resample``, ``_get_sinc_resample_kernel``)."""
    return _isolated("torchaudio", _torchaudio_dir(), "functional.functional", _no_extension())


def torchaudio_resample(wav, orig_freq: int, new_freq: int):
    """``torchaudio.transforms.Resample(orig_freq, new_freq)(wav)``, as av-benchmark resamples:
    the transform's ``__init__`` and ``forward`` (``transforms/_transforms.py``) on the functional
    module's kernel code. (It caches a kernel computed in float64; ``functional.resample``
    computes it in the waveform's dtype, a few 1e-6 apart.)"""
    import math

    fn = torchaudio_functional()
    if orig_freq == new_freq:
        return wav
    gcd = math.gcd(orig_freq, new_freq)
    kernel, width = fn._get_sinc_resample_kernel(orig_freq, new_freq, gcd, 6, 0.99, "sinc_interp_hann", None)
    return fn._apply_sinc_resample_kernel(wav, orig_freq, new_freq, gcd, kernel, width)


def torchaudio_kaldi():
    """``torchaudio.compliance.kaldi`` (``get_mel_banks``, PaSST's mel bank)."""
    return _isolated("torchaudio", _torchaudio_dir(), "compliance.kaldi", _no_extension())


def passt_modules():
    """(``hear21passt.models.passt``, ``hear21passt.models.preprocess``): ``PaSST`` and
    ``AugmentMelSTFT``, as ``hear21passt.base.get_basic_model`` builds them."""
    import torch

    root = REFERENCE_DIR / "hear21passt"
    assert root.is_dir(), f"{root} is missing: run scripts/test.sh (it unpacks the reference hear21passt there)"
    torchaudio = types.ModuleType("torchaudio")
    torchaudio.compliance = types.ModuleType("torchaudio.compliance")
    torchaudio.compliance.kaldi = torchaudio_kaldi()
    torchaudio.transforms = types.ModuleType("torchaudio.transforms")

    class Mask(torch.nn.Identity):  # FrequencyMasking / TimeMasking: applied in training only
        def __init__(self, *args, **kwargs):
            super().__init__()

    torchaudio.transforms.FrequencyMasking = torchaudio.transforms.TimeMasking = Mask
    hub = types.ModuleType("timm.models._hub")
    hub.download_cached_file = None
    stubs = {"torchaudio": torchaudio, "timm": types.ModuleType("timm"), "timm.models": types.ModuleType("timm.models"),
             "timm.models._hub": hub}
    passt = _isolated("hear21passt", root, "models.passt", stubs)
    preprocess = _isolated("hear21passt", root, "models.preprocess", stubs)
    return passt, preprocess


def torchaudio_mel_spectrogram(**kwargs):
    """``torchaudio.transforms.MelSpectrogram(**kwargs)`` (``transforms/_transforms.py``), as
    av-benchmark builds Synchformer's front end; the forced-alignment decorator its functional
    package imports (never called here) stubbed as the identity."""
    stubs = _no_extension()
    stubs["torchaudio._extension"].fail_if_no_align = lambda fn: fn
    transforms = _isolated("torchaudio", _torchaudio_dir(), "transforms._transforms", stubs)
    return transforms.MelSpectrogram(**kwargs)
