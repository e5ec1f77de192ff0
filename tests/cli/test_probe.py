"""``maskvat probe``: readable text, JSON, and one-line errors with exit status 2."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np

from maskvat.cli.main import main


def test_text_and_json(make_video, capsys):
    path = make_video("v.mp4", 30, Fraction(30000, 1001), audio=np.zeros(44100, np.float32))
    assert main(["probe", str(path)]) == 0
    text = capsys.readouterr().out
    assert "30000/1001 ≈ 29.970 fps" in text and "30 frames" in text and "aac 44100 Hz" in text
    assert main(["probe", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["video"]["fps"] == {"num": 30000, "den": 1001, "value": 30000 / 1001}
    assert info["video"]["width"] == 64 and info["audio"]["channels"] == 1


def test_bad_files_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "junk.mp4").write_bytes(b"\x00\x01garbage" * 100)
    for path in (tmp_path / "missing.mp4", tmp_path / "junk.mp4", tmp_path):
        assert main(["probe", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err
