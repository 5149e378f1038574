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
    """A captioned grid: for each text, the true render and the generated image side by side."""
    n = len(generated)
    rows = -(-n // columns)
    fig = Figure(figsize=(2.4 * columns, 1.5 * rows + 0.4))
    FigureCanvasAgg(fig)
    for i in range(n):
        ax = fig.add_subplot(rows, columns, i + 1)
        gap = np.ones((generated.shape[1], 2, 3), np.float32)
        panel = generated[i] if truth is None else np.concatenate([truth[i], gap, generated[i]], axis=1)
        ax.imshow(to_uint8(panel), interpolation="nearest")
        ax.set_title(captions[i], fontsize=8)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
