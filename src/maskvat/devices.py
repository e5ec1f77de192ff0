"""The device a user names (``--device``, ``device=``), checked before any model loads.

    dev = checked_device("cuda")   # torch.device, or a one-line MaskvatError saying what to do

Names are PyTorch's ("cpu", "cuda", "cuda:1", "mps", "meta" for shape-only loads).
"""

from __future__ import annotations

import torch

from maskvat.errors import MaskvatError


def checked_device(name: str | torch.device) -> torch.device:
    """``name`` as a torch.device this PyTorch build can use. MaskvatError (one line) for a name
    PyTorch does not know, CUDA on a build or machine without it, a CUDA index past the last GPU,
    or MPS where it is missing."""
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise MaskvatError(f"--device {name}: not a device name PyTorch knows (cpu, cuda, cuda:1, mps)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
            raise MaskvatError(f"--device {name}: no CUDA GPU is usable here (this PyTorch {torch.__version__} is "
                               f"{build}); use --device cpu, or install a CUDA build of torch into .venv")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise MaskvatError(f"--device {name}: only {torch.cuda.device_count()} CUDA GPU(s) here (cuda:0 ...)")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise MaskvatError(f"--device {name}: Apple's MPS is not available here; use --device cpu")
    elif dev.type not in ("cpu", "cuda", "mps", "meta"):
        raise MaskvatError(f"--device {name}: maskvat runs on cpu, cuda or mps, not {dev.type}")
    return dev
