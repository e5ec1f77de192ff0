"""Hub loading fails fast and clearly when the hub cannot be reached."""

from __future__ import annotations

import time

import pytest
from transformers import CLIPVisionModelWithProjection

from checkpoint_helpers import foreign_object
from maskvat import weights as hub
from maskvat.errors import MaskvatError


def test_hub_id_versus_path():
    assert hub.looks_like_hub_id("openai/clip-vit-base-patch32")
    for not_id in ("./model", "~/x/y", "/abs/path", "a/b/c", "plain", "w/Cnn14_16k.pth", "w/synch.PT"):
        assert not hub.looks_like_hub_id(not_id)
    assert hub.looks_like_hub_id("org/model-v1.5")  # a dot in a repo name is not a file suffix


def test_a_missing_file_in_a_folder_here_is_a_missing_file_not_a_hub_id(tmp_path, monkeypatch):
    """New-user finding: `--panns w/missing.pth` said "not in the local cache and the model hub is
    unreachable"."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "w").mkdir()
    assert not hub.looks_like_hub_id("w/model")  # 'w' is a folder here
    with pytest.raises(MaskvatError, match=r"^w/missing\.pth: no such file"):
        hub.published_file("w/missing.pth", "PANNs checkpoint")


def test_offline_and_unreachable_fail_fast(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(MaskvatError, match="offline mode is on; pass X"):
        hub.load_pretrained(CLIPVisionModelWithProjection, "nobody/no-model", "CLIP", hint="pass X")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(MaskvatError, match="model hub is unreachable"):
        hub.load_pretrained(CLIPVisionModelWithProjection, "nobody/no-model", "CLIP")
    assert time.monotonic() - start < 5
    with pytest.raises(MaskvatError, match="no such folder"):
        hub.load_pretrained(CLIPVisionModelWithProjection, "./missing/folder/x", "CLIP")


def test_load_checkpoint_reads_weights_beside_foreign_objects(tmp_path):
    """A published checkpoint as SparseSync writes it: its config object of a library this process
    lacks, numpy floats in its metrics. The tensors come out; the rest as inert stand-ins."""
    import sys

    import numpy as np
    import torch

    weights = {"layer.weight": torch.arange(6.0).view(2, 3)}
    cfg = foreign_object("_gone_config_lib")
    torch.save({"model": weights, "epoch": 3, "metrics": {"accuracy_1": np.float64(0.25)}, "args": cfg},
               tmp_path / "ckpt.pt")
    del sys.modules["_gone_config_lib"]
    got = hub.load_checkpoint(tmp_path / "ckpt.pt", "a SparseSync checkpoint")
    torch.testing.assert_close(got["model"]["layer.weight"], weights["layer.weight"])
    assert got["epoch"] == 3
    assert isinstance(got["args"], hub.ForeignObject) and got["args"].foreign_name == "_gone_config_lib.DictConfig"
    assert got["args"].state == {"_content": {"data": {"vids_path": "/data/vggsound"}}}  # kept as data
    assert isinstance(got["metrics"]["accuracy_1"], hub.ForeignObject)
    assert "_gone_config_lib" not in sys.modules  # nothing of it was imported


def test_load_checkpoint_refuses_what_is_not_a_torch_file(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(MaskvatError, match=r"junk.pt: not a PyTorch checkpoint .*expected a BEATs checkpoint"):
        hub.load_checkpoint(tmp_path / "junk.pt", "a BEATs checkpoint")


def test_published_file_names_one_file_or_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "a.pth").write_bytes(b"")
    assert hub.published_file(tmp_path / "a.pth", "X checkpoint") == tmp_path / "a.pth"
    assert hub.published_file(tmp_path, "X checkpoint") == tmp_path / "a.pth"  # the folder's one .pth
    (tmp_path / "b.pt").write_bytes(b"")
    with pytest.raises(MaskvatError, match=r"expected one X checkpoint \(.pth/.pt/.ckpt\) in this folder, found 2 "
                                           r"\(a.pth, b.pt\); name the one to use"):
        hub.published_file(tmp_path, "X checkpoint")
    with pytest.raises(MaskvatError, match=r"nope\.pth: no such file \(X checkpoint\); pass the path"):
        hub.published_file(tmp_path / "nope.pth", "X checkpoint")
    with pytest.raises(MaskvatError, match="'owner/x-weights': not in the local cache and offline mode is on"):
        hub.published_file("owner/x-weights", "X checkpoint")


def test_load_exact_is_strict_and_names_what_differs(tmp_path):
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    state = {k: torch.full_like(v, 0.5) for k, v in model.state_dict().items() if "num_batches" not in k}
    hub.load_exact(model, {**state, "0.weight": state["0.weight"].double()}, tmp_path / "w.pth", "toy")
    assert (model[0].weight == 0.5).all() and model[0].weight.dtype == torch.float32
    bad = {**state, "0.weight": torch.zeros(3, 3), "extra": torch.zeros(1)}
    del bad["1.bias"]
    with pytest.raises(MaskvatError, match=r"w\.pth: not toy weights \(missing 1\.bias; unexpected extra; "
                                           r"wrong shape 0\.weight \(3, 3\) \(expected \(3, 2\)\)\)"):
        hub.load_exact(model, bad, tmp_path / "w.pth", "toy")
