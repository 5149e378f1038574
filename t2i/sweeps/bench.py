"""`t2i bench`: the speed of every part of a run, measured in one process and reported as one JSON document.

Everything is measured with the project's own code paths (gan_dataset, build_gan, build_supervised, the real
`train`), so a change to any of them shows here. Timings are wall-clock and share the machine with whatever
else runs; machine.loadavg_1min_start/_end record how busy it was. Only public TensorFlow and Keras APIs.

FLOPs are counted from the networks' layer shapes (`analytic_flops`), which agreed within 1 % with the op-level
count of the traced step that earlier versions made through TensorFlow's private profiler registry. Keys that
went with that count: gan_gflops_per_step_analytic (now gan_gflops_per_step itself), gan_gflops_analytic_method
(now gan_gflops_method) and gan_gflops_profiler_toplevel (gone).
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "amx_int8")


@dataclass(frozen=True)
class Sizes:
    reference_samples: int  # matplotlib renders, several ms each
    data_elements: int  # gan_dataset elements (one GAN step's batches each)
    steps_per_epoch: int
    timed_epochs: int  # after one warm-up epoch that includes tracing and graph optimisation
    pretrain_epochs: int
    pretrain_steps_per_epoch: int
    train_epochs: int
    matmul_reps: int
    xla_steps_per_epoch: int  # XLA steps are slow on CPU; fewer keep the whole bench within minutes
    # (the quick run skips XLA: its compilation alone would take a third of the quick budget)


FULL = Sizes(40, 40, 32, 2, 10, 32, 12, 20, 8)
# Compilation dominates a quick run; the step counts only need to be non-zero.
QUICK = Sizes(6, 4, 4, 1, 2, 4, 3, 3, 0)


_STARTED = time.perf_counter()


def _log(message: str) -> None:
    print(f"bench [{time.perf_counter() - _STARTED:5.1f}s]: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _stdout_to_stderr():
    """Keep stdout for the JSON alone, even if a library prints (Python or C level) while we measure."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _try(fn, *args, **kwargs):
    """An optional measurement: its result, or the error it raised as a string."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # any failure of an optional path is the result we report
        _log(f"failed: {type(exc).__name__}: {exc}")
        return {"error": f"{type(exc).__name__}: {' '.join(str(exc).split())[:500]}"}


# --- machine ------------------------------------------------------------------------------------------------


def machine_info() -> dict:
    import keras
    import tensorflow as tf

    model, flags = platform.processor() or platform.machine(), set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    gpus = tf.config.list_physical_devices("GPU")
    device = tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name) if gpus else "cpu"
    return {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "cpu": model,
        "cpu_flags": {f: f in flags for f in CPU_FLAGS},
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "device": device,
        "loadavg_1min_start": round(os.getloadavg()[0], 2),
    }


def matmul_gflops(reps: int, n: int = 2048) -> float:
    import tensorflow as tf

    a = tf.random.stateless_uniform([n, n], [0, 1])
    b = tf.random.stateless_uniform([n, n], [0, 2])
    tf.matmul(a, b).numpy()  # first call pays for kernel selection
    start = time.perf_counter()
    for _ in range(reps):
        c = tf.matmul(a, b)
    c.numpy()  # waits for the device, where that is asynchronous
    return 2 * n**3 * reps / (time.perf_counter() - start) / 1e9


# --- data ---------------------------------------------------------------------------------------------------


def data_rates(cfg, sampler, sizes: Sizes) -> dict:
    from t2i.data.dataset import gan_dataset
    from t2i.data.render import render_reference
    from t2i.data.vocab import COLOURS, FULL_ALPHABET

    rng = np.random.default_rng(0)
    alphabet = FULL_ALPHABET[: cfg.data.vocab_size]
    texts = []
    for _ in range(sizes.reference_samples + 1):
        bg, fg = rng.choice(len(COLOURS), 2, replace=False)
        texts.append(("".join(rng.choice(list(alphabet), 2)), COLOURS[bg], COLOURS[fg]))
    render_reference(*texts[0], size=cfg.data.image_size)  # font loading is a one-off, not a per-sample cost
    start = time.perf_counter()
    for chars, bg, fg in texts[1:]:
        render_reference(chars, bg, fg, size=cfg.data.image_size)
    reference = sizes.reference_samples / (time.perf_counter() - start)

    it = iter(gan_dataset(sampler, cfg))
    for _ in range(2):  # tracing the map function and filling the prefetch buffer
        next(it)
    images = 0
    start = time.perf_counter()
    for _ in range(sizes.data_elements):
        images += _images_in(next(it))
    training = images / (time.perf_counter() - start)
    return {
        "data_speedup": training / reference,
        "data_reference_samples_per_s": reference,
        "data_training_samples_per_s": training,
    }


def _images_in(element) -> int:
    """Images in one dataset element, whatever its nesting (one batch per GAN step, or one per sub-step)."""
    import keras

    return sum(int(x.shape[0]) for path, x in keras.tree.flatten_with_path(element) if path[-1] == "images")


# --- steps per second ---------------------------------------------------------------------------------------


def _fit_steps_per_s(model, dataset, sizes: Sizes, steps_per_epoch: int) -> float:
    """Steady-state steps/s of model.fit: the first epoch (tracing, graph optimisation) is not timed."""
    import keras

    ends = []

    class EpochEnds(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            ends.append(time.perf_counter())

    model.fit(
        dataset,
        epochs=1 + sizes.timed_epochs,
        steps_per_epoch=steps_per_epoch,
        verbose=0,
        shuffle=False,
        callbacks=[EpochEnds()],
    )
    return sizes.timed_epochs * steps_per_epoch / (ends[-1] - ends[0])


def timed_gan(cfg, sampler, sizes: Sizes):
    """The GAN build_gan makes for `cfg` (compiled exactly as a run compiles it) and its steady-state steps/s."""
    from t2i.data.dataset import gan_dataset
    from t2i.training import setup
    from t2i.training.run import build_gan

    setup.configure(cfg.trainer, cfg.seed)  # precision policy and seeds, as a real run sets them
    gan = build_gan(cfg, None)  # a random text encoder costs the same as a pretrained one
    return gan, _fit_steps_per_s(gan, gan_dataset(sampler, cfg), sizes, cfg.trainer.steps_per_epoch)


def pretrain_steps_per_s(cfg, sampler, sizes: Sizes) -> float:
    import keras

    from t2i import losses
    from t2i.data.dataset import supervised_dataset
    from t2i.training import setup
    from t2i.training.pretrain import PRETRAIN_SEED, build_supervised, pixel_mae, pixel_mse

    setup.configure(cfg.trainer, PRETRAIN_SEED)
    _, _, model = build_supervised(cfg)
    # As run_pretraining compiles it (which keeps its compile call inside); keep the two in step.
    model.compile(
        optimizer=keras.optimizers.Adam(cfg.pretrain.learning_rate),
        loss=losses.tanh_cross_entropy,
        metrics=[pixel_mae, pixel_mse],
    )
    dataset = supervised_dataset(sampler, cfg.pretrain.batch_size, PRETRAIN_SEED)
    return _fit_steps_per_s(model, dataset, sizes, cfg.pretrain.steps_per_epoch)


def precision_variant(cfg, base_cfg, sampler, sizes: Sizes, baseline: float) -> dict:
    from t2i.training import setup

    try:
        gan, rate = timed_gan(cfg, sampler, sizes)
    finally:
        setup.configure(base_cfg.trainer, base_cfg.seed)  # back to float32 for whatever is built next
    policy = gan.discriminator.dtype_policy.name  # what the layers got, not what was asked for
    return {"policy": policy, "gan_steps_per_s": rate, "speedup": rate / baseline}


def xla_variant(overrides: list[str], sizes: Sizes) -> dict:
    """XLA against no XLA, both with op determinism off: Keras silently drops jit_compile while it is on
    (trainer.deterministic=true, the default). TensorFlow has no public switch to turn determinism off once a
    process has turned it on, so both are timed in a fresh process that never turns it on."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_xla_in_this_process, (overrides, sizes))


def _xla_in_this_process(overrides: list[str], sizes: Sizes) -> dict:
    from t2i.config import compose_config
    from t2i.data.dataset import TextImageSampler

    cfg = compose_config(overrides)
    sampler = TextImageSampler(cfg.data.vocab_size, cfg.data.image_size, cfg.cache_dir)
    without = timed_gan(OmegaConf.merge(cfg, {"trainer": {"jit_compile": False}}), sampler, sizes)[1]
    gan, rate = timed_gan(cfg, sampler, sizes)
    if not gan.jit_compile:
        raise RuntimeError("Keras turned jit_compile off for this model")
    return {
        "jit_compile": True,
        "deterministic": False,
        "steps_per_epoch": cfg.trainer.steps_per_epoch,
        "gan_steps_per_s": rate,
        "gan_steps_per_s_without_xla": without,
        "speedup": rate / without,
        "note": "trainer.jit_compile=true has no effect while trainer.deterministic=true (Keras turns it off)",
    }


# --- FLOPs --------------------------------------------------------------------------------------------------


def forward_flops(model) -> int:
    """Conv and dense FLOPs (2 per multiply-add) of one sample through `model`."""
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):  # each input pixel scatters the whole kernel
            total += 2 * math.prod(layer.kernel.shape) * math.prod(layer.input.shape[1:3])
        elif isinstance(layer, keras.layers.Conv2D):
            total += 2 * math.prod(layer.kernel.shape) * math.prod(layer.output.shape[1:3])
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * math.prod(layer.kernel.shape)
    return total


def analytic_flops(cfg, generator, discriminator, style_encoder=None) -> float:
    """A GAN step's conv/dense FLOPs from the config's step structure and the networks' layer shapes.

    Training a network on a batch costs 3x its forward pass (forward, input and weight gradients). Per sample:
    G forward once for each batch of fakes; each labelled D update trains D once (3D); each of the two critic
    updates trains D on the real and on the other images (2 x 3D); Reed et al.'s matching-aware update trains D
    on the real, the fake and (GAN-CLS, gan.cls_weight > 0) the wrong-text images (3 x 3D); G's update trains G
    (3G) through D's forward and input gradients (2D), plus GAN-INT's interpolated texts (a whole batch more
    with gan.interpolation_pairs=permuted, half a batch with halves), on one step in 1 + gan.d_only_steps; S
    (model.style_encoder, `style_encoder` given) costs G forward once and S trained once (G + 3S) every step.
    Left out: the text encoder (GRUs, < 0.1 %), element-wise ops, the gradient penalty's second-order pass and
    the optimiser updates.
    """
    d, g = forward_flops(discriminator), forward_flops(generator)
    gan = cfg.gan
    d_step = OmegaConf.select(cfg, "gan.d_step", default="labelled")
    if d_step == "critic":
        fakes, d_updates = 1, 2 * 2 * 3 * d
    elif d_step == "matching_aware":
        fakes, d_updates = 1, (3 if OmegaConf.select(cfg, "gan.cls_weight", default=0.0) > 0 else 2) * 3 * d
    else:
        fakes, d_updates = list(gan.d_substeps).count("fake"), len(gan.d_substeps) * 3 * d
    g_passes = 1.0
    if OmegaConf.select(cfg, "gan.interpolation_weight", default=0.0) > 0:
        g_passes += 0.5 if OmegaConf.select(cfg, "gan.interpolation_pairs", default="permuted") == "halves" else 1.0
    g_update = g_passes * (3 * g + 2 * d) / (1 + OmegaConf.select(cfg, "gan.d_only_steps", default=0))
    style = g + 3 * forward_flops(style_encoder) if style_encoder is not None else 0
    return cfg.data.batch_size * (fakes * g + d_updates + g_update + style)


def step_gflops(cfg) -> float:
    """analytic_flops of the GAN build_gan makes for `cfg`, in GFLOPs."""
    from t2i.training import setup
    from t2i.training.run import build_gan

    setup.configure(cfg.trainer, cfg.seed)
    gan = build_gan(cfg, None)
    return analytic_flops(cfg, gan.generator, gan.discriminator, gan.style_encoder) / 1e9


def gan_flops(cfg) -> dict:
    return {
        "gan_gflops_per_step": step_gflops(cfg),
        "gan_gflops_method": (
            "conv/dense layers of G and D from their shapes, 2 FLOPs per multiply-add, counted over the passes "
            "the config's GAN step makes (training = 3x forward; G's update needs D's forward and input "
            "gradients only); text encoder, element-wise ops, the gradient penalty's second-order pass and "
            "optimiser updates left out (see t2i.sweeps.bench.analytic_flops)"
        ),
    }


# --- Reed et al.'s step beside the reference's ---------------------------------------------------------------

REED_ABLATION = "reed_int_cls"  # GAN-INT-CLS with the style encoder S (conf/ablation/reed_int_cls.yaml)
REED_TARGET = 0.80  # Reed's steps/s over the reference's, at least (issue 19)
# What Reed's step is timed without, to show where its time goes: S's own update (G forward + S trained, every
# step), then GAN-INT's extra half batch through G and D as well (what is left is GAN-CLS's one D update).
REED_PARTS = {
    "without_style_encoder": ["model.style_encoder=false"],
    "without_style_encoder_and_interpolation": ["model.style_encoder=false", "gan.interpolation_weight=0.0"],
}


def reed_step(overrides: list[str], sampler, sizes: Sizes, reference: float, reed: float) -> dict:
    """Reed's step against the reference's (both timed by the caller in the same run): the ratio of steps/s
    with its target, the breakdown without S and without GAN-INT, and each step's analytic GFLOPs (the ratio
    that FLOPs alone would predict)."""
    base = [*overrides, f"+ablation={REED_ABLATION}"]
    out = {
        "overrides": [f"+ablation={REED_ABLATION}"],
        "reference_steps_per_s": reference,
        "reed_steps_per_s": reed,
        "ratio": reed / reference,
        "target_ratio_min": REED_TARGET,
        "met": reed / reference >= REED_TARGET,
        "gflops_per_step": {"reference": step_gflops(compose(overrides)), "reed": step_gflops(compose(base))},
        "breakdown": {},
    }
    out["flops_ratio"] = out["gflops_per_step"]["reference"] / out["gflops_per_step"]["reed"]
    for name, extra in REED_PARTS.items():
        cfg = compose([*base, *extra])
        rate = timed_gan(cfg, sampler, sizes)[1]
        out["breakdown"][name] = {
            "overrides": extra,
            "steps_per_s": rate,
            "ratio": rate / reference,
            "gflops_per_step": step_gflops(cfg),
        }
    return out


def compose(overrides: list[str]):
    from t2i.config import compose_config

    return compose_config(overrides)


# --- a real run: epoch overhead and MAE after a short budget --------------------------------------------------


def epoch_end_times(log_dir) -> dict[int, float]:
    """Epoch -> wall time of its last summary in a TensorBoard log directory.

    Keras' TensorBoard callback writes each epoch's scalars at a fixed point of the run's callback sequence,
    so the time between two epochs' summaries is a whole epoch: its steps and every callback.
    """
    import tensorflow as tf

    times: dict[int, float] = {}
    for path in sorted(Path(log_dir).glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            if event.summary.value:
                times[event.step] = max(times.get(event.step, 0.0), event.wall_time)
    return times


def short_budget_run(cfg) -> dict:
    import pandas as pd

    from t2i.store import part1
    from t2i.training import setup
    from t2i.training.pretrain import ensure_pretrained
    from t2i.training.run import train

    setup.configure(cfg.trainer, cfg.seed)
    start = time.perf_counter()
    entry = ensure_pretrained(cfg, verbose=cfg.trainer.verbose)  # cached across bench runs, like real runs
    pretrain_seconds = time.perf_counter() - start
    status = train(cfg)
    ends = epoch_end_times(Path(cfg.run_dir) / "tensorboard" / "train")
    metrics = pd.read_csv(Path(cfg.run_dir) / "metrics.csv").set_index("epoch")
    seconds = metrics["seconds"]
    # Not the first epoch (tracing) nor the last (its extra sample grid and end-of-training work); with
    # 12 epochs that leaves epochs 2-11, whose sample grid at epoch 10 is on its every-10-epochs cadence.
    measured = range(1, cfg.trainer.epochs - 1)
    full = sum(ends[e] - ends[e - 1] for e in measured) / len(measured)
    steps = sum(seconds[e] for e in measured) / len(measured)
    return {
        "epoch_overhead": full / steps,
        "epoch_seconds_full": full,
        "epoch_seconds_steps": steps,
        "epoch_overhead_epochs": [e + 1 for e in measured],
        "mae_after_short_budget": status["final_mae"],
        "mae_after_first_epoch": float(metrics["mae"].iloc[0]),  # what the budget improved on
        "best_mae": status["best_mae"],
        "pretrain_mae": part1.read_result(entry)["mae"],
        "pretrain_seconds": pretrain_seconds,  # ~0 when an earlier bench run left it in the cache
    }


# --- all of it ----------------------------------------------------------------------------------------------


def short_budget_overrides(sizes: Sizes, runs_root) -> list[str]:
    return [
        f"runs_root={runs_root}",
        "seed=0",
        "data.batch_size=64",
        "data.vocab_size=10",
        f"trainer.steps_per_epoch={sizes.steps_per_epoch}",
        f"trainer.epochs={sizes.train_epochs}",
        "trainer.sample_every=10",
        # One D-only epoch instead of five, so that every measured epoch trains G as nearly all of a real run's do.
        "gan.d_only_epochs=1",
        f"pretrain.epochs={sizes.pretrain_epochs}",
        f"pretrain.steps_per_epoch={sizes.pretrain_steps_per_epoch}",
        "pretrain.batch_size=64",
        "pretrain.vocab_size=10",
        # A Part 1 this short ends far above the study's check (0.15; ~0.2 after 10 epochs): the check guards
        # studies from a failed encoder, while this run only measures speed and reports pretrain_mae.
        "pretrain.max_mae=2.0",
    ]


def run_bench(quick: bool = False) -> dict:
    with _stdout_to_stderr():
        return _run_bench(QUICK if quick else FULL, quick)


def _run_bench(sizes: Sizes, quick: bool) -> dict:
    started = time.perf_counter()
    from t2i.config import compose_config
    from t2i.data.dataset import TextImageSampler
    from t2i.training import setup

    with tempfile.TemporaryDirectory(prefix="t2i-bench-") as runs_root:
        overrides = short_budget_overrides(sizes, runs_root)
        cfg = compose_config(overrides)
        setup.configure(cfg.trainer, cfg.seed)
        out: dict = {"quick": quick, "machine": machine_info()}

        _log("matmul")
        out["machine_matmul_gflops"] = matmul_gflops(sizes.matmul_reps)

        _log("data paths")
        start = time.perf_counter()
        sampler = TextImageSampler(cfg.data.vocab_size, cfg.data.image_size, cfg.cache_dir)
        out["data_mask_table_seconds"] = time.perf_counter() - start  # ~0 once the table is cached
        out.update(data_rates(cfg, sampler, sizes))

        # Reed's step right after the reference's, so that both see the same load.
        for key, ablation in (("", None), ("_reed", REED_ABLATION), ("_mbd", "mbd"), ("_wgan", "wgan")):
            _log(f"gan_steps_per_s{key}")
            variant = compose_config(overrides + ([f"+ablation={ablation}"] if ablation else []))
            out[f"gan_steps_per_s{key}"] = timed_gan(variant, sampler, sizes)[1]
        _log("reed_step: Reed's step without S, and without GAN-INT too")
        out["reed_step"] = reed_step(overrides, sampler, sizes, out["gan_steps_per_s"], out["gan_steps_per_s_reed"])

        _log("pretrain_steps_per_s")
        out["pretrain_steps_per_s"] = pretrain_steps_per_s(cfg, sampler, sizes)

        _log("FLOPs of one GAN step")
        out.update(gan_flops(cfg))
        out["flops_utilization"] = out["gan_gflops_per_step"] * out["gan_steps_per_s"] / out["machine_matmul_gflops"]

        _log("precision: trainer.precision=bfloat16")
        bf16 = compose_config([*overrides, "trainer.precision=bfloat16"])
        out["precision"] = _try(precision_variant, bf16, cfg, sampler, sizes, out["gan_steps_per_s"])
        if quick:
            out["xla"] = {"skipped": "--quick"}
        else:
            _log("xla: trainer.jit_compile=true trainer.deterministic=false")
            xla = [*overrides, "trainer.jit_compile=true", "trainer.deterministic=false"]
            xla.append(f"trainer.steps_per_epoch={sizes.xla_steps_per_epoch}")
            out["xla"] = _try(xla_variant, xla, sizes)

        _log(f"short-budget run: `t2i train` for {sizes.train_epochs} epochs with every callback of a real run")
        run = short_budget_run(cfg)
        short = ("mae_after_first_epoch", "best_mae", "pretrain_mae", "pretrain_seconds")
        out.update({k: v for k, v in run.items() if k not in short})
        out["short_budget"] = {
            "overrides": [o for o in overrides if not o.startswith("runs_root=")],
            "mae": "eval MAE (512 fixed samples) after the last epoch of the real `train` with these overrides",
            **{k: run[k] for k in short},
        }
        if not quick and "gan_steps_per_s" in out["precision"]:
            # The same short budget in mixed bfloat16, so the speed-up is shown beside what it does to MAE.
            _log("short-budget run in mixed bfloat16")
            bf16_run = [*overrides, f"runs_root={runs_root}/bf16", "trainer.precision=bfloat16"]
            mae = _try(lambda: short_budget_run(compose_config(bf16_run))["mae_after_short_budget"])
            out["precision"]["mae_after_short_budget"] = mae
            if isinstance(mae, float):
                out["precision"]["mae_difference_vs_float32"] = mae - out["mae_after_short_budget"]
    out["machine"]["loadavg_1min_end"] = round(os.getloadavg()[0], 2)
    out["bench_seconds"] = time.perf_counter() - started
    return out
