"""The figures of Reed et al. 2016 that a style run can draw exactly: style transfer (its Figure 6: rows are query
images, columns texts, each image G(S(x), h(t))) and interpolation (its Figure 5: z fixed while the text moves,
the text fixed while z moves). Inputs are true renders, so every query's style (its background) is known.
Beside them, what z draws: a few texts over the same z in every run, so that series compare side by side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from t2i.data.vocab import UNNAMED, colour_id, encode_chars, spec_tokens
from t2i.images import to_uint8

# The figures' fixed content: four queries in four backgrounds, five texts; two texts and two z to interpolate.
QUERIES = (("03", "blue", "white"), ("58", "yellow", "black"), ("21", "black", "red"), ("96", "white", "green"))
TEXTS = (("14", "red"), ("70", "cyan"), ("36", "white"), ("52", "blue"), ("89", "magenta"))
INTERPOLATE = (("14", "red"), ("70", "cyan"))
Z_TEXTS = (("14", "red"), ("70", "cyan"), ("36", "white"))


def _tokens(texts, vocab_size: int):
    """chars [n, 2], spec [n, 4] tokens of (chars, text colour) texts, the spec naming only the text colour."""
    chars = np.stack([encode_chars(c, vocab_size) for c, _ in texts])
    return chars, spec_tokens(np.full(len(texts), UNNAMED), np.array([colour_id(fg) for _, fg in texts]))


def _renders(triples, size: int) -> np.ndarray:
    from t2i.data import render

    return np.stack([render.render_reference(c, bg, fg, size) for c, bg, fg in triples])


def _grid(path: Path, rows, row_labels, col_labels, title: str, first_col_gap: bool = False) -> Path:
    n_rows, n_cols = len(rows), len(rows[0])
    fig = Figure(figsize=(1.1 * n_cols + 1.2, 1.1 * n_rows + 0.8))
    FigureCanvasAgg(fig)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            ax = fig.add_subplot(n_rows, n_cols, r * n_cols + c + 1)
            ax.imshow(to_uint8(image), interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if first_col_gap and c == 0:
                for spine in ax.spines.values():
                    spine.set_color("black"), spine.set_linewidth(2)
            if r == 0:
                ax.set_title(col_labels[c], fontsize=7)
            if c == 0:
                ax.set_ylabel(row_labels[r], fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def style_transfer_figure(model, vocab_size: int, image_size: int, path: Path, queries=QUERIES, texts=TEXTS) -> Path:
    """Rows: a query image (a true render) then G(S(query), h(text)) for each text. A transfer that works keeps
    the query's background and draws the column's characters in the column's colour."""
    x = _renders(queries, image_size)
    z = model.style(x)
    chars, spec = _tokens(texts, vocab_size)
    feats = model.features(chars, spec)
    rows = []
    for i in range(len(queries)):
        out = model.from_features_and_z(feats, np.repeat(z[i : i + 1], len(texts), axis=0))
        rows.append([x[i], *out])
    row_labels = [f"{c} {fg} on {bg}" for c, bg, fg in queries]
    col_labels = ["query", *[f"{c} {fg}" for c, fg in texts]]
    return _grid(path, rows, row_labels, col_labels, "style transfer: G(S(query), h(text))", first_col_gap=True)


def interpolation_figure(model, vocab_size: int, path: Path, texts=INTERPOLATE, steps: int = 8, z_rows: int = 3,
                         seed: int = 0) -> Path:  # fmt: skip
    """Top rows: z fixed (one per row), the text features moving from the first text to the second. Bottom
    rows: the text fixed (one per row), z moving from one draw to another."""
    chars, spec = _tokens(texts, vocab_size)
    start, end = model.features(chars, spec)
    alpha = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for r in range(z_rows):
        z = np.repeat(rng.standard_normal((1, model.latent_dim)).astype(np.float32), steps, axis=0)
        rows.append(list(model.from_features_and_z((1 - alpha) * start + alpha * end, z)))
        labels.append(f"z #{r + 1} fixed")
    z0, z1 = rng.standard_normal((2, model.latent_dim)).astype(np.float32)
    zs = (1 - alpha) * z0 + alpha * z1
    for feats, (c, fg) in zip((start, end), texts):
        rows.append(list(model.from_features_and_z(np.repeat(feats[None], steps, axis=0), zs)))
        labels.append(f"{c} {fg} fixed")
    cols = [f"{a:.2f}" for a in alpha[:, 0]]
    title = (
        f"top: text {texts[0][0]} {texts[0][1]} -> {texts[1][0]} {texts[1][1]}, z fixed; bottom: z moves, text fixed"
    )
    return _grid(path, rows, labels, cols, title)


def z_samples_figure(model, vocab_size: int, path: Path, texts=Z_TEXTS, draws: int = 8, seed: int = 0) -> Path:
    """Rows: a text; columns: G(z, h(text)) for the same `draws` z (seeded: the same in every run). The text names
    no background, so a G whose z carries the style varies it along a row; one that ignores z repeats an image."""
    chars, spec = _tokens(texts, vocab_size)
    feats = model.features(chars, spec)
    z = np.random.default_rng(seed).standard_normal((draws, model.latent_dim)).astype(np.float32)
    rows = [list(model.from_features_and_z(np.repeat(f[None], draws, axis=0), z)) for f in feats]
    labels = [f"{c} {fg}" for c, fg in texts]
    return _grid(path, rows, labels, [f"z #{i + 1}" for i in range(draws)], "G(z, h(text)): the same z in every run")
