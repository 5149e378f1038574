"""The MAE-per-epoch figure: one line per series (mean over its seeds) with a band of their spread."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

from t2i.analysis.runs import AnalysisError, Series

BANDS = ("minmax", "std", "none")
Y_LABEL = "MAE (generator vs. true image, [-1,1] units)"

# 10 colours x 3 line styles: 3 is coprime with 10, so stepping both by one per series gives
# 30 distinct (colour, style) pairs and neighbours in the legend never share either.
COLOURS = tuple(
    f"tab:{c}" for c in ("blue", "orange", "green", "red", "purple", "brown", "pink", "gray", "olive", "cyan")
)
STYLES = ("-", "--", ":")


def plot_mae(
    series: Sequence[Series],
    out_path: str | os.PathLike,
    band: str = "minmax",
    smooth: int = 1,
    log_scale: bool = False,
) -> list[Path]:
    """Mean MAE per epoch for every series, with a min-max or ±std band over seeds.

    The mean at each epoch is over the seeds that have reached it, so in-progress runs are drawn as
    far as they got (the line may step where a seed drops out). `smooth` is a trailing rolling
    mean over epochs, applied per seed before averaging. Writes `out_path` as .png and .svg.
    """
    if band not in BANDS:
        raise AnalysisError(f"band must be one of {', '.join(BANDS)}, not {band!r}")
    if int(smooth) != smooth or smooth < 1:
        raise AnalysisError(f"smooth must be a whole number of epochs >= 1, not {smooth!r}")
    if not series:
        raise AnalysisError("no runs to plot")
    out_path = Path(out_path)
    png, svg = out_path.with_suffix(".png"), out_path.with_suffix(".svg")
    png.parent.mkdir(parents=True, exist_ok=True)

    fig = Figure(figsize=(11, 6))
    ax = fig.add_subplot()
    for i, (name, runs) in enumerate(series):
        # Columns are seeds, index is finished epochs (1-based); missing epochs stay NaN.
        curves = [r.metrics.set_index(r.metrics["epoch"] + 1)["mae"] for r in runs]
        per_seed = pd.concat([c.rolling(int(smooth), min_periods=1).mean() for c in curves], axis=1)
        mean = per_seed.mean(axis=1)
        colour, style = COLOURS[i % len(COLOURS)], STYLES[i % len(STYLES)]
        label = f"{runs[0].label or name} (n={len(runs)})"
        ax.plot(mean.index, mean.to_numpy(), color=colour, linestyle=style, linewidth=1.6, label=label)
        if len(runs) > 1 and band != "none":
            if band == "minmax":
                low, high = per_seed.min(axis=1), per_seed.max(axis=1)
            else:
                std = per_seed.std(axis=1, ddof=1)  # NaN where only one seed has reached the epoch
                low, high = mean - std, mean + std
            ax.fill_between(mean.index, low.to_numpy(), high.to_numpy(), color=colour, alpha=0.15, linewidth=0)

    band_text = {"minmax": "band: min–max over seeds", "std": "band: ±1 std over seeds", "none": ""}[band]
    smooth_text = f"rolling mean over {int(smooth)} epochs" if smooth > 1 else ""
    subtitle = "; ".join(s for s in ("mean over seeds", band_text, smooth_text) if s)
    ax.set_title(f"Generator MAE per epoch\n({subtitle})")
    ax.set_xlabel("epoch")
    ax.set_ylabel(Y_LABEL)
    if log_scale:
        ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    # "tight" grows the canvas to fit the legend placed outside the axes. Without a date and with fixed element
    # ids, the same runs give the same bytes, so a regenerated report only changes where the runs did.
    fig.savefig(png, dpi=150, bbox_inches="tight")
    with matplotlib.rc_context({"svg.hashsalt": "t2i"}):
        fig.savefig(svg, bbox_inches="tight", metadata={"Date": None})
    return [png, svg]
