"""Process-wide TensorFlow settings a run needs before any op: threads, seeds, determinism, precision."""

from __future__ import annotations

import keras
import tensorflow as tf

_done: dict = {}


def configure(trainer_cfg, seed: int) -> None:
    key = (trainer_cfg.threads, trainer_cfg.deterministic)
    if not _done:
        if trainer_cfg.threads > 0:
            tf.config.threading.set_intra_op_parallelism_threads(trainer_cfg.threads)
            tf.config.threading.set_inter_op_parallelism_threads(trainer_cfg.threads)
        if trainer_cfg.deterministic:
            tf.config.experimental.enable_op_determinism()
        _done["key"] = key
    policy = {"float32": "float32", "bfloat16": "mixed_bfloat16", "mixed_float16": "mixed_float16"}
    keras.mixed_precision.set_global_policy(policy[trainer_cfg.precision])
    keras.utils.set_random_seed(seed)
