"""The shipped lab codec must not add tones its input lacks (issue 26).

Its decoder adds a steady line at 947.46 Hz (11 x the 86.13 Hz codegram frame rate) and weaker
ones at other multiples of the frame rate to nearly everything it decodes: on these signals the
947 Hz line stands +27 dB above its neighbourhood in both drum loops and white noise gets
lines up to +29 dB (BENCHMARKS.md, "The codec's 947 Hz tone"). No decoder fine-tune tried so
far removes it without costing lab quality, so the weights are unchanged and these tests are
expected to fail (strict: once fixed weights ship they pass, and the marker must go).
"""

import numpy as np
import pytest
import torch
from audio_helpers import drum_loop

from maskvat.codec import AudioTokenizer
from maskvat.evaluation.tones import added_tones

SR = 44100
TONE_HZ = 11 * SR / 512  # 947.46 Hz
MAX_PROMINENCE_DB = 20.0  # the shipped decoder: 27 dB and more on these signals

pytestmark = pytest.mark.xfail(strict=True, reason="issue 26: the shipped decoder adds a 947 Hz tone "
                                                   "(BENCHMARKS.md, \"The codec's 947 Hz tone\")")


@pytest.fixture(scope="module")
def shipped():
    return AudioTokenizer.from_pretrained("lab")


def round_trip(tok: AudioTokenizer, wav: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return tok.decode(tok.encode(torch.from_numpy(wav)[None]), num_samples=len(wav))[0].numpy()


@pytest.mark.parametrize("seed", [0, 1])
def test_shipped_codec_adds_no_tone_to_a_drum_loop(shipped, seed):
    wav = drum_loop(seed)
    tones = added_tones(round_trip(shipped, wav), wav, SR)
    assert not [t for t in tones if abs(t.frequency_hz - TONE_HZ) < 10], tones[:5]
    assert max((t.prominence_db for t in tones), default=0.0) < MAX_PROMINENCE_DB, tones[:5]


def test_shipped_codec_adds_no_tone_to_noise(shipped):
    wav = (0.05 * np.random.default_rng(0).standard_normal(2 * SR)).astype(np.float32)
    tones = added_tones(round_trip(shipped, wav), wav, SR)
    assert max((t.prominence_db for t in tones), default=0.0) < MAX_PROMINENCE_DB, tones[:5]
    assert len(tones) <= 2, tones[:5]
