"""maskvat: synchronised full-band sound for silent video (MaskVAT, Pascual et al., ECCV 2024)."""

__version__ = "0.1.0"

from maskvat.errors import MaskvatError, MediaError  # noqa: E402

__all__ = ["__version__", "MaskvatError", "MediaError"]
