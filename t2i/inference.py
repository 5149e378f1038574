"""Load a trained generator and turn texts into images: a grid beside the true renders, or an interpolation.

A model comes from a run directory, its checkpoints/ directory, or a Part 1 cache entry (pretrained
text encoder + generator). `locate` reads only the config, without TensorFlow, so a bad path, text or
colour is reported before the slow import; `load_model` then builds the networks and loads the weights.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from t2i.data.vocab import COLOURS, decode_chars, encode_chars, encode_spec, spec_colours, spec_text

NETWORKS = ("text_encoder", "generator")
DEFAULT_BG, DEFAULT_FG = "black", "white"
G_BATCH = 512


class ModelLoadError(RuntimeError):
    """The path holds no usable model: missing, not a run, or missing/corrupt/mismatched weights."""


class UsageError(ValueError):
    """Arguments that do not fit together (e.g. --spec with --bg)."""


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


def resolve_spec(bg: str | None = None, fg: str | None = None, spec: str | None = None) -> str:
    if spec is not None and (bg is not None or fg is not None):
        raise UsageError("give either --spec or --bg/--fg, not both")
    if spec is None:
        spec = spec_text(bg or DEFAULT_BG, fg or DEFAULT_FG)
    encode_spec(spec)  # VocabularyError naming the allowed colours
    return spec


def encode_texts(texts, spec: str, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """chars [n, 2] and spec [n, 4] tokens; VocabularyError names the allowed characters."""
    if not texts:
        raise UsageError("give at least one text")
    chars = np.stack([encode_chars(t, vocab_size) for t in texts])
    return chars, np.tile(encode_spec(spec), (len(texts), 1))


def true_images(chars, spec, size: int) -> np.ndarray:
    """The reference renders (exact, and fast enough for a handful of texts)."""
    from t2i.data import render

    bg, fg = spec_colours(spec)
    renders = [render.render_reference(decode_chars(c), COLOURS[b], COLOURS[f], size) for c, b, f in zip(chars, bg, fg)]
    return np.stack(renders)


def output_path(output, default_name: str = "generated.png") -> Path:
    """Where `-o` puts the figure, checked before any work and without creating anything: an existing
    directory gets `default_name` inside it, a name without a suffix gets .png (as matplotlib would, so the
    path reported is the one written); an unknown format or an unusable directory is a UsageError."""
    from matplotlib.backend_bases import FigureCanvasBase

    from t2i.config import path_problem

    output = Path(output)
    if output.is_dir():
        output = output / default_name
    elif not output.suffix:
        output = output.with_suffix(".png")
    formats = FigureCanvasBase.get_supported_filetypes()
    if output.suffix[1:].lower() not in formats:
        raise UsageError(f"-o {output}: unknown image format '{output.suffix}' (use .png, .svg, .pdf or .jpg)")
    problem = path_problem(output.parent)
    if problem:
        raise UsageError(f"-o {output}: {output.parent} {problem}")
    return output


def check_interpolation(texts: int, steps: int) -> None:
    if texts != 2:
        raise UsageError(f"--interpolate needs exactly two texts, got {texts}")
    if steps < 2:
        raise UsageError(f"--steps must be at least 2, got {steps}")


def interpolate(model: InferenceModel, chars, spec, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Images from text features mixed linearly from the first text's to the second's; also the weights."""
    check_interpolation(len(chars), steps)
    start, end = model.features(chars, spec)
    alpha = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return model.from_features((1.0 - alpha) * start + alpha * end), alpha[:, 0]


def generate_command(
    run,
    texts,
    bg=None,
    fg=None,
    spec=None,
    output: Path = Path("generated.png"),
    interpolation: bool = False,
    steps: int = 8,
) -> Path:
    """What `t2i generate` does; returns the figure's path."""
    from t2i import images

    source = locate(run)
    output = output_path(output)
    spec = resolve_spec(bg, fg, spec)
    chars, spec_ids = encode_texts(texts, spec, source.vocab_size)
    if interpolation:
        check_interpolation(len(chars), steps)  # before the slow part
    model, cfg, _ = load_model(source)
    bg, fg = spec_colours(spec_ids[0])
    colours = f"{COLOURS[fg]} on {COLOURS[bg]}"
    if interpolation:
        strip, alpha = interpolate(model, chars, spec_ids, steps)
        captions = [f"{texts[0]}" if a == 0 else f"{texts[1]}" if a == 1 else f"{a:.2f}" for a in alpha]
        images.save_pairs_figure(
            output,
            None,
            strip,
            captions,
            columns=steps,
            title=f"{texts[0]} -> {texts[1]} ({colours}): text features interpolated",
        )
    else:
        fake = model(chars, spec_ids)
        truth = true_images(chars, spec_ids, int(cfg.data.image_size))
        captions = [images.caption(c, s) for c, s in zip(chars, spec_ids)]
        images.save_pairs_figure(output, truth, fake, captions, columns=min(4, len(texts)), title="truth | generated")
    return output
