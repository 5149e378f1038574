"""Saving and restoring everything a run needs to continue exactly: weights, optimizer slots, RNG states.

All of it lives in tf.Variables (batches are stateless functions of the step), so one ordered list of
variables written atomically to .npz is a complete, exact snapshot.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np


class CheckpointError(RuntimeError):
    pass


def training_variables(gan) -> list:
    # Model.variables covers layers' weights and Keras seed-generator states (dropout, noise).
    return [*gan.variables, *gan.d_optimizer.variables, *gan.g_optimizer.variables]


def save_state(path: Path, variables: list, epoch: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, *[np.asarray(v.numpy()) for v in variables])
    os.replace(tmp, path)
    meta = path.with_suffix(".json")
    tmp_meta = meta.with_suffix(".tmp")
    tmp_meta.write_text(json.dumps({"epoch": epoch, "variables": len(variables)}))
    os.replace(tmp_meta, meta)


def load_state(path: Path, variables: list) -> int:
    """Assign the snapshot to `variables` and return the number of finished epochs it holds."""
    meta = path.with_suffix(".json")
    try:
        epoch = json.loads(meta.read_text())["epoch"]
        with np.load(path) as data:
            values = [data[f"arr_{i}"] for i in range(len(data.files))]
    except Exception as exc:
        raise CheckpointError(f"checkpoint {path} is missing or corrupt ({exc.__class__.__name__}: {exc})") from None
    if len(values) != len(variables) or any(tuple(v.shape) != x.shape for v, x in zip(variables, values)):
        raise CheckpointError(f"checkpoint {path} does not match this model (different architecture or config)")
    for v, x in zip(variables, values):
        v.assign(x)
    return int(epoch)
