"""Codec tests run torch on one thread (the fixture lives in tests/conftest.py)."""

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    yield
