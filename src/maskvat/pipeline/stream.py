"""The sound of a long video handed out piece by piece while it is generated, so that memory
is bounded by the window, not by the video (``Pipeline.generate_to``, ``maskvat generate``).

A window's tokens before its kept end are final once it is sampled; the codec decoder is all
convolutions, so the samples of frame f depend only on the tokens of frames f - reach ...
f + reach (``codec_decoder_reach``). After each window, the samples of every frame up to
its kept end minus the reach are decoded (with ``reach`` frames of context either side) and
handed on; they equal those of one decode of the whole codegram, to float rounding.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

Sink = Callable[[np.ndarray], None]


class SoundStream:
    """Decodes ``codes`` [V, K, L] (filled in place, in order, by the sampler) into ``num_samples``
    samples per row, handing each row's pieces (float32 [t], in order) to its sink.

    context: frames of context decoded on each side of a piece (the decoder's reach)."""

    def __init__(self, codec, codes: torch.Tensor, num_samples: int, context: int, sinks: Sequence[Sink]):
        if len(sinks) != codes.shape[0]:
            raise ValueError(f"{codes.shape[0]} codegrams need as many sinks, not {len(sinks)}")
        self.codec, self.codes, self.num_samples = codec, codes, num_samples
        self.context, self.sinks = context, list(sinks)
        self.done = 0  # frames whose samples were handed out

    def final_until(self, frame: int) -> None:
        """Every token of frames < ``frame`` is final: hand out what can no longer change."""
        self._emit(frame - self.context)

    def finish(self, wavs: Sequence[np.ndarray] | None = None) -> None:
        """Hand out the rest: the codegram is complete. ``wavs``: the whole sound per row when it
        is already decoded (a one-window video's kept beams); only allowed before any piece."""
        if wavs is not None:
            if self.done:
                raise ValueError("finish(wavs) after pieces were handed out")
            for sink, wav in zip(self.sinks, wavs):
                sink(np.asarray(wav, np.float32)[:self.num_samples])
            self.done = self.codes.shape[-1]
            return
        self._emit(self.codes.shape[-1])

    def _emit(self, upto: int) -> None:
        hop = self.codec.hop_length
        upto = min(upto, self.codes.shape[-1], -(-self.num_samples // hop))
        if upto <= self.done:
            return
        wav = self.codec.decode_frames(self.codes, self.done, upto, self.context)
        a, b = self.done * hop, min(upto * hop, self.num_samples)
        for sink, row in zip(self.sinks, wav):
            sink(row[:b - a].float().cpu().numpy())
        self.done = upto
