"""G's objective as a sum of terms, one piece each. A term is on when its config asks for it
(`from_config` returns None otherwise); they are summed in registry order, which is also the order in
which they call D (D's dropout and noise draw in call order, so the order is part of the numbers).
"""

from __future__ import annotations

import tensorflow as tf

from t2i.registry import Registry
from t2i.training.d_steps import permute

G_TERMS: Registry[type] = Registry("G term")

# Which two texts GAN-INT interpolates (`gan.interpolation_pairs`): feats -> (first, second).
PAIRS = Registry("interpolation pairing")
# Every text of the batch with another of the batch, shuffled: a whole batch of interpolations.
PAIRS.register("permuted")(lambda feats, seed: (feats, permute(feats, seed)))
# Reed et al.'s (main_cls_int.lua): the batch's first half with its second half, half a batch of them.
PAIRS.register("halves")(lambda feats, seed: tf.split(feats, 2, axis=0))


class GTerm:
    @classmethod
    def from_config(cls, gan_cfg, loss) -> GTerm | None:
        raise NotImplementedError

    def __call__(self, gan, batch, feats, images, seeds):
        """This term's loss for G's images `images` of text features `feats` (of `batch`); `seeds` [3, 2]."""
        raise NotImplementedError


@G_TERMS.register("adversarial")
class Adversarial(GTerm):
    """D's judgement of G's images: the GAN loss's G part."""

    def __init__(self, g_loss):
        self.g_loss = g_loss

    @classmethod
    def from_config(cls, gan_cfg, loss):
        return cls(loss.g)

    def __call__(self, gan, batch, feats, images, seeds):
        return self.g_loss(gan.judge_generated(images, feats))


@G_TERMS.register("l1")
class L1Reconstruction(GTerm):
    """weight x mean |G(text) - true image|, as some text-to-image reimplementations add (`gan.l1_weight`)."""

    def __init__(self, weight: float):
        self.weight = weight

    @classmethod
    def from_config(cls, gan_cfg, loss):
        return cls(gan_cfg.l1_weight) if gan_cfg.l1_weight > 0 else None

    def __call__(self, gan, batch, feats, images, seeds):
        return self.weight * tf.reduce_mean(tf.abs(images - batch["images"]))


@G_TERMS.register("interpolation")
class Interpolation(GTerm):
    """GAN-INT (Reed et al. 2016): D's judgement of G's images of text features beta h1 + (1 - beta) h2 of two
    texts of the batch, which have no true image (`gan.interpolation_weight`, `gan.interpolation_beta`,
    `gan.interpolation_pairs`). D judges them; it is never trained on them."""

    def __init__(self, g_loss, weight: float, beta: float, pairs: str = "permuted"):
        self.g_loss, self.weight, self.beta = g_loss, weight, beta
        self.pairs = PAIRS[pairs]

    @classmethod
    def from_config(cls, gan_cfg, loss):
        w = gan_cfg.interpolation_weight
        return cls(loss.g, w, gan_cfg.interpolation_beta, gan_cfg.interpolation_pairs) if w > 0 else None

    def __call__(self, gan, batch, feats, images, seeds):
        first, second = self.pairs(feats, seeds[1])
        mixed = self.beta * first + (1.0 - self.beta) * second
        mixed_images = gan.generate(mixed, seeds[2], training=True)
        return self.weight * self.g_loss(gan.judge_generated(mixed_images, mixed))


def build_g_terms(gan_cfg, loss) -> list[GTerm]:
    terms = (piece.from_config(gan_cfg, loss) for piece in G_TERMS.values())
    return [t for t in terms if t is not None]
