"""``maskvat probe``: readable text, JSON, and one-line errors with exit status 2."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
import soundfile as sf

from maskvat.cli.main import main


def test_text_shows_exact_ntsc_rate_count_and_audio(make_video, capsys):
    path = make_video("v.mp4", 30, Fraction(30000, 1001), audio=np.zeros(44100, np.float32))
    assert main(["probe", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"file:      {path}"
    assert lines[3] == "video:     h264 64x48 yuv420p, 30000/1001 ≈ 29.970 fps, 30 frames, 1.001 s"
    assert lines[4] == "audio:     aac 44100 Hz, 1 ch, 1.000 s"


def test_text_flags_variable_frame_rate_and_audio_only(vfr_video, tmp_path, capsys):
    path, _ = vfr_video
    assert main(["probe", str(path)]) == 0
    assert "variable frame rate, average" in capsys.readouterr().out
    sf.write(tmp_path / "a.wav", np.zeros(22050, np.float32), 44100)
    assert main(["probe", str(tmp_path / "a.wav")]) == 0
    out = capsys.readouterr().out
    assert "video:     none" in out and "audio:     pcm_s16le 44100 Hz, 1 ch, 0.500 s" in out


def test_json_is_media_info_to_dict(make_video, capsys):
    path = make_video("v.mp4", 30, Fraction(30000, 1001), audio=np.zeros(44100, np.float32))
    assert main(["probe", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["path"] == str(path) and info["size_bytes"] == path.stat().st_size
    assert info["video"]["fps"] == {"num": 30000, "den": 1001, "value": 30000 / 1001}
    assert info["video"]["frame_count"] == 30 and info["video"]["variable_frame_rate"] is False
    assert info["video"]["width"] == 64 and info["audio"]["channels"] == 1 and info["audio"]["sample_rate"] == 44100


@pytest.fixture
def bad_files(make_video, tmp_path):
    """Files maskvat probe must refuse, each with the words its error must contain."""
    (tmp_path / "junk.mp4").write_bytes(b"\x00\x01garbage" * 100)
    (tmp_path / "notes.txt").write_text("hello\n" * 100)
    (tmp_path / "empty.mp4").write_bytes(b"")
    data = make_video("whole.mp4", 50, 25).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    return {
        tmp_path / "missing.mp4": "no such file",
        tmp_path / "junk.mp4": "not a media file",
        tmp_path / "notes.txt": "not a media file",
        tmp_path / "empty.mp4": "is empty",
        tmp_path / "cut.mp4": "truncated or corrupt",
        tmp_path: "is a directory",
    }


def test_bad_files_give_one_line_and_exit_2(bad_files, capfd):
    """capfd, not capsys: FFmpeg's own log lines would go to file descriptor 2 directly."""
    for path, problem in bad_files.items():
        assert main(["probe", str(path)]) == 2
        out, err = capfd.readouterr()
        assert out == ""
        assert err.startswith(f"maskvat: error: {path}: ") and problem in err, err
        assert err.count("\n") == 1 and "Traceback" not in err
