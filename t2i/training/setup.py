"""Process-wide TensorFlow settings a run needs before any op: threads, seeds, determinism, precision.

A launcher's worker process runs many jobs one after another, so every call starts from a clean Keras
session and applies this job's settings, not the first job's.
"""

from __future__ import annotations

import keras
import tensorflow as tf

# trainer.precision -> Keras dtype policy. mixed_float16 is left out until the optimizers get loss scaling:
# without it small gradients underflow to zero in float16 and training silently stalls.
POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}

_threads: dict = {}
_determinism: dict = {}
_gpu_memory: dict = {}


class SetupError(RuntimeError):
    """A setting this process cannot change any more."""


def configure(trainer_cfg, seed: int) -> None:
    # Layer-name counters, global policy and seed state of the previous job. Without its full garbage
    # collection, which costs seconds in a process that has built many models (a sweep, the test suite):
    # Python's own collector frees the same cycles.
    keras.utils.clear_session(free_memory=False)
    _set_threads(trainer_cfg.threads)
    _set_gpu_memory(trainer_cfg.gpu_memory_mb)
    _set_determinism(trainer_cfg.deterministic)
    keras.mixed_precision.set_global_policy(POLICIES[trainer_cfg.precision])
    keras.utils.set_random_seed(seed)


def _set_determinism(deterministic: bool) -> None:
    """TensorFlow's public API can turn op determinism on but not off again, so a process that has run a
    deterministic job cannot run a non-deterministic one (XLA needs it off)."""
    if deterministic and not _determinism.get("on"):
        tf.config.experimental.enable_op_determinism()
        _determinism["on"] = True
    elif not deterministic and _determinism.get("on"):
        raise SetupError(
            "trainer.deterministic=false, but this process already runs TensorFlow with op determinism on; "
            "run deterministic and non-deterministic jobs in separate sweeps"
        )


def _set_threads(threads: int) -> None:
    """TensorFlow fixes its thread pools at its first op; later jobs must ask for the same."""
    if "value" not in _threads:
        if threads > 0:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        _threads["value"] = threads
    elif _threads["value"] != threads:
        raise SetupError(
            f"trainer.threads={threads}, but this process already runs TensorFlow with "
            f"trainer.threads={_threads['value']}; run different thread counts in separate sweeps"
        )


def _set_gpu_memory(megabytes: int) -> None:
    """A hard share of the first GPU for this process (0: grow on demand, see t2i/__init__.py), so that N runs
    can share one GPU predictably. Like the thread pools, fixed at TensorFlow's first op."""
    if "value" not in _gpu_memory:
        gpus = tf.config.list_physical_devices("GPU")
        if megabytes > 0 and gpus:
            tf.config.set_logical_device_configuration(
                gpus[0], [tf.config.LogicalDeviceConfiguration(memory_limit=megabytes)]
            )
        _gpu_memory["value"] = megabytes
    elif _gpu_memory["value"] != megabytes:
        raise SetupError(
            f"trainer.gpu_memory_mb={megabytes}, but this process already runs TensorFlow with "
            f"trainer.gpu_memory_mb={_gpu_memory['value']}; run different values in separate sweeps"
        )
