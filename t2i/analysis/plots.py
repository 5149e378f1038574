"""`t2i plot-mae`: the MAE figure and the summary table of every run below a directory."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from t2i.analysis import d_train
from t2i.analysis.mae_figure import plot_mae
from t2i.analysis.runs import Run, find_runs, group
from t2i.analysis.summary import series_table, write_summary
from t2i.sweeps import study

__all__ = ["plot_mae_command", "read_runs"]


def read_runs(runs_dir: Path) -> tuple[list[Run], list[tuple[Path, str]]]:
    """find_runs(), telling stderr about every skipped run and every note (e.g. a dropped partial CSV line)."""
    skipped: list[tuple[Path, str]] = []
    try:
        runs = find_runs(runs_dir, skipped)
    finally:
        for path, reason in skipped:
            print(f"warning: skipped {path}: {reason}", file=sys.stderr)
    for run in runs:
        for note in run.notes:
            print(f"note: {run.path}: {note}", file=sys.stderr)
    return runs, skipped


def plot_mae_command(
    runs_dir: str | os.PathLike,
    output: str | os.PathLike | None = None,
    band: str = "minmax",
    smooth: int = 1,
    log_scale: bool = False,
    thresholds: Sequence[float] = (0.2, 0.1),
) -> dict:
    """Find runs, draw the figure and write the summary next to it; series in the reference study's order.
    D-only series (t2i/analysis/d_train.py) train no generator and are left out, with a note on stderr.

    `output` defaults to <runs_dir>/mae.png; an existing directory gets mae.png inside it. Returns
    {"figure": [png, svg], "summary": [csv, md], "skipped": [(path, reason), ...]}.
    """
    runs_dir = Path(runs_dir)
    output = runs_dir / "mae.png" if output is None else Path(output)
    if output.is_dir():
        output = output / "mae.png"
    runs, skipped = read_runs(runs_dir)
    series, d_only = d_train.split(group(runs, study.load().series), runs_dir)
    for name, _ in d_only:
        print(
            f"note: series {name} trains D alone (G frozen): not a generator curve; `t2i report` shows its "
            "D accuracies",
            file=sys.stderr,
        )
    figure = plot_mae(series, output, band=band, smooth=smooth, log_scale=log_scale)
    summary = write_summary(series_table(series, thresholds), figure[0].parent)
    return {"figure": figure, "summary": summary, "skipped": skipped}
