"""Issue 11, as a user meets it: nothing lost, nothing silently wrong.

Part 1 that cannot poison the cache; run directories that refuse damage instead of training over it;
checkpoints that resume consistently wherever a crash tears them; Ctrl-C; bad values and paths caught at once;
clean per-job settings. Tiny budgets throughout.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from t2i.cli import app
from t2i.config import ConfigError, compose_config
from t2i.store import rundir

TIMING = ["seconds", "images_per_s"]
# Eager steps: these tests are about files and resume points, and tracing the step for each train() would
# cost most of their time (test_training's killed-run test resumes a graph run).
EPOCHS = [
    "budget=tiny",
    "trainer.epochs=5",
    "trainer.verbose=false",
    "trainer.sample_every=100",
    "trainer.run_eagerly=true",
]
runner = CliRunner()


def compose(root, *extra):
    return compose_config([*EPOCHS, f"runs_root={root}", *extra])


def curve(run_dir) -> pd.DataFrame:
    return rundir.read_metrics(run_dir).drop(columns=TIMING)


def files(run_dir: Path) -> dict:
    """Every file's bytes, but the lock (which names its last holder's pid, by design)."""
    return {
        str(p.relative_to(run_dir)): p.read_bytes()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


class Crash(Exception):
    """A crash at a chosen point of an epoch's writes."""


@contextmanager
def raise_at_status(epoch: int, exc=Crash, after_write=False):
    """Raise `exc` where the run records its checkpoint of `epoch` in status.json (the last of an epoch's writes)."""
    import t2i.training.run as run

    original = run.write_status

    def patched(run_dir, **fields):
        if "status" not in fields and fields.get("epochs_done") == epoch:  # not the final `done` write
            if after_write:
                original(run_dir, **fields)
            raise exc()
        return original(run_dir, **fields)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(run, "write_status", patched)
        yield


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted 5-epoch run."""
    from t2i.training.run import train

    cfg = compose(tmp_path_factory.mktemp("reference"))
    train(cfg)
    return Path(cfg.run_dir)


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A 5-epoch run stopped by Ctrl-C after its checkpoint of epoch 2."""
    from t2i.store.rundir import RunInterrupted
    from t2i.training.run import train

    cfg = compose(tmp_path_factory.mktemp("interrupted"))
    with raise_at_status(2, KeyboardInterrupt, after_write=True), pytest.raises(RunInterrupted, match="after epoch 2"):
        train(cfg)
    return Path(cfg.run_dir)


def copy_run(src: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    """A copy of a run directory under tmp_path, and the overrides that name it."""
    dst = tmp_path / "baseline" / "seed=0"
    shutil.copytree(src, dst)
    return dst, [*EPOCHS, f"runs_root={tmp_path}"]


# --- 1. Part 1 cannot poison the cache --------------------------------------------------------------


def test_diverging_part1_is_recovered_with_the_best_weights(tmp_path, capsys):
    from t2i.training.pretrain import ensure_pretrained

    # An absurd rate blows up at once; from the second divergence on, the rate drops 1e4-fold.
    cfg = compose(tmp_path, "pretrain.epochs=4", "pretrain.learning_rate=100", "pretrain.recovery_lr_factor=1e-4")
    entry = ensure_pretrained(cfg, verbose=False)
    result = json.loads((entry / "result.json").read_text())
    log = rundir.read_metrics(entry / "metrics.csv", required=("epoch", "heldout_mae"))
    assert result["recoveries"] >= 2 and not result["stopped_early"] and log["recovered"].sum() >= 2
    # Restoring the best state does not undo the lowered rate: it compounds with each recurrence.
    assert result["final_learning_rate"] == pytest.approx(100 * 1e-4 ** (result["recoveries"] - 1), rel=1e-5)
    assert "Part 1 diverged at epoch 1" in capsys.readouterr().err
    # The cached weights are the best held-out ones: never worse than any epoch that was kept.
    kept = log.loc[log["recovered"] == 0, "heldout_mae"]
    assert result["mae"] == pytest.approx(min([*kept, result["mae"]]), abs=1e-6)
    assert result["needs"]["trainer"] == {"precision": "float32", "jit_compile": False}


def test_part1_that_fails_its_check_is_refused_and_never_cached(tmp_path):
    from t2i.store.part1 import entry as cache_entry
    from t2i.training.pretrain import PretrainingRejected, ensure_pretrained

    overrides = [
        *EPOCHS,
        f"runs_root={tmp_path}",
        "pretrain.learning_rate=100",
        "pretrain.max_recoveries=0",  # stop at the first divergence, with the (untrained) best weights
        "pretrain.max_mae=0.5",
    ]
    cfg = compose_config(overrides)
    entry = cache_entry(cfg)
    result = runner.invoke(app, ["train", *overrides])
    assert result.exit_code == 1, result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("t2i: error: Part 1 failed its check") and "pretrain.max_mae" in line
    assert not entry.exists() and (entry.parent / f"{entry.name}.rejected" / "metrics.csv").exists()
    assert rundir.read_status(cfg.run_dir)["status"] == "failed"
    with pytest.raises(PretrainingRejected):  # and again: nothing was cached in between
        ensure_pretrained(cfg, verbose=False)
    assert not entry.exists()
    # The way out the message offers, a higher threshold, continues the same run directory.
    assert rundir.check_run_dir(compose_config([*overrides, "pretrain.max_mae=1.5"])) == "resume"


def test_a_cached_encoder_is_checked_and_its_heldout_mae_shown(tmp_path, capsys):
    from t2i.training.pretrain import PretrainingRejected, ensure_pretrained

    cfg = compose(tmp_path, "pretrain.epochs=2")
    entry = ensure_pretrained(cfg, verbose=False)
    mae = json.loads((entry / "result.json").read_text())["mae"]
    capsys.readouterr()
    assert ensure_pretrained(cfg, verbose=False) == entry
    assert f"using the cached pretrained text encoder {entry} (held-out MAE {mae:.4f})" in capsys.readouterr().err
    # A stricter threshold refuses the same entry (as it would a poisoned one an older t2i cached).
    with pytest.raises(PretrainingRejected, match="best held-out MAE"):
        ensure_pretrained(compose(tmp_path, "pretrain.epochs=2", f"pretrain.max_mae={mae / 2}"), verbose=False)


# --- 2, 3. Damaged run directories are refused, byte for byte -----------------------------------------


def _garble_header(run):
    path = run / "metrics.csv"
    path.write_bytes(b"\x00\x17garbled\xff" + path.read_bytes().split(b"\n", 1)[1])


def _drop_epoch_row(run):
    lines = (run / "metrics.csv").read_text().splitlines(keepends=True)
    (run / "metrics.csv").write_text("".join([lines[0], *lines[2:]]))  # epoch 0's row gone


def _delete_checkpoint(run):
    shutil.rmtree(run / "checkpoints" / "resume")


def _garble_checkpoint_data(run):
    (data,) = (run / "checkpoints" / "resume").glob("ckpt-2.data-*")
    data.write_bytes(b"garbage" * 100)


def _garble_checkpoint_state(run):
    (run / "checkpoints" / "resume" / "checkpoint").write_text("nonsense\n")


def _older_checkpoint(run):  # the files of a checkpoint at epoch 2 renamed as epoch 1, as an old copy would be
    resume = run / "checkpoints" / "resume"
    for f in resume.glob("ckpt-2.*"):
        f.rename(resume / f.name.replace("ckpt-2", "ckpt-1"))
    (resume / "checkpoint").write_text((resume / "checkpoint").read_text().replace("ckpt-2", "ckpt-1"))


@pytest.mark.parametrize(
    "damage, message",
    [
        (_garble_header, "metrics.csv is damaged: line 1 is not a header"),
        (_drop_epoch_row, "metrics.csv is damaged: its epochs are not 0, 1, 2"),
        (_delete_checkpoint, "holds no checkpoint but the run logged 2 epochs"),
        (_garble_checkpoint_data, "ckpt-2 is damaged or from another model"),
        (_garble_checkpoint_state, "checkpoint is damaged: it names no ckpt-<epoch>"),
        (_older_checkpoint, "holds 1 epochs but the run logged 2"),
    ],
)
def test_a_damaged_run_directory_is_refused_and_left_byte_identical(interrupted, tmp_path, damage, message):
    run, overrides = copy_run(interrupted, tmp_path)
    damage(run)
    before = files(run)
    result = runner.invoke(app, ["train", *overrides])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("t2i: error:") and message in lines[0], result.output
    assert "nothing was changed" in lines[0]
    assert files(run) == before


def test_committed_run_records_still_read():
    """The study's metrics.csv files were written by Keras's CSVLogger, with an empty val_* per column.
    (tests/test_study.py checks that each is complete for the config its study composes.)"""
    runs = sorted(
        p for study in ("ablation_study", "paper_budget") for p in Path(f"experiments/{study}/runs").glob("*/seed=*")
    )
    assert runs
    for run in runs:
        df = rundir.read_metrics(run)
        assert not [c for c in df.columns if c.startswith("val_")] and list(df["epoch"]) == list(range(len(df)))
        summary, status = rundir.metrics_summary(df), json.loads((run / "status.json").read_text())
        assert summary["epochs_done"] == status["epochs_done"], run
        assert summary["final_mae"] == pytest.approx(status["final_mae"]), run


# --- 4. Checkpoints: consistent wherever torn, by name, legacy format, kill -9 ------------------------


def test_a_checkpoint_torn_at_any_point_resumes_at_a_consistent_epoch(reference, tmp_path):
    """One run, crashed at a different point of an epoch's writes each time, ends on the uninterrupted curve:
    metrics row | checkpoint files | checkpoint state file | generate's weights | status.json."""
    import tensorflow as tf

    from t2i.store import checkpoint as state
    from t2i.training.run import train

    cfg = compose(tmp_path)
    run = Path(cfg.run_dir)
    save = state.RunCheckpoint.save

    def before_checkpoint(self, epoch):
        raise Crash()

    def after_checkpoint(self, epoch):
        save(self, epoch)
        raise Crash()

    def before_state_file(self):
        raise Crash()

    crashes = [
        (1, "save", before_checkpoint, None),  # row logged, no checkpoint yet: retrain epoch 1
        (2, "record", before_state_file, 1),  # ckpt-2's files written, state file still names ckpt-1
        (3, "save", after_checkpoint, 3),  # checkpoint complete, generate's weights and status not
        (4, "status", None, 4),  # all but status.json
    ]
    for epoch, where, fn, resume_at in crashes:
        with pytest.MonkeyPatch.context() as mp, pytest.raises(Crash):
            if where == "save":
                mp.setattr(
                    state.RunCheckpoint, "save", lambda self, e, fn=fn, at=epoch: (fn if e == at else save)(self, e)
                )
            elif where == "record":
                record = tf.train.CheckpointManager._record_state

                def maybe_crash(self, at=epoch, record=record):
                    if self.latest_checkpoint.endswith(f"ckpt-{at}"):
                        raise Crash()
                    record(self)

                mp.setattr(tf.train.CheckpointManager, "_record_state", maybe_crash)
            with raise_at_status(epoch) if where == "status" else _nothing():
                train(cfg)
        assert rundir.read_status(run)["status"] == "failed"
        assert rundir.resume_point(cfg) == resume_at
    status = train(cfg)
    assert status["status"] == "done" and status["outcome"] == "resumed"
    pd.testing.assert_frame_equal(curve(run), curve(reference))


@contextmanager
def _nothing():
    yield


def test_a_legacy_npz_checkpoint_resumes_once_then_is_converted(interrupted, reference, tmp_path):
    """A run the previous t2i left (state.npz by variable order, CSVLogger's empty val_* columns) resumes
    exactly, and from then on has the new checkpoint format."""
    from t2i.store import checkpoint as state
    from t2i.training import setup
    from t2i.training.run import build_gan, train

    run, overrides = copy_run(interrupted, tmp_path)
    cfg = compose_config(overrides)
    setup.configure(cfg.trainer, cfg.seed)
    gan = build_gan(cfg, None)
    assert state.RunCheckpoint(gan, run).restore() == 2
    variables = state.training_variables(gan)
    legacy = run / "checkpoints" / "state.npz"
    np.savez(legacy, *[np.asarray(v.numpy()) for v in variables])
    legacy.with_suffix(".json").write_text(json.dumps({"epoch": 2, "variables": len(variables)}))
    shutil.rmtree(run / "checkpoints" / "resume")
    lines = (run / "metrics.csv").read_text().splitlines()
    val = [f"val_{c}" for c in lines[0].split(",")[1:]]
    rows = [lines[0] + "," + ",".join(val)] + [r + ",NA" * len(val) for r in lines[1:]]
    (run / "metrics.csv").write_text("\n".join(rows) + "\n")
    assert rundir.resume_point(cfg) == 2

    assert train(cfg)["outcome"] == "resumed"
    assert not legacy.exists() and (run / "checkpoints" / "resume" / "checkpoint").exists()
    pd.testing.assert_frame_equal(curve(run), curve(reference))


def _wait_for_epochs(run_dir: Path, n: int, proc, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if json.loads((run_dir / "status.json").read_text()).get("epochs_done", 0) >= n:
                return
        except (OSError, ValueError):
            pass
        assert proc.poll() is None, "training exited before it could be killed"
        time.sleep(0.05)
    raise TimeoutError


def test_a_copy_of_the_resumable_files_alone_resumes_onto_the_uninterrupted_curve(interrupted, reference, tmp_path):
    """What a session keeps of a run longer than itself (experiments/in_progress/snapshot.py) is
    rundir.resumable_files: no samples, no TensorBoard, no older checkpoint; the copy still finishes the run."""
    from t2i.training.run import train

    kept = rundir.resumable_files(interrupted)
    names = {str(p) for p in kept}
    assert {"config.yaml", "status.json", "metrics.csv", "checkpoints/resume/checkpoint"} <= names
    assert {"checkpoints/resume/ckpt-2.index", "checkpoints/generator.weights.h5"} <= names
    assert not any(n.startswith(("samples", "tensorboard")) or "ckpt-1." in n for n in names)
    dst = tmp_path / "baseline" / "seed=0"
    for rel in kept:
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(interrupted / rel, dst / rel)
    assert rundir.checkpoint_epoch(dst) == 2
    status = train(compose(tmp_path))
    assert status["status"] == "done" and status["epochs_done"] == 5
    pd.testing.assert_frame_equal(curve(dst), curve(reference))


def test_killed_run_resumes_to_the_uninterrupted_curve(reference, tmp_path):
    """Killed (kill -9) as soon as its first epoch is checkpointed, four epochs early, a run resumes onto the
    uninterrupted curve. Eager steps, so the epochs between the checkpoint and the signal take seconds; a traced
    run resumes in test_training's test_a_finished_run_continues_to_more_epochs_as_if_it_had_run_them_at_once."""
    from t2i.training.run import train

    overrides = [*EPOCHS, f"runs_root={tmp_path}"]
    run_dir = Path(compose_config(overrides).run_dir)
    proc = subprocess.Popen([sys.executable, "-m", "t2i.cli", "train", *overrides], stderr=subprocess.DEVNULL)
    _wait_for_epochs(run_dir, 1, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = json.loads((run_dir / "status.json").read_text())
    assert killed["status"] == "running"  # it could not say otherwise
    assert 1 <= killed["epochs_done"] < 5
    assert rundir.read_status(run_dir)["status"] == "interrupted"  # but its process is gone
    assert killed["minutes"] > 0  # the training time of its checkpointed epochs is kept

    status = train(compose_config(overrides))
    assert status["status"] == "done" and status["epochs_done"] == 5 and status["minutes"] > killed["minutes"]
    pd.testing.assert_frame_equal(curve(run_dir), curve(reference))


def test_the_checkpoint_holds_every_variable_by_name(tmp_path):
    from t2i.store import checkpoint as state
    from t2i.training import setup
    from t2i.training.run import build_gan

    cfg = compose(tmp_path)
    setup.configure(cfg.trainer, cfg.seed)
    gan = build_gan(cfg, None)
    named = state.named_variables(gan)
    assert {id(v) for v in state.training_variables(gan)} <= {id(v) for v in named.values()}
    assert any("seed_generator" in name for name in named)  # dropout's and noise's RNG states
    ckpt = state.RunCheckpoint(gan, tmp_path / "a")
    ckpt.save(3)
    other = compose(tmp_path, "+ablation=mbd")  # one more layer in D: a restore must refuse, not guess
    setup.configure(other.trainer, other.seed)
    mbd = build_gan(other, None)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    refused = "from another model: it lacks this model's variable discriminator/"
    with pytest.raises(state.CheckpointError, match=refused):
        state.RunCheckpoint(mbd, tmp_path / "b").restore()


def test_a_running_status_whose_process_is_gone_reads_as_interrupted(tmp_path):
    import os

    dead = subprocess.Popen(["true"])
    dead.wait()
    rundir.write_status(tmp_path, **{**rundir.running_fields(), "pid": dead.pid})
    assert rundir.read_status(tmp_path)["status"] == "interrupted"
    rundir.write_status(tmp_path, pid=os.getpid())
    assert rundir.read_status(tmp_path)["status"] == "running"


# --- 5. Ctrl-C ---------------------------------------------------------------------------------------


@contextmanager
def sigint_at_its_default():
    """Children started inside get SIGINT at its default disposition, as a terminal's foreground command has it.

    A shell without job control starts a background command with SIGINT ignored (`make test &` in a script,
    `bash -c 'make test &'`, some CI and agent runners); exec keeps an ignored signal ignored, and Python then
    installs no KeyboardInterrupt handler, by design: such a process never sees Ctrl-C, and the `t2i train`
    below trained to its end and exited 0. A handler is reset to the default by exec, so with one installed
    around Popen the child starts as under a terminal, however pytest was started."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _ignores_sigint(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    if not status.exists():  # not Linux: nothing to check
        return False
    mask = next(line.split()[1] for line in status.read_text().splitlines() if line.startswith("SigIgn:"))
    return bool(int(mask, 16) >> (signal.SIGINT - 1) & 1)


def test_ctrl_c_gives_one_line_and_a_resumable_interrupted_run(tmp_path):
    # The traced step, as users run it: interrupted inside an eager GRU loop, TensorFlow also logs "never used"
    # errors for the loop's TensorArrays at exit, after t2i's line.
    # 5,000 epochs of at least 0.1 s: the run cannot finish between its first checkpoint and the signal.
    overrides = [*EPOCHS, "trainer.run_eagerly=false", "trainer.epochs=5000", f"runs_root={tmp_path}"]
    run = Path(compose_config(overrides).run_dir)
    err_path = tmp_path / "t2i.stderr"  # a file, not a pipe nobody reads until the end
    with err_path.open("w") as err_file, sigint_at_its_default():
        proc = subprocess.Popen([sys.executable, "-m", "t2i.cli", "train", *overrides], stderr=err_file)
    try:
        # Generous limits: a loaded machine (say, two xdist workers beside a sweep) slows start-up tenfold.
        deadline = time.time() + 900
        while rundir.read_status(run).get("epochs_done", 0) < 1:  # in its epochs, past start-up and Part 1
            assert proc.poll() is None, "training ended before it could be interrupted"
            assert time.time() < deadline, "training did not reach its first checkpoint in 900 s"
            time.sleep(0.05)
        assert not _ignores_sigint(proc.pid), "t2i train started with SIGINT ignored: Ctrl-C cannot reach it"
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            pytest.fail(f"t2i train still running 300 s after Ctrl-C: {rundir.read_status(run)}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = err_path.read_text()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    done = rundir.read_status(run)["epochs_done"]
    assert done < 5000
    assert err.strip().splitlines()[-1] == (
        f"t2i: {run} interrupted after epoch {done}; rerun the same command to resume"
    )
    assert rundir.read_status(run)["status"] == "interrupted"
    assert rundir.resume_point(compose_config(overrides)) == done


# --- 6. Bad values and paths: one line, exit 2, nothing created ---------------------------------------


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.sample_every=0", "trainer.sample_every must be >= 1"),
        ("trainer.checkpoint_every=0", "trainer.checkpoint_every must be >= 1"),
        ("data.eval_samples=0", "data.eval_samples must be >= 1"),
        ("pretrain.batch_size=-1", "pretrain.batch_size must be >= 1"),
        ("optimizer.learning_rate=0", "optimizer.learning_rate must be > 0"),
        ("model.discriminator.dropout=1.5", "model.discriminator.dropout must be in [0, 1)"),
        ("trainer.precision=mixed_float16", "trainer.precision='mixed_float16' is not one of float32, bfloat16"),
        ("run_dir={tmp}/afile", "is a file, not a directory"),
        ("run_dir={tmp}/afile/run", "lies under {tmp}/afile, which is a file"),
        ("cache_dir={tmp}/afile/cache", "lies under {tmp}/afile, which is a file"),
    ],
)
def test_bad_values_and_paths_fail_at_once(tmp_path, override, message):
    (tmp_path / "afile").write_text("mine")
    override, message = override.format(tmp=tmp_path), message.format(tmp=tmp_path)
    result = runner.invoke(app, ["train", "budget=tiny", f"runs_root={tmp_path}/runs", override])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("t2i: error:") and message in lines[0], result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"] and (tmp_path / "afile").read_text() == "mine"


@pytest.mark.parametrize("key", ["run_dir", "cache_dir"])
def test_a_directory_that_cannot_be_created_is_one_line(tmp_path, key):
    # /proc refuses new directories even to root, whom permission bits do not stop.
    result = runner.invoke(app, ["train", "budget=tiny", f"runs_root={tmp_path}", f"{key}=/proc/t2i-test/x"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("t2i: error:") and "/proc/t2i-test" in lines[0], result.output
    assert not any(tmp_path.iterdir())


# --- 5, 7. Sweeps plan before they run; clean settings per job; the cache key -------------------------


def test_a_swept_budget_gets_its_own_run_directories():
    from t2i.sweeps.sweep import check_distinct, plan

    jobs = plan(["+ablation=baseline", "budget=tiny,quick", "runs_root=/tmp/r"]).jobs
    assert [j.run_dir for j in jobs] == [
        Path("/tmp/r/study/baseline/budget=tiny/seed=0"),
        Path("/tmp/r/study/baseline/budget=quick/seed=0"),
    ]
    fixed = plan(["+ablation=baseline,mbd", "budget=tiny", "runs_root=/tmp/r"]).jobs
    assert [str(j.run_dir) for j in fixed] == ["/tmp/r/study/baseline/seed=0", "/tmp/r/study/mbd/seed=0"]
    with pytest.raises(ConfigError, match="would share the run directory"):
        check_distinct(plan(["+ablation=baseline", "trainer.verbose=true,false", "runs_root=/tmp/r"]).jobs)


def test_each_job_starts_from_clean_settings(tmp_path):
    import keras

    from t2i.training import setup

    keras.layers.Dense(1)
    setup.configure(compose(tmp_path).trainer, 0)
    assert keras.layers.Dense(1).name == "dense"  # a fresh Keras session: the previous job's names are gone
    assert keras.mixed_precision.global_policy().name == "float32"
    with pytest.raises(setup.SetupError, match="trainer.threads=3"):
        setup.configure(compose(tmp_path, "trainer.threads=3").trainer, 0)
    # Op determinism cannot be turned off again through TensorFlow's public API: say so in one line.
    with pytest.raises(setup.SetupError, match="trainer.deterministic=false"):
        setup.configure(compose(tmp_path, "trainer.deterministic=false").trainer, 0)


def test_the_part1_cache_key_holds_precision_and_xla(tmp_path):
    from t2i.store.part1 import entry as cache_entry

    base = cache_entry(compose(tmp_path))
    assert cache_entry(compose(tmp_path, "trainer.precision=bfloat16")) != base
    xla = ("trainer.jit_compile=true", "trainer.deterministic=false", "trainer.run_eagerly=false")
    assert cache_entry(compose(tmp_path, *xla)) != base
    assert cache_entry(compose(tmp_path, "pretrain.max_mae=0.5")) == base  # the check is not the computation
