"""maskvat: synchronised full-band sound for silent video (MaskVAT, Pascual et al., ECCV 2024).

    import maskvat
    pipe = maskvat.load()                         # shipped lab model + codec + encoders
    result = pipe.generate("clip.mp4", seed=0)    # result.wav [T] at result.sample_rate
    # or in one call: maskvat.generate("clip.mp4", steps=16)
    fast = pipe.generate("clip.mp4", settings=maskvat.SamplerSettings(steps=8, guidance=3.0))
    fixed = pipe.generate("clip.mp4", keep="take1.wav", regenerate=[(2.0, 3.5)])   # redo 2.0-3.5 s only

``load`` and ``generate`` (and ``MaskVAT``, ``AudioTokenizer``) import torch on first use,
so that ``import maskvat`` stays light.
"""

__version__ = "0.1.0"

from maskvat.errors import MaskvatError, MediaError  # noqa: E402
from maskvat.sampling.settings import SamplerSettings  # noqa: E402 (plain data, no torch)

__all__ = ["__version__", "MaskvatError", "MediaError", "SamplerSettings", "load", "generate", "MaskVAT",
           "AudioTokenizer"]


def load(model="lab", **kwargs):
    """The generation pipeline for ``model`` ("lab", "hits", a folder or a hub id); see ``Pipeline.load``."""
    from maskvat.pipeline.generate import Pipeline

    return Pipeline.load(model, **kwargs)


def generate(video, *, model="lab", device="cpu", steps=None, guidance=None, diversity=None, temperature=None,
             **kwargs):
    """Sound for one video with a freshly loaded pipeline; kwargs go to ``Pipeline.generate``
    (``settings``, ``seed``, ``start``, ``duration``, ``beams``; to edit a take: ``keep`` (a sound
    or codes file, a waveform [T] at ``keep_rate`` Hz, codes [K, L] or a Generation),
    ``regenerate`` [(t0, t1), ...] in seconds on the video's timeline, ``variations`` B for a
    list of B candidates). ``steps``, ``guidance``, ``diversity``, ``temperature``: shortcuts for
    the fields of ``settings`` (a ``SamplerSettings``; the paper's 32, 3 and 8, and 1, where
    neither gives them)."""
    given = {k: v for k, v in (("steps", steps), ("guidance", guidance), ("diversity", diversity),
                               ("temperature", temperature)) if v is not None}
    if given:
        from dataclasses import replace

        kwargs["settings"] = replace(kwargs.get("settings", SamplerSettings()), **given)
    return load(model, device=device).generate(video, **kwargs)


def __getattr__(name):
    if name == "MaskVAT":
        from maskvat.model.maskvat import MaskVAT

        return MaskVAT
    if name == "AudioTokenizer":
        from maskvat.codec.tokenizer import AudioTokenizer

        return AudioTokenizer
    raise AttributeError(f"module 'maskvat' has no attribute {name!r}")
