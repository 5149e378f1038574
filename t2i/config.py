"""Config schema and composition.

The YAML tree in conf/ holds the values; the dataclasses here hold only the types (every leaf is MISSING), so a
wrong type or an unknown key fails at composition, before any work starts, and a default lives in one place.

A key added after runs were recorded is declared with `added(as_before=...)`: the value that keeps what t2i did
before the key existed. A run directory whose config.yaml lacks the key is read with that value (AS_BEFORE,
used by t2i/store/rundir.py), so it stays the same config: still skipped when done, still resumed. A key that
is missing from a run's config.yaml without such a declaration makes it another config. For example:

    @dataclass
    class GeneratorConfig:
        ...
        ema_decay: float = added(as_before=0.0)  # 0: no moving average of G's weights, as before

and its value for new runs in conf/ as for any key (`ema_decay: 0.0` under `generator:` in
conf/model/reference.yaml). Keep conf/'s value equal to `as_before`, and the model free of new variables at
that value, where recorded runs should still count: another value is another config, and a checkpoint that
lacks a variable the model has is refused (t2i/store/checkpoint.py).
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from omegaconf import MISSING, DictConfig, OmegaConf

CONF_DIR = Path(os.environ.get("T2I_CONF_DIR", Path(__file__).resolve().parent.parent / "conf"))
_AS_BEFORE = "as_before"  # the metadata key of added()


def added(as_before: Any) -> Any:
    """A schema field for a key added after run directories were recorded: `as_before` is its value that
    behaves as t2i did before the key existed (see the module's doc). Its value for new runs is in conf/."""
    return field(default=MISSING, metadata={_AS_BEFORE: as_before})


def as_before_values(schema) -> dict[str, Any]:
    """Every added() key below a schema dataclass, by dotted path, with its as-before value."""
    out = {}
    for f in dataclasses.fields(schema):
        if _AS_BEFORE in f.metadata:
            out[f.name] = f.metadata[_AS_BEFORE]
        elif dataclasses.is_dataclass(f.default_factory):
            out.update({f"{f.name}.{k}": v for k, v in as_before_values(f.default_factory).items()})
    return out


@dataclass
class CurriculumConfig:
    # Vocabulary grows from start_vocab by one character every `every` epochs after `start_epoch`.
    # start_vocab null means no curriculum: the whole vocabulary from the first epoch.
    start_vocab: int | None = MISSING
    start_epoch: int = MISSING
    every: int = MISSING


@dataclass
class DataConfig:
    vocab_size: int = MISSING
    image_size: int = MISSING
    batch_size: int = MISSING
    eval_samples: int = MISSING
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    # Combinations kept out of training (t2i/data/holdout.py's HOLDOUTS): none | unseen
    holdout: str = added(as_before="none")
    # What the colour spec names (t2i/data/dataset.py's SPECS): full | text_colour (the style data)
    spec: str = added(as_before="full")


@dataclass
class TextEncoderConfig:
    char_embedding: int = MISSING
    char_units: int = MISSING
    spec_embedding: int = MISSING
    spec_units: int = MISSING
    features: int = MISSING


@dataclass
class GeneratorConfig:
    latent_dim: int = MISSING
    latent_distribution: str = added(as_before="uniform")  # z's: uniform in [-1, 1] | normal N(0, I) (Reed)
    base_filters: int = MISSING
    block_filters: list[int] = MISSING


@dataclass
class MinibatchDiscriminationConfig:
    kernels: int = MISSING  # 0 disables the layer
    kernel_dim: int = MISSING


@dataclass
class DiscriminatorConfig:
    image_noise: float = MISSING
    dropout: float = MISSING
    block_filters: list[int] = MISSING
    text_channels: int = MISSING
    head_filters: int = MISSING
    output_bias: bool = MISSING
    minibatch_discrimination: MinibatchDiscriminationConfig = field(default_factory=MinibatchDiscriminationConfig)


@dataclass
class ModelConfig:
    text_encoder: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    # Reed et al.'s style encoder S (image -> z), trained on G's images beside the GAN (t2i/training/style.py)
    style_encoder: bool = added(as_before=False)


@dataclass
class ShuffleConfig:
    chars_prob: float = MISSING  # otherwise the spec is shuffled
    spec_too_prob: float = MISSING  # when chars are shuffled, also shuffle the spec


@dataclass
class PenaltyConfig:
    name: str = MISSING  # none | gradient (WGAN-GP, in each critic update) | clip (weights after each D update)
    weight: float = MISSING  # gradient-penalty lambda
    clip_value: float = MISSING  # weight clipping bound


@dataclass
class GanConfig:
    loss: str = MISSING  # nonsaturating | saturating | wasserstein
    # labelled: one D update per sub-step, with its label | critic: WGAN-GP critic updates (see gan.py)
    d_step: str = MISSING
    d_substeps: list[str] = MISSING
    penalty: PenaltyConfig = field(default_factory=PenaltyConfig)
    d_trains_text_encoder: bool = MISSING
    shuffle: ShuffleConfig = field(default_factory=ShuffleConfig)
    fresh_batches: bool = MISSING  # a new batch for every D sub-step and for G, instead of one per step
    g_step_d_training: bool = MISSING  # D's dropout and noise active inside G's update
    d_only_steps: int = MISSING  # batches between G updates that train D only (DiscSteps)
    d_only_epochs: int = MISSING
    text_encoder_init: str = MISSING  # pretrained | random
    generator_init: str = added(as_before="random")  # random | pretrained: Part 1's G (the write-up's D_train)
    interpolation_weight: float = MISSING  # GAN-INT: weight of G's loss on interpolated text embeddings
    interpolation_beta: float = MISSING
    interpolation_pairs: str = added(as_before="permuted")  # permuted: each text with a shuffled other | halves
    cls_weight: float = added(as_before=0.0)  # the matching-aware D step's weight of wrong images (GAN-CLS)
    l1_weight: float = MISSING
    # false: G and D never see the text (their text features are zeros): the unconditional GAN of z alone
    conditional: bool = added(as_before=True)


@dataclass
class OptimizerConfig:
    name: str = MISSING  # adam | rmsprop (the original WGAN's)
    learning_rate: float = MISSING
    d_lr_factor: float = MISSING  # D's learning rate is learning_rate times this (TTUR)
    beta_1: float = MISSING
    beta_2: float = MISSING
    # none | epochs: both rates x decay_factor every decay_every epochs | updates: each optimizer's rate
    # x decay_factor every decay_every x steps_per_epoch of its own updates (the reference's schedule)
    decay: str = MISSING
    decay_every: int = MISSING
    decay_factor: float = MISSING


@dataclass
class TrainerConfig:
    epochs: int = MISSING
    steps_per_epoch: int = MISSING
    sample_every: int = MISSING
    checkpoint_every: int = MISSING
    steps_per_execution: int = MISSING  # GAN steps fused into one graph call; 0: a whole epoch
    jit_compile: bool = MISSING  # XLA for the GAN step
    run_eagerly: bool = MISSING  # train steps as Python, no tf.function: for debugging (same results, slower)
    precision: str = MISSING  # float32 | bfloat16 (mixed_float16 needs loss scaling, which t2i lacks)
    deterministic: bool = MISSING
    threads: int = MISSING  # 0: TensorFlow's default
    gpu_memory_mb: int = added(as_before=0)  # a hard share of the GPU per run; 0: grow on demand
    verbose: bool = MISSING


@dataclass
class PretrainConfig:
    epochs: int = MISSING
    steps_per_epoch: int = MISSING
    batch_size: int = MISSING
    learning_rate: float = MISSING
    vocab_size: int = MISSING
    max_mae: float = MISSING  # a result with a worse held-out MAE is refused, never cached or used
    divergence_factor: float = MISSING  # held-out loss or MAE above this x its best so far: diverged
    max_recoveries: int = MISSING  # restores of the best weights after divergence before Part 1 stops there
    recovery_lr_factor: float = MISSING  # learning-rate factor for each recovery after the first


@dataclass
class SweepConfig:
    name: str = MISSING
    workers: int = MISSING


@dataclass
class T2IConfig:
    seed: int = MISSING
    series: dict[str, str] = MISSING
    name: str = MISSING
    label: str = MISSING
    runs_root: str = MISSING
    run_dir: str = MISSING
    cache_dir: str = MISSING
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    gan: GanConfig = field(default_factory=GanConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    budget: Any = MISSING  # name of the chosen budget preset, for the record


ConfigStore.instance().store(name="t2i_schema", node=T2IConfig)
# Keys a run directory's config.yaml may lack, and the value it then means (none yet: see added()).
AS_BEFORE: dict[str, Any] = as_before_values(T2IConfig)


def _series_name(series) -> str:
    return "+".join(series.keys()) if series else "baseline"


def _series_label(series) -> str:
    return " ".join(series.values()) if series else "Baseline"


def _scale(epochs, fraction) -> int:
    """An epoch count as a fraction of the budget (at least 1), so schedules shrink with budgets."""
    return max(1, int(round(float(epochs) * float(fraction))))


def _workers(workers) -> int:
    return int(workers) if int(workers) > 0 else (os.cpu_count() or 1)


def default_cache_dir() -> str:
    """Where mask tables and Part 1 results are cached unless `cache_dir` says otherwise: $T2I_CACHE_DIR, else
    ~/.cache/t2i. conf/config.yaml's cache_dir is this (${t2i.cache_dir:}); whatever reads a model without
    a composed config (`generate`, `evaluate`, `parity`) calls it too."""
    return os.path.expanduser(os.environ.get("T2I_CACHE_DIR") or "~/.cache/t2i")


for _name, _fn in (
    ("t2i.series_name", _series_name),
    ("t2i.series_label", _series_label),
    ("t2i.scale", _scale),
    ("t2i.workers", _workers),
    ("t2i.cache_dir", default_cache_dir),
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
    """Semantic checks that the schema's types cannot express. Names come from the pieces' registries,
    and each chosen piece says what it cannot run with."""
    # The registries live with their pieces, which import TensorFlow: imported only when a config is checked.
    from t2i.data.dataset import SPECS
    from t2i.data.holdout import HOLDOUTS
    from t2i.losses import GAN_LOSSES
    from t2i.models.latent import LATENTS
    from t2i.training import optim, setup
    from t2i.training.d_steps import D_STEPS
    from t2i.training.g_terms import PAIRS
    from t2i.training.penalties import PENALTIES
    from t2i.training.run import GENERATOR_INITS, TEXT_ENCODER_INITS, generator_init_problem

    choices = {
        "gan.loss": (cfg.gan.loss, GAN_LOSSES),
        "gan.penalty.name": (cfg.gan.penalty.name, PENALTIES),
        "gan.d_step": (cfg.gan.d_step, D_STEPS),
        "optimizer.decay": (cfg.optimizer.decay, optim.SCHEDULES),
        "gan.text_encoder_init": (cfg.gan.text_encoder_init, TEXT_ENCODER_INITS),
        "gan.generator_init": (cfg.gan.generator_init, GENERATOR_INITS),
        "optimizer.name": (cfg.optimizer.name, optim.OPTIMIZERS),
        "trainer.precision": (cfg.trainer.precision, setup.POLICIES),
        "model.generator.latent_distribution": (cfg.model.generator.latent_distribution, LATENTS),
        "gan.interpolation_pairs": (cfg.gan.interpolation_pairs, PAIRS),
        "data.holdout": (cfg.data.holdout, HOLDOUTS),
        "data.spec": (cfg.data.spec, SPECS),
    }
    for key, (value, allowed) in choices.items():
        if value not in allowed:
            raise ConfigError(f"{key}={value!r} is not one of {', '.join(allowed)}")
    _check_ranges(cfg)
    _check_paths(cfg)
    for problem in (
        D_STEPS[cfg.gan.d_step].problem(cfg.gan),
        PENALTIES[cfg.gan.penalty.name].problem(cfg.gan),
        optim.problem(cfg.optimizer),
        generator_init_problem(cfg),
    ):
        if problem:
            raise ConfigError(problem)
    if cfg.gan.d_only_steps < 0:
        raise ConfigError("gan.d_only_steps must be >= 0")
    if not 1 <= cfg.data.vocab_size <= 62 or not 1 <= cfg.pretrain.vocab_size <= 62:
        raise ConfigError("data.vocab_size and pretrain.vocab_size must be in 1..62")
    holdout = HOLDOUTS[cfg.data.holdout]
    if holdout is not None:
        # Part 1 draws under the hold-out too, from its own vocabulary (pairs beyond it cannot be drawn anyway).
        problem = holdout.problem(cfg.data.vocab_size, cfg.data.curriculum.start_vocab) or holdout.nothing_left(
            cfg.pretrain.vocab_size, "pretrain.vocab_size"
        )
        if problem:
            raise ConfigError(problem)
    if not cfg.gan.conditional and cfg.model.generator.latent_dim == 0:
        raise ConfigError(
            "gan.conditional=false needs a latent z (model.generator.latent_dim > 0): G has no other input"
        )
    if not cfg.gan.conditional and cfg.gan.d_step == "matching_aware" and cfg.gan.cls_weight > 0:
        raise ConfigError(
            "gan.cls_weight > 0 shows D images under wrong texts, but gan.conditional=false shows no text"
        )
    if cfg.model.style_encoder and cfg.model.generator.latent_dim == 0:
        raise ConfigError("model.style_encoder needs a latent z (model.generator.latent_dim > 0): S maps images to z")
    if cfg.data.image_size not in (32, 64, 128):
        raise ConfigError(f"data.image_size must be 32, 64 or 128, got {cfg.data.image_size}")
    if cfg.trainer.jit_compile and cfg.trainer.deterministic:
        # Keras silently drops XLA when op determinism is on; say so instead of pretending.
        raise ConfigError("trainer.jit_compile=true needs trainer.deterministic=false")
    if cfg.trainer.jit_compile and cfg.trainer.run_eagerly:
        raise ConfigError("trainer.jit_compile=true compiles a graph, which trainer.run_eagerly=true turns off")
    blocks = len(cfg.model.generator.block_filters)
    if 4 * 2 ** (blocks + 1) != cfg.data.image_size:
        raise ConfigError(
            f"model.generator.block_filters has {blocks} blocks, which makes {4 * 2 ** (blocks + 1)}px images, "
            f"but data.image_size={cfg.data.image_size}"
        )


# Numeric keys and the values that make sense, checked before any work: a zero that would only divide by
# zero after pretraining and an epoch must fail at once. Keys another version may lack are skipped.
_AT_LEAST_1 = (
    "trainer.epochs",
    "trainer.steps_per_epoch",
    "trainer.sample_every",
    "trainer.checkpoint_every",
    "data.batch_size",
    "data.eval_samples",
    "data.curriculum.every",
    "pretrain.epochs",
    "pretrain.steps_per_epoch",
    "pretrain.batch_size",
    "model.text_encoder.features",
)
_AT_LEAST_0 = (
    "trainer.steps_per_execution",
    "trainer.threads",
    "trainer.gpu_memory_mb",
    "sweep.workers",
    "gan.d_only_epochs",
    "data.curriculum.start_epoch",
    "pretrain.max_recoveries",
    "model.discriminator.image_noise",
)
_POSITIVE = ("optimizer.learning_rate", "optimizer.decay_factor", "pretrain.learning_rate", "pretrain.max_mae")
_FRACTION = ("model.discriminator.dropout", "pretrain.recovery_lr_factor")  # in [0, 1)


def _check_ranges(cfg) -> None:
    def each(keys):
        for key in keys:
            value = OmegaConf.select(cfg, key, default=None)
            if value is not None:
                yield key, value

    for key, value in each(_AT_LEAST_1):
        if value < 1:
            raise ConfigError(f"{key} must be >= 1, got {value}")
    for key, value in each(_AT_LEAST_0):
        if value < 0:
            raise ConfigError(f"{key} must be >= 0, got {value}")
    for key, value in each(_POSITIVE):
        if not value > 0:
            raise ConfigError(f"{key} must be > 0, got {value}")
    for key, value in each(_FRACTION):
        if not 0 <= value < 1:
            raise ConfigError(f"{key} must be in [0, 1), got {value}")
    factor = OmegaConf.select(cfg, "pretrain.divergence_factor", default=None)
    if factor is not None and not factor > 1:
        raise ConfigError(f"pretrain.divergence_factor must be > 1, got {factor}")


def _check_paths(cfg) -> None:
    """run_dir, runs_root and cache_dir must be directories or creatable ones; checked without creating any."""
    for key in ("run_dir", "runs_root", "cache_dir"):
        value = OmegaConf.select(cfg, key, default=None)
        if value:
            problem = path_problem(Path(os.path.expanduser(str(value))))
            if problem:
                raise ConfigError(f"{key}={value}: {problem}")


def path_problem(path: Path) -> str | None:
    """Why `path` cannot be (or become) a directory this process writes into; None if it can."""
    if path.exists():
        if not path.is_dir():
            return "is a file, not a directory"
        return None if os.access(path, os.W_OK | os.X_OK) else "is not writable"
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"lies under {parent}, which is a file"
            if not os.access(parent, os.W_OK | os.X_OK):
                return f"cannot be created: {parent} is not writable"
            return None
    return None
