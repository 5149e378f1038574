import threading

import matplotlib
import numpy as np
import pytest
import tensorflow as tf

from t2i.data import render
from t2i.data.vocab import COLOURS, DIGITS

# 15 characters = 225 pairs: above the parallel threshold, so the module's table comes from the process pool.
ALPHABET = DIGITS + "agjWQ"


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    assert len(ALPHABET) ** 2 >= render._PARALLEL_MIN_PAIRS
    return render.mask_table(ALPHABET, 32, tmp_path_factory.mktemp("masks"))


def _tf_resize(image, size):
    return tf.image.resize(image[None], (size, size), method="bilinear", antialias=False)[0].numpy()


def test_colour_rgb():
    assert render.COLOUR_RGB.shape == (8, 3) and render.COLOUR_RGB.dtype == np.float32
    np.testing.assert_allclose(render.COLOUR_RGB[COLOURS.index("red")], [1, 0, 0])
    np.testing.assert_allclose(render.COLOUR_RGB[COLOURS.index("green")], [0, 128 / 255, 0])  # not (0,1,0)


@pytest.mark.parametrize("size", [32, 64, 128, 7])
def test_numpy_resize_is_tf_resize(size):
    image = np.random.default_rng(size).random((480, 640, 3), dtype=np.float32)
    np.testing.assert_array_equal(render._resize_np(image, size), _tf_resize(image, size))


def test_coverage_masks_match_resized_full_resolution_weights():
    rgb = render._draw("Wg", (1, 0, 0), (0, 1, 0)).astype(np.float32) / 255
    full = np.stack([rgb[..., 0] - rgb[..., 2], rgb[..., 1] - rgb[..., 2]], axis=-1)
    np.testing.assert_allclose(render.coverage_masks("Wg", 32), _tf_resize(full, 32), atol=1e-6)


def test_parallel_table_rows_equal_serial_masks(table):
    n = len(ALPHABET)
    assert table.shape == (n * n, 32, 32, 2) and table.dtype == np.float32
    for i, j in [(0, 0), (3, 11), (14, 2), (14, 14)]:
        np.testing.assert_array_equal(table[i * n + j], render.coverage_masks(ALPHABET[i] + ALPHABET[j], 32))


def test_compose_matches_reference_renderer(table):
    n = len(ALPHABET)
    rng = np.random.default_rng(0)
    count = 300
    i, j = rng.integers(0, n, count), rng.integers(0, n, count)
    bg, fg = rng.integers(0, len(COLOURS), count), rng.integers(0, len(COLOURS), count)
    fast = render.compose(table[i * n + j], render.COLOUR_RGB[bg], render.COLOUR_RGB[fg]).numpy()
    ref = np.stack(
        [render.render_reference(ALPHABET[a] + ALPHABET[b], COLOURS[c], COLOURS[d]) for a, b, c, d in zip(i, j, bg, fg)]
    )
    err = np.abs(fast - ref) / 2  # in [0, 1] units
    # Measured: max 0.0074 (1.9/255, from Agg's uint8 rounding at box and glyph edges), mean 2.6e-5,
    # and 99.9% of values within 1/255.
    assert err.max() <= 2.5 / 255
    assert err.mean() < 1e-4
    assert np.mean(err > 1.01 / 255) < 1e-3


def test_one_mask_is_not_enough():
    masks = render.coverage_masks("4j", 32)
    cbg, cfg = masks[..., 0], masks[..., 1]
    # Outside the text's box the figure is white, not background: a single glyph mask with the background
    # everywhere else is wrong on a sizeable part of the image (measured 45% of pixels for this pair,
    # 12-45% across pairs, 27% on average over the random samples above).
    assert np.mean(np.abs(cbg - (1 - cfg)) > 0.05) > 0.1
    ref = render.render_reference("4j", "blue", "yellow")
    single = render.compose(np.stack([1 - cfg, cfg], -1), render.COLOUR_RGB[0], render.COLOUR_RGB[5]).numpy()
    assert np.abs(single - ref).max() > 1.0


def test_reference_ignores_user_rcparams():
    expected = render.render_reference("a7", "red", "black")
    user = {
        "font.family": "serif",
        "figure.dpi": 50,
        "figure.figsize": (3, 3),
        "text.antialiased": False,
        "figure.facecolor": "black",
    }
    with matplotlib.rc_context(user):
        np.testing.assert_array_equal(render.render_reference("a7", "red", "black"), expected)
        assert matplotlib.rcParams["font.family"] == ["serif"]  # and the caller's settings survive


def test_shapes_and_range():
    image = render.render_reference("Q0", "cyan", "magenta", size=64)
    assert image.shape == (64, 64, 3) and image.dtype == np.float32
    assert image.min() >= -1 and image.max() <= 1 and image.min() < 0 < image.max()
    masks = render.coverage_masks("Q0", 64)[None]
    out = render.compose(masks, render.COLOUR_RGB[[3]], render.COLOUR_RGB[[4]])
    assert out.shape == (1, 64, 64, 3) and out.dtype == tf.float32
    assert np.abs(out.numpy()[0] - image).max() <= 2.5 / 255 * 2


def test_compose_runs_in_tf_data():
    masks = np.stack([render.coverage_masks(p, 32) for p in ["01", "10"]])
    ds = tf.data.Dataset.from_tensor_slices((masks, render.COLOUR_RGB[:2], render.COLOUR_RGB[6:]))
    ds = ds.batch(2).map(render.compose)
    (batch,) = list(ds)
    assert batch.shape == (2, 32, 32, 3)
    assert float(tf.reduce_min(batch)) >= -1 and float(tf.reduce_max(batch)) <= 1


def test_cache_reload_and_corruption(tmp_path, monkeypatch):
    first = render.mask_table("01", 32, tmp_path)
    (path,) = tmp_path.glob("*.npy")

    def no_build(*args):
        raise AssertionError("should have loaded from disk")

    with monkeypatch.context() as m:
        m.setattr(render, "_build_table", no_build)
        np.testing.assert_array_equal(render.mask_table("01", 32, tmp_path), first)

    path.write_bytes(b"not a numpy file")
    np.testing.assert_array_equal(render.mask_table("01", 32, tmp_path), first)
    np.save(path, first[:2])  # wrong shape
    np.testing.assert_array_equal(render.mask_table("01", 32, tmp_path), first)
    assert np.load(path).shape == first.shape
    assert not list(tmp_path.glob("*.tmp"))

    other = render.mask_table("01", 64, tmp_path)
    assert other.shape == (4, 64, 64, 2) and len(list(tmp_path.glob("*.npy"))) == 2


def test_concurrent_callers_build_once(tmp_path, monkeypatch):
    builds = []
    real_build = render._build_table

    def counting_build(alphabet, size):
        builds.append(alphabet)
        return real_build(alphabet, size)

    monkeypatch.setattr(render, "_build_table", counting_build)
    results = [None, None]

    def call(k):
        results[k] = render.mask_table("ab", 32, tmp_path)

    threads = [threading.Thread(target=call, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1
    np.testing.assert_array_equal(results[0], results[1])
