"""Named codec configurations: the paper's DAC 44 kHz, and small ones of the same class.

Note on ``DacConfig``: it derives ``upsampling_ratios`` (reversed downsampling) and
``hop_length`` itself; ``hidden_size`` defaults to encoder_hidden_size * 2**len(ratios)
(1024 for DAC 44 kHz) but an explicit value is kept (the tiny preset's 64).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import DacConfig


@dataclass(frozen=True)
class CodecPreset:
    """A named DacConfig; ``hub_id`` is where published weights live (None: train your own)."""

    name: str
    config: dict = field(default_factory=dict)
    hub_id: str | None = None
    shipped: str | None = None  # the shipped model whose codec this is (``maskvat.weights.shipped``)

    def dac_config(self) -> DacConfig:
        return DacConfig(**self.config)


# Shared by every preset: 44.1 kHz, hop 512 (2*4*8*8), K = 9 levels of 1024 codes x 8 dims.
_DAC44_FRAME = dict(
    sampling_rate=44100,
    downsampling_ratios=[2, 4, 8, 8],
    upsampling_ratios=[8, 8, 4, 2],
    hop_length=512,
    n_codebooks=9,
    codebook_size=1024,
    codebook_dim=8,
)

CODEC_PRESETS: dict[str, CodecPreset] = {
    # The published Descript audio codec used by the paper (config as in its hub folder).
    "dac_44khz": CodecPreset(
        "dac_44khz",
        dict(_DAC44_FRAME, encoder_hidden_size=64, decoder_hidden_size=1536, hidden_size=1024),
        hub_id="descript/dac_44khz",
    ),
    # Tiny widths, same token grid: tests, and the start of the project's own codec training.
    "tiny": CodecPreset("tiny", dict(_DAC44_FRAME, encoder_hidden_size=8, decoder_hidden_size=32, hidden_size=64)),
    # The project's own codec, trained on CPU: encoder 16..256 channels, decoder 256..16.
    "lab": CodecPreset("lab", dict(_DAC44_FRAME, encoder_hidden_size=16, decoder_hidden_size=256, hidden_size=256),
                       shipped="lab"),
}

DEFAULT_CODEC = "lab"
