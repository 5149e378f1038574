"""A trained generator as a callable: text and colour tokens in, images out (what training's metrics and
samples, `t2i evaluate` and `t2i generate` all run).

A model comes from a run directory, its checkpoints/ directory, or a Part 1 cache entry (pretrained
text encoder + generator). `locate` reads only the config, without TensorFlow, so a bad path is reported
before the slow import; `load_model` then builds the networks and loads the weights. The `t2i generate`
command itself is t2i.generate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from t2i.store import part1, weights
from t2i.store.rundir import weights_file, with_added_keys

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

    def weights_file(self, network: str) -> Path:
        if self.kind == "pretrained":
            return part1.weights(self.weights_dir, network)
        return weights_file(self.weights_dir, network)  # as training's Checkpoint callback writes them


def _read_run_config(path: Path) -> DictConfig:
    try:
        cfg = OmegaConf.create(with_added_keys(OmegaConf.to_container(OmegaConf.load(path))))
        # Touch every key we need so a truncated or foreign config fails here, not deep inside Keras.
        for key in ("data.vocab_size", "data.image_size", "model.text_encoder.features", "model.generator.latent_dim"):
            if OmegaConf.select(cfg, key) is None:
                raise KeyError(f"no {key}")
    except Exception as exc:  # YAML and OmegaConf raise many types; all mean the config is unusable
        raise ModelLoadError(f"{path} is unreadable or not a t2i run config ({type(exc).__name__}: {exc})") from None
    if OmegaConf.select(cfg, "cache_dir") is None:
        from t2i.config import default_cache_dir

        cfg.cache_dir = default_cache_dir()
    return cfg


def _read_pretrained_config(entry: Path) -> DictConfig:
    try:
        return part1.model_config(entry)
    except part1.Part1CacheError as exc:
        raise ModelLoadError(str(exc)) from None


def locate(path) -> ModelSource:
    """What `path` is and the config of the model in it (no TensorFlow import)."""
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"{path} does not exist")
    if not path.is_dir():
        raise ModelLoadError(f"{path} is not a directory (want a run, its checkpoints/ or a pretrained cache entry)")
    if (path / "config.yaml").exists():
        return ModelSource("run", path, path / "checkpoints", _read_run_config(path / "config.yaml"))
    if part1.is_entry(path):
        return ModelSource("pretrained", path, path, _read_pretrained_config(path))
    if (path.parent / "config.yaml").exists() and weights.listed(path):
        return ModelSource("checkpoints", path.parent, path, _read_run_config(path.parent / "config.yaml"))
    raise ModelLoadError(
        f"{path} is not a t2i run directory (no config.yaml), a run's checkpoints/ directory, "
        f"or a pretrained cache entry (no {part1.RESULT})"
    )


class InferenceModel:
    """Text encoder + generator; images are numpy in [-1, 1], computed in batches of G_BATCH."""

    def __init__(
        self,
        text_encoder,
        generator,
        latent_dim: int,
        random_z: bool,
        latent_distribution="uniform",
        style_encoder=None,
    ):
        import tensorflow as tf

        self.text_encoder, self.generator, self.style_encoder = text_encoder, generator, style_encoder
        self.latent_dim, self.random_z, self.latent_distribution = latent_dim, random_z, latent_distribution

        # Signatures with a free batch dimension: one trace per function, whatever the batch sizes.
        def batch_of(net):
            return [tf.TensorSpec([None, *x.shape[1:]], x.dtype) for x in net.inputs]

        if text_encoder is not None:
            self._encode = tf.function(
                lambda c, s: text_encoder([c, s], training=False), input_signature=batch_of(text_encoder)
            )
        if generator is not None:
            g_inputs = batch_of(generator)
            self._decode = tf.function(
                lambda x: tf.tanh(generator(x, training=False)),
                input_signature=[g_inputs if len(g_inputs) > 1 else g_inputs[0]],
            )
        if style_encoder is not None:
            self._style = tf.function(
                lambda x: style_encoder(x, training=False), input_signature=batch_of(style_encoder)
            )

    def _z(self, n: int):
        import tensorflow as tf

        if not self.random_z:  # Part 1 trains with z held at zero
            return np.zeros((n, self.latent_dim), np.float32)
        # One fixed draw for all rows, so results do not depend on batching.
        from t2i.models.latent import LATENTS

        return LATENTS[self.latent_distribution]([n, self.latent_dim], tf.constant([0, 0])).numpy()

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

    def style(self, images) -> np.ndarray:
        """z of images in [-1, 1] by the style encoder S (Reed et al.): G(S(x), h(t)) draws x's style with t."""
        if self.style_encoder is None:
            why = "model.style_encoder=false" if self.latent_dim else "its G has no z (model.generator.latent_dim=0)"
            raise ModelLoadError(f"this model has no style encoder: {why}")
        images = np.asarray(images, np.float32)
        return np.concatenate([self._style(images[i : i + G_BATCH]).numpy() for i in range(0, len(images), G_BATCH)])

    def from_features_and_z(self, features, z) -> np.ndarray:
        """Images of text features with given z (e.g. style(x)), in batches of G_BATCH."""
        features, z = np.asarray(features, np.float32), np.asarray(z, np.float32)
        return np.concatenate(
            [self._decode([features[i : i + G_BATCH], z[i : i + G_BATCH]]).numpy() for i in range(0, len(z), G_BATCH)]
        )


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
    te = build_text_encoder(m.text_encoder, OmegaConf.select(source.cfg, "gan.conditional", default=True))
    g = build_generator(m.generator, m.text_encoder.features)
    for net, name in ((te, "text_encoder"), (g, "generator")):
        _load_weights(net, source.weights_file(name))
    s = None
    if source.kind != "pretrained" and OmegaConf.select(m, "style_encoder", default=False):
        from t2i.models.style_encoder import build_style_encoder

        s = build_style_encoder(m, int(source.cfg.data.image_size), int(m.generator.latent_dim))
        _load_weights(s, source.weights_file("style_encoder"))
    # A Part 1 entry's G runs with z held at zero, so its config names no distribution.
    latent = OmegaConf.select(m, "generator.latent_distribution", default="uniform")
    model = InferenceModel(
        te,
        g,
        int(m.generator.latent_dim),
        random_z=source.kind != "pretrained",
        latent_distribution=latent,
        style_encoder=s,
    )
    return model, source.cfg, source.vocab_size
