"""FrameArray: frames in memory sampled on the same time grid as decode_frames reads a file."""

import numpy as np
import pytest
from media_helpers import frame_index, indexed_frames

from maskvat.errors import MediaError
from maskvat.media import FrameArray, decode_frames


@pytest.mark.parametrize("fps", [8.0, 25.0, 30.0, 12.5])
def test_same_source_frames_as_decoding_the_file(make_video, fps):
    frames = indexed_frames(50)  # 2 s at 25 fps
    path = make_video("src.mp4", 50, 25.0)
    from_file = decode_frames(path, fps, start=0.3, duration=1.5)
    in_memory = FrameArray(frames, 25.0).at(fps, start=0.3, duration=1.5)
    assert np.array_equal(in_memory.times, from_file.times)
    assert np.allclose(in_memory.source_times, from_file.source_times, atol=1e-6)
    assert [frame_index(f) for f in in_memory.frames] == [frame_index(f) for f in from_file.frames]


def test_resize_and_last_frame_held():
    fa = FrameArray(indexed_frames(10), 10.0)  # 1 s
    out = fa.at(20.0, size=(16, 12))
    assert out.frames.shape == (20, 12, 16, 3) and out.frames.dtype == np.uint8
    assert [frame_index(f) for f in out.frames[::2]] == list(range(10))
    assert fa.duration == 1.0 and str(fa) == "<frames>"


@pytest.mark.parametrize("frames, fps, problem", [
    (np.zeros((4, 8, 8, 3), np.float32), 25.0, "uint8"),
    (np.zeros((8, 8, 3), np.uint8), 25.0, "[N, H, W, 3]"),
    (np.zeros((0, 8, 8, 3), np.uint8), 25.0, "no frames"),
    (np.zeros((4, 8, 8, 3), np.uint8), 0.0, "frame rate"),
    (np.zeros((4, 8, 8, 3), np.uint8), float("nan"), "frame rate"),
])
def test_bad_arrays_are_clear_errors(frames, fps, problem):
    with pytest.raises(MediaError, match=problem.replace("[", r"\[").replace("]", r"\]")) as e:
        FrameArray(frames, fps, name="cam1")
    assert "cam1" in str(e.value)


def test_start_past_the_end_is_refused():
    with pytest.raises(MediaError, match="beyond the end"):
        FrameArray(indexed_frames(5), 25.0).at(8.0, start=1.0)
