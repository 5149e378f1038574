"""The best and the worst series, and the sample grid (truth | generated) one of their runs drew last."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from t2i.analysis.runs import Series

SAMPLES = "samples"  # a run's sample grids: samples/epoch_XXXX.png, written by training


def best_and_worst(summary: pd.DataFrame) -> dict[str, str]:
    """{"best": series, "worst": series} by mean final MAE, among the series that got as far as the furthest
    one, so that a half-trained series is not compared with finished ones; {} without a final MAE, and only
    "best" where one series got that far (the same grid twice would say nothing)."""
    done = summary.dropna(subset=["final_mae"])
    done = done[done["epochs"] == done["epochs"].max()].sort_values("final_mae", kind="stable")
    if done.empty:
        return {}
    best, worst = done["ablation"].iloc[0], done["ablation"].iloc[-1]
    return {"best": best} if best == worst else {"best": best, "worst": worst}


def last_grid(series: Sequence[Series], name: str) -> Path | None:
    """The last sample grid of the series' first run (lowest seed) that has one."""
    runs = dict(series)[name]
    for run in runs:
        grids = sorted((run.path / SAMPLES).glob("epoch_*.png"))
        if grids:
            return grids[-1]
    return None
