"""Golden curves: every ablation's metrics.csv at a tiny budget, kept to catch any change of a step.

A refactor changes structure, never numbers. `python -m tests.golden.record` writes one CSV per ablation
(and the machine that wrote them) into this folder; tests/test_golden.py reruns each and compares: bit for
bit on the recording machine, within a tolerance on another CPU (float rounding of other kernels, far
below what a changed step moves).
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
TIMING = ["seconds", "images_per_s"]
# Every ablation at the tiny budget, eager (tracing 21 steps would cost minutes; test_training checks that
# graph and eager agree), G training from the second epoch.
# Two steps an epoch, as the goldens were recorded when the tiny budget had two (it has one since).
OVERRIDES = ["budget=tiny", "trainer.epochs=3", "trainer.steps_per_epoch=2", "trainer.verbose=false"]
# The traced graph is the path users run: these also have a golden curve of their graph step.
GRAPH = ["baseline", "wgan"]
# Combinations, so that the fast suite checks every kind of piece in a few runs (all 21 alone are slow).
COMBOS = ["[gan_int,l1,lr_decay,disc_steps,latent]", "[fresh_batches,g_step_d_eval,ttur,mbd]"]
FAST = ["baseline", "wgan", "wgan_clip", "increment_vocab", "reed_int_cls", *COMBOS]
# Every ablation the fast goldens train, alone or in a combination.
FAST_ABLATIONS = sorted({name for job in FAST for name in job.strip("[]").split(",")})


def machine() -> dict:
    """What must match for a bit-for-bit comparison: the CPU model and the thread pools' size."""
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count()}


def synthetic_mask_table(alphabet, image_size, cache_dir=None):
    """A seeded stand-in for the 62-character mask table (rendering 3,844 pairs costs a minute): the
    numbers of a step still depend on every op, which is all a golden curve needs."""
    rng = np.random.default_rng(len(alphabet) * 1000 + image_size)
    w = rng.uniform(0, 1, (len(alphabet) ** 2, image_size, image_size, 2)).astype(np.float32)
    return w / np.maximum(1.0, w.sum(-1, keepdims=True))


def golden_name(name: str, graph: bool = False) -> str:
    name = name.strip("[]").replace(",", "+")
    return f"{name}.graph" if graph else name


def golden_config(name: str, runs_root: Path, graph: bool = False, *extra: str):
    """Ablation `name` at the golden budget, its run under runs_root/<golden name>; `extra` overrides win."""
    from t2i.config import compose_config

    # Part 1's cache entry is shared across trainer.run_eagerly, whose float rounding differs: each mode
    # gets its own cache, so a golden never depends on which test pretrained first.
    cache = (
        Path(os.environ.get("T2I_CACHE_DIR", Path.home() / ".cache" / "t2i"))
        / f"golden-{'graph' if graph else 'eager'}"
    )
    return compose_config(
        [
            *OVERRIDES,
            f"cache_dir={cache}",
            f"trainer.run_eagerly={not graph}",
            f"+ablation={name}",
            f"runs_root={runs_root / golden_name(name, graph)}",
            *extra,
        ]
    )


def train_golden(cfg) -> dict:
    """train(cfg) as the goldens were recorded: with the 62-character stand-in masks; train()'s status."""
    from t2i.data import render
    from t2i.training.run import train

    original = render.mask_table

    def beyond_the_digits_synthetic(alphabet, image_size, cache_dir=None):
        # Only the 62-character table is a stand-in: Part 1 (ten digits) may be trained in this run and cached
        # for every later golden, so it must come from the real masks whichever golden happens to run first.
        table = synthetic_mask_table if len(alphabet) > 10 else original
        return table(alphabet, image_size, cache_dir)

    if cfg.data.vocab_size > 10:
        render.mask_table = beyond_the_digits_synthetic
    try:
        return train(cfg)
    finally:
        render.mask_table = original


def curve(run_dir) -> pd.DataFrame:
    """A run's metrics.csv without its timing columns: what a golden records."""
    return pd.read_csv(Path(run_dir) / "metrics.csv").drop(columns=TIMING)


def run_ablation(name: str, runs_root: Path, graph: bool = False) -> pd.DataFrame:
    """Train ablation `name` at the golden budget into runs_root; its metrics without timing columns."""
    cfg = golden_config(name, runs_root, graph)
    train_golden(cfg)
    return curve(cfg.run_dir)


def assert_matches_golden(got: pd.DataFrame, name: str) -> None:
    """Bit for bit on the recording machine; within float rounding (1e-4 relative) on another CPU."""
    want = recorded(name)
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    if machine() == recorded_machine():
        pd.testing.assert_frame_equal(got, want, check_exact=True, check_dtype=False)
    else:
        np.testing.assert_allclose(got.to_numpy(float), want.to_numpy(float), rtol=1e-4, atol=1e-6)


def recorded(name: str) -> pd.DataFrame:
    return pd.read_csv(HERE / f"{name}.csv")


def recorded_machine() -> dict:
    return json.loads((HERE / "machine.json").read_text())
