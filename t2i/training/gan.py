"""The conditional GAN as one keras.Model: a train_step that runs every sub-step of one GAN step.

Which loss, penalty and D sub-steps are used is config (see losses.GAN_LOSSES); the step itself stays
one short function. The text encoder is trained by D's optimizer only; G reads its features but its
gradients never reach it.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from t2i import losses

LABELS = {"fake": 0.0, "real": 1.0, "mismatched": 0.0}


class ConditionalGAN(keras.Model):
    def __init__(self, text_encoder, generator, discriminator, gan_cfg, latent_dim: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.text_encoder = text_encoder
        self.generator = generator
        self.discriminator = discriminator
        self.cfg = gan_cfg
        self.latent_dim = latent_dim
        self.substeps = list(gan_cfg.d_substeps) * gan_cfg.disc_steps
        self.d_loss_fn, self.g_loss_fn = losses.GAN_LOSSES[gan_cfg.loss]
        # Set by a callback: G is frozen during the first epochs so D gets ahead.
        self.train_generator = tf.Variable(True, trainable=False, name="train_generator")
        names = [f"d{i}_{kind}" for i, kind in enumerate(gan_cfg.d_substeps)]
        self.d_loss = {n: keras.metrics.Mean(name=f"{n}_loss") for n in names}
        self.d_acc = {n: keras.metrics.Mean(name=f"{n}_acc") for n in names}
        self.d_names = names * gan_cfg.disc_steps
        self.g_loss = keras.metrics.Mean(name="g_loss")
        self.gp = keras.metrics.Mean(name="gp")
        self.mae_train = keras.metrics.Mean(name="mae_train")

    @property
    def metrics(self):
        return [*self.d_loss.values(), *self.d_acc.values(), self.g_loss, self.gp, self.mae_train]

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.d_vars = self.discriminator.trainable_variables + self.text_encoder.trainable_variables
        d_optimizer.build(self.d_vars)
        g_optimizer.build(self.generator.trainable_variables)

    def features(self, batch, training=False):
        return self.text_encoder([batch["chars"], batch["spec"]], training=training)

    def generate(self, features, seed=None, training=False):
        """Images in [-1, 1] from text features (z, if any, is uniform in [-1, 1])."""
        inputs = [features]
        if self.latent_dim > 0:
            shape = [tf.shape(features)[0], self.latent_dim]
            z = (
                tf.random.uniform(shape, -1.0, 1.0)
                if seed is None
                else tf.random.stateless_uniform(shape, seed, -1.0, 1.0)
            )
            inputs.append(z)
        return tf.tanh(self.generator(inputs, training=training))

    @tf.function(reduce_retracing=True)
    def _predict(self, chars, spec):
        return self.generate(self.text_encoder([chars, spec], training=False), tf.constant([0, 0]))

    def predict_images(self, chars, spec):
        """G's images for integer chars [N, 2] and spec [N, 5], as numpy in [-1, 1]."""
        return self._predict(tf.constant(chars, tf.int32), tf.constant(spec, tf.int32)).numpy()

    def call(self, inputs, training=False):
        chars, spec = inputs
        return self.generate(self.text_encoder([chars, spec], training=training), training=training)

    def _d_update(self, loss_fn):
        with tf.GradientTape() as tape:
            loss, out = loss_fn()
        grads = tape.gradient(loss, self.d_vars)
        self.d_optimizer.apply_gradients(zip(grads, self.d_vars))
        if self.cfg.penalty.name == "clip":
            c = self.cfg.penalty.clip_value
            for v in self.discriminator.trainable_variables:
                v.assign(tf.clip_by_value(v, -c, c))
        return loss, out

    def _d_substep(self, kind, batch, seed):
        label = LABELS[kind]
        if kind == "fake":
            images = self.generate(tf.stop_gradient(self.features(batch)), seed, training=True)
            self.mae_train.update_state(tf.reduce_mean(tf.abs(images - batch["images"])))
        else:
            images = batch["images"]

        def loss_fn():
            out = self.discriminator([images, self.features(batch, training=True)], training=True)
            return self.d_loss_fn(out, label), out

        return self._d_update(loss_fn)

    def _penalty_step(self, batch, seed):
        """WGAN-GP's penalty as its own update of D: on real/fake interpolates, and real/real ones."""
        s = tf.random.experimental.stateless_split(seed, 3)
        fake = self.generate(tf.stop_gradient(self.features(batch)), s[0], training=True)
        real = batch["images"]

        def loss_fn():
            feats = self.features(batch, training=True)
            gp = losses.gradient_penalty(self.discriminator, real, fake, feats, s[1])
            if self.cfg.penalty.mismatched:
                other = tf.gather(real, tf.random.experimental.stateless_shuffle(tf.range(tf.shape(real)[0]), s[2]))
                gp += losses.gradient_penalty(self.discriminator, real, other, feats, s[2])
            return self.cfg.penalty.weight * gp, gp

        _, gp = self._d_update(loss_fn)
        self.gp.update_state(gp)

    def _g_step(self, batch, seed):
        feats = tf.stop_gradient(self.features(batch))
        s = tf.random.experimental.stateless_split(seed, 3)
        g_vars = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            images = self.generate(feats, s[0], training=True)
            loss = self.g_loss_fn(self.discriminator([images, feats], training=False))
            if self.cfg.l1_weight > 0:
                loss += self.cfg.l1_weight * tf.reduce_mean(tf.abs(images - batch["images"]))
            if self.cfg.interpolation_weight > 0:
                # GAN-INT: embeddings between two texts have no real image, only D's judgement.
                other = tf.gather(feats, tf.random.experimental.stateless_shuffle(tf.range(tf.shape(feats)[0]), s[1]))
                beta = self.cfg.interpolation_beta
                mixed = beta * feats + (1.0 - beta) * other
                mixed_images = self.generate(mixed, s[2], training=True)
                loss += self.cfg.interpolation_weight * self.g_loss_fn(
                    self.discriminator([mixed_images, mixed], training=False)
                )
        grads = tape.gradient(loss, g_vars)
        self.g_optimizer.apply_gradients(zip(grads, g_vars))
        return loss

    def train_step(self, data):
        seed = data["seed"]
        for k, (kind, batch) in enumerate(zip(self.substeps, data["d"])):
            loss, out = self._d_substep(kind, batch, seed + 10 * (k + 1))
            name = self.d_names[k]
            self.d_loss[name].update_state(loss)
            self.d_acc[name].update_state(tf.reduce_mean(tf.cast((out > 0) == (LABELS[kind] > 0.5), tf.float32)))
        if self.cfg.penalty.name == "gradient":
            self._penalty_step(data["g"], seed + 7)

        def g_update():
            self.g_loss.update_state(self._g_step(data["g"], seed + 3))
            return tf.constant(0)

        tf.cond(self.train_generator, g_update, lambda: tf.constant(0))
        return {m.name: m.result() for m in self.metrics}
