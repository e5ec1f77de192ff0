"""atomic_path: complete files or nothing, never a half-written output."""

from __future__ import annotations

import errno

import pytest

from maskvat.atomic import atomic_path
from maskvat.errors import MediaError


def test_success_renames_into_place_and_keeps_suffix(tmp_path):
    final = tmp_path / "out.mp4"
    with atomic_path(final) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".mp4" and tmp != final
        tmp.write_bytes(b"done")
    assert final.read_bytes() == b"done"
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_failure_leaves_existing_file_untouched_and_no_temp(tmp_path):
    final = tmp_path / "out.wav"
    final.write_bytes(b"previous result")
    with pytest.raises(RuntimeError):
        with atomic_path(final) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert final.read_bytes() == b"previous result"
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


def test_ctrl_c_leaves_no_temp(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "x.flac") as tmp:
            tmp.write_bytes(b"half")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_full_disk_becomes_a_media_error_naming_the_file(tmp_path):
    final = tmp_path / "out.mp4"
    with pytest.raises(MediaError, match=r"out\.mp4: cannot write: no space left on device"):
        with atomic_path(final) as tmp:
            tmp.write_bytes(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_and_directory_target_are_refused(tmp_path):
    with pytest.raises(MediaError, match="does not exist"):
        with atomic_path(tmp_path / "nope" / "out.wav"):
            pass
    with pytest.raises(MediaError, match="is a directory"):
        with atomic_path(tmp_path):
            pass
