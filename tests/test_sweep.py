"""`t2i sweep` end to end in subprocesses: parallel local runs, skipping, failures, busy runs, shared pretraining,
Ray, submitit (SLURM's launcher, here with its local executor); and config errors in any combination, caught
before anything runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from t2i.config import available
from t2i.store import part1, rundir


def sweep(tmp_path, *overrides, cache=None, timeout=900, eager=True):
    env = {**os.environ, "T2I_CACHE_DIR": str(cache or tmp_path / "cache"), "RAY_DEDUP_LOGS": "0"}
    # Eager steps: these tests are about launching, skipping and reporting jobs, not about the traced step.
    cmd = [sys.executable, "-m", "t2i.cli", "sweep", "budget=tiny", f"trainer.run_eagerly={str(eager).lower()}"]
    cmd += [f"runs_root={tmp_path / 'runs'}", *overrides]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def statuses(root: Path) -> dict:
    return {str(p.parent.relative_to(root)): json.loads(p.read_text()) for p in root.glob("**/status.json")}


def check_sweep_runs_in_parallel_then_skips(tmp_path, names, eager=True):
    first = sweep(tmp_path, f"+ablation={','.join(names)}", "sweep.workers=2", "sweep.name=all", eager=eager)
    assert first.returncode == 0, first.stderr[-3000:]
    root = tmp_path / "runs" / "all"
    runs = statuses(root)
    assert sorted(runs) == sorted(f"{n}/seed=0" for n in names)
    # Each run trains its planned epochs: the tiny budget's 2, or its ablation's own (d_train: 20 D-only epochs).
    planned = {name: rundir.read_config(root / name).trainer.epochs for name in runs}
    assert all(s["status"] == "done" and s["epochs_done"] == planned[n] and s["final_mae"] > 0 for n, s in runs.items())
    assert "n_jobs=2" in first.stdout + first.stderr
    # Part 1 ran exactly once for each cache entry the runs need (most share one; the style data and the hold-out
    # need their own; rnn_init, dcgan none), whichever worker got there first.
    configs = [rundir.read_config(root / name) for name in runs]
    pretrained = [c for c in configs if "pretrained" in (c.gan.text_encoder_init, c.gan.generator_init)]
    needed = {part1.entry(c).name for c in pretrained}
    assert [p.name for p in part1.entries(tmp_path / "cache")] == sorted(needed)
    assert first.stderr.count("pretraining once") == len(needed)
    for name in names:
        assert f"{name}/seed=0" in first.stdout

    # An old failed run beside them (another sweep's, or an earlier attempt) is not this sweep's business.
    (root / "old" / "seed=0").mkdir(parents=True)
    (root / "old" / "seed=0" / "status.json").write_text(json.dumps({"status": "failed", "reason": "old"}))
    mtimes = {p: p.stat().st_mtime_ns for p in root.glob("**/metrics.csv")}
    # One worker: skipping is the job's own decision, wherever it runs (and spares starting two processes).
    second = sweep(tmp_path, f"+ablation={','.join(names)}", "sweep.workers=1", "sweep.name=all", eager=eager)
    assert second.returncode == 0, second.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in root.glob("**/metrics.csv")} == mtimes
    assert "] epoch 1/" not in second.stderr  # nothing trains again
    table = second.stdout[second.stdout.index("final MAE") :]
    assert table.count("skipped (already complete)") == len(names) and "old" not in table


@pytest.mark.slow  # ~45 s of the 5-minute suite; CI runs it (make test-slow) beside its every-ablation twin below
def test_sweep_runs_ablations_in_parallel_then_skips_them(tmp_path):
    check_sweep_runs_in_parallel_then_skips(tmp_path, ["baseline", "latent"])


@pytest.mark.slow
def test_sweep_runs_every_ablation_in_parallel_then_skips_them(tmp_path):
    # The traced step of every ablation (the default suite trains each one eagerly, for two steps).
    check_sweep_runs_in_parallel_then_skips(tmp_path, available("ablation"), eager=False)


def test_the_table_reports_exactly_this_sweeps_jobs(tmp_path, t2i_cache_dir):
    """One run done, one diverging (failed, the others go on), one busy in another process; exit 1."""
    from t2i.store.rundir import claim

    busy = tmp_path / "runs" / "study" / "baseline" / "gan.d_only_epochs=0,optimizer.learning_rate=2e-05" / "seed=0"
    with claim(busy):
        result = sweep(
            tmp_path,
            *("+ablation=baseline", "optimizer.learning_rate=5e-5,1e30,2e-5", "gan.d_only_epochs=0"),
            "sweep.workers=1",  # in the sweep's own process: the table is the same (parallel runs: the test above)
            cache=t2i_cache_dir,  # the session's Part 1 (the first sweep test checks that a sweep pretrains once)
        )
    assert result.returncode == 1, result.stderr[-3000:]
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if "learning_rate=" in line.split(" ")[0]}
    assert rows["baseline/gan.d_only_epochs=0,optimizer.learning_rate=5e-05/seed=0"].endswith(" done")
    assert (
        "failed (TrainingDiverged: non-finite"
        in rows["baseline/gan.d_only_epochs=0,optimizer.learning_rate=1e+30/seed=0"]
    )
    assert rows["baseline/gan.d_only_epochs=0,optimizer.learning_rate=2e-05/seed=0"].endswith(
        f"busy (pid {os.getpid()})"
    )
    runs = statuses(tmp_path / "runs" / "study")
    assert runs["baseline/gan.d_only_epochs=0,optimizer.learning_rate=1e+30/seed=0"]["status"] == "failed"
    assert (
        "baseline/gan.d_only_epochs=0,optimizer.learning_rate=2e-05/seed=0" not in runs
    )  # a busy run's files are its owner's
    assert "1 of 3" not in result.stderr and "2 of 3 runs of this sweep did not finish" in result.stderr


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["+ablation=baseline,shufle"], "unknown ablation 'shufle' (available: adam_params, baseline"),
        (["+ablation=baseline", "model.discriminator.dropout=0.3,1.5"], "dropout must be in [0, 1), got 1.5"),
        (["+ablation=baseline", "trainer.epochs=2,0"], "trainer.epochs must be >= 1, got 0"),
        (["+ablation=baseline", "trainer.nope=1,2"], "trainer.nope"),
        (["+ablation=baseline", "trainer.verbose=true,false"], "would share the run directory"),
    ],
)
def test_a_bad_combination_is_one_line_before_anything_runs(tmp_path, overrides, message):
    from typer.testing import CliRunner

    from t2i.cli import app

    result = CliRunner().invoke(app, ["sweep", "budget=tiny", f"runs_root={tmp_path}", *overrides])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("t2i: error:") and message in lines[0], result.output
    assert not any(tmp_path.iterdir())


@pytest.mark.slow  # a launcher plugin's own start-up (a Ray cluster, submitit's job pickling and polling)
def test_ray_launcher_on_a_local_loopback_instance(tmp_path, t2i_cache_dir):
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    overrides = ("+ablation=baseline,mbd", "hydra/launcher=ray_local", "sweep.workers=2")
    result = sweep(tmp_path, *overrides, cache=t2i_cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Ray" in result.stdout + result.stderr
    assert result.stdout.count(" done") == 2
    runs = statuses(tmp_path / "runs" / "study")
    assert sorted(runs) == ["baseline/seed=0", "mbd/seed=0"]
    assert all(s["status"] == "done" for s in runs.values())


@pytest.mark.slow  # a launcher plugin's own start-up (a Ray cluster, submitit's job pickling and polling)
def test_submitit_launcher_with_its_local_executor(tmp_path, t2i_cache_dir):
    """hydra/launcher=submitit_slurm runs the same plugin and job pickling on a cluster; no SLURM here."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    result = sweep(tmp_path, "+ablation=baseline,mbd", "hydra/launcher=submitit_local", cache=t2i_cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Submitit 'local' sweep" in result.stdout + result.stderr
    assert result.stdout.count(" done") == 2
    runs = statuses(tmp_path / "runs" / "study")
    assert sorted(runs) == ["baseline/seed=0", "mbd/seed=0"]
    assert all(s["status"] == "done" and s["epochs_done"] == 2 for s in runs.values())


def test_a_signal_to_a_sweep_that_trains_in_its_own_process_ends_the_sweep(tmp_path, monkeypatch):
    """Ctrl-C or SIGTERM reaches train() as RunInterrupted (the run is recorded resumable); when the run was in
    the sweep's own process the signal was the sweep's, so no further run starts and `t2i sweep` exits 130."""
    import t2i.training.run as run
    from t2i.store.rundir import RunInterrupted
    from t2i.sweeps.sweep import run_sweep

    started = []

    def interrupted(cfg):
        started.append(cfg.name)
        raise RunInterrupted(f"{cfg.run_dir} interrupted after epoch 1; rerun the same command to resume")

    monkeypatch.setattr(run, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(["+ablation=baseline,mbd", "budget=tiny", f"runs_root={tmp_path}", "sweep.workers=1"])
    assert started == ["baseline"]
