"""The networks' shapes and the minibatch-discrimination layer."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from t2i.models import build_discriminator, build_generator, build_text_encoder
from t2i.models.layers import MinibatchDiscrimination

B = 4


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    from t2i.config import compose_config

    return compose_config(["budget=tiny", f"runs_root={tmp_path_factory.mktemp('runs')}"])


def _text(rng, batch=B):
    return rng.integers(1, 63, (batch, 2)).astype(np.int32), rng.integers(1, 20, (batch, 4)).astype(np.int32)


def test_text_encoder(cfg):
    te = build_text_encoder(cfg.model.text_encoder)
    assert [tuple(i.shape) for i in te.inputs] == [(None, 2), (None, 4)]
    out = te(list(_text(np.random.default_rng(0))))
    assert tuple(out.shape) == (B, 64) == (B, cfg.model.text_encoder.features)
    assert np.all(np.isfinite(np.asarray(out)))


def test_generator_32px(cfg):
    g = build_generator(cfg.model.generator, 64)
    assert len(g.inputs) == 1
    logits = g([np.random.default_rng(1).normal(size=(B, 64)).astype(np.float32)])
    assert tuple(logits.shape) == (B, 32, 32, 3)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"


def test_generator_64px(tiny_cfg):
    cfg = tiny_cfg("data.image_size=64", "model.generator.block_filters=[32,16,8]")
    g = build_generator(cfg.model.generator, cfg.model.text_encoder.features)
    assert tuple(g.output.shape) == (None, 64, 64, 3)
    assert tuple(g([np.zeros((2, 64), np.float32)]).shape) == (2, 64, 64, 3)


def test_generator_with_latent(tiny_cfg):
    cfg = tiny_cfg("model.generator.latent_dim=7")
    g = build_generator(cfg.model.generator, 64)
    assert [i.name for i in g.inputs] == ["text_features", "z"]
    assert tuple(g.inputs[1].shape) == (None, 7)
    rng = np.random.default_rng(2)
    text = rng.normal(size=(B, 64)).astype(np.float32)
    a = np.asarray(g([text, np.zeros((B, 7), np.float32)]))
    b = np.asarray(g([text, np.ones((B, 7), np.float32)]))
    assert a.shape == (B, 32, 32, 3) and not np.allclose(a, b)


def test_discriminator(cfg):
    d = build_discriminator(cfg.model.discriminator, 32, 64)
    assert [tuple(i.shape) for i in d.inputs] == [(None, 32, 32, 3), (None, 64)]
    rng = np.random.default_rng(3)
    out = d([rng.uniform(-1, 1, (B, 32, 32, 3)).astype(np.float32), rng.normal(size=(B, 64)).astype(np.float32)])
    assert tuple(out.shape) == (B, 1)
    assert [layer.name for layer in d.layers if isinstance(layer, MinibatchDiscrimination)] == []


def test_discriminator_64px(tiny_cfg):
    cfg = tiny_cfg("data.image_size=64", "model.generator.block_filters=[32,16,8]")
    d = build_discriminator(cfg.model.discriminator, 64, 64)
    assert tuple(d([np.zeros((2, 64, 64, 3), np.float32), np.zeros((2, 64), np.float32)]).shape) == (2, 1)


def test_mbd_output_shape_and_batch_dependence():
    layer = MinibatchDiscrimination(kernels=6, kernel_dim=3)
    x = np.random.default_rng(4).normal(size=(B, 10)).astype(np.float32)
    out = np.asarray(layer(x))
    assert out.shape == (B, 6)
    assert layer.tensor.shape == (6, 10, 3)
    # Each value is a sum over the batch (the sample itself included, as in the reference) of exp(-distance).
    assert np.all(out > 1) and np.all(out <= B)
    changed = x.copy()
    changed[2] += 1.0  # sample 0's own features do not change...
    out2 = np.asarray(layer(changed))
    assert not np.allclose(out2[0], out[0])  # ...but its output does: it depends on the rest of the batch
    np.testing.assert_allclose(
        np.asarray(layer(x[[0, 1, 3]]))[0], out[0] - np.asarray(_pair(layer, x[0], x[2])) + 1, rtol=1e-5, atol=1e-6
    )


def _pair(layer, a, b):
    """exp(-L1) closeness of a and b per kernel: the MBD output of a two-row batch."""
    return layer(np.stack([a, b]))[0]


def test_mbd_identical_rows():
    layer = MinibatchDiscrimination(kernels=5, kernel_dim=4)
    row = np.random.default_rng(5).normal(size=(1, 9)).astype(np.float32)
    out = np.asarray(layer(np.repeat(row, 6, axis=0)))
    # Every sample is at distance 0: each kernel counts all B rows, itself included.
    np.testing.assert_allclose(out, np.full((6, 5), 6.0), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(layer(row)), np.ones((1, 5)), atol=1e-6)  # alone: only itself


def test_mbd_config_round_trip():
    layer = MinibatchDiscrimination(kernels=7, kernel_dim=2, name="mbd")
    config = layer.get_config()
    assert config["kernels"] == 7 and config["kernel_dim"] == 2 and config["name"] == "mbd"
    clone = MinibatchDiscrimination.from_config(config)
    assert (clone.kernels, clone.kernel_dim, clone.name) == (7, 2, "mbd")


def test_graph_mode_computes_the_same_networks_as_eager():
    """Regression: TF's oneDNN remapper once mis-fused the residual blocks inside tf.function."""
    import numpy as np
    import tensorflow as tf

    from t2i.config import compose_config
    from t2i.models import build_discriminator, build_generator

    cfg = compose_config([])
    rng = np.random.default_rng(0)
    feats = rng.standard_normal((8, 64)).astype("float32")
    g = build_generator(cfg.model.generator, 64)
    d = build_discriminator(cfg.model.discriminator, 32, 64)
    images = np.tanh(rng.standard_normal((8, 32, 32, 3))).astype("float32")
    np.testing.assert_allclose(tf.function(g)([feats]), g([feats]), atol=1e-4)  # G takes a list, as gan.py passes
    np.testing.assert_allclose(tf.function(lambda x: d(x))([images, feats]), d([images, feats]), atol=1e-4)
