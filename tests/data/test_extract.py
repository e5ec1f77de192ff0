"""maskvat extract end to end on a small folder: filters, shards, kill-and-resume, the Dataset."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import torch
import pytest

from maskvat.cli.main import main
from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.data.dataset import CacheDataset, list_clips, make_loader
from maskvat.data.extract import ExtractConfig, extract, read_manifest
from maskvat.errors import MaskvatError
from maskvat.lab.build import build_split


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """6 lab clips of 2 s (each cut into two 1-s clips), plus four videos every filter drops."""
    from media_helpers import indexed_frames

    from maskvat.media import write_video

    root = tmp_path_factory.mktemp("extract")
    lab = build_split(root / "lab", "test", 6, seed=5, duration=2.0, bank="procedural", workers=1, progress=False)
    videos = root / "videos"
    videos.mkdir()
    for clip in sorted(lab.glob("*.mp4")):
        os.link(clip, videos / clip.name)
    write_video(videos / "z_silent.mp4", indexed_frames(30), 25.0, audio=np.zeros(44100 + 20000, np.float32))
    write_video(videos / "z_noaudio.mp4", indexed_frames(30), 25.0)
    write_video(videos / "z_slow.mp4", indexed_frames(12), 10.0, audio=0.1 * np.ones(53000, np.float32))
    (videos / "z_corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + os.urandom(3000))
    AudioTokenizer.from_preset("tiny").save_pretrained(root / "codec")
    return root, videos


def _cfg(root):
    return ExtractConfig(clip_seconds=1.0, chunk_size=1, codec=str(root / "codec"), sync=None)


def _files(cache):
    return {p.name: p.read_bytes() for p in sorted((cache / "shards").glob("*.safetensors"))}


@pytest.fixture(scope="module")
def clean(source, tmp_path_factory):
    root, videos = source
    cache = tmp_path_factory.mktemp("clean") / "cache"
    summary = extract([videos], cache, _cfg(root), progress=False)
    return cache, summary


def _loud_lab_windows(videos):
    """1-s windows of the lab clips above -60 dBFS, counted independently of the extractor."""
    from maskvat.media import read_audio

    n = 0
    for clip in sorted(videos.glob("test_*.mp4")):
        wav = read_audio(clip)
        for w in (wav[:44100], wav[44100:88200]):
            n += bool(np.sqrt(np.mean(w.astype(np.float64) ** 2)) > 1e-3)
    return n


def test_filters_drop_and_count_with_reasons(source, clean):
    cache, summary = clean
    loud = _loud_lab_windows(source[1])
    assert 8 <= loud <= 12  # (lab clips may open with a silent second)
    assert summary["items"] == 10 and summary["clips_added"] == loud == summary["clips_in_cache"]
    assert summary["dropped_now"] == {"silent audio": 1 + 12 - loud, "no audio stream": 1, "low frame rate": 1,
                                      "unreadable": 1}
    assert len(summary["unreadable_now"]) == 1 and "z_corrupt.mp4" in summary["unreadable_now"][0]
    drops = [d for r in read_manifest(cache) for d in r["dropped"]]
    assert {d["path"].split("/")[-1] for d in drops if "test_" not in d["path"]} == \
        {"z_silent.mp4", "z_noaudio.mp4", "z_slow.mp4", "z_corrupt.mp4"}


def test_rerun_adds_nothing_and_other_settings_are_refused(source, clean):
    root, videos = source
    cache, _ = clean
    before = _files(cache)
    again = extract([videos], cache, _cfg(root), progress=False)
    assert again["clips_added"] == 0 and again["chunks_done_before"] == 10 and _files(cache) == before
    other = _cfg(root)
    other.clip_seconds = 2.0
    with pytest.raises(MaskvatError, match="other settings"):
        extract([videos], cache, other, progress=False)


def test_two_shards_equal_one_run(source, clean, tmp_path):
    root, videos = source
    cache, _ = clean
    split = tmp_path / "sharded"
    a = extract([videos], split, _cfg(root), shard=(0, 2), progress=False)
    b = extract([videos], split, _cfg(root), shard=(1, 2), progress=False)
    assert a["clips_added"] + b["clips_added"] == len(list_clips(cache)) and a["clips_added"] > 0 and b["clips_added"] > 0
    assert _files(split) == _files(cache)
    assert read_manifest(split) == read_manifest(cache)
    assert sorted(p.name for p in (split / "manifest").iterdir()) == ["part-0-of-2.jsonl", "part-1-of-2.jsonl"]


def test_killed_run_resumes_to_the_same_cache(source, clean, tmp_path):
    root, videos = source
    cache, _ = clean
    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "maskvat", "extract", str(videos), "--out", str(killed), "--clip-seconds", "1",
           "--chunk", "1", "--codec", str(root / "codec"), "--encoders", "lab-semantic", "lab-logmel", "--workers", "0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    part = killed / "manifest" / "part-0-of-1.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if part.is_file() and part.read_text().count("\n") >= 2:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert len(read_manifest(killed)) < 10  # it really stopped part way
    rc = main(cmd[3:])
    assert rc == 1  # the corrupt file is reported in the exit status
    assert _files(killed) == _files(cache)
    assert read_manifest(killed) == read_manifest(cache)
    assert not list((killed / "shards").glob(".*partial*"))


def test_dataset_shapes_rates_and_windows(clean):
    cache, _ = clean
    ds = CacheDataset(cache)
    n = len(list_clips(cache))
    assert len(ds) == n > 8
    item = ds[0]
    assert item["codes"].shape == (9, 87) and item["codes"].dtype.is_floating_point is False  # 1 s at hop 512
    assert item["semantic"].shape == (8, 128) and item["audio"].shape == (25, 64) and "sync" not in item
    assert ds.meta(0)["duration"] == 1.0 and ds.meta(0)["key"] == item["key"]
    win = CacheDataset(cache, window_seconds=0.5, seed=3)
    w = win[0]
    assert w["codes"].shape == (9, 43) and w["semantic"].shape == (4, 128) and w["audio"].shape[0] in (12, 13)
    assert np.array_equal(win[0]["codes"], w["codes"])  # same seed, epoch and clip: same window
    train, val = CacheDataset(cache, "train", val_fraction=0.3), CacheDataset(cache, "val", val_fraction=0.3)
    assert len(train) + len(val) == n and not {c.key for c in train.clips} & {c.key for c in val.clips}
    batch = next(iter(make_loader(cache, "all", batch_size=4, window_seconds=0.5, shuffle=False)))
    assert batch["codes"].shape == (4, 9, 43) and batch["codes_mask"].all() and len(batch["keys"]) == 4


def test_training_reads_a_shard_cache_window_by_window(clean):
    from maskvat.data.dataset import StepBatches

    cache, _ = clean
    steps = StepBatches(cache, batch_size=2, window_seconds=0.5, seed=1)
    n = len(list_clips(cache))
    b = steps.batch(7)
    assert len(steps) == n and b["codes"].shape == (2, 9, 43) and b["semantic"].shape == (2, 4, 128) and "sync" not in b
    assert b["audio"].shape[:2] in ((2, 12), (2, 13)) and torch.equal(steps.batch(7)["codes"], b["codes"])


def test_cli_refuses_a_folder_that_is_not_a_cache(source, tmp_path, capsys):
    root, videos = source
    (tmp_path / "mine.txt").write_text("keep me")
    rc = main(["extract", str(videos), "--out", str(tmp_path), "--codec", str(root / "codec")])
    assert rc == 2 and "not a maskvat cache" in capsys.readouterr().err
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_decoding_in_worker_processes_writes_the_same_cache(source, clean, tmp_path):
    root, videos = source
    cache, _ = clean
    pooled = tmp_path / "pooled"
    extract([videos], pooled, _cfg(root), workers=1, progress=False)
    assert _files(pooled) == _files(cache) and read_manifest(pooled) == read_manifest(cache)
