"""A trained generator as a callable: text and colour tokens in, images out (what training's metrics and
samples, `t2i evaluate` and `t2i generate` all run).

A model comes from a run directory, its checkpoints/ directory, or a Part 1 cache entry (pretrained
text encoder + generator). `locate` reads only the config, without TensorFlow, so a bad path is reported
before the slow import; `load_model` then builds the networks and loads the weights. The `t2i generate`
command itself is t2i.generate.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

NETWORKS = ("text_encoder", "generator")
G_BATCH = 512


class ModelLoadError(RuntimeError):
    """The path holds no usable model: missing, not a run, or missing/corrupt/mismatched weights."""


@dataclass
class ModelSource:
    kind: str  # "run" | "checkpoints" | "pretrained"
    root: Path  # the run directory (or cache entry): where `evaluate` writes by default
    weights_dir: Path
    cfg: DictConfig  # at least data.vocab_size, data.image_size, model.text_encoder, model.generator, cache_dir

    @property
    def vocab_size(self) -> int:
        return int(self.cfg.data.vocab_size)

    @property
    def cache_dir(self) -> Path:
        return Path(os.path.expanduser(str(self.cfg.cache_dir)))


def _default_cache_dir() -> str:
    return os.environ.get("T2I_CACHE_DIR", "~/.cache/t2i")


def _read_run_config(path: Path) -> DictConfig:
    try:
        cfg = OmegaConf.load(path)
        # Touch every key we need so a truncated or foreign config fails here, not deep inside Keras.
        for key in ("data.vocab_size", "data.image_size", "model.text_encoder.features", "model.generator.latent_dim"):
            if OmegaConf.select(cfg, key) is None:
                raise KeyError(f"no {key}")
    except Exception as exc:  # YAML and OmegaConf raise many types; all mean the config is unusable
        raise ModelLoadError(f"{path} is unreadable or not a t2i run config ({type(exc).__name__}: {exc})") from None
    if OmegaConf.select(cfg, "cache_dir") is None:
        cfg.cache_dir = _default_cache_dir()
    return cfg


def _read_pretrained_config(entry: Path) -> DictConfig:
    try:
        needs = json.loads((entry / "result.json").read_text())["needs"]
        generator = {**needs["generator"], "latent_dim": 0}  # Part 1's generator never has a z
        cfg = OmegaConf.create(
            {
                "data": {"vocab_size": needs["pretrain"]["vocab_size"], "image_size": needs["image_size"]},
                "model": {"text_encoder": needs["text_encoder"], "generator": generator},
            }
        )
    except Exception as exc:  # bad JSON or missing keys alike
        raise ModelLoadError(f"{entry / 'result.json'} is unreadable ({type(exc).__name__}: {exc})") from None
    # Entries live in <cache_dir>/pretrain/<digest>; the mask tables sit next to them in <cache_dir>.
    cfg.cache_dir = str(entry.parent.parent) if entry.parent.name == "pretrain" else _default_cache_dir()
    return cfg


def locate(path) -> ModelSource:
    """What `path` is and the config of the model in it (no TensorFlow import)."""
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"{path} does not exist")
    if not path.is_dir():
        raise ModelLoadError(f"{path} is not a directory (want a run, its checkpoints/ or a pretrained cache entry)")
    if (path / "config.yaml").exists():
        return ModelSource("run", path, path / "checkpoints", _read_run_config(path / "config.yaml"))
    if (path / "result.json").exists():
        return ModelSource("pretrained", path, path, _read_pretrained_config(path))
    if (path.parent / "config.yaml").exists() and any((path / f"{n}.weights.h5").exists() for n in NETWORKS):
        return ModelSource("checkpoints", path.parent, path, _read_run_config(path.parent / "config.yaml"))
    raise ModelLoadError(
        f"{path} is not a t2i run directory (no config.yaml), a run's checkpoints/ directory, "
        "or a pretrained cache entry (no result.json)"
    )


class InferenceModel:
    """Text encoder + generator; images are numpy in [-1, 1], computed in batches of G_BATCH."""

    def __init__(self, text_encoder, generator, latent_dim: int, random_z: bool):
        import tensorflow as tf

        self.text_encoder, self.generator = text_encoder, generator
        self.latent_dim, self.random_z = latent_dim, random_z
        self._encode = tf.function(lambda c, s: text_encoder([c, s], training=False), reduce_retracing=True)
        self._decode = tf.function(lambda x: tf.tanh(generator(x, training=False)), reduce_retracing=True)

    def _z(self, n: int):
        import tensorflow as tf

        if not self.random_z:  # Part 1 trains with z held at zero
            return np.zeros((n, self.latent_dim), np.float32)
        # One fixed draw for all rows, so results do not depend on batching.
        return tf.random.stateless_uniform([n, self.latent_dim], tf.constant([0, 0]), -1.0, 1.0).numpy()

    def features(self, chars, spec) -> np.ndarray:
        chars, spec = np.asarray(chars, np.int32), np.asarray(spec, np.int32)
        return np.concatenate(
            [self._encode(chars[i : i + G_BATCH], spec[i : i + G_BATCH]).numpy() for i in range(0, len(chars), G_BATCH)]
        )

    def from_features(self, features) -> np.ndarray:
        features = np.asarray(features, np.float32)
        z = self._z(len(features)) if self.latent_dim > 0 else None
        out = []
        for i in range(0, len(features), G_BATCH):
            x = features[i : i + G_BATCH]
            inputs = x if z is None else [x, z[i : i + G_BATCH]]
            out.append(self._decode(inputs).numpy())
        return np.concatenate(out)

    def __call__(self, chars, spec) -> np.ndarray:
        return self.from_features(self.features(chars, spec))


def _load_weights(net, file: Path) -> None:
    if not file.exists():
        raise ModelLoadError(f"missing weights file {file} (has the run finished an epoch?)")
    try:
        net.load_weights(file)
    except Exception as exc:  # h5py, Keras and shape errors alike mean the file is unusable here
        reason = f"{type(exc).__name__}: {exc}"
        raise ModelLoadError(f"cannot load {file}: corrupt or from another architecture ({reason})") from None


def load_model(path) -> tuple[InferenceModel, DictConfig, int]:
    """(generator callable, config, vocabulary size) of a run dir, checkpoints dir or pretrained cache entry."""
    source = path if isinstance(path, ModelSource) else locate(path)
    from t2i.models import build_generator, build_text_encoder

    m = source.cfg.model
    te = build_text_encoder(m.text_encoder)
    g = build_generator(m.generator, m.text_encoder.features)
    for net, name in ((te, "text_encoder"), (g, "generator")):
        _load_weights(net, source.weights_dir / f"{name}.weights.h5")
    model = InferenceModel(te, g, int(m.generator.latent_dim), random_z=source.kind != "pretrained")
    return model, source.cfg, source.vocab_size
