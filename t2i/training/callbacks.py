"""Everything around the GAN step that happens once an epoch, as Keras callbacks.

Order matters: callbacks that add numbers to `logs` (schedule, evaluation) come before the ones that
write them (metrics.csv, TensorBoard, progress), and the checkpoint comes last so a saved epoch is a logged one.
"""

from __future__ import annotations

import csv
import io
import math
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from t2i import images
from t2i.data.dataset import vocab_at_epoch
from t2i.data.vocab import COLOURS, char_labels
from t2i.inference import InferenceModel
from t2i.store import rundir, weights


class TrainingDiverged(RuntimeError):
    pass


class GeneratorWarmup(keras.callbacks.Callback):
    """G is frozen for the first `d_only_epochs` epochs, so that D gets ahead."""

    def __init__(self, d_only_epochs: int):
        super().__init__()
        self.d_only_epochs = d_only_epochs

    def on_epoch_begin(self, epoch, logs=None):
        self.model.train_generator.assign(epoch >= self.d_only_epochs)


class Throughput(keras.callbacks.Callback):
    """An epoch's seconds and training images per second."""

    def __init__(self, steps_per_epoch: int, batch_size: int):
        super().__init__()
        self.images_per_epoch = steps_per_epoch * batch_size
        self.t0 = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.t0
        logs.update(seconds=seconds, images_per_s=self.images_per_epoch / seconds)


class VocabularyLog(keras.callbacks.Callback):
    """The training vocabulary of each epoch (the curriculum's, if any; the data pipeline draws from it)."""

    def __init__(self, data_cfg):
        super().__init__()
        self.data_cfg = data_cfg

    def vocab(self, epoch: int) -> int:
        d, cur = self.data_cfg, self.data_cfg.curriculum
        return int(vocab_at_epoch(epoch, d.vocab_size, cur.start_vocab, cur.start_epoch, cur.every))

    def on_epoch_end(self, epoch, logs=None):
        logs["vocab_size"] = self.vocab(epoch)


class LearningRateLog(keras.callbacks.Callback):
    """G's and D's learning rates in the epoch just trained."""

    def on_epoch_end(self, epoch, logs=None):
        logs["learning_rate"] = float(self.model.g_optimizer.learning_rate.numpy())
        logs["d_learning_rate"] = float(self.model.d_optimizer.learning_rate.numpy())


class DivergenceGuard(keras.callbacks.Callback):
    """Stops a run whose logged numbers are no longer finite (the run is marked failed with the reason)."""

    def on_epoch_end(self, epoch, logs=None):
        bad = [k for k, v in logs.items() if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            raise TrainingDiverged(f"non-finite {', '.join(sorted(bad))} at epoch {epoch}")


def inference(gan) -> InferenceModel:
    """The GAN's generator as `t2i generate` runs it (one inference path for metrics, samples and users)."""
    return InferenceModel(gan.text_encoder, gan.generator, gan.latent_dim, True, gan.latent_distribution)


def generated_error(generator: InferenceModel, evalset) -> tuple[float, float]:
    """MAE and MSE of G(text) against the true images, in [-1, 1] pixel units (the reference's metric)."""
    diff = generator(evalset["chars"], evalset["spec"]) - evalset["images"]
    return float(np.abs(diff).mean()), float(np.square(diff).mean())


class Evaluation(keras.callbacks.Callback):
    """`mae` and `mse` on the evaluation set; with a hold-out (t2i/data/holdout.py) also `mae_seen` and
    `mae_unseen`, the MAE of its inputs that training draws and of those it never draws (NaN if none).

    A sample's error is to its true image, or, where a text has several (`truths`, see true_images_of), to
    the nearest of them by MAE: on the style data the render of its text in the background G chose, and for
    the unconditional GAN the nearest render of any text. With several true images a text is unseen when its
    character pair is held out (its colour pairs are a background's, which the text does not name)."""

    def __init__(self, evalset, holdout=None, vocab_size: int | None = None, truths=None):
        super().__init__()
        self.evalset, self.truths = evalset, truths
        self.unseen = None
        if holdout is not None and (truths is None or truths.ndim == 5):
            pairs = char_labels(np.asarray(evalset["chars"]))
            bg, fg = np.asarray(evalset["bg"]), np.asarray(evalset["fg"])
            if truths is None:
                self.unseen = holdout.unseen(pairs, bg, fg, vocab_size)
            else:  # a style text names no background: only its character pair can be unseen
                self.unseen = holdout.pair_mask(vocab_size)[pairs[:, 0] * vocab_size + pairs[:, 1]]

    def on_train_begin(self, logs=None):
        self.generator = inference(self.model)  # traced once, not every epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.truths is None and self.unseen is None:
            logs["mae"], logs["mse"] = generated_error(self.generator, self.evalset)
            return
        if self.truths is None:
            diff = self.generator(self.evalset["chars"], self.evalset["spec"]) - self.evalset["images"]
            logs["mae"], logs["mse"] = float(np.abs(diff).mean()), float(np.square(diff).mean())
            per_sample = np.abs(diff).reshape(len(diff), -1).mean(axis=1)
        else:
            n = len(self.truths) if self.truths.ndim == 5 else UNCONDITIONAL_EVAL_SAMPLES
            fake = self.generator(self.evalset["chars"][:n], self.evalset["spec"][:n])
            per_sample, per_sample_mse, _ = nearest(fake, self.truths)
            logs["mae"], logs["mse"] = float(per_sample.mean()), float(per_sample_mse.mean())
        if self.unseen is not None:
            for name, rows in (("mae_seen", ~self.unseen), ("mae_unseen", self.unseen)):
                logs[name] = float(per_sample[rows].mean()) if rows.any() else math.nan


# The unconditional GAN's samples are compared with every render of every text (6,400 for the digits): a
# share of the evaluation set keeps that to about a second per epoch.
UNCONDITIONAL_EVAL_SAMPLES = 64


def true_images_of(cfg, sampler, evalset):
    """What Evaluation compares G's images with where a text has no single true image: None (the eval set's
    own images) for the reference's data; [N, 8, ...] renders of each text in every background for the
    style data; [K, ...] renders of every combination for the unconditional GAN."""
    import itertools

    from t2i.data.dataset import data_spec

    if not cfg.gan.conditional:
        n = sampler.vocab_size
        rows = np.array(list(itertools.product(range(n), range(n), range(len(COLOURS)), range(len(COLOURS)))), np.int32)
        return sampler.images(tf.constant(rows[:, :2]), tf.constant(rows[:, 2]), tf.constant(rows[:, 3])).numpy()
    if data_spec(cfg) == "full":
        return None
    return sampler.renders_over_backgrounds(tf.constant(evalset["pairs"]), tf.constant(evalset["fg"])).numpy()


def nearest(fake, truths, chunk: int = 4):
    """Per sample of `fake` [N, ...]: the MAE and MSE to its nearest (by MAE) image of `truths` ([N, K, ...]
    per sample, or [K, ...] shared), and that image's index."""
    maes, mses, index = [], [], []
    for i in range(0, len(fake), chunk):
        f = fake[i : i + chunk, None]
        t = truths[i : i + chunk] if truths.ndim == fake.ndim + 1 else truths[None]
        diff = f - t
        mae = np.abs(diff).mean(axis=(2, 3, 4))
        best = mae.argmin(axis=1)
        rows = np.arange(len(best))
        maes.append(mae[rows, best])
        mses.append(np.square(diff[rows, best]).mean(axis=(1, 2, 3)))
        index.append(best)
    return np.concatenate(maes), np.concatenate(mses), np.concatenate(index)


class SampleGrid(keras.callbacks.Callback):
    """Every `every` epochs: truth | generated for fixed texts, as PNG and in TensorBoard."""

    def __init__(self, evalset, out_dir: Path, writer, every: int, count: int = 16):
        super().__init__()
        self.out_dir, self.writer, self.every = out_dir, writer, every
        self.sample = {k: v[:count] for k, v in evalset.items()}
        self.captions = [images.caption(c, s) for c, s in zip(self.sample["chars"], self.sample["spec"])]

    def on_train_begin(self, logs=None):
        self.generator = inference(self.model)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every and epoch + 1 != self.params.get("epochs"):
            return
        fake = self.generator(self.sample["chars"], self.sample["spec"])
        truth = self.sample["images"]
        images.save_pairs_figure(
            self.out_dir / f"epoch_{epoch + 1:04d}.png",
            truth,
            fake,
            self.captions,
            title=f"epoch {epoch + 1}: truth | generated",
        )
        with self.writer.as_default():
            tf.summary.image("samples (truth | generated)", images.pairs_array(truth, fake)[None], step=epoch)
        self.writer.flush()


class MetricsLog(keras.callbacks.Callback):
    """metrics.csv: one row per epoch, written whole and flushed, continuing an existing file under its header.

    Not Keras's CSVLogger: without validation data it adds an empty val_* column per metric, and when it
    appends it never checks that the file's header matches its own columns.
    """

    def __init__(self, path: Path):
        super().__init__()
        self.path = path
        self.columns: list[str] | None = None

    def on_train_begin(self, logs=None):
        self.columns = rundir.metrics_header(self.path)

    def on_epoch_end(self, epoch, logs=None):
        values = {"epoch": epoch, **{k: _number(v) for k, v in (logs or {}).items()}}
        if self.columns is None:
            self.columns = ["epoch", *sorted(k for k in values if k != "epoch")]
            self._write(self.columns, mode="w")
        new = [k for k in sorted(values) if k not in self.columns]
        if new:  # a metric the file has no column for yet: widen it rather than drop the numbers
            rundir.extend_metrics_header(self.path, new)
            self.columns = [*self.columns, *new]
        self._write([values.get(c, "") for c in self.columns])

    def _write(self, row, mode="a"):
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(row)
        with open(self.path, mode, newline="") as fh:
            fh.write(out.getvalue())  # one write per line: a crash leaves whole lines or one partial last line


def _number(value):
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    return value


class Checkpoint(keras.callbacks.Callback):
    """Every `every` epochs (and at the last): the exact resume state, the weights `t2i generate` loads,
    then `on_save(epoch)`. It comes after MetricsLog, so a checkpointed epoch is always a logged one."""

    def __init__(self, checkpoint, run_dir: Path, every: int, on_save=None):
        super().__init__()
        self.checkpoint, self.run_dir, self.every, self.on_save = checkpoint, run_dir, every, on_save

    def save(self, epoch: int) -> None:
        self.checkpoint.save(epoch)
        ckpt = self.run_dir / "checkpoints"
        for name in rundir.WEIGHT_NETWORKS:
            net = getattr(self.model, name, None)
            if net is not None:  # style_encoder only where the run has S
                tmp = weights.temporary(ckpt, name)
                net.save_weights(tmp)
                tmp.replace(rundir.weights_file(ckpt, name))
        if self.on_save:
            self.on_save(epoch)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0 or epoch + 1 == self.params.get("epochs"):
            self.save(epoch + 1)


class Progress(keras.callbacks.Callback):
    """One line an epoch: epoch, MAE, best MAE, vocabulary, time and ETA."""

    def __init__(self, label: str, stream=None, best: float = math.inf):
        super().__init__()
        self.label, self._stream = label, stream
        self.best = best  # a resumed run's best so far, so that "best" is the run's, not this process's
        self.started = 0.0
        self.first_epoch = 0

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()
        self.first_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        if self.first_epoch is None:
            self.first_epoch = epoch
        self.best = min(self.best, logs.get("mae", math.inf))
        total = self.params.get("epochs")
        elapsed = time.perf_counter() - self.started
        per_epoch = elapsed / (epoch + 1 - self.first_epoch)
        eta = per_epoch * (total - epoch - 1)
        print(
            f"[{self.label}] epoch {epoch + 1}/{total}  mae {logs.get('mae', float('nan')):.4f}  "
            f"best {self.best:.4f}  vocab {logs.get('vocab_size', '-')}  {per_epoch:.1f}s/epoch  "
            f"ETA {_duration(eta)}",
            file=self._stream or sys.stderr,  # looked up now: whoever redirected stderr since import gets it
            flush=True,
        )


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


# The hyper-parameters shown in TensorBoard's HParams dashboard, by config key.
HPARAM_KEYS = (
    "name",
    "seed",
    "data.vocab_size",
    "data.batch_size",
    "optimizer.name",
    "optimizer.learning_rate",
    "optimizer.beta_1",
    "optimizer.beta_2",
    "gan.loss",
    "gan.penalty.name",
    "optimizer.d_lr_factor",
    "gan.d_step",
    "gan.d_substeps",
    "gan.d_only_steps",
    "gan.fresh_batches",
    "gan.g_step_d_training",
    "gan.text_encoder_init",
    "model.discriminator.image_noise",
    "model.discriminator.minibatch_discrimination.kernels",
    "model.generator.latent_dim",
    "trainer.epochs",
)


def hparams_of(cfg) -> dict:
    from omegaconf import OmegaConf

    out = {}
    for key in HPARAM_KEYS:
        value = OmegaConf.select(cfg, key)
        out[key] = value if isinstance(value, (bool, int, float, str)) else str(list(value))
    return out


class HParams(keras.callbacks.Callback):
    """Logs the run's hyper-parameters, and its final and best MAE, for the HParams dashboard."""

    def __init__(self, cfg, log_dir: Path, metrics_csv: Path):
        super().__init__()
        self.cfg, self.log_dir, self.metrics_csv = cfg, log_dir, metrics_csv

    def on_train_begin(self, logs=None):
        from tensorboard.plugins.hparams import api as hp

        with tf.summary.create_file_writer(str(self.log_dir)).as_default():
            hp.hparams(hparams_of(self.cfg), trial_id=f"{self.cfg.name}/seed={self.cfg.seed}")

    def on_train_end(self, logs=None):
        summary = rundir.metrics_summary(rundir.read_metrics(self.metrics_csv))
        writer = tf.summary.create_file_writer(str(self.log_dir))
        with writer.as_default():
            tf.summary.scalar("final_mae", summary["final_mae"], step=summary["epochs_done"])
            tf.summary.scalar("best_mae", summary["best_mae"], step=summary["epochs_done"])
        writer.flush()
