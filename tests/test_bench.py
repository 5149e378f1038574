"""`t2i bench`: its FLOP count, its epoch timing, and one quick run end to end."""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from t2i.cli import app


def test_forward_flops_of_conv_transposed_conv_and_dense_layers():
    import keras

    from t2i.sweeps.bench import forward_flops

    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, padding="same"),  # 8x8 outputs, each 3*3*3 multiply-adds per filter
            keras.layers.Conv2DTranspose(2, 4, strides=2, padding="same"),  # 8x8 inputs scatter 4*4*4*2 each
            keras.layers.ReLU(),
            keras.layers.Flatten(),
            keras.layers.Dense(5),  # 16*16*2 inputs
        ]
    )
    assert forward_flops(model) == 2 * (8 * 8 * 27 * 4) + 2 * (8 * 8 * 4 * 4 * 4 * 2) + 2 * (512 * 5)


def test_analytic_flops_grow_with_the_batch_and_the_discriminators_sub_steps(tiny_cfg):
    from t2i.sweeps.bench import analytic_flops, forward_flops
    from t2i.training.run import build_gan

    cfg = tiny_cfg()
    gan = build_gan(cfg, None)
    g, d = forward_flops(gan.generator), forward_flops(gan.discriminator)
    assert g > 0 and d > 0
    step = analytic_flops(cfg, gan.generator, gan.discriminator)
    double_batch = tiny_cfg(f"data.batch_size={2 * cfg.data.batch_size}")
    assert analytic_flops(double_batch, gan.generator, gan.discriminator) == pytest.approx(2 * step)
    fewer = tiny_cfg("+ablation=shuffle")  # two D sub-steps instead of four
    assert len(fewer.gan.d_substeps) < len(cfg.gan.d_substeps)
    assert analytic_flops(fewer, gan.generator, gan.discriminator) < step
    rarer_g = tiny_cfg("+ablation=disc_steps")  # G updates on every second step only
    assert analytic_flops(rarer_g, gan.generator, gan.discriminator) < step
    # Every sample of a step goes at least once forward and backward through both networks.
    assert step >= cfg.data.batch_size * 3 * (g + d)


def test_images_in_counts_every_images_leaf_however_nested():
    import numpy as np

    from t2i.sweeps.bench import _images_in

    batch = {"chars": np.zeros([4, 2]), "images": np.zeros([4, 32, 32, 3])}
    assert _images_in({"d": (batch, batch), "g": batch, "seed": np.zeros([2])}) == 12
    assert _images_in(batch) == 4


def test_epoch_end_times_are_each_epochs_last_summary(tmp_path):
    import tensorflow as tf

    from t2i.sweeps.bench import epoch_end_times

    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        for epoch in range(3):
            time.sleep(0.2)
            tf.summary.scalar("epoch_mae", 1.0 / (epoch + 1), step=epoch)
            tf.summary.scalar("epoch_loss", 0.5, step=epoch)
    writer.flush()
    times = epoch_end_times(tmp_path)
    assert sorted(times) == [0, 1, 2]
    assert 0.2 <= times[2] - times[1] < 5 and 0.2 <= times[1] - times[0] < 5


@pytest.mark.slow  # a real short training, Part 1 to its check; `make bench` runs the same
def test_short_budget_run_measures_the_whole_epoch_of_a_real_run(tmp_path):
    """The bench's own short-budget config at --quick sizes (its Part 1 must pass its check)."""
    from t2i.config import compose_config
    from t2i.sweeps.bench import QUICK, short_budget_overrides, short_budget_run

    run = short_budget_run(compose_config([*short_budget_overrides(QUICK, tmp_path), "trainer.verbose=false"]))
    assert run["epoch_overhead_epochs"] == [2]
    # A whole epoch is its steps plus every callback (evaluation, CSV, TensorBoard, samples, checkpoint).
    assert run["epoch_seconds_full"] > run["epoch_seconds_steps"] > 0
    assert run["epoch_overhead"] == pytest.approx(run["epoch_seconds_full"] / run["epoch_seconds_steps"])
    assert 0 < run["mae_after_short_budget"] < 2


def test_t2i_uses_no_private_tensorflow_api():
    pattern = re.compile(r"tensorflow\.python|_true_graph|_body_graph|flops_registry|CallbackList\.")
    offenders = [
        f"{path}:{number}"
        for path in sorted(Path(__file__).resolve().parent.parent.joinpath("t2i").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if pattern.search(line)
    ]
    assert offenders == []


POSITIVE = [
    "data_speedup",
    "data_reference_samples_per_s",
    "data_training_samples_per_s",
    "gan_steps_per_s",
    "gan_steps_per_s_mbd",
    "gan_steps_per_s_wgan",
    "pretrain_steps_per_s",
    "gan_gflops_per_step",
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
    result = CliRunner().invoke(app, ["bench", "--quick", "-o", str(tmp_path / "bench.json")])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)  # nothing but the document on stdout
    assert json.loads((tmp_path / "bench.json").read_text()) == out

    for key in POSITIVE:
        assert isinstance(out[key], float) and math.isfinite(out[key]) and out[key] > 0, key
    assert 0 < out["flops_utilization"] < 1.5
    assert out["data_speedup"] > 1
    assert out["epoch_overhead"] > 1  # the callbacks take some time
    assert out["short_budget"]["overrides"] and out["epoch_overhead_epochs"] == [2]
    assert out["precision"]["policy"] == "mixed_bfloat16" and out["precision"]["gan_steps_per_s"] > 0
    assert out["xla"] == {"skipped": "--quick"}
    machine = out["machine"]
    assert machine["cores"] >= 1 and machine["tensorflow"] and machine["keras"] and machine["device"]
    assert set(machine["cpu_flags"]) >= {"avx2", "avx512f", "avx512_bf16"}


@pytest.mark.slow
def test_xla_is_timed_in_a_fresh_process_without_op_determinism(tmp_path):
    from t2i.sweeps.bench import QUICK, xla_variant

    overrides = ["budget=tiny", f"runs_root={tmp_path}", "trainer.jit_compile=true", "trainer.deterministic=false"]
    out = xla_variant(overrides, QUICK)
    assert out["jit_compile"] and out["gan_steps_per_s"] > 0 and out["gan_steps_per_s_without_xla"] > 0


def test_analytic_flops_of_reeds_step_count_its_one_d_update_half_batch_of_int_and_s(tiny_cfg):
    from t2i.sweeps.bench import analytic_flops, forward_flops
    from t2i.training.run import build_gan

    cfg = tiny_cfg("+ablation=reed_int_cls")
    gan = build_gan(cfg, None)
    g, d, s = (forward_flops(n) for n in (gan.generator, gan.discriminator, gan.style_encoder))
    # G's fakes; D trained on real, wrong and fake; G trained on 1.5 batches through D; S: G forward + S trained.
    per_sample = g + 3 * 3 * d + 1.5 * (3 * g + 2 * d) + g + 3 * s
    full = analytic_flops(cfg, gan.generator, gan.discriminator, gan.style_encoder)
    assert full == pytest.approx(cfg.data.batch_size * per_sample)
    assert analytic_flops(cfg, gan.generator, gan.discriminator) == pytest.approx(
        full - cfg.data.batch_size * (g + 3 * s)
    )
