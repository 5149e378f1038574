"""TensorFlow's start-up chatter is filtered from stderr; errors and the user's own log level are not."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from t2i.tf_startup import NO_DRIVER, has_cuda_driver, without_chatter

# As TensorFlow 2.21 prints them on a CPU machine (two libraries, three lines each), then a real error.
CHATTER = [
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
    b"I0000 00:00:1795891331.612602    3624 port.cc:153] oneDNN custom operations are on. You may see slightly "
    b"different numerical results. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.\n",
    b"I0000 00:00:1795891331.613070    3624 cudart_stub.cc:31] Could not find cuda drivers on your machine, "
    b"GPU will not be used.\n",
    b"I0000 00:00:1795891331.725859    3624 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use "
    b"available CPU instructions in performance-critical operations.\n",
    b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the "
    b"appropriate compiler flags.\n",
]
KEPT = [
    b"E0000 00:00:1795891333.976699    3624 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\n",
    b"W0000 00:00:1795891333.976699    3624 port.cc:153] a warning from a chatty file is still a warning\n",
    b"Traceback (most recent call last):\n",
    b"ImportError: libcudnn.so.9: cannot open shared object file\n",
]


def test_only_the_known_info_lines_are_dropped():
    assert without_chatter(b"".join(CHATTER + KEPT[:2] + CHATTER + KEPT[2:])) == b"".join(KEPT)


def test_the_cuinit_error_is_dropped_only_by_the_no_driver_filter():
    cuinit = KEPT[0]
    assert without_chatter(cuinit, NO_DRIVER) == b""
    assert without_chatter(b"".join(KEPT[1:]), NO_DRIVER) == b"".join(KEPT[1:])


def run(code: str, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, "-c", code], env={**environ, **env}, capture_output=True, timeout=120)


def test_importing_tensorflow_through_t2i_prints_no_start_up_chatter():
    result = run("import t2i, keras, tensorflow as tf, sys; print('after import', file=sys.stderr)")
    assert result.returncode == 0, result.stderr.decode()
    assert b"absl::InitializeLog" not in result.stderr and b"oneDNN custom operations" not in result.stderr
    assert b"after import" in result.stderr


def test_a_log_level_the_user_chose_is_kept():
    code = "import os, t2i; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    assert run(code).stdout.strip() == b"2"
    assert run(code, TF_CPP_MIN_LOG_LEVEL="0").stdout.strip() == b"0"


@pytest.mark.skipif(has_cuda_driver(), reason="with a CUDA driver installed, a failing cuInit is a real error")
def test_a_machine_without_cuda_driver_prints_no_cuinit_error():
    result = run("import t2i, tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.strip() == b"0"
    assert b"cuInit" not in result.stderr, result.stderr.decode()


def test_gpu_memory_grows_on_demand_unless_the_user_says_otherwise():
    """So that the runs of a local sweep can share one GPU (TensorFlow maps it whole into the first process)."""
    code = "import os, t2i; print(os.environ['TF_FORCE_GPU_ALLOW_GROWTH'])"
    environ = {k: v for k, v in os.environ.items() if k != "TF_FORCE_GPU_ALLOW_GROWTH"}
    default = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=60)
    assert default.stdout.strip() == "true"
    own = subprocess.run(
        [sys.executable, "-c", code], env={**environ, "TF_FORCE_GPU_ALLOW_GROWTH": "false"}, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert own.stdout.strip() == "false"


def test_a_gpu_memory_share_is_fixed_for_the_process():
    from omegaconf import OmegaConf

    from t2i.training import setup

    trainer = OmegaConf.create({"threads": 0, "deterministic": True, "precision": "float32", "gpu_memory_mb": 0})
    setup.configure(trainer, 0)
    trainer.gpu_memory_mb = 512
    with pytest.raises(setup.SetupError, match="trainer.gpu_memory_mb=512"):
        setup.configure(trainer, 0)
