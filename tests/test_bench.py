"""`t2i bench`: the FLOP counting it relies on, and one quick run end to end."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from t2i.cli import app


def test_graph_flops_counts_the_taken_branch_and_skips_unused_ops():
    import tensorflow as tf

    from t2i.bench import graph_flops

    w = tf.Variable(tf.ones([8, 16]))

    @tf.function
    def f(x, flag):
        tf.matmul(x, x, transpose_b=True)  # nothing needs it: the runtime prunes it
        return tf.cond(flag, lambda: tf.matmul(x, w), lambda: tf.zeros([4, 16]))

    graph = f.get_concrete_function(tf.TensorSpec([4, 8]), tf.TensorSpec([], tf.bool)).graph
    assert graph_flops(graph) == 2 * 4 * 8 * 16


def test_graph_flops_agrees_with_the_profiler_on_a_flat_graph():
    import tensorflow as tf

    from t2i.bench import graph_flops

    @tf.function
    def f(x, k):
        return tf.nn.relu(tf.nn.conv2d(x, k, 1, "SAME")) + 1.0

    graph = f.get_concrete_function(tf.TensorSpec([2, 8, 8, 3]), tf.TensorSpec([3, 3, 3, 4])).graph
    opts = tf.compat.v1.profiler.ProfileOptionBuilder(
        tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    ).with_empty_output()
    profiled = tf.compat.v1.profiler.profile(graph, options=opts.build()).total_float_ops
    assert graph_flops(graph) == profiled >= 2 * 2 * 8 * 8 * 4 * 27


def test_counted_and_analytic_flops_of_a_gan_step_agree(tiny_cfg):
    from t2i.bench import gan_flops
    from t2i.data.dataset import TextImageSampler

    cfg = tiny_cfg()
    sampler = TextImageSampler(cfg.data.vocab_size, cfg.data.image_size, cfg.cache_dir)
    out = gan_flops(cfg, sampler)
    # The G step sits inside a tf.cond, which the profiler alone does not see into.
    assert out["gan_gflops_per_step"] > 1.1 * out["gan_gflops_profiler_toplevel"]
    assert out["gan_gflops_per_step"] == pytest.approx(out["gan_gflops_per_step_analytic"], rel=0.1)


POSITIVE = [
    "data_speedup",
    "data_reference_samples_per_s",
    "data_training_samples_per_s",
    "gan_steps_per_s",
    "gan_steps_per_s_mbd",
    "gan_steps_per_s_wgan",
    "pretrain_steps_per_s",
    "gan_gflops_per_step",
    "gan_gflops_per_step_analytic",
    "machine_matmul_gflops",
    "flops_utilization",
    "epoch_overhead",
    "epoch_seconds_full",
    "epoch_seconds_steps",
    "mae_after_short_budget",
]


# About 75 s on 2 cores, nearly all of it compiling graphs: kept out of the default run (make test-slow).
@pytest.mark.slow
def test_quick_bench_prints_one_complete_json_document(tmp_path):
    import keras

    on_epoch_end = keras.callbacks.CallbackList.on_epoch_end
    result = CliRunner().invoke(app, ["bench", "--quick", "-o", str(tmp_path / "bench.json")])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)  # nothing but the document on stdout
    assert json.loads((tmp_path / "bench.json").read_text()) == out

    for key in POSITIVE:
        assert isinstance(out[key], float) and math.isfinite(out[key]) and out[key] > 0, key
    assert 0 < out["flops_utilization"] < 1.5
    assert out["data_speedup"] > 1
    assert out["epoch_overhead"] > 1  # the callbacks take some time
    assert 0 < out["mae_after_short_budget"] < 2
    assert "profiler" in out["gan_gflops_method"]
    assert out["short_budget"]["overrides"] and out["epoch_overhead_epochs"] == [2]
    assert out["precision"].get("gan_steps_per_s", 0) > 0 or out["precision"]["error"]  # optional: either
    assert out["xla"] == {"skipped": "--quick"}
    machine = out["machine"]
    assert machine["cores"] >= 1 and machine["tensorflow"] and machine["keras"] and machine["device"]
    assert set(machine["cpu_flags"]) >= {"avx2", "avx512f", "avx512_bf16"}
    assert keras.callbacks.CallbackList.on_epoch_end is on_epoch_end  # the timing hook is undone
