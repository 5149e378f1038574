"""Gather the small, committable record of an ablation-study sweep next to this file.

Usage: python experiments/ablation_study/collect.py RUNS_DIR OUT_DIR
Writes: samples of the best and worst series (their last sample grid), versions.json (software, machine,
wall time), and leaves the figure and summary to `t2i plot-mae` (run it first).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd


def main(runs_dir: Path, out_dir: Path) -> None:
    summary = pd.read_csv(out_dir / "summary.csv")
    # Best and worst among series that finished the budget, so a half-trained one is not compared.
    done = summary.dropna(subset=["final_mae"])
    done = done[done["epochs"] == done["epochs"].max()].sort_values("final_mae")
    picks = {"best": done.iloc[0]["ablation"], "worst": done.iloc[-1]["ablation"]}
    for stale in out_dir.glob("samples_*.png"):
        stale.unlink()
    for kind, name in picks.items():
        grids = sorted((runs_dir / name).glob("seed=*/samples/epoch_*.png"))
        if grids:
            shutil.copy(grids[-1], out_dir / f"samples_{kind}_{name}.png")

    write_mae_at_epochs(runs_dir, out_dir / "mae_at_epochs.md", list(summary["ablation"]))
    keep_finished_runs(runs_dir, out_dir / "runs")

    statuses = [json.loads(p.read_text()) for p in runs_dir.glob("**/status.json")]
    stamps = [p.stat().st_mtime for p in runs_dir.glob("**/metrics.csv")]
    starts = [p.stat().st_mtime for p in runs_dir.glob("**/config.yaml")]
    import keras
    import tensorflow as tf

    record = {
        "collected": datetime.now().isoformat(timespec="seconds"),
        "runs": len(statuses),
        "runs_done": sum(s.get("status") == "done" for s in statuses),
        "training_minutes_total": round(sum(s.get("minutes", 0) or 0 for s in statuses), 1),
        "wall_hours_first_start_to_last_write": round((max(stamps) - min(starts)) / 3600, 2) if stamps else None,
        "best": picks["best"],
        "worst": picks["worst"],
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "machine": {"cores": os.cpu_count(), "processor": platform.processor() or platform.machine()},
    }
    (out_dir / "versions.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


def keep_finished_runs(runs_dir: Path, dest: Path) -> None:
    """Copy each finished run's curve, config and status (~95 KB a run; no checkpoints or event files).

    They outlive the machine: copied back into runs/ablation_study, they make `make study` skip those
    runs (a finished run is recognised by config.yaml + status.json) and `t2i plot-mae` draw them.
    """
    for status_file in runs_dir.glob("**/status.json"):
        if json.loads(status_file.read_text()).get("status") != "done":
            continue
        run = status_file.parent
        target = dest / run.relative_to(runs_dir)
        target.mkdir(parents=True, exist_ok=True)
        for name in ("metrics.csv", "config.yaml", "status.json"):
            shutil.copy(run / name, target / name)


def write_mae_at_epochs(runs_dir: Path, path: Path, order: list[str], epochs=(25, 50, 100, 150, 200, 250)) -> None:
    """MAE of every series at fixed epochs (mean over the seeds that got there), so runs still in
    progress compare at equal training."""
    rows = []
    for name in order:
        curves = [pd.read_csv(p) for p in sorted((runs_dir / name).glob("seed=*/metrics.csv"))]
        cells = []
        for e in epochs:
            values = [c.loc[c["epoch"] == e - 1, "mae"].iloc[0] for c in curves if (c["epoch"] == e - 1).any()]
            cells.append(f"{sum(values) / len(values):.4f} (n={len(values)})" if values else "—")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    head = "| series | " + " | ".join(f"epoch {e}" for e in epochs) + " |"
    path.write_text("\n".join([head, "|---" * (len(epochs) + 1) + "|", *rows]) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
