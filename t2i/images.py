"""Pictures of samples: arrays for TensorBoard and captioned PNG figures for people."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from t2i.data.vocab import COLOURS, UNNAMED, decode_chars, spec_colours


def to_uint8(images) -> np.ndarray:
    return ((np.asarray(images) + 1.0) * 127.5).clip(0, 255).round().astype(np.uint8)


def caption(chars, spec) -> str:
    bg, fg = spec_colours(spec)
    on = "" if int(bg) == UNNAMED else f" on {COLOURS[int(bg)]}"
    return f"{decode_chars(chars)} {COLOURS[int(fg)]}{on}"


def pairs_array(truth, generated, columns: int = 4) -> np.ndarray:
    """[truth | generated] pairs tiled into one uint8 image (for TensorBoard)."""
    n = len(truth) - len(truth) % columns
    gap = np.ones((n, truth.shape[1], 2, 3), np.float32)
    pairs = np.concatenate([truth[:n], generated[:n], gap], axis=2)
    rows = [np.concatenate(list(pairs[r : r + columns]), axis=1) for r in range(0, n, columns)]
    return to_uint8(np.concatenate(rows, axis=0))


def save_pairs_figure(path: Path, truth, generated, captions, title: str = "", columns: int = 4) -> None:
    """A captioned grid: for each text, the true render and the generated image side by side.

    One axes in inch coordinates holds every panel: a subplot per panel and tight_layout cost ~0.5 s a
    figure, paid at every sampled epoch of every run.
    """
    n = len(generated)
    rows = -(-n // columns)
    cell_w, cell_h, head = 2.4, 1.5, 0.4  # inches: a panel's cell, the title's band
    width, height = cell_w * columns, cell_h * rows + head
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width), ax.set_ylim(height, 0)  # y grows downwards, as rows do
    ax.axis("off")
    gap = np.ones((generated.shape[1], 2, 3), np.float32)
    for i in range(n):
        panel = generated[i] if truth is None else np.concatenate([truth[i], gap, generated[i]], axis=1)
        scale = min(0.9 * cell_w / panel.shape[1], (cell_h - 0.35) / panel.shape[0])  # inches a pixel
        w, h = panel.shape[1] * scale, panel.shape[0] * scale
        x = (i % columns) * cell_w + (cell_w - w) / 2
        y = head + (i // columns) * cell_h + 0.3
        ax.imshow(to_uint8(panel), extent=(x, x + w, y + h, y), interpolation="nearest")
        ax.text(x + w / 2, y - 0.05, captions[i], fontsize=8, ha="center", va="bottom")
    if title:
        ax.text(width / 2, head / 2, title, fontsize=10, ha="center", va="center")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
