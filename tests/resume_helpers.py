"""Ctrl-C in the middle of a training run, then the same command again."""

import pytest


def interrupt_then_resume(monkeypatch, module, sampler: str, interrupt_at: int, run) -> None:
    """Run ``run()`` with ``module.<sampler>`` raising KeyboardInterrupt on its
    ``interrupt_at``-th call (as Ctrl-C would, mid-step), then ``run()`` again unharmed."""
    real = getattr(module, sampler)
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == interrupt_at:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, sampler, flaky)
    with pytest.raises(KeyboardInterrupt):
        run()
    monkeypatch.setattr(module, sampler, real)
    run()
