"""Saving and restoring everything a run needs to continue exactly: weights, optimizer slots, RNG states, any
other state of the model, and the epoch, as one tf.train.Checkpoint under a CheckpointManager (batches are
stateless functions of the step, so nothing else is needed).

Why not the checkpoint of the Keras objects themselves: for Keras 3 models TensorFlow's object graph reaches
weights through the optimizers' variable lists (by position) and misses the seed generators of dropout and
noise layers. So the checkpoint holds one flat mapping from a name to each variable, and the names come from
the model itself, not from a list kept here: every public attribute of the GAN is walked (named_variables),
so a new network, optimizer, variable or seed generator it is given is saved without touching this file:

    a network (keras.Layer)       <attribute>/<variable path>, and <attribute>/<layer>/.../<seed generator attribute>
    an optimizer                  <attribute>/<slot or variable name> (slot names derive from their weight's path)
    a variable, a seed generator  <attribute>
    a dict, list or t2i object    walked, <attribute>/<key>/...; a variable reached twice keeps its first name

Not saved: metrics (Keras resets them at every epoch's start) and an optimizer never built (Keras's placeholder
from compile(), which updates nothing). Any other variable Keras or TensorFlow tracks on the model that the walk
does not name (one kept in a private attribute) is an error at once, never silently left out.

A restore matches by name and requires every one on both sides: a checkpoint that lacks a variable of the
model (say one a newer t2i added) is refused with that variable's name, never left at its fresh value; a
renamed or reordered variable is an error, never a swap.

TensorFlow writes a checkpoint's files first and the manager's state file (which names the latest) last, by
atomic rename; a crash in between leaves the previous checkpoint in force. The epoch is inside the checkpoint
and in its file name (ckpt-<epoch>), so weights and epoch cannot disagree.
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import trackable_object_graph_pb2

from t2i.store.rundir import CHECKPOINT_PREFIX, LEGACY_STATE, RESUME_DIR


class CheckpointError(RuntimeError):
    """The checkpoint cannot be restored into this model; nothing was changed."""


_VARIABLES = "variables"  # RunCheckpoint's mapping from name to variable (beside `epoch` and `save_counter`)


def named_variables(gan) -> dict:
    """Every variable a resume needs, by a name that does not depend on list order (see the module's doc).
    Raises CheckpointError if the model has a variable the walk cannot name."""
    out: dict = {}
    owner: dict[int, str] = {}

    def add(name, variable):
        if id(variable) in owner:
            return
        if name in out:
            raise CheckpointError(f"two variables would share the checkpoint name {name!r}")
        out[name] = variable
        owner[id(variable)] = name

    # Breadth first, so a variable reachable from two attributes is named by the shallower one (a network's
    # weights by the network, not by a list of them kept for an optimizer).
    queue = deque(_public_attributes(gan))
    seen = {id(gan)}
    while queue:
        path, obj = queue.popleft()
        if id(obj) in seen or isinstance(obj, keras.metrics.Metric):
            continue
        seen.add(id(obj))
        if isinstance(obj, keras.Layer):
            for v in obj.weights:
                add(f"{path}/{v.path}", v)
            for layer_path, layer in _layers_by_path(obj, path):
                for attr, value in vars(layer).items():
                    if isinstance(value, keras.random.SeedGenerator):
                        add(f"{layer_path}/{attr}", value.state)
        elif isinstance(obj, keras.optimizers.Optimizer):
            if obj.built:
                for v in obj.variables:
                    add(f"{path}/{v.name}", v)
        elif isinstance(obj, (tf.Variable, keras.Variable)):
            add(path, obj)
        elif isinstance(obj, keras.random.SeedGenerator):
            add(path, obj.state)
        elif isinstance(obj, dict):
            queue.extend((f"{path}/{key}", value) for key, value in obj.items())
        elif isinstance(obj, (list, tuple)):
            queue.extend((f"{path}/{i}", value) for i, value in enumerate(obj))
        elif type(obj).__module__.startswith("t2i.") and hasattr(obj, "__dict__"):
            queue.extend((f"{path}/{attr}", value) for attr, value in _public_attributes(obj))
    unnamed = [v for v in _tracked_variables(gan) if id(v) not in owner]
    if unnamed:
        v = unnamed[0]
        raise CheckpointError(
            f"the model's variable {getattr(v, 'path', v.name)!r} would not be checkpointed: keep state in a public "
            "attribute of the GAN (a network, an optimizer, a variable or seed generator, or a dict or list of them)"
        )
    return out


def _public_attributes(obj) -> list:
    return [(attr, value) for attr, value in vars(obj).items() if not attr.startswith("_")]


def _tracked_variables(gan) -> list:
    """Every variable Keras or TensorFlow tracks on the model, less metrics' and unbuilt optimizers'."""
    found = {id(v): v for v in gan.variables}
    skip = set()
    for obj in tf.train.TrackableView(gan).descendants():
        if isinstance(obj, (tf.Variable, keras.Variable)):
            found.setdefault(id(obj), obj)
        elif isinstance(obj, keras.optimizers.Optimizer) and not obj.built:
            skip |= {id(v) for v in obj.variables}
    for layer in gan._flatten_layers(include_self=True):
        for metric in getattr(layer, "_metrics", []):
            skip |= {id(v) for v in metric.variables}
    return [v for i, v in found.items() if i not in skip]


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
        move_away = f"nothing was changed; move {self.run_dir} away to start the run over"
        try:
            held = _held_names(latest)
        except Exception as exc:  # TensorFlow raises many types for a damaged file; all mean it is unusable
            raise CheckpointError(
                f"checkpoint {latest} is damaged or from another model ({_first_line(exc)}); {move_away}"
            ) from None
        missing = [name for name in self.variables if name not in held]
        if missing:
            raise CheckpointError(
                f"checkpoint {latest} is from another model: it lacks this model's variable {missing[0]}"
                f"{_and_more(missing)} (new in t2i since the run was saved, or another config); {move_away}"
            )
        extra = sorted(held - set(self.variables))
        if extra:
            raise CheckpointError(
                f"checkpoint {latest} is from another model: it holds {extra[0]}{_and_more(extra)}, "
                f"which this model lacks; {move_away}"
            )
        try:
            self.checkpoint.read(latest).assert_consumed()
        except Exception as exc:  # TensorFlow raises many types for a damaged file; all mean it is unusable
            raise CheckpointError(
                f"checkpoint {latest} is damaged or from another model ({_first_line(exc)}); {move_away}"
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


def _held_names(path: str) -> set[str]:
    """The variable names a checkpoint holds, read from its object graph (no variable is loaded)."""
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(tf.train.load_checkpoint(path).get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    (node,) = [c.node_id for c in graph.nodes[0].children if c.local_name == _VARIABLES]
    return {c.local_name for c in graph.nodes[node].children}


def _and_more(names: list) -> str:
    return f" and {len(names) - 1} more" if len(names) > 1 else ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__
