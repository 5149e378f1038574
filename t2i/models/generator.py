"""Generator: text features (and optionally a latent z) -> image logits; tanh gives the image."""

from __future__ import annotations

import keras
from keras import layers


def upsampling_block(x, filters: int, name: str):
    # The residual branch starts from the normalised map itself, not from its activation, and the
    # transposed convolution has no bias (LayerNormalization would cancel it): the reference's block.
    x = layers.Conv2DTranspose(filters, 5, strides=2, padding="same", use_bias=False, name=f"{name}_up")(x)
    x = layers.LayerNormalization(name=f"{name}_norm")(x)
    r = layers.LeakyReLU(0.1)(x)
    r = layers.Conv2D(filters, 4, padding="same", name=f"{name}_res")(r)
    return layers.LeakyReLU(0.1)(layers.Add()([x, r]))


def build_generator(cfg, features: int) -> keras.Model:
    """Returns a model mapping [features] (+ [z]) to pre-tanh logits of shape [size, size, 3].

    G outputs logits rather than pixels because Part 1's tanh cross-entropy is defined on them.
    """
    text = keras.Input((features,), name="text_features")
    inputs = [text]
    h = text
    if cfg.latent_dim > 0:
        z = keras.Input((cfg.latent_dim,), name="z")
        inputs.append(z)
        h = layers.Concatenate()([text, z])
    h = layers.Dense(4 * 4 * cfg.base_filters, name="project")(h)
    h = layers.Reshape((4, 4, cfg.base_filters))(h)
    for i, filters in enumerate(cfg.block_filters):
        h = upsampling_block(h, filters, f"block{i}")
    logits = layers.Conv2DTranspose(3, 5, strides=2, padding="same", name="to_rgb", dtype="float32")(h)
    return keras.Model(inputs, logits, name="generator")
