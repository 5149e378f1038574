"""t2i.losses against autodiff and naive formulas."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from t2i import losses


def _grad(fn, logits):
    h = tf.constant(logits, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(h)
        value = fn(h)
    return value, tape.gradient(value, h)


def test_tanh_cross_entropy_gradient_is_tanh_minus_target():
    rng = np.random.default_rng(0)
    h = rng.normal(0, 3, size=(4, 5, 3))
    h[0, 0, 0] = 0.0  # |h| has a kink at 0; the loss itself must not
    y = rng.uniform(-1, 1, size=h.shape)
    y[1, 1, 1] = 1.0
    y[2, 2, 2] = -1.0
    _, g = _grad(lambda t: losses.tanh_cross_entropy(tf.constant(y), t), h)
    # The loss is a mean over all elements, so each element's gradient is scaled by 1/N.
    np.testing.assert_allclose(g.numpy() * h.size, np.tanh(h) - y, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_tanh_cross_entropy_is_stable_for_large_logits(dtype):
    h = tf.constant([100.0, -100.0, 100.0, -100.0, 0.0], dtype)
    y = tf.constant([1.0, -1.0, -1.0, 1.0, 0.0], dtype)
    with tf.GradientTape() as tape:
        tape.watch(h)
        value = losses.tanh_cross_entropy(y, h)
    g = tape.gradient(value, h).numpy()
    assert np.isfinite(value.numpy()) and np.all(np.isfinite(g))
    # Per element: log(2 cosh 100) ~ 100 so the losses are 0, 0, 200, 200, log 2.
    np.testing.assert_allclose(value.numpy(), (400 + np.log(2)) / 5, rtol=1e-5)
    np.testing.assert_allclose(g * 5, [0.0, 0.0, 2.0, -2.0, 0.0], atol=1e-6)


def test_tanh_cross_entropy_equals_naive_formula():
    rng = np.random.default_rng(1)
    h = rng.uniform(-10, 10, size=(8, 6))
    y = rng.uniform(-1, 1, size=h.shape)
    naive = np.mean(np.log(2 * np.cosh(h)) - y * h)
    np.testing.assert_allclose(losses.tanh_cross_entropy(tf.constant(y), tf.constant(h)).numpy(), naive, rtol=1e-12)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_bce_from_logits_equals_naive_formula():
    rng = np.random.default_rng(2)
    x = rng.normal(0, 4, size=(16, 1))
    y = rng.uniform(0, 1, size=x.shape)
    naive = -np.mean(y * np.log(_sigmoid(x)) + (1 - y) * np.log(1 - _sigmoid(x)))
    np.testing.assert_allclose(losses.bce_from_logits(tf.constant(y), tf.constant(x)).numpy(), naive, rtol=1e-10)


def test_gan_losses_registry():
    assert set(losses.GAN_LOSSES) == {"nonsaturating", "saturating", "wasserstein"}
    assert losses.GAN_LOSSES["nonsaturating"] == (losses.d_cross_entropy, losses.g_nonsaturating)
    assert losses.GAN_LOSSES["saturating"] == (losses.d_cross_entropy, losses.g_saturating)
    assert losses.GAN_LOSSES["wasserstein"] == (losses.d_wasserstein, losses.g_wasserstein)


def test_cross_entropy_gan_losses():
    x = np.array([[-3.0], [-0.5], [0.0], [1.0], [4.0]])
    t = tf.constant(x, tf.float32)  # D's logit layer is float32 under every precision policy
    log_s, log_1ms = np.log(_sigmoid(x)), np.log(1 - _sigmoid(x))
    np.testing.assert_allclose(losses.d_cross_entropy(t, 1.0).numpy(), -np.mean(log_s), rtol=1e-6)
    np.testing.assert_allclose(losses.d_cross_entropy(t, 0.0).numpy(), -np.mean(log_1ms), rtol=1e-6)
    # Non-saturating G: -log D(G(z)); saturating G: log(1 - D(G(z))), i.e. minus the BCE with label 0.
    np.testing.assert_allclose(losses.g_nonsaturating(t).numpy(), -np.mean(log_s), rtol=1e-6)
    np.testing.assert_allclose(losses.g_saturating(t).numpy(), np.mean(log_1ms), rtol=1e-6)
    np.testing.assert_allclose(losses.g_saturating(t).numpy(), -losses.d_cross_entropy(t, 0.0).numpy(), rtol=1e-7)
    assert losses.g_saturating(t).numpy() < 0 < losses.g_nonsaturating(t).numpy()


def test_saturating_gradient_vanishes_when_d_is_confident():
    confident = tf.constant([[-15.0]], tf.float64)  # D sure the fake is fake
    _, g_sat = _grad(losses.g_saturating, confident)
    _, g_ns = _grad(losses.g_nonsaturating, confident)
    assert abs(float(g_sat[0, 0])) < 1e-6
    assert float(g_ns[0, 0]) < -0.99  # pushes the logit up at full strength


def test_wasserstein_signs():
    s = tf.constant([[1.0], [2.0], [-6.0]])  # mean -1
    assert float(losses.d_wasserstein(s, 1.0)) == pytest.approx(1.0)  # real: raise the scores
    assert float(losses.d_wasserstein(s, 0.0)) == pytest.approx(-1.0)  # fake/mismatched: lower them
    assert float(losses.g_wasserstein(s)) == pytest.approx(1.0)  # G raises its fakes' scores
    _, g = _grad(lambda t: losses.d_wasserstein(t, 1.0), s.numpy())
    assert np.all(g.numpy() < 0)
    _, g = _grad(lambda t: losses.d_wasserstein(t, 0.0), s.numpy())
    assert np.all(g.numpy() > 0)


def _linear_critic(image_shape, features, image_weight, text_weight=0.7):
    image = keras.Input(image_shape)
    text = keras.Input((features,))
    x = keras.layers.Concatenate()([keras.layers.Flatten()(image), text])
    dense = keras.layers.Dense(1, use_bias=True)
    critic = keras.Model([image, text], dense(x))
    w = np.concatenate([image_weight.ravel(), np.full(features, text_weight)])[:, None].astype(np.float32)
    dense.set_weights([w, np.array([0.3], np.float32)])
    return critic


@pytest.mark.parametrize("norm, expected", [(1.0, 0.0), (3.0, 4.0), (0.5, 0.25)])
def test_gradient_penalty_of_linear_critic(norm, expected):
    shape = (4, 4, 3)
    direction = np.random.default_rng(3).normal(size=shape)
    critic = _linear_critic(shape, 5, norm * direction / np.linalg.norm(direction))
    rng = np.random.default_rng(4)
    real = tf.constant(rng.uniform(-1, 1, (6, *shape)), tf.float32)
    other = tf.constant(rng.uniform(-1, 1, (6, *shape)), tf.float32)
    text = tf.constant(rng.normal(size=(6, 5)), tf.float32)
    # The input gradient of a linear critic is its image weight everywhere, so the penalty is (norm - 1)^2.
    gp = losses.gradient_penalty(critic, real, other, text, tf.constant([1, 2]))
    assert float(gp) == pytest.approx(expected, abs=1e-5)


def test_gradient_penalty_of_quadratic_critic_depends_on_interpolates():
    # critic(x) = 0.5 * sum(x^2): the gradient at x_hat is x_hat, so the penalty is (||x_hat|| - 1)^2 with
    # x_hat = alpha * real + (1 - alpha) * other, alpha drawn from the given seed.
    image = keras.Input((2, 2, 1))
    text = keras.Input((1,))
    out = keras.layers.Lambda(lambda t: 0.5 * keras.ops.sum(keras.ops.square(t), axis=[1, 2, 3])[:, None])(image)
    critic = keras.Model([image, text], out)
    real = tf.ones((3, 2, 2, 1))
    other = tf.zeros((3, 2, 2, 1))
    seed = tf.constant([5, 6])
    alpha = tf.random.stateless_uniform([3, 1, 1, 1], seed=seed).numpy().ravel()
    expected = np.mean((alpha * 2.0 - 1.0) ** 2)  # ||alpha * ones(4)|| = 2 alpha
    gp = losses.gradient_penalty(critic, real, other, tf.zeros((3, 1)), seed)
    assert float(gp) == pytest.approx(expected, rel=1e-5)
