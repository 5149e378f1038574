"""The latent z's distribution (`model.generator.latent_distribution`), drawn statelessly from a seed."""

from __future__ import annotations

import tensorflow as tf

from t2i.registry import Registry

LATENTS = Registry("latent distribution")
LATENTS.register("uniform")(lambda shape, seed: tf.random.stateless_uniform(shape, seed, -1.0, 1.0))
LATENTS.register("normal")(lambda shape, seed: tf.random.stateless_normal(shape, seed))  # Reed et al.'s N(0, I)
