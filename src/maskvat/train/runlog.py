"""What every training run writes beside its checkpoint: log.csv and a curves PNG."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from maskvat.media.atomic import atomic_path


def write_log(path: Path, log: list[dict]) -> None:
    """Rows as CSV; columns are the union of the rows' keys, in first-seen order."""
    keys: list[str] = []
    for row in log:
        keys.extend(k for k in row if k not in keys)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(log)


def plot_curves(log: list[dict], path: Path, *, loss_key: str, loss_label: str, loss_title: str,
                series: list[tuple[str, str]], series_label: str, series_title: str, ylim=None) -> None:
    """Left: ``loss_key`` per step (raw and smoothed). Right: each (key, label) of ``series``
    over the rows that have it (evaluations). Written atomically as PNG."""
    if not log:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.array([r["step"] for r in log])
    loss = np.array([r[loss_key] for r in log])
    win = min(25, len(loss))
    smooth = np.convolve(loss, np.ones(win) / win, mode="valid")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), dpi=100)
    ax1.plot(steps, loss, alpha=0.25, lw=0.6)
    ax1.plot(steps[len(steps) - len(smooth):], smooth, lw=1.5)
    ax1.set(xlabel="step", ylabel=loss_label, title=loss_title)
    drawn = False
    for key, label in series:
        rows = [r for r in log if r.get(key) not in (None, "")]
        if rows:
            ax2.plot([r["step"] for r in rows], [float(r[key]) for r in rows], lw=2 if label == "all" else 1, label=label)
            drawn = True
    ax2.set(xlabel="step", ylabel=series_label, title=series_title)
    if ylim:
        ax2.set_ylim(*ylim)
    if drawn:
        ax2.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def read_log(path: Path) -> list[dict]:
    """A log.csv back as rows: numbers as floats (``step`` as int), empty cells dropped."""
    rows = []
    with open(path, newline="") as f:
        for raw in csv.DictReader(f):
            row = {k: float(v) for k, v in raw.items() if v not in (None, "")}
            row["step"] = int(row["step"])
            rows.append(row)
    return rows


def plot_runs(runs: dict[str, list[dict]], path: Path, *, loss_key: str, series_key: str, loss_label: str,
              series_label: str) -> None:
    """Several runs on one figure: left ``loss_key`` (smoothed), right ``series_key`` at the rows
    that have it; one line per run, labelled by the dict's keys. Written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), dpi=100)
    for label, log in runs.items():
        rows = [r for r in log if loss_key in r]
        if rows:
            loss = np.array([r[loss_key] for r in rows])
            win = min(25, len(loss))
            smooth = np.convolve(loss, np.ones(win) / win, mode="valid")
            ax1.plot([r["step"] for r in rows][len(rows) - len(smooth):], smooth, lw=1.3, label=label)
        rows = [r for r in log if r.get(series_key) not in (None, "")]
        if rows:
            ax2.plot([r["step"] for r in rows], [float(r[series_key]) for r in rows], lw=1.5, marker=".", label=label)
    ax1.set(xlabel="step", ylabel=loss_label, title="training (smoothed)")
    ax2.set(xlabel="step", ylabel=series_label, title="validation")
    for ax in (ax1, ax2):
        ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
