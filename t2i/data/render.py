"""Rendering of the two-character images: the reference renderer and an exact fast path.

The reference study draws each image with matplotlib and shrinks it with `tf.image.resize`. Drawing costs
milliseconds per image, far too slow for a tf.data pipeline, but the drawing is linear in the two colours.
The reference's figure has no background patch (`frameon=False`), so the canvas is transparent white; Agg
paints the text's background box onto it, then the glyph over the box, and the image is the canvas minus
alpha. A box pixel painted onto a transparent one keeps the box colour at full strength whatever its
coverage, so the box's antialiased edge is pure background colour, not a blend with white. Every pixel is
therefore `cw * white + cbg * bg + cfg * fg` with weights that depend only on the characters. One render
per character pair with bg = pure red and fg = pure green recovers the weights, and since bilinear resizing
is linear too, resized weights composed with any colours equal the resized reference image up to Agg's
uint8 rounding. The box does not cover the whole figure, so two weights are needed, not one.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import multiprocessing
import os
import sys
import tempfile
import threading
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from t2i.data.vocab import COLOURS
from t2i.store.locks import file_lock

# TensorFlow is imported inside the functions that need it so that mask-building worker processes
# only pay for matplotlib and numpy.

COLOUR_RGB = np.array([to_rgb(c) for c in COLOURS], dtype=np.float32)

FONT_SIZE = 300
# Bump when the cached mask format or the way masks are computed changes.
_FORMAT_VERSION = 2  # 2: transparent canvas, as the reference draws
# Below this many pairs starting worker processes costs more than it saves.
_PARALLEL_MIN_PAIRS = 200
_CHUNK_PAIRS = 62

# Applied on top of matplotlib's built-in defaults (the user's matplotlibrc is discarded), so that the
# pixels depend only on the matplotlib/FreeType version. DejaVu Sans ships inside matplotlib.
_PINNED_RC = {
    "font.family": ["DejaVu Sans"],
    "font.style": "normal",
    "font.weight": "normal",
    "font.stretch": "normal",
    "figure.figsize": [6.4, 4.8],
    "figure.dpi": 100.0,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "text.usetex": False,
    "text.antialiased": True,
    "text.hinting": "default",
}

# rcParams are process-global; serialise renders so threads cannot see each other's context.
_RC_LOCK = threading.Lock()


class _pinned_rc:
    def __enter__(self):
        _RC_LOCK.acquire()
        try:
            self._ctx = matplotlib.rc_context()
            self._ctx.__enter__()
            matplotlib.rcdefaults()
            matplotlib.rcParams.update(_PINNED_RC)
        except BaseException:
            _RC_LOCK.release()
            raise
        return self

    def __exit__(self, *exc):
        try:
            self._ctx.__exit__(*exc)
        finally:
            _RC_LOCK.release()


def _draw(chars: str, bg, fg) -> np.ndarray:
    """Full-resolution RGB pixels, uint8 [480, 640, 3], exactly as the reference draws them."""
    with _pinned_rc():
        fig = Figure(frameon=False)
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_axes([0, 0, 1, 1])
        ax.axis("off")
        ax.text(
            0.5,
            0.5,
            chars,
            fontsize=FONT_SIZE,
            color=fg,
            backgroundcolor=bg,
            horizontalalignment="center",
            verticalalignment="center",
        )
        canvas.draw()
        # Agg's buffer is straight (not premultiplied) RGBA; the reference drops alpha the same way.
        return np.array(canvas.buffer_rgba())[..., :3]


def render_reference(chars: str, bg: str, fg: str, size: int = 32) -> np.ndarray:
    """The reference study's image: float32 [size, size, 3] in [-1, 1]."""
    import tensorflow as tf

    pixels = _draw(chars, bg, fg).astype(np.float32) / 255.0
    small = tf.image.resize(pixels[None], (size, size), method="bilinear", antialias=False)[0]
    return (small.numpy() * 2.0 - 1.0).astype(np.float32)


def _taps(in_size: int, out_size: int):
    """Source indices and weight of tf.image.resize's bilinear kernel (half-pixel centres) along one axis."""
    # float32 throughout, as in TF's kernel, so positions and weights round the same way.
    scale = np.float32(in_size) / np.float32(out_size)
    pos = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    floor = np.floor(pos)
    lower = np.maximum(floor.astype(np.int64), 0)
    upper = np.minimum(np.ceil(pos).astype(np.int64), in_size - 1)
    return lower, upper, (pos - floor).astype(np.float32)


def _resize_np(image: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of [H, W, C] to [size, size, C], same arithmetic as tf.image.resize (no antialias)."""
    ylo, yhi, fy = _taps(image.shape[0], size)
    xlo, xhi, fx = _taps(image.shape[1], size)
    # Gather before converting to float: only a few rows and columns of the image are ever read.
    tl, tr, bl, br = (image[y][:, x].astype(np.float32) for y, x in ((ylo, xlo), (ylo, xhi), (yhi, xlo), (yhi, xhi)))
    fx, fy = fx[None, :, None], fy[:, None, None]
    top = tl + (tr - tl) * fx
    bottom = bl + (br - bl) * fx
    return top + (bottom - top) * fy


def coverage_masks(chars: str, size: int) -> np.ndarray:
    """(box weight, glyph weight) of a character pair: float32 [size, size, 2]."""
    # Resizing is linear, so resizing the pixels and then separating the weights equals separating then
    # resizing (to float rounding), and is much cheaper.
    r, g, b = np.moveaxis(_resize_np(_draw(chars, (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)), size), -1, 0)
    # With white = (1,1,1), bg = red, fg = green: B = cw, R = cw + cbg, G = cw + cfg.
    return np.stack([r - b, g - b], axis=-1) / np.float32(255.0)


def _masks_chunk(pairs: list[str], size: int) -> np.ndarray:
    return np.stack([coverage_masks(p, size) for p in pairs])


def _font_file() -> str:
    from matplotlib import font_manager

    with _pinned_rc():
        return os.path.basename(font_manager.findfont(font_manager.FontProperties()))


def _cache_path(alphabet: str, size: int, cache_dir) -> Path:
    from matplotlib import ft2font

    key = repr(
        (
            alphabet,
            size,
            _font_file(),
            matplotlib.__version__,
            getattr(ft2font, "__freetype_version__", ""),
            _FORMAT_VERSION,
        )
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return Path(cache_dir) / f"masks_{len(alphabet)}chars_{size}px_{digest}.npy"


def _load(path: Path, shape: tuple) -> np.ndarray | None:
    try:
        table = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        return None
    except Exception as e:  # a torn or foreign file: rebuild rather than fail the run
        print(f"mask cache {path} unreadable ({e}); rebuilding", file=sys.stderr)
        return None
    if table.shape != shape or table.dtype != np.float32:
        print(f"mask cache {path} has shape {table.shape} {table.dtype}, want {shape}; rebuilding", file=sys.stderr)
        return None
    return table


def _build_table(alphabet: str, size: int) -> np.ndarray:
    pairs = [a + b for a in alphabet for b in alphabet]
    # Inside a launcher's worker (joblib's loky, Ray) the default start method is the launcher's own,
    # which spawned children cannot re-create; render serially there (about 30 s for 62 characters).
    standard = multiprocessing.get_start_method(allow_none=True) in (None, "fork", "spawn", "forkserver")
    if len(pairs) >= _PARALLEL_MIN_PAIRS and standard:
        try:
            return _build_table_parallel(alphabet, pairs, size)
        except concurrent.futures.BrokenExecutor:
            print(
                "mask table workers died (does the main script lack an `if __name__ == '__main__':` "
                "guard?); rendering serially",
                file=sys.stderr,
            )
    return _masks_chunk(pairs, size)


def _build_table_parallel(alphabet: str, pairs: list[str], size: int) -> np.ndarray:
    table = np.empty((len(pairs), size, size, 2), dtype=np.float32)
    starts = range(0, len(pairs), _CHUNK_PAIRS)
    workers = min(len(os.sched_getaffinity(0)), len(starts))
    done = 0
    # spawn: TensorFlow may already be loaded (and own threads) here, which fork does not survive safely.
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {pool.submit(_masks_chunk, pairs[s : s + _CHUNK_PAIRS], size): s for s in starts}
        for fut in concurrent.futures.as_completed(futures):
            chunk = fut.result()
            s = futures[fut]
            table[s : s + len(chunk)] = chunk
            done += len(chunk)
            print(
                f"rendering mask table {len(alphabet)} chars @{size}px: {done}/{len(pairs)}",
                file=sys.stderr,
                flush=True,
            )
    return table


def mask_table(alphabet: str, size: int, cache_dir) -> np.ndarray:
    """Masks of every pair over `alphabet`: float32 [n*n, size, size, 2]; row i*n+j is alphabet[i]+alphabet[j].

    Built once and cached under cache_dir; safe to call from many processes at once.
    """
    # A spawned worker re-imports the main module; an unguarded call there would wait forever on the lock
    # its parent holds. `_inheriting` is what multiprocessing itself checks for this situation.
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise RuntimeError(
            "mask_table called while a worker process imports the main module; guard the "
            "main script with `if __name__ == '__main__':`"
        )
    n = len(alphabet)
    shape = (n * n, size, size, 2)
    path = _cache_path(alphabet, size, cache_dir)
    # Files only ever appear via os.replace, so reading without the lock never sees a partial write.
    table = _load(path, shape)
    if table is not None:
        return table

    with file_lock(path.with_suffix(".lock")):
        table = _load(path, shape)  # another process may have built it while we waited
        if table is not None:
            return table
        table = _build_table(alphabet, size)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, table)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return table


def compose(masks, bg_rgb, fg_rgb):
    """Images from masks [..., H, W, 2] and colours [..., 3] in [0, 1]: float32 [..., H, W, 3] in [-1, 1].

    TensorFlow ops only, so it can run inside tf.data / tf.function.
    """
    import tensorflow as tf

    masks = tf.convert_to_tensor(masks, tf.float32)
    bg = tf.convert_to_tensor(bg_rgb, tf.float32)[..., None, None, :]
    fg = tf.convert_to_tensor(fg_rgb, tf.float32)[..., None, None, :]
    cbg, cfg = masks[..., 0:1], masks[..., 1:2]
    img = (1.0 - cbg - cfg) + cbg * bg + cfg * fg
    # Agg's uint8 rounding can push a weight 1/255 past its range; the reference never leaves [-1, 1].
    return tf.clip_by_value(img * 2.0 - 1.0, -1.0, 1.0)
