"""t2i parity: the targets against the reference, read from runs wherever they lie."""

from __future__ import annotations

import json

from test_plots import write_run
from typer.testing import CliRunner

from t2i.cli import app
from t2i.sweeps import parity


def _lrx10(root, seed, at30, at60):
    maes = [0.9] * 29 + [at30] + [0.3] * 29 + [at60]
    write_run(root / "lrx10" / f"seed={seed}", "lrx10", "LRx10", seed, maes, 1.0, epochs=60, status="done")


def _pretrained(cache, mae, epochs=480):
    entry = cache / "pretrain" / f"entry{mae}"
    entry.mkdir(parents=True)
    (entry / "result.json").write_text(json.dumps({"mae": mae, "epochs": epochs}))


def test_targets_met_missed_and_pending(tmp_path):
    root, cache = tmp_path / "runs", tmp_path / "cache"
    for seed, at30, at60 in ((0, 0.24, 0.17), (1, 0.20, 0.15), (2, 0.26, 0.30)):
        _lrx10(root, seed, at30, at60)
    write_run(root / "baseline" / "seed=0", "baseline", "Baseline", 0, [0.5] * 250, 1.0, epochs=250)
    _pretrained(cache, 0.047)
    _pretrained(cache, 0.01, epochs=10)  # another budget's Part 1 does not count
    rows = {r["check"]: r for r in parity.check([root], cache)}
    at30, at60 = rows["lrx10 MAE at epoch 30"], rows["lrx10 MAE at epoch 60"]
    assert at30["seeds"] == [0.24, 0.20, 0.26] and at30["verdict"] == "met"  # mean 0.233
    assert at60["verdict"] == "missed" and abs(at60["mean"] - 0.2067) < 1e-3
    assert rows["baseline MAE at epoch 250"]["verdict"] == "pending"  # one seed of three
    assert rows["Part 1 held-out MAE after 480 epochs"]["seeds"] == [0.047]
    assert rows["Part 1 held-out MAE after 480 epochs"]["verdict"] == "met"


def test_command_exit_codes(tmp_path, monkeypatch):
    root, cache = tmp_path / "runs", tmp_path / "cache"
    monkeypatch.setenv("T2I_CACHE_DIR", str(cache))
    for seed in range(3):
        _lrx10(root, seed, 0.2, 0.15)
    result = CliRunner().invoke(app, ["parity", str(root)])
    assert result.exit_code == 3
    assert "| lrx10 MAE at epoch 60 | ≤ 0.2 | 0.150, 0.150, 0.150 | 0.150 | met |" in result.output
    for seed in range(3):
        write_run(root / "baseline" / f"seed={seed}", "baseline", "Baseline", seed, [0.35] * 250, 1.0, epochs=250)
    _pretrained(cache, 0.05)
    assert CliRunner().invoke(app, ["parity", str(root)]).exit_code == 1  # baseline 0.35 > 0.30
