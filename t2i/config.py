"""Config schema and composition.

The YAML tree in conf/ holds the values; the dataclasses here hold the types, so a wrong type or an
unknown key fails at composition, before any work starts.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

CONF_DIR = Path(os.environ.get("T2I_CONF_DIR", Path(__file__).resolve().parent.parent / "conf"))


@dataclass
class CurriculumConfig:
    # Vocabulary grows from start_vocab by one character every `every` epochs after `start_epoch`.
    # start_vocab null means no curriculum: the whole vocabulary from the first epoch.
    start_vocab: int | None = None
    start_epoch: int = 500
    every: int = 10


@dataclass
class DataConfig:
    vocab_size: int = 10
    image_size: int = 32
    batch_size: int = 64
    eval_samples: int = 512
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)


@dataclass
class TextEncoderConfig:
    char_embedding: int = 8
    char_units: int = 16
    spec_embedding: int = 4
    spec_units: int = 8
    features: int = 64


@dataclass
class GeneratorConfig:
    latent_dim: int = 0
    base_filters: int = 32
    block_filters: list[int] = field(default_factory=lambda: [32, 16])


@dataclass
class MinibatchDiscriminationConfig:
    kernels: int = 0  # 0 disables the layer
    kernel_dim: int = 5


@dataclass
class DiscriminatorConfig:
    image_noise: float = 0.05
    dropout: float = 0.3
    block_filters: list[int] = field(default_factory=lambda: [16, 32, 64])
    text_channels: int = 4
    head_filters: int = 32
    output_bias: bool = True
    minibatch_discrimination: MinibatchDiscriminationConfig = field(default_factory=MinibatchDiscriminationConfig)


@dataclass
class ModelConfig:
    text_encoder: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)


@dataclass
class ShuffleConfig:
    chars_prob: float = 0.75  # otherwise the spec is shuffled
    spec_too_prob: float = 0.2  # when chars are shuffled, also shuffle the spec


@dataclass
class PenaltyConfig:
    name: str = "none"  # none | gradient | clip
    weight: float = 5.0  # gradient-penalty lambda
    clip_value: float = 0.01  # weight clipping bound
    mismatched: bool = True  # also penalise on interpolates of real images under shuffled text


@dataclass
class GanConfig:
    loss: str = "nonsaturating"  # nonsaturating | saturating | wasserstein
    penalty: PenaltyConfig = field(default_factory=PenaltyConfig)
    d_substeps: list[str] = field(default_factory=lambda: ["fake", "real", "mismatched", "real"])
    shuffle: ShuffleConfig = field(default_factory=ShuffleConfig)
    disc_steps: int = 1
    d_only_epochs: int = 5
    text_encoder_init: str = "pretrained"  # pretrained | random
    interpolation_weight: float = 0.0  # GAN-INT: weight of G's loss on interpolated text embeddings
    interpolation_beta: float = 0.5
    l1_weight: float = 0.0


@dataclass
class OptimizerConfig:
    name: str = "adam"  # adam | rmsprop (the original WGAN's)
    learning_rate: float = 5e-5
    beta_1: float = 0.5
    beta_2: float = 0.9
    decay_every_epochs: int = 0  # 0: constant learning rate
    decay_factor: float = 0.5


@dataclass
class TrainerConfig:
    epochs: int = 250
    steps_per_epoch: int = 32
    sample_every: int = 10
    checkpoint_every: int = 1
    steps_per_execution: int = 0  # GAN steps fused into one graph call; 0: a whole epoch
    jit_compile: bool = False  # XLA for the GAN step
    precision: str = "float32"  # float32 | bfloat16 | mixed_float16
    deterministic: bool = True
    threads: int = 0  # 0: TensorFlow's default
    verbose: bool = True


@dataclass
class PretrainConfig:
    epochs: int = 500
    steps_per_epoch: int = 32
    batch_size: int = 64
    learning_rate: float = 1e-3
    vocab_size: int = 62


@dataclass
class SweepConfig:
    name: str = "study"
    workers: int = 0  # 0: one per core


@dataclass
class T2IConfig:
    seed: int = 0
    series: dict[str, str] = field(default_factory=dict)
    name: str = "baseline"
    label: str = "Baseline"
    runs_root: str = "runs"
    run_dir: str = "${runs_root}/${name}/seed=${seed}"
    cache_dir: str = "~/.cache/t2i"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    gan: GanConfig = field(default_factory=GanConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    budget: Any = None  # name of the chosen budget preset, for the record


ConfigStore.instance().store(name="t2i_schema", node=T2IConfig)


def _series_name(series) -> str:
    return "+".join(series.keys()) if series else "baseline"


def _series_label(series) -> str:
    return " ".join(series.values()) if series else "Baseline"


def _scale(epochs, fraction) -> int:
    """An epoch count as a fraction of the budget (at least 1), so schedules shrink with budgets."""
    return max(1, int(round(float(epochs) * float(fraction))))


def _workers(workers) -> int:
    return int(workers) if int(workers) > 0 else (os.cpu_count() or 1)


for _name, _fn in (
    ("t2i.series_name", _series_name),
    ("t2i.series_label", _series_label),
    ("t2i.scale", _scale),
    ("t2i.workers", _workers),
    ("t2i.expanduser", os.path.expanduser),
):
    if not OmegaConf.has_resolver(_name):
        OmegaConf.register_new_resolver(_name, _fn)


class ConfigError(ValueError):
    """A bad override, unknown key or unknown choice; the message is one line."""


def available(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def _one_line(exc: BaseException) -> str:
    parts = []
    while exc is not None:  # Hydra often wraps the informative error with an empty one
        text = " ".join(str(exc).split())
        if text and text not in parts:
            parts.append(text.split(" full_key:")[0])
        exc = exc.__cause__ or exc.__context__
    msg = ": ".join(p for p in parts if "$VALUE" not in p) or "invalid configuration"
    missing = re.search(r"Could not (?:find|load) '(\w+)/([^']*)'", msg)
    if missing:
        group, choice = missing.groups()
        msg = f"unknown {group} {choice!r} (available: {', '.join(available(group))})"
    return msg


def compose_config(overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """Compose conf/config.yaml with Hydra override syntax and resolve it (raises ConfigError)."""
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            cfg = compose("config", overrides=list(overrides))
        OmegaConf.resolve(cfg)
        validate(cfg)
    except ConfigError:
        raise
    except Exception as exc:  # Hydra/OmegaConf raise many types, all of them user errors here
        raise ConfigError(_one_line(exc)) from None
    finally:
        GlobalHydra.instance().clear()
    return cfg


def validate(cfg: DictConfig) -> None:
    """Semantic checks that the schema's types cannot express."""
    choices = {
        "gan.loss": (cfg.gan.loss, ("nonsaturating", "saturating", "wasserstein")),
        "gan.penalty.name": (cfg.gan.penalty.name, ("none", "gradient", "clip")),
        "gan.text_encoder_init": (cfg.gan.text_encoder_init, ("pretrained", "random")),
        "optimizer.name": (cfg.optimizer.name, ("adam", "rmsprop")),
        "trainer.precision": (cfg.trainer.precision, ("float32", "bfloat16", "mixed_float16")),
    }
    for key, (value, allowed) in choices.items():
        if value not in allowed:
            raise ConfigError(f"{key}={value!r} is not one of {', '.join(allowed)}")
    for step in cfg.gan.d_substeps:
        if step not in ("fake", "real", "mismatched"):
            raise ConfigError(f"gan.d_substeps: unknown sub-step {step!r} (fake, real, mismatched)")
    if not 1 <= cfg.data.vocab_size <= 62 or not 1 <= cfg.pretrain.vocab_size <= 62:
        raise ConfigError("data.vocab_size and pretrain.vocab_size must be in 1..62")
    if cfg.data.image_size not in (32, 64, 128):
        raise ConfigError(f"data.image_size must be 32, 64 or 128, got {cfg.data.image_size}")
    if cfg.trainer.jit_compile and cfg.trainer.deterministic:
        # Keras silently drops XLA when op determinism is on; say so instead of pretending.
        raise ConfigError("trainer.jit_compile=true needs trainer.deterministic=false")
    blocks = len(cfg.model.generator.block_filters)
    if 4 * 2 ** (blocks + 1) != cfg.data.image_size:
        raise ConfigError(
            f"model.generator.block_filters has {blocks} blocks, which makes {4 * 2 ** (blocks + 1)}px images, "
            f"but data.image_size={cfg.data.image_size}"
        )
    for key in ("trainer.epochs", "trainer.steps_per_epoch", "data.batch_size", "pretrain.steps_per_epoch"):
        if OmegaConf.select(cfg, key) < 1:
            raise ConfigError(f"{key} must be >= 1")
