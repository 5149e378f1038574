"""One GAN run from config to finished run directory, resumable at any epoch.

The run directory's layout and the checks before a resume are in store/rundir.py; the checkpoint in store/checkpoint.py.
"""

from __future__ import annotations

import math
import signal
import sys
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

import keras
import tensorflow as tf
from omegaconf import OmegaConf

from t2i.data import holdout
from t2i.data.dataset import TextImageSampler, data_spec, eval_set, gan_dataset
from t2i.models import build_discriminator, build_generator, build_text_encoder
from t2i.models.style_encoder import build_style_encoder
from t2i.store import checkpoint as state
from t2i.store import part1
from t2i.store.checkpoint import CheckpointError
from t2i.store.rundir import (
    RunInterrupted,
    check_run_dir,
    claim,
    metrics_summary,
    read_metrics,
    read_status,
    resume_point,
    running_fields,
    truncate_metrics,
    write_status,
)
from t2i.training import callbacks as cb
from t2i.training import optim, setup
from t2i.training.gan import ConditionalGAN
from t2i.training.pretrain import ensure_pretrained
from t2i.training.style import StyleEncoderUpdate

# gan.text_encoder_init: where a new run's text encoder starts (a resumed one starts from its checkpoint).
TEXT_ENCODER_INITS = ("pretrained", "random")
# gan.generator_init: G from scratch, or Part 1's supervised G (a converged G for D to learn against).
GENERATOR_INITS = ("random", "pretrained")


def generator_init_problem(cfg) -> str | None:
    if cfg.gan.generator_init == "pretrained" and cfg.model.generator.latent_dim:
        return "gan.generator_init=pretrained needs model.generator.latent_dim=0 (Part 1's G has no z)"
    return None


def build_gan(cfg, text_encoder_weights: Path | None, generator_weights: Path | None = None) -> ConditionalGAN:
    m = cfg.model
    te = build_text_encoder(m.text_encoder, cfg.gan.conditional)
    if text_encoder_weights is not None:
        te.load_weights(text_encoder_weights)
    g = build_generator(m.generator, m.text_encoder.features)
    if generator_weights is not None:
        g.load_weights(generator_weights)
    d = build_discriminator(m.discriminator, cfg.data.image_size, m.text_encoder.features)
    style = {}
    if m.style_encoder:  # Reed et al.'s S, trained on G's images with its own optimizer (t2i/training/style.py)
        s = build_style_encoder(m, cfg.data.image_size, m.generator.latent_dim)
        style = {"style_encoder": s, "style_update": StyleEncoderUpdate(optim.build_style_optimizer(cfg.optimizer))}
    gan = ConditionalGAN.from_config_of(
        cfg.gan,
        te,
        g,
        d,
        latent_dim=m.generator.latent_dim,
        latent_distribution=m.generator.latent_distribution,
        **style,
    )
    t = cfg.trainer
    optimizers = optim.build_optimizers(cfg.optimizer, t.steps_per_epoch)
    gan.compile(
        d_optimizer=optimizers.d,
        g_optimizer=optimizers.g,
        steps_per_execution=t.steps_per_execution or t.steps_per_epoch,
        jit_compile=t.jit_compile,
        run_eagerly=t.run_eagerly,
    )
    return gan


def train(cfg) -> dict:
    """Train (or resume, or skip if finished) the run `cfg` describes; returns its final status with
    `outcome`: done, resumed or skipped. Damage found before training (DamagedRunDir, CheckpointError) leaves
    every file as it was; Ctrl-C or SIGTERM records `interrupted` and raises RunInterrupted."""
    run_dir = Path(cfg.run_dir)
    if check_run_dir(cfg) == "done":
        return _skipped(run_dir)
    # The cache first: a cache_dir that cannot be created must fail before the run directory exists.
    Path(cfg.cache_dir).mkdir(parents=True, exist_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    with claim(run_dir), _signals_interrupt():
        if check_run_dir(cfg) == "done":  # finished by another process while we waited for nothing
            return _skipped(run_dir)
        start = resume_point(cfg)
        if start is None:  # nothing to restore: say `running` now, as Part 1 may train first for minutes
            _mark_running(cfg, run_dir)
        try:
            session = _Session(cfg, run_dir, restore=start is not None)
        except CheckpointError:
            raise  # before anything was written
        except BaseException as exc:
            raise _stopped(run_dir, exc) from None
        if start is not None:
            _mark_running(cfg, run_dir)
        try:
            result = session.fit()
        except BaseException as exc:
            raise _stopped(run_dir, exc) from None
        write_status(run_dir, status="done", reason=None, **result)
        return {**read_status(run_dir), "outcome": "resumed" if session.initial_epoch else "done"}


def _skipped(run_dir: Path) -> dict:
    return {**read_status(run_dir), "outcome": "skipped", "skipped": True}


def _mark_running(cfg, run_dir: Path) -> None:
    OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
    write_status(run_dir, **running_fields())


def _stopped(run_dir: Path, exc: BaseException) -> BaseException:
    """Record why training stopped; returns what to raise: RunInterrupted for Ctrl-C or SIGTERM."""
    if isinstance(exc, KeyboardInterrupt):
        write_status(run_dir, status="interrupted", reason=str(exc) or "Ctrl-C")
        done = read_status(run_dir).get("epochs_done") or 0
        return RunInterrupted(f"{run_dir} interrupted after epoch {done}; rerun the same command to resume")
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    write_status(run_dir, status="failed", reason=reason, traceback=traceback.format_exc()[-4000:])
    return exc


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's preemption, `kill`): stop as Ctrl-C does, so the run is marked resumable."""


@contextmanager
def _signals_interrupt():
    def handler(signum, frame):
        raise Terminated(signal.Signals(signum).name)

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (some launchers' workers): leave signals as they are
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Session:
    """The networks, data and callbacks of one run, restored to its checkpoint."""

    def __init__(self, cfg, run_dir: Path, restore: bool):
        self.cfg, self.run_dir = cfg, run_dir
        setup.configure(cfg.trainer, cfg.seed)
        weights = {}  # what starts from Part 1; a checkpoint holds the networks already
        wanted = {"text_encoder": cfg.gan.text_encoder_init, "generator": cfg.gan.generator_init}
        if "pretrained" in wanted.values() and not restore:
            entry = ensure_pretrained(cfg, verbose=cfg.trainer.verbose)
            weights = {net: part1.weights(entry, net) for net, init in wanted.items() if init == "pretrained"}
            setup.configure(cfg.trainer, cfg.seed)  # pretraining reseeds; a run's own draws start from its seed
        self.holdout = holdout.of(cfg)
        self.sampler = TextImageSampler(
            cfg.data.vocab_size, cfg.data.image_size, cfg.cache_dir, self.holdout, data_spec(cfg)
        )
        self.evalset = eval_set(self.sampler, cfg.data.eval_samples)
        self.gan = build_gan(cfg, weights.get("text_encoder"), weights.get("generator"))
        self.checkpoint = state.RunCheckpoint(self.gan, run_dir)
        self.initial_epoch = self.checkpoint.restore() if restore else 0

    def fit(self) -> dict:
        cfg, run_dir = self.cfg, self.run_dir
        dropped = truncate_metrics(run_dir / "metrics.csv", self.initial_epoch)
        if self.initial_epoch or dropped:
            note = f" (dropping {dropped} logged epochs the interruption left without a checkpoint)" if dropped else ""
            print(f"t2i: resuming {run_dir} after epoch {self.initial_epoch}{note}", file=sys.stderr, flush=True)
        # Training minutes go into status.json with each checkpoint, so a killed run's time is not lost.
        before, started = read_status(run_dir).get("minutes") or 0.0, time.time()

        def minutes() -> float:
            return round(before + (time.time() - started) / 60, 3)

        writer = tf.summary.create_file_writer(str(run_dir / "tensorboard" / "samples"))
        callbacks = [
            cb.GeneratorWarmup(cfg.gan.d_only_epochs),
            *optim.schedule(cfg.optimizer, cfg.trainer.steps_per_epoch).callbacks(),
            cb.Throughput(cfg.trainer.steps_per_epoch, cfg.data.batch_size),
            cb.VocabularyLog(cfg.data),
            cb.LearningRateLog(),
            cb.DivergenceGuard(),
            cb.Evaluation(
                self.evalset, self.holdout, cfg.data.vocab_size, cb.true_images_of(cfg, self.sampler, self.evalset)
            ),
            cb.MetricsLog(run_dir / "metrics.csv"),
            keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), write_graph=False, profile_batch=0),
            cb.SampleGrid(self.evalset, run_dir / "samples", writer, cfg.trainer.sample_every),
            cb.HParams(cfg, run_dir / "tensorboard", run_dir / "metrics.csv"),
            cb.Checkpoint(
                self.checkpoint,
                run_dir,
                cfg.trainer.checkpoint_every,
                lambda e: write_status(run_dir, epochs_done=e, minutes=minutes()),
            ),
        ]
        if cfg.trainer.verbose:
            best = metrics_summary(read_metrics(run_dir))["best_mae"]
            after = next(i for i, c in enumerate(callbacks) if isinstance(c, cb.MetricsLog)) + 1  # logs complete
            progress = cb.Progress(f"{cfg.name} seed={cfg.seed}", best=math.inf if math.isnan(best) else best)
            callbacks.insert(after, progress)
        if self.initial_epoch < cfg.trainer.epochs:
            self.gan.fit(
                gan_dataset(self.sampler, cfg, start_step=self.initial_epoch * cfg.trainer.steps_per_epoch),
                epochs=cfg.trainer.epochs,
                initial_epoch=self.initial_epoch,
                steps_per_epoch=cfg.trainer.steps_per_epoch,
                verbose=0,
                shuffle=False,
                callbacks=callbacks,
            )
        return {**metrics_summary(read_metrics(run_dir)), "minutes": minutes()}
