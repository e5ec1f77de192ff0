"""The pure pieces of the cache: clip plans, filters, chunk ownership, windows, split, sources."""

import json

import numpy as np
import pytest
import torch

from maskvat.data.dataset import collate_clips, split_of, window_slices
from maskvat.data.extract import chunk_ids, parse_shard
from maskvat.data.filters import plan_clips, silence, too_low_fps
from maskvat.data.sources import list_sources
from maskvat.errors import MaskvatError


def test_plan_clips_cuts_consecutive_windows_and_keeps_a_long_enough_rest():
    assert plan_clips((0.0, 25.0), 10.0, 10.0) == [(0.0, 10.0), (10.0, 10.0)]  # 5 s rest < 10 s: dropped
    assert plan_clips((2.0, 27.0), 10.0, 4.0) == [(2.0, 10.0), (12.0, 10.0), (22.0, 5.0)]
    assert plan_clips((0.0, 9.9), 10.0, 10.0) == []
    assert plan_clips((0.0, 30.0), 10.0, 10.0, max_clips=1) == [(0.0, 10.0)]
    assert plan_clips((0.0, 20.0), 10.0, 10.0) == [(0.0, 10.0), (10.0, 10.0)]  # no empty rest clip


def test_filters_give_reasons():
    assert too_low_fps(12.0, 15.0).startswith("video at 12.00 fps") and too_low_fps(15.0, 15.0) is None
    assert silence(np.zeros(100, np.float32), -60).startswith("silent audio") and silence(np.zeros(0), -60)
    assert silence(np.full(100, 0.01, np.float32), -60) is None  # -40 dBFS
    assert silence(np.full(100, 0.0005, np.float32), -60) is not None  # -66 dBFS


def test_chunks_of_n_shards_partition_the_work():
    chunks = [chunk_ids(23, 4, (i, 3)) for i in range(3)]
    flat = sorted(j for c in chunks for j in c)
    assert flat == list(range(6)) and chunks[1] == [1, 4]
    assert parse_shard("2/5") == (2, 5)
    for bad in ("5/5", "a/b", "3"):
        with pytest.raises(MaskvatError):
            parse_shard(bad)


def test_window_slices_cover_the_same_time_in_every_stream():
    rates = {"codes": 86.1328125, "semantic": 8.0, "audio": 25.0}
    lengths = {"codes": 862, "semantic": 80, "audio": 250}
    cuts = window_slices(rates, lengths, 2.0, 4.0)
    assert (cuts["codes"].start, cuts["codes"].stop) == (172, 172 + 345)
    assert (cuts["semantic"].start, cuts["semantic"].stop) == (16, 48)
    assert (cuts["audio"].start, cuts["audio"].stop) == (50, 150)
    end = window_slices(rates, lengths, 9.0, 4.0)  # past the end: clamped, full length kept
    assert end["semantic"] == slice(48, 80) and end["codes"].stop == 862


def test_split_by_key_is_stable_and_near_the_fraction():
    keys = [f"v{i}.mp4@0.000" for i in range(4000)]
    val = [k for k in keys if split_of(k, 0.1) == "val"]
    assert 320 < len(val) < 480
    assert val == [k for k in keys if split_of(k, 0.1) == "val"]


def test_collate_pads_and_masks():
    a = {"key": "a", "codes": torch.ones(9, 5, dtype=torch.long), "audio": torch.ones(3, 4)}
    b = {"key": "b", "codes": torch.full((9, 7), 2, dtype=torch.long), "audio": torch.ones(4, 4)}
    out = collate_clips([a, b])
    assert out["codes"].shape == (2, 9, 7) and out["audio"].shape == (2, 4, 4) and out["keys"] == ["a", "b"]
    assert out["codes_mask"].tolist() == [[True] * 5 + [False] * 2, [True] * 7]
    assert (out["codes"][0, :, 5:] == 0).all() and (out["codes"][1] == 2).all()
    assert out["audio_mask"][0].tolist() == [True, True, True, False]


def test_sources_from_lists_folders_and_errors(tmp_path):
    (tmp_path / "v").mkdir()
    for name in ("b.mp4", "a.mkv", "notes.txt"):
        (tmp_path / "v" / name).write_bytes(b"x")
    (tmp_path / "v" / "sub").mkdir()
    (tmp_path / "v" / "sub" / "c.mp4").write_bytes(b"x")
    items = list_sources([tmp_path / "v"])
    assert [i.name for i in items] == ["v/a.mkv", "v/b.mp4", "v/sub/c.mp4"]
    (tmp_path / "list.csv").write_text("path,start,end\nv/b.mp4,1.5,4\nv/a.mkv,,\n")
    rows = list_sources([tmp_path / "list.csv"])
    assert rows[0].path == tmp_path / "v" / "b.mp4" and (rows[0].start, rows[0].end) == (1.5, 4.0)
    assert (rows[1].start, rows[1].end) == (0.0, None)
    (tmp_path / "list.jsonl").write_text(json.dumps({"path": "v/b.mp4"}) + "\nnot json\n")
    with pytest.raises(MaskvatError, match=r"list.jsonl:2: not JSON"):
        list_sources([tmp_path / "list.jsonl"])
    (tmp_path / "bad.csv").write_text("path,start\nv/b.mp4,soon\n")
    with pytest.raises(MaskvatError, match=r"bad.csv:2: start/end must be numbers"):
        list_sources([tmp_path / "bad.csv"])
    with pytest.raises(MaskvatError, match="same video part twice"):
        list_sources([tmp_path / "v", tmp_path / "v"])
    with pytest.raises(MaskvatError, match="no such file"):
        list_sources([tmp_path / "missing"])
