"""probe and decode_frames describe video as a player shows it: display rotation, MP4 edit
lists (stream-copied cuts), frame intervals with one odd timestamp, the container's end."""

from __future__ import annotations

import json
from fractions import Fraction

import av
import numpy as np
import pytest
from media_helpers import (
    SR,
    encode_frames,
    frame_index,
    indexed_frames,
    set_edit_duration,
    stream_copy_cut,
)

from maskvat.cli.main import main
from maskvat.media import decode_frames, mux_audio, probe, read_audio


def marked_frames(n: int, w: int = 64, h: int = 48) -> np.ndarray:
    """[n, h, w, 3] dark frames with a white block in the top-left corner."""
    frames = np.full((n, h, w, 3), 30, np.uint8)
    frames[:, : h // 3, : w // 4] = 230
    return frames


def bright_corner(rgb: np.ndarray) -> str:
    """Which corner of an image [H, W, 3] holds the white block."""
    h, w = rgb.shape[:2]
    corners = {"top-left": rgb[: h // 4, : w // 4], "top-right": rgb[: h // 4, -(w // 4):],
               "bottom-left": rgb[-(h // 4):, : w // 4], "bottom-right": rgb[-(h // 4):, -(w // 4):]}
    return max(corners, key=lambda k: float(corners[k].mean()))


# A player turns the stored picture clockwise by the rotation: the top-left block moves to
# the top-right (90), bottom-right (180) or bottom-left (270) corner.
@pytest.mark.parametrize("rotate,corner", [(90, "top-right"), (180, "bottom-right"), (270, "bottom-left")])
def test_display_rotation_is_applied_reported_and_kept(tmp_path, rotate, corner):
    path = encode_frames(tmp_path / "phone.mp4", marked_frames(10), range(10), Fraction(1, 25), rotate=rotate)
    v = probe(path).video
    assert (v.width, v.height, v.rotation) == (64, 48, rotate)
    shown = (48, 64) if rotate in (90, 270) else (64, 48)
    assert v.display_size == shown
    got = decode_frames(path, 25)
    assert got.frames.shape == (10, shown[1], shown[0], 3)
    assert {bright_corner(f) for f in got.frames} == {corner}
    small = decode_frames(path, 25, size=(shown[0] // 2, shown[1] // 2))  # size is the shown picture's
    assert small.frames.shape == (10, shown[1] // 2, shown[0] // 2, 3) and bright_corner(small.frames[0]) == corner
    # the muxed copy plays the same way: same packets, same rotation
    mux_audio(path, np.zeros(SR // 4, np.float32), SR, tmp_path / "out.mp4")
    assert probe(tmp_path / "out.mp4").video.rotation == rotate
    assert bright_corner(decode_frames(tmp_path / "out.mp4", 25).frames[0]) == corner


def test_probe_cli_says_the_rotation(tmp_path, capsys):
    path = encode_frames(tmp_path / "phone.mp4", marked_frames(5), range(5), Fraction(1, 25), rotate=90)
    assert main(["probe", str(path)]) == 0
    assert "h264 64x48 (rotated 90° clockwise: shown 48x64) yuv420p" in capsys.readouterr().out
    assert main(["probe", str(path), "--json"]) == 0
    video = json.loads(capsys.readouterr().out)["video"]
    assert (video["rotation"], video["display_width"], video["display_height"]) == (90, 48, 64)


@pytest.fixture
def cut_mp4(tmp_path):
    """2 s at 25 fps (keyframe every 25 frames, B-frames) cut as `ffmpeg -ss 0.4 -c copy` does:
    frames 0-9 are the pre-roll, the shown video is frames 10-49 (1.6 s)."""
    src = encode_frames(tmp_path / "src.mp4", indexed_frames(50), range(50), Fraction(1, 25), gop=25)
    return stream_copy_cut(src, tmp_path / "cut.mp4", drop=10)


def test_edit_list_preroll_is_not_shown(cut_mp4):
    with av.open(str(cut_mp4)) as c:  # the fixture is what it should be: 50 frames stored
        assert c.streams.video[0].frames == 50
    v = probe(cut_mp4).video
    assert v.frame_count == 40 and v.duration == pytest.approx(1.6) and not v.variable_frame_rate
    got = decode_frames(cut_mp4, 25)
    assert len(got) == 40 and [frame_index(f) for f in got.frames] == list(range(10, 50))


def test_edit_list_that_ends_early(cut_mp4, tmp_path):
    """The edit keeps 1.0 s of the 1.6 s after the cut: 25 frames are shown, the rest are not."""
    set_edit_duration(cut_mp4, 1.0)
    v = probe(cut_mp4).video
    assert v.frame_count == 25 and v.duration == pytest.approx(1.0)
    got = decode_frames(cut_mp4, 25)
    assert [frame_index(f) for f in got.frames] == list(range(10, 35))
    # the muxed copy's sound runs with the shown frames; the frames past the edit are not kept
    # (but for the ones the last shown frames are decoded from)
    wav = np.zeros(SR, np.float32)
    wav[SR // 2] = 0.9  # a click at 0.5 s, with frame 10 + 12.5
    mux_audio(cut_mp4, wav, SR, tmp_path / "out.mp4", audio_codec="alac")
    back = read_audio(tmp_path / "out.mp4")
    assert int(np.argmax(np.abs(back))) == SR // 2
    assert [frame_index(f) for f in decode_frames(tmp_path / "out.mp4", 25, duration=1.0).frames] == list(range(10, 35))
    assert probe(tmp_path / "out.mp4").video.frame_count < 40


def test_one_missing_frame_is_not_a_variable_rate(tmp_path):
    pts = [p for p in range(40) if p != 17]  # one dropped frame: one interval of 2 frames
    path = encode_frames(tmp_path / "drop.mp4", indexed_frames(39), pts, Fraction(1, 25))
    v = probe(path).video
    assert not v.variable_frame_rate and v.frame_count == 39 and v.duration == pytest.approx(1.6)
    pts = [0, 1, 2, 4, 5, 6, 9, 10, 11, 12, 14, 15, 16, 17, 19, 20]  # drops all through: variable
    drops = encode_frames(tmp_path / "drops.mp4", indexed_frames(16), pts, Fraction(1, 25))
    assert probe(drops).video.variable_frame_rate


def test_duration_ends_where_the_container_says(tmp_path):
    """The last frame lasts 1 ms (a cut that ends just after it): the video ends 1 ms after its
    timestamp, as the MP4 says, not a frame later."""
    src = encode_frames(tmp_path / "src.mp4", indexed_frames(30), range(30), Fraction(1, 25), bframes=2)
    with av.open(str(src)) as inp, av.open(str(tmp_path / "short_last.mp4"), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin, opaque=True)
        packets = [p for p in inp.demux(vin) if p.size]
        last = max(packets, key=lambda p: p.pts)
        for p in packets:
            if p is last:
                p.duration = round(0.001 / p.time_base)
            p.stream = vout
            out.mux(p)
    with av.open(str(tmp_path / "short_last.mp4")) as c:
        s = c.streams.video[0]
        declared = float(s.duration * s.time_base)
    assert 29 / 25 < declared < 29 / 25 + 0.005  # the container: the last frame lasts 1-2 ms (B-frame reorder)
    assert probe(tmp_path / "short_last.mp4").video.duration == pytest.approx(declared, abs=1e-9)
