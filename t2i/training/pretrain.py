"""Part 1: the generator alone, supervised by tanh cross-entropy; yields the pretrained text encoder.

Results are cached by what they depend on (networks, image size, pretraining budget, precision, XLA), so
every run and every sweep that needs the same encoder shares one pretraining. A file lock makes concurrent
runs wait for the one that trains instead of training it again. Only a result whose held-out MAE passes
pretrain.max_mae is cached or used, and it holds the best held-out weights, not the last (HeldOutGuard).
The cache entry's key and layout are t2i/store/part1.py's.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
from pathlib import Path

import keras
import tensorflow as tf
from omegaconf import OmegaConf

from t2i import losses
from t2i.data import holdout
from t2i.data.dataset import TextImageSampler, data_spec, eval_set, supervised_dataset
from t2i.models import build_generator, build_text_encoder
from t2i.store import part1
from t2i.store.locks import file_lock
from t2i.training import setup
from t2i.training.callbacks import MetricsLog, Progress

PRETRAIN_SEED = 0


class PretrainingRejected(RuntimeError):
    """Part 1 ended (or was cached) with a held-out MAE above pretrain.max_mae; the message is one line."""


def pixel_mae(images, logits):
    return tf.reduce_mean(tf.abs(tf.tanh(logits) - images))


def pixel_mse(images, logits):
    return tf.reduce_mean(tf.square(tf.tanh(logits) - images))


def build_supervised(cfg):
    te = build_text_encoder(cfg.model.text_encoder)
    # Supervised learning has one right image per text, so there is no z here (as if held at zero).
    g = build_generator(OmegaConf.merge(cfg.model.generator, {"latent_dim": 0}), cfg.model.text_encoder.features)
    chars, spec = te.inputs
    model = keras.Model([chars, spec], g(te([chars, spec])), name="supervised_generator")
    return te, g, model


class HeldOutGuard(keras.callbacks.Callback):
    """Part 1's safety net: after every epoch, the model's held-out loss and MAE.

    It keeps the weights (and optimizer state) of the best held-out MAE, and treats an epoch whose held-out
    loss or MAE is more than `divergence_factor` times the best so far, or any non-finite number, as
    divergence: it restores the best state and goes on; if divergence recurs it also lowers the learning
    rate, and after `max_recoveries` it stops there. Training ends with the best weights in the model.
    """

    def __init__(self, heldout: dict, p):
        super().__init__()
        self.heldout = heldout
        self.factor, self.max_recoveries, self.lr_factor = p.divergence_factor, p.max_recoveries, p.recovery_lr_factor
        self.recoveries = 0
        self.stopped_at: int | None = None

    def on_train_begin(self, logs=None):
        chars, spec, images = (tf.constant(self.heldout[k]) for k in ("chars", "spec", "images"))
        model = self.model

        @tf.function
        def evaluate():
            # Called directly: Keras's predict() on this two-input model was seen to return different outputs.
            logits = tf.cast(model([chars, spec], training=False), tf.float32)
            return losses.tanh_cross_entropy(images, logits), pixel_mae(images, logits)

        self.evaluate = lambda: tuple(float(x) for x in evaluate())
        if not model.optimizer.built:  # Keras builds it at the first step; the snapshot needs its slots now
            model.optimizer.build(model.trainable_variables)
        self.best_loss, self.best_mae = self.evaluate()
        self.best_epoch = 0
        self.best_state = self._state()

    def on_epoch_end(self, epoch, logs=None):
        loss, mae = self.evaluate()
        logs["heldout_loss"], logs["heldout_mae"] = loss, mae
        numbers = (loss, mae, logs.get("loss", 0.0))
        if (
            not all(math.isfinite(x) for x in numbers)
            or loss > self.factor * self.best_loss
            or mae > (self.factor * self.best_mae)
        ):
            self._recover(epoch, mae)
            logs["recovered"] = 1
            return
        logs["recovered"] = 0
        self.best_loss = min(self.best_loss, loss)
        if mae < self.best_mae:
            self.best_mae, self.best_epoch, self.best_state = mae, epoch + 1, self._state()

    def on_train_end(self, logs=None):
        self._load(self.best_state)

    def _recover(self, epoch: int, mae: float) -> None:
        self.recoveries += 1
        lr = self.model.optimizer.learning_rate
        rate = float(lr.numpy())  # the rate is an optimizer variable too: keep it, not the best state's
        self._load(self.best_state)
        if self.recoveries > self.max_recoveries:
            self.model.stop_training = True
            self.stopped_at = epoch + 1
            action = "stopping there"
        elif self.recoveries > 1:
            rate *= self.lr_factor
            action = f"continuing at learning rate {rate:.3g}"
        else:
            action = "continuing"
        lr.assign(rate)
        print(
            f"t2i: Part 1 diverged at epoch {epoch + 1} (held-out MAE {mae:.4f}, best {self.best_mae:.4f} at "
            f"epoch {self.best_epoch}); restored the best weights, {action}",
            file=sys.stderr,
            flush=True,
        )

    def _state(self) -> list:
        return [v.numpy() for v in (*self.model.weights, *self.model.optimizer.variables)]

    def _load(self, values: list) -> None:
        for v, x in zip((*self.model.weights, *self.model.optimizer.variables), values, strict=True):
            v.assign(x)


def run_pretraining(cfg, out_dir: Path, verbose: bool = True) -> dict:
    """Train Part 1 into out_dir: text_encoder/generator weights (the best held-out ones), metrics.csv and
    result.json, whose dict it returns."""
    setup.configure(cfg.trainer, PRETRAIN_SEED)
    p = cfg.pretrain
    sampler = TextImageSampler(p.vocab_size, cfg.data.image_size, cfg.cache_dir, holdout.of(cfg), data_spec(cfg))
    te, g, model = build_supervised(cfg)
    model.compile(
        optimizer=keras.optimizers.Adam(p.learning_rate),
        loss=losses.tanh_cross_entropy,
        metrics=[pixel_mae, pixel_mse],
        jit_compile=cfg.trainer.jit_compile,
        run_eagerly=cfg.trainer.run_eagerly,
    )
    guard = HeldOutGuard(eval_set(sampler, 512), p)
    callbacks = [guard, MetricsLog(part1.metrics_path(out_dir))]
    if verbose:
        callbacks.append(_PretrainProgress())
    model.fit(
        supervised_dataset(sampler, p.batch_size, PRETRAIN_SEED),
        epochs=p.epochs,
        steps_per_epoch=p.steps_per_epoch,
        verbose=0,
        shuffle=False,
        callbacks=callbacks,
    )
    _, mae = guard.evaluate()  # of the best weights, which the guard put back
    te.save_weights(part1.weights(out_dir, "text_encoder"))
    g.save_weights(part1.weights(out_dir, "generator"))
    result = {
        "mae": mae,
        "epochs": guard.best_epoch,  # the epoch whose weights these are
        "epochs_trained": guard.stopped_at or p.epochs,
        "recoveries": guard.recoveries,
        "stopped_early": guard.stopped_at is not None,
        "final_learning_rate": float(model.optimizer.learning_rate.numpy()),
        "needs": part1.needs(cfg),
    }
    part1.write_result(out_dir, result)
    return result


class _PretrainProgress(Progress):
    def __init__(self):
        super().__init__("pretrain")

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {}, mae=logs.get("heldout_mae", float("nan")))
        super().on_epoch_end(epoch, logs)


def check_result(entry: Path, result: dict, max_mae: float) -> None:
    """Refuse a Part 1 result whose held-out MAE is above the threshold (PretrainingRejected)."""
    mae = result.get("mae", math.nan)
    if not mae <= max_mae:  # NaN fails too
        what = (
            f"diverged {result['recoveries']} times, " if result.get("recoveries") else ""
        ) + f"best held-out MAE {mae:.4f} at epoch {result.get('epochs')}"
        raise PretrainingRejected(
            f"Part 1 failed its check ({what}; pretrain.max_mae={max_mae}) and is not used; see "
            f"{part1.metrics_path(entry)}. Try a lower pretrain.learning_rate or more pretrain.epochs, "
            "or accept it with a higher pretrain.max_mae"
        )


def ensure_pretrained(cfg, verbose: bool = True, force: bool = False) -> Path:
    """The cache directory of the Part 1 result this config needs, training it first if absent.

    Only a result that passes its held-out check is cached; a failed one is kept beside the cache as
    <entry>.rejected for inspection, and PretrainingRejected is raised.
    """
    entry = part1.entry(cfg)
    max_mae = cfg.pretrain.max_mae
    with file_lock(part1.lock_path(entry)):
        if force and entry.exists():
            shutil.rmtree(entry)
        if part1.is_entry(entry):
            result = part1.read_result(entry)
            check_result(entry, result, max_mae)
            print(
                f"t2i: using the cached pretrained text encoder {entry} (held-out MAE {result['mae']:.4f})",
                file=sys.stderr,
                flush=True,
            )
            return entry
        print(
            f"t2i: no pretrained text encoder for this config yet; pretraining once ({cfg.pretrain.epochs} "
            f"epochs, cached in {entry})",
            file=sys.stderr,
            flush=True,
        )
        tmp = part1.staging_dir(entry)
        try:
            result = run_pretraining(cfg, tmp, verbose)
            rejected = part1.rejected_path(entry)
            shutil.rmtree(rejected, ignore_errors=True)
            try:
                check_result(rejected, result, max_mae)
            except PretrainingRejected:
                os.replace(tmp, rejected)
                raise
            os.replace(tmp, entry)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return entry
