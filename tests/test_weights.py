"""Hub loading fails fast and clearly when the hub cannot be reached."""

from __future__ import annotations

import time

import pytest
from transformers import CLIPVisionModelWithProjection

from maskvat import weights as hub
from maskvat.errors import MaskvatError


def test_hub_id_versus_path():
    assert hub.looks_like_hub_id("openai/clip-vit-base-patch32")
    for not_id in ("./model", "~/x/y", "/abs/path", "a/b/c", "plain"):
        assert not hub.looks_like_hub_id(not_id)


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
