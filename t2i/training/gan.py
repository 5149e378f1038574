"""The conditional GAN as one keras.Model whose train_step runs one GAN step; its tricks are pieces.

The step (the reference's, tf-text2image, trained with tf.keras 2 `train_on_batch` calls, by default):
G makes its fakes once, from the texts of the batches the D step names; the D step (d_steps.py: the
reference's labelled sub-steps, or the WGAN critic) runs its updates; then G is updated once on the sum
of its objective's terms (g_terms.py: adversarial, L1, GAN-INT). Penalties (penalties.py) act inside D's
updates, losses (losses.py) are plain functions. Settings that are not a piece:
- `d_trains_text_encoder`: the text encoder is trained by D's optimizer (not by the critic, as in the
  reference); G reads its features but its gradients never reach it;
- `g_step_d_training`: G's update judges through D in training mode, as the reference's combined model
  ran D's dropout and noise while D's weights were frozen.
An optional style encoder S (Reed et al.'s inversion network, style.py) takes one step of its own after G's
update, on G's images, from a seed no other draw uses: it never feeds G or D, so a run with S makes the same
G and D as one without.
Everything per epoch is a callback.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from t2i.losses import GAN_LOSSES
from t2i.models.latent import LATENTS
from t2i.training.d_steps import build_d_step
from t2i.training.g_terms import build_g_terms
from t2i.training.penalties import PENALTIES


class ConditionalGAN(keras.Model):
    def __init__(
        self,
        text_encoder,
        generator,
        discriminator,
        d_step,
        g_terms,
        penalty,
        latent_dim: int = 0,
        latent_distribution: str = "uniform",
        d_trains_text_encoder: bool = True,
        g_step_d_training: bool = True,
        style_encoder=None,
        style_update=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.text_encoder = text_encoder
        self.generator = generator
        self.discriminator = discriminator
        self.d_step, self.g_terms, self.penalty = d_step, g_terms, penalty
        self.latent_dim, self.latent_distribution = latent_dim, latent_distribution
        self.d_trains_text_encoder = d_trains_text_encoder
        self.g_step_d_training = g_step_d_training
        # S and its update (t2i/training/style.py), or None: public, so the checkpoint holds S and its optimizer.
        self.style_encoder, self.style_update = style_encoder, style_update
        # Set by a callback: G is frozen during the first epochs so D gets ahead.
        self.train_generator = tf.Variable(True, trainable=False, name="train_generator")
        self.d_loss = {n: keras.metrics.Mean(name=f"{n}_loss") for n in d_step.names}
        self.d_acc = {n: keras.metrics.Mean(name=f"{n}_acc") for n in d_step.names}
        self.g_loss = keras.metrics.Mean(name="g_loss")
        self.gp = keras.metrics.Mean(name="gp")
        self.mae_train = keras.metrics.Mean(name="mae_train")

    @classmethod
    def from_config_of(
        cls, gan_cfg, text_encoder, generator, discriminator, latent_dim=0, latent_distribution="uniform", **kwargs
    ):
        """The GAN `gan_cfg` (the config's `gan` group) names, its pieces picked from their registries
        (`kwargs`: the constructor's others, e.g. style_encoder and style_update)."""
        loss = GAN_LOSSES[gan_cfg.loss]
        penalty = PENALTIES[gan_cfg.penalty.name](gan_cfg.penalty)
        return cls(
            text_encoder,
            generator,
            discriminator,
            d_step=build_d_step(gan_cfg, loss, penalty),
            g_terms=build_g_terms(gan_cfg, loss),
            penalty=penalty,
            latent_dim=latent_dim,
            latent_distribution=latent_distribution,
            d_trains_text_encoder=gan_cfg.d_trains_text_encoder,
            g_step_d_training=gan_cfg.g_step_d_training,
            **kwargs,
        )

    @property
    def metrics(self):
        style = [self.style_update.loss] if self.style_update is not None else []
        return [*self.d_loss.values(), *self.d_acc.values(), self.g_loss, self.gp, self.mae_train, *style]

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.d_vars = list(self.discriminator.trainable_variables)
        if self.d_trains_text_encoder:
            self.d_vars += self.text_encoder.trainable_variables
        d_optimizer.build(self.d_vars)
        g_optimizer.build(self.generator.trainable_variables)
        if self.style_update is not None:
            self.style_update.build(self.style_encoder)

    def features(self, batch, training=False):
        return self.text_encoder([batch["chars"], batch["spec"]], training=training)

    def generate(self, features, seed=None, training=False):
        """Images in [-1, 1] from text features (and z of the latent distribution, if G has one)."""
        inputs = [features]
        if self.latent_dim > 0:
            shape = [tf.shape(features)[0], self.latent_dim]
            if seed is None:
                seed = tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int32)
            inputs.append(LATENTS[self.latent_distribution](shape, seed))
        return tf.tanh(self.generator(inputs, training=training))

    def judge(self, images, batch):
        """D's output for images under a batch's texts, as D's updates see it (training mode)."""
        return self.discriminator([images, self.features(batch, training=True)], training=True)

    def judge_generated(self, images, features):
        """D's output for G's images inside G's update."""
        return self.discriminator([images, features], training=self.g_step_d_training)

    def d_update(self, name, loss_fn):
        """One optimizer step of D on loss_fn() -> (loss, accuracy), then the penalty's constraint; recorded
        as the metrics <name>_loss and <name>_acc."""
        with tf.GradientTape() as tape:
            loss, accuracy = loss_fn()
        grads = tape.gradient(loss, self.d_vars)
        self.d_optimizer.apply_gradients(zip(grads, self.d_vars))
        self.penalty.after_update(self.discriminator)
        self.d_loss[name].update_state(loss)
        self.d_acc[name].update_state(accuracy)

    def g_objective(self, batch, feats, seed):
        """G's loss on a batch: the sum of its objective's terms."""
        seeds = tf.random.experimental.stateless_split(seed, 3)
        images = self.generate(feats, seeds[0], training=True)
        loss = self.g_terms[0](self, batch, feats, images, seeds)
        for term in self.g_terms[1:]:
            loss += term(self, batch, feats, images, seeds)
        return loss

    def g_update(self, batch, seed):
        feats = tf.stop_gradient(self.features(batch))
        g_vars = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            loss = self.g_objective(batch, feats, seed)
        self.g_optimizer.apply_gradients(zip(tape.gradient(loss, g_vars), g_vars))
        return loss

    def train_step(self, data):
        seed = data["seed"]
        fakes = {}
        for k in self.d_step.fakes_at:  # made once, before D's first update, from the texts that D judges them with
            batch = data["d"][k]
            fakes[k] = self.generate(self.features(batch), seed + 10 * (k + 1))
            self.mae_train.update_state(tf.reduce_mean(tf.abs(fakes[k] - batch["images"])))
        self.d_step(self, data, fakes, seed + 5)

        def g_update():
            self.g_loss.update_state(self.g_update(data["g"], seed + 3))
            return tf.constant(0)

        tf.cond(tf.logical_and(self.train_generator, data["g_turn"]), g_update, lambda: tf.constant(0))
        if self.style_update is not None:  # every step, D-only ones too: S learns to invert whatever G is now
            self.style_update(self, self.features(data["g"]), seed + 7)
        return {m.name: m.result() for m in self.metrics}
