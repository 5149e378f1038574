"""Training of the style encoder S (Reed et al. 2016, section 4.4): S inverts G on G's own images.

One update: z from the GAN's latent distribution, images G(z, h) (G in inference mode, its output held
constant by stop_gradient so nothing flows back to G or the text encoder), and one step of S's own optimizer
on mean ||z - S(G(z, h))||^2 (the mean over the batch of the squared L2 norm), recorded as `style_loss`.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from t2i.models.latent import LATENTS


class StyleEncoderUpdate:
    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.loss = keras.metrics.Mean(name="style_loss")

    def build(self, style_encoder) -> None:
        self.optimizer.build(style_encoder.trainable_variables)

    def __call__(self, gan, features, seed):
        """One step of gan.style_encoder on G's images of `features` (z drawn from `seed`)."""
        s = gan.style_encoder
        z = LATENTS[gan.latent_distribution]([tf.shape(features)[0], gan.latent_dim], seed)
        images = tf.stop_gradient(tf.tanh(gan.generator([tf.stop_gradient(features), z], training=False)))
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.reduce_sum(tf.square(z - s(images, training=True)), axis=-1))
        self.optimizer.apply_gradients(zip(tape.gradient(loss, s.trainable_variables), s.trainable_variables))
        self.loss.update_state(loss)
