"""Part 1: the generator alone, supervised by tanh cross-entropy; yields the pretrained text encoder.

Results are cached by what they depend on (networks, image size, pretraining budget), so every run and
every sweep that needs the same encoder shares one pretraining. A file lock makes concurrent runs wait
for the one that trains instead of training it again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import keras
import tensorflow as tf
from omegaconf import OmegaConf

from t2i import losses
from t2i.data.dataset import TextImageSampler, eval_set, supervised_dataset
from t2i.locks import file_lock
from t2i.models import build_generator, build_text_encoder
from t2i.training import setup
from t2i.training.callbacks import Progress

PRETRAIN_SEED = 0


def pretrain_needs(cfg) -> dict:
    """What the pretrained text encoder depends on; runs that agree on it share one pretraining."""
    generator = OmegaConf.to_container(cfg.model.generator)
    generator.pop("latent_dim")  # pretraining holds z at zero, so G's latent size cannot matter
    return OmegaConf.to_container(
        OmegaConf.create(
            {
                "text_encoder": cfg.model.text_encoder,
                "generator": generator,
                "image_size": cfg.data.image_size,
                "pretrain": cfg.pretrain,
                "format": 2,
            }
        )
    )


def cache_entry(cfg) -> Path:
    needs = json.dumps(pretrain_needs(cfg), sort_keys=True)
    digest = hashlib.sha256(needs.encode()).hexdigest()[:16]
    return Path(os.path.expanduser(cfg.cache_dir)) / "pretrain" / digest


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


def run_pretraining(cfg, out_dir: Path, verbose: bool = True) -> None:
    """Train Part 1 into out_dir: text_encoder/generator weights and metrics.csv."""
    setup.configure(cfg.trainer, PRETRAIN_SEED)
    p = cfg.pretrain
    sampler = TextImageSampler(p.vocab_size, cfg.data.image_size, cfg.cache_dir)
    te, g, model = build_supervised(cfg)
    model.compile(
        optimizer=keras.optimizers.Adam(p.learning_rate),
        loss=losses.tanh_cross_entropy,
        metrics=[pixel_mae, pixel_mse],
        jit_compile=cfg.trainer.jit_compile,
    )
    callbacks = [keras.callbacks.CSVLogger(str(out_dir / "metrics.csv"))]
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
    evalset = eval_set(sampler, 512)
    # Called directly: Keras's predict() on this two-input model was seen to return different outputs.
    pred = tf.tanh(model([evalset["chars"], evalset["spec"]], training=False))
    mae = float(tf.reduce_mean(tf.abs(pred - evalset["images"])))
    te.save_weights(out_dir / "text_encoder.weights.h5")
    g.save_weights(out_dir / "generator.weights.h5")
    (out_dir / "result.json").write_text(
        json.dumps({"mae": mae, "epochs": p.epochs, "needs": pretrain_needs(cfg)}, indent=2)
    )


class _PretrainProgress(Progress):
    def __init__(self):
        super().__init__("pretrain")

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {}, mae=logs.get("pixel_mae", float("nan")))
        super().on_epoch_end(epoch, logs)


def ensure_pretrained(cfg, verbose: bool = True, force: bool = False) -> Path:
    """The cache directory of the Part 1 result this config needs, training it first if absent."""
    entry = cache_entry(cfg)
    with file_lock(entry.with_suffix(".lock")):
        if force and entry.exists():
            shutil.rmtree(entry)
        if (entry / "result.json").exists():
            return entry
        print(
            f"t2i: no pretrained text encoder for this config yet; pretraining once ({cfg.pretrain.epochs} "
            f"epochs, cached in {entry})",
            file=sys.stderr,
            flush=True,
        )
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=entry.parent))
        try:
            run_pretraining(cfg, tmp, verbose)
            os.replace(tmp, entry)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return entry
