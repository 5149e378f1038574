"""Text encoder: characters and colour spec -> one feature vector, shared by G and D."""

from __future__ import annotations

import keras
from keras import layers

from t2i.data.vocab import CHAR_TOKENS, SPEC_LENGTH, SPEC_TOKENS, TEXT_LENGTH


def build_text_encoder(cfg, conditional: bool = True) -> keras.Model:
    """`conditional=False` (the config's gan.conditional): the same weights, but the features are zeros, so
    G and D never see the text (an unconditional GAN on the same networks)."""
    chars = keras.Input((TEXT_LENGTH,), dtype="int32", name="chars")
    spec = keras.Input((SPEC_LENGTH,), dtype="int32", name="spec")
    c = layers.Embedding(CHAR_TOKENS, cfg.char_embedding, name="char_embedding")(chars)
    c = layers.GRU(cfg.char_units, name="char_gru")(c)
    s = layers.Embedding(SPEC_TOKENS, cfg.spec_embedding, name="spec_embedding")(spec)
    s = layers.GRU(cfg.spec_units, name="spec_gru")(s)
    h = layers.Concatenate()([c, s])
    h = layers.Dense(cfg.features, use_bias=False)(h)
    h = layers.LayerNormalization()(h)
    h = layers.Activation("selu")(h)
    if not conditional:
        h = layers.Lambda(lambda t: t * 0.0, name="no_text")(h)
    return keras.Model([chars, spec], h, name="text_encoder")
