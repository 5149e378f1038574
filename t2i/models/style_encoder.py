"""Reed et al. 2016's style encoder S (their inversion network): an image -> the z that G drew it from.

S is D's image trunk without the text: the reference discriminator's downsampling blocks, its 1x1 head and
flatten (t2i/models/discriminator.py), then one Dense to latent_dim. No image noise, no minibatch
discrimination, no dropout: S regresses z, it is not a critic. It is trained on G's images only (t2i/training/style.py)
and used for style transfer as G(S(x), h(t)).
"""

from __future__ import annotations

import keras
from keras import layers

from t2i.models.discriminator import downsampling_block


def build_style_encoder(cfg_model, image_size: int, latent_dim: int) -> keras.Model:
    """S for `cfg_model` (the config's `model` group: D's block_filters and head_filters)."""
    d = cfg_model.discriminator
    image = keras.Input((image_size, image_size, 3), name="image")
    x = image
    for i, filters in enumerate(d.block_filters):
        x = downsampling_block(x, filters, 0.0, f"block{i}")
    x = layers.Conv2D(d.head_filters, 1, activation=layers.LeakyReLU(0.1), name="head")(x)
    z = layers.Dense(latent_dim, name="z", dtype="float32")(layers.Flatten()(x))
    return keras.Model(image, z, name="style_encoder")
