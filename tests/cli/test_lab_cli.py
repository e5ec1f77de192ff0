"""``maskvat lab build|score|show`` end to end on a tiny split."""

from __future__ import annotations

import json

from maskvat.cli.main import main


def test_build_score_show(tmp_path, capsys):
    out = tmp_path / "lab"
    args = ["lab", "build", str(out), "--split", "val", "--n", "3", "--seed", "1", "--duration", "2",
            "--bank", "procedural", "--workers", "1"]
    assert main(args) == 0
    assert len(list((out / "val").glob("*.mp4"))) == 3
    capsys.readouterr()
    assert main(["lab", "score", str(out / "val"), str(out / "val"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_clips"] == 3 and result["families"]["all"]["f1"] >= 0.9
    png = tmp_path / "sheet.png"
    assert main(["lab", "show", str(out / "val" / "val_000000.mp4"), "-o", str(png), "--onsets"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    before = sorted(p.name for p in (out / "val").iterdir())
    assert main(args) == 2  # refuses to overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert sorted(p.name for p in (out / "val").iterdir()) == before


def test_bad_paths_one_line_exit_2(tmp_path, capsys):
    assert main(["lab", "score", str(tmp_path / "nope"), str(tmp_path)]) == 2
    assert main(["lab", "score", str(tmp_path), str(tmp_path)]) == 2
    assert main(["lab", "show", str(tmp_path / "missing.mp4")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("maskvat: error: ") for line in err)
    assert "Traceback" not in "".join(err)
