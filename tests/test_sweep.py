"""`t2i sweep` end to end in subprocesses: parallel local runs, skipping, failures, shared pretraining, Ray."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from t2i.config import available


def sweep(tmp_path, *overrides, cache=None, timeout=900):
    env = {**os.environ, "T2I_CACHE_DIR": str(cache or tmp_path / "cache"), "RAY_DEDUP_LOGS": "0"}
    cmd = [sys.executable, "-m", "t2i.cli", "sweep", "budget=tiny", f"runs_root={tmp_path / 'runs'}", *overrides]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def statuses(root: Path) -> dict:
    return {str(p.parent.relative_to(root)): json.loads(p.read_text()) for p in root.glob("**/status.json")}


def check_sweep_runs_in_parallel_then_skips(tmp_path, names):
    first = sweep(tmp_path, f"+ablation={','.join(names)}", "sweep.workers=2", "sweep.name=all")
    assert first.returncode == 0, first.stderr[-3000:]
    root = tmp_path / "runs" / "all"
    runs = statuses(root)
    assert sorted(runs) == sorted(f"{n}/seed=0" for n in names)
    assert all(s["status"] == "done" and s["epochs_done"] == 2 and s["final_mae"] > 0 for s in runs.values())
    assert "n_jobs=2" in first.stdout + first.stderr
    # Every ablation needs the same Part 1 (rnn_init needs none): it ran exactly once.
    assert len(list((tmp_path / "cache" / "pretrain").glob("*/result.json"))) == 1
    assert first.stderr.count("pretraining once") == 1
    for name in names:
        assert f"{name}/seed=0" in first.stdout

    mtimes = {p: p.stat().st_mtime_ns for p in root.glob("**/metrics.csv")}
    second = sweep(tmp_path, f"+ablation={','.join(names)}", "sweep.workers=2", "sweep.name=all")
    assert second.returncode == 0, second.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in root.glob("**/metrics.csv")} == mtimes
    assert "epoch 1/2" not in second.stderr


def test_sweep_runs_ablations_in_parallel_then_skips_them(tmp_path):
    check_sweep_runs_in_parallel_then_skips(tmp_path, ["baseline", "shuffle", "mbd", "latent"])


@pytest.mark.slow
def test_sweep_runs_every_ablation_in_parallel_then_skips_them(tmp_path):
    check_sweep_runs_in_parallel_then_skips(tmp_path, available("ablation"))


def test_one_failing_run_does_not_stop_the_others(tmp_path):
    result = sweep(
        tmp_path, "+ablation=baseline,shuffle", "model.discriminator.dropout=0.3,1.5", "optimizer.learning_rate=5e-5"
    )
    assert result.returncode == 1
    runs = statuses(tmp_path / "runs" / "study")
    done = [k for k, s in runs.items() if s["status"] == "done"]
    failed = [k for k, s in runs.items() if s["status"] == "failed"]
    assert len(done) == 2 and all("dropout=0.3" in k for k in done)
    assert len(failed) == 2 and all("rate=1.5" in runs[k]["reason"] for k in failed)
    assert "failed" in result.stdout and "rate=1.5" in result.stdout


def test_diverging_run_is_recorded_as_failed(tmp_path):
    result = sweep(tmp_path, "+ablation=baseline", "optimizer.learning_rate=1e30", "gan.d_only_epochs=0")
    assert result.returncode == 1
    (status,) = statuses(tmp_path / "runs" / "study").values()
    assert status["status"] == "failed" and "non-finite" in status["reason"]


def test_ray_launcher_on_a_local_loopback_instance(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    result = sweep(tmp_path, "+ablation=baseline,mbd", "hydra/launcher=ray_local", "sweep.workers=2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Ray" in result.stdout + result.stderr
    runs = statuses(tmp_path / "runs" / "study")
    assert sorted(runs) == ["baseline/seed=0", "mbd/seed=0"]
    assert all(s["status"] == "done" for s in runs.values())
