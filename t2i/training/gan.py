"""The conditional GAN as one keras.Model: a train_step that runs every update of one GAN step.

The default step is the reference's (tf-text2image, trained with tf.keras 2 `train_on_batch` calls):
- one batch of texts and real images serves the whole step; G makes its fakes from those texts once,
  before D's updates;
- D's step (`gan.d_step`) is either "labelled": one update per sub-step of `gan.d_substeps`, each with its
  label (fake 0, real 1, mismatched 0: the same real images under shuffled text), or "critic": WGAN-GP
  updates that each raise D(real) - D(other) under a gradient penalty, other = the fakes, then the real
  images permuted within the batch;
- G's update goes through D in training mode: the reference's combined model runs D's dropout and input
  noise while D's weights are frozen (`gan.g_step_d_training` false is the inference-mode ablation);
- the text encoder is trained by D's optimizer only (not by the critic, as in the reference); G reads its
  features but its gradients never reach it.
Losses and penalties are chosen by name from config (see losses.py); everything per epoch is a callback.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from t2i import losses

LABELS = {"fake": 0.0, "real": 1.0, "mismatched": 0.0}
CRITIC_OTHERS = ("fake", "permuted")


def _permute(x, seed):
    return tf.gather(x, tf.random.experimental.stateless_shuffle(tf.range(tf.shape(x)[0]), seed))


class ConditionalGAN(keras.Model):
    def __init__(self, text_encoder, generator, discriminator, gan_cfg, latent_dim: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.text_encoder = text_encoder
        self.generator = generator
        self.discriminator = discriminator
        self.cfg = gan_cfg
        self.latent_dim = latent_dim
        self.d_loss_fn, self.g_loss_fn = losses.GAN_LOSSES[gan_cfg.loss]
        # Set by a callback: G is frozen during the first epochs so D gets ahead.
        self.train_generator = tf.Variable(True, trainable=False, name="train_generator")
        kinds = CRITIC_OTHERS if gan_cfg.d_step == "critic" else tuple(gan_cfg.d_substeps)
        self.d_names = [f"d{i}_{kind}" for i, kind in enumerate(kinds)]
        self.d_loss = {n: keras.metrics.Mean(name=f"{n}_loss") for n in self.d_names}
        # Labelled updates: D's accuracy; critic updates: the share of pairs scored real > other.
        self.d_acc = {n: keras.metrics.Mean(name=f"{n}_acc") for n in self.d_names}
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
        self.d_vars = list(self.discriminator.trainable_variables)
        if self.cfg.d_trains_text_encoder:
            self.d_vars += self.text_encoder.trainable_variables
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

    def _d_update(self, loss_fn):
        with tf.GradientTape() as tape:
            loss, score = loss_fn()
        grads = tape.gradient(loss, self.d_vars)
        self.d_optimizer.apply_gradients(zip(grads, self.d_vars))
        if self.cfg.penalty.name == "clip":
            c = self.cfg.penalty.clip_value
            for v in self.discriminator.trainable_variables:
                v.assign(tf.clip_by_value(v, -c, c))
        return loss, score

    def _judge(self, images, batch):
        return self.discriminator([images, self.features(batch, training=True)], training=True)

    def _labelled_step(self, data, fakes):
        for k, (kind, batch) in enumerate(zip(self.cfg.d_substeps, data["d"])):
            images = fakes[k] if kind == "fake" else batch["images"]
            label = LABELS[kind]

            def loss_fn(images=images, batch=batch, label=label):
                out = self._judge(images, batch)
                return self.d_loss_fn(out, label), tf.reduce_mean(tf.cast((out > 0) == (label > 0.5), tf.float32))

            self._record(self.d_names[k], *self._d_update(loss_fn))

    def _critic_step(self, data, fakes, seed):
        batch = data["d"][0]
        real = batch["images"]
        others = {"fake": fakes[0], "permuted": _permute(real, seed)}
        for k, kind in enumerate(CRITIC_OTHERS):
            alpha_seed = seed + k + 1

            def loss_fn(other=others[kind], alpha_seed=alpha_seed):
                feats = self.features(batch, training=True)
                real_score = self.discriminator([real, feats], training=True)
                other_score = self.discriminator([other, feats], training=True)
                loss = -(tf.reduce_mean(real_score) - tf.reduce_mean(other_score))
                if self.cfg.penalty.name == "gradient":
                    gp = losses.gradient_penalty(self.discriminator, real, other, feats, alpha_seed)
                    self.gp.update_state(gp)
                    loss += self.cfg.penalty.weight * gp
                return loss, tf.reduce_mean(tf.cast(real_score > other_score, tf.float32))

            self._record(self.d_names[k], *self._d_update(loss_fn))

    def _record(self, name, loss, accuracy):
        self.d_loss[name].update_state(loss)
        self.d_acc[name].update_state(accuracy)

    def g_objective(self, batch, feats, seed):
        """G's loss on a batch: D's judgement of its images (D in training mode, as in the reference)."""
        s = tf.random.experimental.stateless_split(seed, 3)
        d_training = self.cfg.g_step_d_training
        images = self.generate(feats, s[0], training=True)
        loss = self.g_loss_fn(self.discriminator([images, feats], training=d_training))
        if self.cfg.l1_weight > 0:
            loss += self.cfg.l1_weight * tf.reduce_mean(tf.abs(images - batch["images"]))
        if self.cfg.interpolation_weight > 0:
            # GAN-INT: embeddings between two texts have no real image, only D's judgement.
            beta = self.cfg.interpolation_beta
            mixed = beta * feats + (1.0 - beta) * _permute(feats, s[1])
            mixed_images = self.generate(mixed, s[2], training=True)
            loss += self.cfg.interpolation_weight * self.g_loss_fn(
                self.discriminator([mixed_images, mixed], training=d_training)
            )
        return loss

    def _g_step(self, batch, seed):
        feats = tf.stop_gradient(self.features(batch))
        g_vars = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            loss = self.g_objective(batch, feats, seed)
        self.g_optimizer.apply_gradients(zip(tape.gradient(loss, g_vars), g_vars))
        return loss

    def train_step(self, data):
        seed = data["seed"]
        # Fakes are made once, before D's first update, from the texts of the sub-step that judges them.
        critic = self.cfg.d_step == "critic"
        fake_at = [0] if critic else [k for k, kind in enumerate(self.cfg.d_substeps) if kind == "fake"]
        fakes = {}
        for k in fake_at:
            batch = data["d"][k]
            fakes[k] = self.generate(self.features(batch), seed + 10 * (k + 1))
            self.mae_train.update_state(tf.reduce_mean(tf.abs(fakes[k] - batch["images"])))
        if critic:
            self._critic_step(data, fakes, seed + 5)
        else:
            self._labelled_step(data, fakes)

        def g_update():
            self.g_loss.update_state(self._g_step(data["g"], seed + 3))
            return tf.constant(0)

        tf.cond(tf.logical_and(self.train_generator, data["g_turn"]), g_update, lambda: tf.constant(0))
        return {m.name: m.result() for m in self.metrics}
