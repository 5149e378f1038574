"""Penalties on the discriminator, one piece each, chosen by `gan.penalty.name`.

A penalty either adds a term to a critic update's loss (`term`) or constrains D's weights after every D
update (`after_update`), or neither.
"""

from __future__ import annotations

import tensorflow as tf

from t2i import losses
from t2i.registry import Registry

PENALTIES: Registry[type] = Registry("penalty")


class Penalty:
    """No penalty: the base every penalty overrides a part of."""

    def __init__(self, cfg):
        self.weight = cfg.weight

    @staticmethod
    def problem(gan_cfg) -> str | None:
        """Why this penalty cannot run with `gan_cfg`, or None."""
        return None

    def term(self, discriminator, real, other, features, seed):
        """The unweighted penalty of one critic update, or None."""
        return None

    def after_update(self, discriminator) -> None:
        pass


PENALTIES.register("none")(Penalty)


@PENALTIES.register("gradient")
class GradientPenalty(Penalty):
    """WGAN-GP (Gulrajani et al. 2017): (||grad D(x_hat)|| - 1)^2 at interpolates of real and other."""

    @staticmethod
    def problem(gan_cfg):
        if gan_cfg.d_step != "critic":
            return "gan.penalty.name=gradient needs gan.d_step=critic (it is part of each critic update)"
        return None

    def term(self, discriminator, real, other, features, seed):
        return losses.gradient_penalty(discriminator, real, other, features, seed)


@PENALTIES.register("clip")
class WeightClip(Penalty):
    """The original WGAN (Arjovsky et al. 2017): D's weights clipped to [-c, c] after every D update."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.clip_value = cfg.clip_value

    def after_update(self, discriminator):
        c = self.clip_value
        for v in discriminator.trainable_variables:
            v.assign(tf.clip_by_value(v, -c, c))
