"""Codec tests run torch on one thread: on a busy 2-core machine, torch's thread pool makes
the small convolutions of the tiny codec 30-60x slower than one thread."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
