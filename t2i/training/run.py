"""One GAN run from config to finished run directory, resumable at any epoch.

Run directory: config.yaml (resolved), status.json, metrics.csv (one row per epoch, 0-based `epoch`),
tensorboard/, samples/epoch_XXXX.png, checkpoints/ (exact resume state + the weights `generate` loads).
"""

from __future__ import annotations

import csv
import math
import os
import time
import traceback
from pathlib import Path

import keras
import tensorflow as tf
from omegaconf import OmegaConf

from t2i.data.dataset import TextImageSampler, eval_set, gan_dataset
from t2i.models import build_discriminator, build_generator, build_text_encoder
from t2i.training import callbacks as cb
from t2i.training import setup, state
from t2i.training.gan import ConditionalGAN
from t2i.training.pretrain import ensure_pretrained
from t2i.training.rundir import RunDirError, check_run_dir, claim, read_status, write_status  # noqa: F401


def build_gan(cfg, text_encoder_weights: Path | None) -> ConditionalGAN:
    m = cfg.model
    te = build_text_encoder(m.text_encoder)
    if text_encoder_weights is not None:
        te.load_weights(text_encoder_weights)
    g = build_generator(m.generator, m.text_encoder.features)
    d = build_discriminator(m.discriminator, cfg.data.image_size, m.text_encoder.features)
    gan = ConditionalGAN(te, g, d, cfg.gan, latent_dim=m.generator.latent_dim)
    t = cfg.trainer
    gan.compile(
        d_optimizer=make_optimizer(cfg.optimizer),
        g_optimizer=make_optimizer(cfg.optimizer),
        steps_per_execution=t.steps_per_execution or t.steps_per_epoch,
        jit_compile=t.jit_compile,
    )
    return gan


def make_optimizer(opt):
    if opt.name == "rmsprop":
        return keras.optimizers.RMSprop(opt.learning_rate)
    return keras.optimizers.Adam(opt.learning_rate, beta_1=opt.beta_1, beta_2=opt.beta_2)


def _truncate_metrics(path: Path, epochs_done: int) -> None:
    """Drop rows of epochs after the last checkpoint (logged, then lost in a crash)."""
    if not path.exists():
        return
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return
    header, body = rows[0], rows[1:]
    keep = [r for r in body if len(r) == len(header) and r[0].isdigit() and int(r[0]) < epochs_done]
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as fh:
        csv.writer(fh).writerows([header, *keep])
    os.replace(tmp, path)


def train(cfg) -> dict:
    """Train (or resume, or skip if finished) the run `cfg` describes; returns its final status."""
    run_dir = Path(cfg.run_dir)
    mode = check_run_dir(cfg)
    if mode == "done":
        return {**read_status(run_dir), "skipped": True}
    run_dir.mkdir(parents=True, exist_ok=True)
    with claim(run_dir):
        OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
        started = time.time()
        write_status(run_dir, status="running", reason=None, pid=os.getpid())
        try:
            result = _fit(cfg, run_dir, mode)
        except BaseException as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            write_status(run_dir, status="failed", reason=reason, traceback=traceback.format_exc()[-4000:])
            raise
        minutes = read_status(run_dir).get("minutes", 0.0) + (time.time() - started) / 60
        write_status(run_dir, status="done", reason=None, minutes=round(minutes, 3), **result)
        return read_status(run_dir)


def _fit(cfg, run_dir: Path, mode: str) -> dict:
    setup.configure(cfg.trainer, cfg.seed)
    te_weights = None
    if cfg.gan.text_encoder_init == "pretrained":
        te_weights = ensure_pretrained(cfg, verbose=cfg.trainer.verbose) / "text_encoder.weights.h5"
    setup.configure(cfg.trainer, cfg.seed)  # pretraining reseeds; a run's own draws start from its seed
    sampler = TextImageSampler(cfg.data.vocab_size, cfg.data.image_size, cfg.cache_dir)
    evalset = eval_set(sampler, cfg.data.eval_samples)
    gan = build_gan(cfg, te_weights)

    initial_epoch = 0
    ckpt = run_dir / "checkpoints" / "state.npz"
    if mode == "resume" and ckpt.exists():
        initial_epoch = state.load_state(ckpt, state.training_variables(gan))
    _truncate_metrics(run_dir / "metrics.csv", initial_epoch)

    writer = tf.summary.create_file_writer(str(run_dir / "tensorboard" / "samples"))
    callbacks = [
        cb.EpochSchedule(cfg),
        cb.Evaluation(evalset),
        keras.callbacks.CSVLogger(str(run_dir / "metrics.csv"), append=True),
        keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), write_graph=False, profile_batch=0),
        cb.SampleGrid(evalset, run_dir / "samples", writer, cfg.trainer.sample_every),
        cb.HParams(cfg, run_dir / "tensorboard", run_dir / "metrics.csv"),
        cb.Checkpoint(run_dir, cfg.trainer.checkpoint_every, lambda e: write_status(run_dir, epochs_done=e)),
    ]
    if cfg.trainer.verbose:
        callbacks.insert(3, cb.Progress(f"{cfg.name} seed={cfg.seed}"))
    if initial_epoch < cfg.trainer.epochs:
        gan.fit(
            gan_dataset(sampler, cfg, start_step=initial_epoch * cfg.trainer.steps_per_epoch),
            epochs=cfg.trainer.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=cfg.trainer.steps_per_epoch,
            verbose=0,
            shuffle=False,
            callbacks=callbacks,
        )
    return summarise_metrics(run_dir / "metrics.csv")


def summarise_metrics(path: Path) -> dict:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    maes = [float(r["mae"]) for r in rows]
    return {
        "epochs_done": len(rows),
        "final_mae": maes[-1] if maes else math.nan,
        "best_mae": min(maes) if maes else math.nan,
    }
