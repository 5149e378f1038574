"""Discriminator (or WGAN critic): (image, text features) -> one logit / score."""

from __future__ import annotations

import keras
from keras import layers

from t2i.models.layers import MinibatchDiscrimination


def downsampling_block(x, filters: int, dropout: float, name: str):
    # As in the reference: the skip carries the strided convolution's (dropped-out) map before any
    # activation; only the residual branch and the sum pass through LeakyReLU(0.1).
    x = layers.Conv2D(filters, 4, strides=2, padding="same", name=f"{name}_down")(x)
    x = layers.Dropout(dropout)(x)
    r = layers.LeakyReLU(0.1)(x)
    r = layers.Conv2D(filters, 4, padding="same", name=f"{name}_res")(r)
    return layers.LeakyReLU(0.1)(layers.Add()([x, r]))


def build_discriminator(cfg, image_size: int, features: int) -> keras.Model:
    image = keras.Input((image_size, image_size, 3), name="image")
    text = keras.Input((features,), name="text_features")
    x = image
    if cfg.image_noise > 0:
        x = layers.GaussianNoise(cfg.image_noise, name="image_noise")(x)
    # Noise must not push pixels outside the range real images can take, or D could tell by range alone.
    x = layers.Lambda(lambda t: keras.ops.clip(t, -1.0, 1.0), name="clip")(x)
    first, *rest = cfg.block_filters
    x = downsampling_block(x, first, cfg.dropout, "block0")
    side = image_size // 2
    t = layers.Dense(side * side * cfg.text_channels, name="text_projection")(text)
    t = layers.Reshape((side, side, cfg.text_channels))(t)
    x = layers.Concatenate()([x, t])
    for i, filters in enumerate(rest, start=1):
        x = downsampling_block(x, filters, cfg.dropout, f"block{i}")
    x = layers.Conv2D(cfg.head_filters, 1, activation=layers.LeakyReLU(0.1), name="head")(x)
    x = layers.Dropout(cfg.dropout)(x)
    image_features = layers.Flatten()(x)
    joint = [image_features, text]
    mbd = cfg.minibatch_discrimination
    if mbd.kernels > 0:
        joint.append(MinibatchDiscrimination(mbd.kernels, mbd.kernel_dim, name="mbd")(image_features))
    logit = layers.Dense(1, use_bias=cfg.output_bias, name="logit", dtype="float32")(layers.Concatenate()(joint))
    return keras.Model([image, text], logit, name="discriminator")
