"""D's and G's optimizers and their learning-rate schedules, from the `optimizer` config group.

One factory: `build_optimizers(cfg)` returns both optimizers and the callbacks their schedule needs.
A schedule is either a Keras LearningRateSchedule (counted in each optimizer's own updates) or an epoch
callback that sets both rates (counted in epochs).
"""

from __future__ import annotations

from typing import NamedTuple

import keras

from t2i.registry import Registry

OPTIMIZERS: Registry = Registry("optimizer")
OPTIMIZERS.register("adam")(lambda opt, rate: keras.optimizers.Adam(rate, beta_1=opt.beta_1, beta_2=opt.beta_2))
OPTIMIZERS.register("rmsprop")(lambda opt, rate: keras.optimizers.RMSprop(rate))  # the original WGAN's

SCHEDULES: Registry[type] = Registry("learning-rate schedule")


class Optimizers(NamedTuple):
    d: keras.optimizers.Optimizer
    g: keras.optimizers.Optimizer
    callbacks: list  # what the schedule needs each epoch


@SCHEDULES.register("none")
class Constant:
    def __init__(self, opt, steps_per_epoch: int):
        self.opt = opt

    def rate(self, rate: float):
        return rate

    def callbacks(self) -> list:
        return []


@SCHEDULES.register("updates")
class PerUpdateDecay(Constant):
    """The reference's: each rate x factor every `decay_every` x steps_per_epoch of its optimizer's own
    updates. D makes several updates per GAN step and G skips the D-only epochs, so their rates decay at
    different epochs, as they did in the reference."""

    def __init__(self, opt, steps_per_epoch: int):
        super().__init__(opt, steps_per_epoch)
        self.every = opt.decay_every * steps_per_epoch

    def rate(self, rate: float):
        return UpdateStepDecay(rate, self.every, self.opt.decay_factor)


@SCHEDULES.register("epochs")
class PerEpochDecay(Constant):
    """Both rates x factor every `decay_every` epochs (LRDecay)."""

    def callbacks(self):
        return [EpochDecay(self.opt)]


@keras.saving.register_keras_serializable("t2i")
class UpdateStepDecay(keras.optimizers.schedules.LearningRateSchedule):
    """rate x factor ** floor((1 + updates) / every), in the optimizer's own updates."""

    def __init__(self, rate: float, every: int, factor: float):
        self.rate, self.every, self.factor = rate, every, factor

    def __call__(self, step):
        exponent = keras.ops.floor((keras.ops.cast(step, "float32") + 1.0) / self.every)
        return self.rate * keras.ops.power(self.factor, exponent)

    def get_config(self):
        return {"rate": self.rate, "every": self.every, "factor": self.factor}


class EpochDecay(keras.callbacks.Callback):
    """Sets both rates at the start of every epoch: base x decay_factor ** (epoch // decay_every)."""

    def __init__(self, opt):
        super().__init__()
        self.opt = opt

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.opt
        factor = opt.decay_factor ** (epoch // opt.decay_every)
        self.model.d_optimizer.learning_rate.assign(opt.learning_rate * opt.d_lr_factor * factor)
        self.model.g_optimizer.learning_rate.assign(opt.learning_rate * factor)


def schedule(opt, steps_per_epoch: int) -> Constant:
    return SCHEDULES[opt.decay](opt, steps_per_epoch)


def build_optimizers(opt, steps_per_epoch: int) -> Optimizers:
    """D's (its rate x d_lr_factor, TTUR) and G's optimizer for the `optimizer` config `opt`."""
    schedule_ = schedule(opt, steps_per_epoch)
    make = OPTIMIZERS[opt.name]
    d = make(opt, schedule_.rate(opt.learning_rate * opt.d_lr_factor))
    g = make(opt, schedule_.rate(opt.learning_rate * 1.0))
    return Optimizers(d, g, schedule_.callbacks())


def build_style_optimizer(opt) -> keras.optimizers.Optimizer:
    """The style encoder's own Adam (Reed et al.'s S): G's base rate and beta_1 (and beta_2), whatever
    optimizer.name is, and no schedule: S only follows G, it is no part of the game."""
    return keras.optimizers.Adam(opt.learning_rate, beta_1=opt.beta_1, beta_2=opt.beta_2)


def problem(opt) -> str | None:
    """Why this optimizer config cannot run, or None."""
    if opt.decay != "none" and opt.decay_every < 1:
        return f"optimizer.decay={opt.decay} needs optimizer.decay_every >= 1"
    return None
