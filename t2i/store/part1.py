"""The Part 1 cache: one entry per distinct Part 1 computation, shared by every run and sweep that needs it.
This module is the only one that knows an entry's layout; the trainer, `t2i pretrain`, `generate`,
`evaluate`, the report, the benchmark and the parity check all go through it. No TensorFlow here.

    <cache_dir>/pretrain/<digest>/      digest: sha256 of needs(cfg), what the pretrained encoder depends on
        result.json                     held-out MAE, the epoch of the weights kept, recoveries, ..., `needs`
        <text_encoder weights>          the best held-out weights: what a run's text encoder starts from
        <generator weights>             Part 1's generator (no z: held at zero), for `generate` and `evaluate`
        metrics.csv                     one row per epoch (`pixel_mae`, `heldout_mae`; no `mae`)
    <cache_dir>/pretrain/<digest>.lock        held while one process trains the entry
    <cache_dir>/pretrain/<digest>.rejected/   a result that failed its check, kept for inspection
    <cache_dir>/pretrain/.tmp-*/              an entry being written; renamed into place when complete

The weight files are named as a run's checkpoints/ names them (t2i/store/weights.py). The mask tables
(t2i/data/render.py) sit beside pretrain/ in <cache_dir>.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from t2i.store import weights as weight_files

SUBDIR = "pretrain"
RESULT = "result.json"
METRICS = "metrics.csv"
# Part 1 trains a text encoder and a supervised generator only: no discriminator, no style encoder (cf. a run's
# rundir.WEIGHT_NETWORKS).
NETWORKS = ("text_encoder", "generator")
FORMAT = 3  # 3: best held-out weights, divergence recovery. A new format gets new entries (it is in the key).


class Part1CacheError(RuntimeError):
    """A cache entry that cannot be read; the message is one line."""


def needs(cfg) -> dict:
    """What the pretrained text encoder depends on; runs that agree on it share one entry."""
    generator = OmegaConf.to_container(cfg.model.generator)
    # Pretraining holds z at zero, so G's latent size and distribution cannot matter (and entries made before
    # the distribution was a key keep their digest).
    generator.pop("latent_dim")
    generator.pop("latent_distribution", None)
    pretrain = OmegaConf.to_container(cfg.pretrain)
    pretrain.pop("max_mae")  # the acceptance check, not the computation: a cached result is checked on use
    holdout = OmegaConf.select(cfg, "data.holdout", default=None) or "none"
    # Part 1 draws under the run's hold-out; in the key only when there is one, so that entries made before
    # data.holdout existed keep their digest.
    extra = {} if holdout == "none" else {"holdout": _holdout_spec(holdout)}
    spec = OmegaConf.select(cfg, "data.spec", default=None) or "full"
    if spec != "full":  # Part 1 learns from the texts the run's data gives; in the key likewise only when not as before
        extra["spec"] = spec
    return OmegaConf.to_container(
        OmegaConf.create(
            {
                **extra,
                "text_encoder": cfg.model.text_encoder,
                "generator": generator,
                "image_size": cfg.data.image_size,
                "pretrain": pretrain,
                # Numerics differ with precision and XLA; results must not depend on which run pretrained first.
                "trainer": {"precision": cfg.trainer.precision, "jit_compile": cfg.trainer.jit_compile},
                "format": FORMAT,
            }
        )
    )


def _holdout_spec(name: str) -> dict:
    """A hold-out as a cache key holds it: its name and what it holds out, so that a changed set is a new entry."""
    from t2i.data.holdout import HOLDOUTS  # numpy only

    held = HOLDOUTS[name]
    return {"name": name, "pairs": list(held.pairs), "colours": [list(c) for c in held.colours]}


def root(cache_dir) -> Path:
    """The directory holding every entry of a cache directory."""
    return Path(os.path.expanduser(str(cache_dir))) / SUBDIR


def entry(cfg) -> Path:
    """The entry this config's run needs (whether or not it exists yet)."""
    digest = hashlib.sha256(json.dumps(needs(cfg), sort_keys=True).encode()).hexdigest()[:16]
    return root(cfg.cache_dir) / digest


def entries(cache_dir) -> list[Path]:
    """Every complete entry of a cache directory: not the rejected ones, nor one still being written."""
    found = (path.parent for path in root(cache_dir).glob(f"*/{RESULT}"))
    return sorted(p for p in found if not p.name.endswith(".rejected") and not p.name.startswith(".tmp-"))


def is_entry(path) -> bool:
    """Whether `path` holds a Part 1 result: an entry, a rejected one kept for inspection, or a copy."""
    return (Path(path) / RESULT).is_file()


def weights(entry_dir, network: str) -> Path:
    """The weights file of one of NETWORKS."""
    if network not in NETWORKS:
        raise ValueError(f"Part 1 has no network {network!r} (it has {', '.join(NETWORKS)})")
    return weight_files.file(entry_dir, network)


def metrics_path(entry_dir) -> Path:
    return Path(entry_dir) / METRICS


def lock_path(entry_dir) -> Path:
    return Path(entry_dir).with_suffix(".lock")


def rejected_path(entry_dir) -> Path:
    return Path(entry_dir).with_name(Path(entry_dir).name + ".rejected")


def staging_dir(entry_dir) -> Path:
    """A fresh directory beside the entry to write it in; renamed into place (os.replace) once complete."""
    parent = Path(entry_dir).parent
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".tmp-", dir=parent))


def read_result(entry_dir) -> dict:
    """result.json of an entry (or of a copy of one, as the report keeps); Part1CacheError if unreadable."""
    path = Path(entry_dir) / RESULT
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise Part1CacheError(f"{path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise Part1CacheError(
            f"{path} is unreadable ({type(exc).__name__}); remove {path.parent} to retrain it"
        ) from None
    if not isinstance(data, dict):
        raise Part1CacheError(f"{path} is not a mapping; remove {path.parent} to retrain it")
    return data


def write_result(entry_dir, result: dict) -> None:
    path = Path(entry_dir) / RESULT
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, path)


def cache_dir_of(entry_dir) -> Path | None:
    """The cache directory an entry lies in (where the mask tables are), None for a copy kept elsewhere."""
    entry_dir = Path(entry_dir)
    return entry_dir.parent.parent if entry_dir.parent.name == SUBDIR else None


def model_config(entry_dir) -> DictConfig:
    """The config of the model an entry holds, as a run's config names it: data.vocab_size, data.image_size,
    data.holdout, data.spec (the texts it was trained on: "text_colour" for the style data), model.text_encoder,
    model.generator (latent_dim 0: Part 1 has no z) and cache_dir."""
    from t2i.config import default_cache_dir

    entry_dir = Path(entry_dir)
    try:
        spec = read_result(entry_dir)["needs"]
        cfg = OmegaConf.create(
            {
                "data": {
                    "vocab_size": spec["pretrain"]["vocab_size"],
                    "image_size": spec["image_size"],
                    "holdout": spec.get("holdout", {}).get("name", "none"),
                    "spec": spec.get("spec", "full"),  # entries from before the style data have no key
                },
                "model": {"text_encoder": spec["text_encoder"], "generator": {**spec["generator"], "latent_dim": 0}},
            }
        )
    except Part1CacheError:
        raise
    except Exception as exc:  # missing keys or wrong types alike
        raise Part1CacheError(f"{entry_dir / RESULT} is unreadable ({type(exc).__name__}: {exc})") from None
    cfg.cache_dir = str(cache_dir_of(entry_dir) or default_cache_dir())
    return cfg
