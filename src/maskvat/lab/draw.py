"""Tiny raster primitives on an RGB canvas [H, W, 3] uint8 (in place)."""

from __future__ import annotations

import numpy as np


def _grid(canvas: np.ndarray):
    h, w = canvas.shape[:2]
    return np.ogrid[:h, :w]


def disc(canvas, cx: float, cy: float, r: float, color) -> np.ndarray:
    """Fill a disc; returns its boolean mask [H, W]."""
    yy, xx = _grid(canvas)
    mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    canvas[mask] = color
    return mask


def ellipse(canvas, cx: float, cy: float, rx: float, ry: float, color) -> np.ndarray:
    yy, xx = _grid(canvas)
    mask = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
    canvas[mask] = color
    return mask


def rect(canvas, x0: float, y0: float, x1: float, y1: float, color) -> None:
    h, w = canvas.shape[:2]
    xa, xb = int(round(max(0, x0))), int(round(min(w, x1)))
    ya, yb = int(round(max(0, y0))), int(round(min(h, y1)))
    if xa < xb and ya < yb:
        canvas[ya:yb, xa:xb] = color


def segment(canvas, x0: float, y0: float, x1: float, y1: float, width: float, color) -> None:
    """A thick line from (x0, y0) to (x1, y1)."""
    yy, xx = _grid(canvas)
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy or 1e-9
    t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / length2, 0, 1)
    dist2 = (xx - (x0 + t * dx)) ** 2 + (yy - (y0 + t * dy)) ** 2
    canvas[dist2 <= (width / 2) ** 2] = color
