"""Losses as plain functions of logits/scores; a GAN loss (D's and G's) chosen by name from config.

Conventions: `real` and `fake` are D's outputs (logits, or critic scores for Wasserstein); every
function returns a scalar to minimise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import tensorflow as tf

from t2i.registry import Registry


def tanh_cross_entropy(targets, logits):
    """Cross-entropy for tanh outputs with targets in [-1, 1]; its gradient w.r.t. logits is tanh(h) - y.

    log(2 cosh h) - y h, written as log(1 + exp(-2|h|)) + |h| - y h so it never overflows. The reference
    subtracts log 2 as well, a constant that changes no gradient.
    """
    a = tf.abs(logits)
    return tf.reduce_mean(tf.math.log1p(tf.exp(-2.0 * a)) + a - targets * logits)


def bce_from_logits(labels, logits):
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


# --- D losses on one judgement: `label` is 1 for real, 0 for fake/mismatched ------------------------


def d_cross_entropy(logits, label: float):
    return bce_from_logits(tf.fill(tf.shape(logits), label), logits)


def d_wasserstein(scores, label: float):
    # The critic raises scores of real pairs and lowers the rest.
    return -tf.reduce_mean(scores) if label == 1.0 else tf.reduce_mean(scores)


# --- G losses on D's output for generated images ----------------------------------------------------


def g_nonsaturating(fake_logits):
    return bce_from_logits(tf.ones_like(fake_logits), fake_logits)


def g_saturating(fake_logits):
    # Minimise log(1 - D(G)) = -BCE(label 0); its gradient vanishes when D is confident.
    return -bce_from_logits(tf.zeros_like(fake_logits), fake_logits)


def g_wasserstein(fake_scores):
    return -tf.reduce_mean(fake_scores)


class GanLoss(NamedTuple):
    d: Callable  # d(outputs, label) -> D's loss on one judgement
    g: Callable  # g(outputs on G's images) -> G's loss


GAN_LOSSES: Registry[GanLoss] = Registry("GAN loss")
GAN_LOSSES.register("nonsaturating")(GanLoss(d_cross_entropy, g_nonsaturating))
GAN_LOSSES.register("saturating")(GanLoss(d_cross_entropy, g_saturating))
GAN_LOSSES.register("wasserstein")(GanLoss(d_wasserstein, g_wasserstein))


def gradient_penalty(critic, real, other, text_features, rng_seed):
    """WGAN-GP: (||grad critic(x_hat)|| - 1)^2 at random interpolates x_hat of `real` and `other`."""
    batch = tf.shape(real)[0]
    alpha = tf.random.stateless_uniform([batch, 1, 1, 1], seed=rng_seed)
    x_hat = alpha * real + (1.0 - alpha) * other
    with tf.GradientTape() as tape:
        tape.watch(x_hat)
        scores = critic([x_hat, text_features], training=True)
    grads = tape.gradient(scores, x_hat)
    norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + 1e-12)
    return tf.reduce_mean(tf.square(norms - 1.0))
