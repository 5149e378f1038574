"""Saving and restoring everything a run needs to continue exactly: weights, optimizer slots, RNG states and
the epoch, as one tf.train.Checkpoint under a CheckpointManager (batches are stateless functions of the step,
so nothing else is needed).

Why not the checkpoint of the Keras objects themselves: for Keras 3 models TensorFlow's object graph reaches
weights through the optimizers' variable lists (by position) and misses the seed generators of dropout and
noise layers. So the checkpoint holds one flat mapping from a name to each variable: network / variable
path, optimizer / slot name, network / layer / seed-generator attribute. A restore matches by those names and
requires every one on both sides, so a renamed, added or reordered variable is an error, never a swap.

TensorFlow writes a checkpoint's files first and the manager's state file (which names the latest) last, by
atomic rename; a crash in between leaves the previous checkpoint in force. The epoch is inside the checkpoint
and in its file name (ckpt-<epoch>), so weights and epoch cannot disagree.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from t2i.store.rundir import CHECKPOINT_PREFIX, LEGACY_STATE, RESUME_DIR


class CheckpointError(RuntimeError):
    """The checkpoint cannot be restored into this model; nothing was changed."""


NETWORKS = ("text_encoder", "generator", "discriminator")
OPTIMIZERS = ("d_optimizer", "g_optimizer")


def named_variables(gan) -> dict:
    """Every variable a resume needs, by a name that does not depend on list order."""
    out = {}

    def add(name, variable):
        if name in out and out[name] is not variable:
            raise CheckpointError(f"two variables would share the checkpoint name {name!r}")
        out[name] = variable

    for net_name in NETWORKS:
        net = getattr(gan, net_name)
        for v in net.weights:
            add(f"{net_name}/{v.path}", v)
        for path, layer in _layers_by_path(net, net_name):
            for attr, value in vars(layer).items():
                if isinstance(value, keras.random.SeedGenerator):
                    add(f"{path}/{attr}", value.state)
    for opt_name in OPTIMIZERS:
        opt = getattr(gan, opt_name)
        for v in opt.variables:
            add(f"{opt_name}/{v.name}", v)  # slot names derive from their weight's path, not the optimizer's
    add("train_generator", gan.train_generator)
    return out


def _layers_by_path(layer, path: str):
    """The layer and its sub-layers, each with its path of layer names (a cell's name alone repeats)."""
    yield path, layer
    for child in getattr(layer, "_layers", []):
        yield from _layers_by_path(child, f"{path}/{child.name}")


def training_variables(gan) -> list:
    """The legacy state.npz's order: Model.variables (weights and seed-generator states), then the optimizers'."""
    return [*gan.variables, *gan.d_optimizer.variables, *gan.g_optimizer.variables]


class RunCheckpoint:
    """The run's resume checkpoint: save(epoch) after an epoch, restore() once before training."""

    def __init__(self, gan, run_dir: Path):
        self.gan = gan
        self.run_dir = Path(run_dir)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.variables = named_variables(gan)
        self.checkpoint = tf.train.Checkpoint(epoch=self.epoch, variables=self.variables)
        self.checkpoint.save_counter  # noqa: B018  (created on first use; must exist for a full restore)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(self.run_dir / RESUME_DIR), max_to_keep=1, checkpoint_name=CHECKPOINT_PREFIX
        )

    def save(self, epoch: int) -> None:
        self.epoch.assign(epoch)
        self.manager.save(checkpoint_number=epoch)

    def restore(self) -> int:
        """Load the latest checkpoint (or a legacy state.npz, which is then rewritten in the new format);
        returns the finished epochs it holds, 0 if there is none."""
        latest = self.manager.latest_checkpoint
        if latest is None:
            legacy = self.run_dir / LEGACY_STATE
            return self._convert_legacy(legacy) if legacy.exists() else 0
        try:
            self.checkpoint.read(latest).assert_consumed()
        except Exception as exc:  # TensorFlow raises many types for a damaged file; all mean it is unusable
            raise CheckpointError(
                f"checkpoint {latest} is damaged or from another model ({_first_line(exc)}); nothing was changed; "
                f"move {self.run_dir} away to start the run over"
            ) from None
        epoch = int(self.epoch.numpy())
        named = int(latest.rsplit("-", 1)[1])
        if epoch != named:
            raise CheckpointError(f"checkpoint {latest} holds epoch {epoch}, its name says {named}")
        return epoch

    def _convert_legacy(self, path: Path) -> int:
        epoch = load_legacy_state(path, training_variables(self.gan))
        self.save(epoch)  # the new format first; only then is the old one redundant
        path.unlink()
        path.with_suffix(".json").unlink(missing_ok=True)
        return epoch


def load_legacy_state(path: Path, variables: list) -> int:
    """A state.npz written before the tf.train.Checkpoint format: values in `training_variables` order."""
    meta = path.with_suffix(".json")
    try:
        epoch = json.loads(meta.read_text())["epoch"]
        with np.load(path) as data:
            values = [data[f"arr_{i}"] for i in range(len(data.files))]
    except Exception as exc:
        raise CheckpointError(
            f"checkpoint {path} is damaged ({exc.__class__.__name__}); nothing was changed; "
            f"move {path.parent.parent} away to start the run over"
        ) from None
    if len(values) != len(variables) or any(tuple(v.shape) != x.shape for v, x in zip(variables, values)):
        raise CheckpointError(f"checkpoint {path} does not match this model (different architecture or config)")
    for v, x in zip(variables, values):
        v.assign(x)
    return int(epoch)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__
