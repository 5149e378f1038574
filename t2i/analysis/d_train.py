"""The write-up's D_train: a discriminator trained against the converged generator (the `d_train` ablation).

tf-text2image's Part 1 also trained a discriminator against its converged supervised generator and reported near
100 % accuracy after a few epochs. In t2i that is a run with G from Part 1 (gan.generator_init: pretrained) whose
every epoch is D-only (gan.d_only_epochs >= trainer.epochs), so G stays frozen: its MAE is Part 1's throughout,
and its result is D's accuracy per labelled sub-step (the d<i>_<kind>_acc columns of metrics.csv, measured on each
step's training batch, with D's dropout and noise on). Such series are kept out of the MAE figure and tables, which
compare generators, and shown here instead. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from t2i.analysis.runs import AnalysisError, Run, Series

ACCURACY = re.compile(r"^d(\d+)_(\w+)_acc$")  # the labelled step's sub-step accuracies (t2i/training/gan.py)
NEAR = (0.9, 0.99)  # "near 100 %": the first epoch at which a sub-step's mean accuracy reaches each
AT_EPOCHS = (1, 2, 5)  # besides the last epoch
KIND_COLOURS = {"real": "tab:blue", "mismatched": "tab:orange", "fake": "tab:red"}


def is_d_only(run: Run) -> bool:
    """D against the converged generator: G is Part 1's and every epoch trains D alone, so G never moves. (A run
    whose random G never trains, say one epoch of a budget with one D-only epoch, is still a generator's curve.)"""
    epochs, d_only = run.setting("trainer.epochs"), run.setting("gan.d_only_epochs")
    converged = run.setting("gan.generator_init") == "pretrained"
    return converged and isinstance(epochs, int) and isinstance(d_only, int) and d_only >= epochs


def split(series: Sequence[Series], runs_dir) -> tuple[list[Series], list[Series]]:
    """(generator series, D-only series), each in the given order; a series is D-only when all its runs are.
    AnalysisError when there is no generator series below `runs_dir`: nothing to compare."""
    generators, d_only = [], []
    for item in series:
        (d_only if all(is_d_only(r) for r in item[1]) else generators).append(item)
    if not generators:
        raise AnalysisError(
            f"{runs_dir} holds only D-only runs (D trained alone against Part 1's frozen G): no generator to compare"
        )
    return generators, d_only


def substeps(runs: Sequence[Run]) -> list[tuple[str, str]]:
    """(column, name) of every sub-step accuracy the runs recorded, in sub-step order: ("d1_real_acc", "d1 real")."""
    columns = {c for r in runs for c in r.metrics.columns if ACCURACY.match(c)}
    ordered = sorted(columns, key=lambda c: int(ACCURACY.match(c).group(1)))
    return [(c, "d{} {}".format(*ACCURACY.match(c).groups())) for c in ordered]


def _per_seed(runs: Sequence[Run], column: str) -> pd.DataFrame:
    """Index: finished epochs (1-based); one column per seed; NaN where a seed has not got there."""
    return pd.concat([r.metrics.set_index(r.metrics["epoch"] + 1)[column] for r in runs if column in r.metrics], axis=1)


def accuracy_table(series: Sequence[Series], at_epochs: Sequence[int] = AT_EPOCHS) -> pd.DataFrame:
    """One row per (series, sub-step): mean accuracy over seeds after set epochs and at the last epoch every seed
    finished, its spread, and the first epoch at which the mean reached each NEAR level (NaN if it never did)."""
    rows = []
    for name, runs in series:
        last = min(r.finished_epochs for r in runs)
        for column, step in substeps(runs):
            per_seed = _per_seed(runs, column)
            mean = per_seed.mean(axis=1)
            row = {"ablation": name, "label": runs[0].label, "substep": step, "seeds": len(runs)}
            for epoch in (*[e for e in at_epochs if e < last], last):
                row[f"acc_{epoch}"] = float(mean.get(epoch, math.nan))
            row["last_epoch"] = last
            row["acc_last_min"] = float(per_seed.loc[last].min())
            row["acc_last_max"] = float(per_seed.loc[last].max())
            for level in NEAR:
                reached = mean.index[mean >= level]
                row[f"epochs_to_{level:g}"] = float(reached[0]) if len(reached) else math.nan
            rows.append(row)
    return pd.DataFrame(rows)


def table_cells(df: pd.DataFrame) -> pd.DataFrame:
    """accuracy_table() for reading: percentages, the last epoch with its min–max over seeds."""

    def pct(value) -> str:
        return "—" if not math.isfinite(value) else f"{100 * value:.1f} %"

    def epoch(value) -> str:
        return "never" if not math.isfinite(value) else str(int(value))

    out = []
    for _, row in df.iterrows():
        cells = {"series": row["label"], "sub-step": row["substep"], "seeds": row["seeds"]}
        for e in AT_EPOCHS:
            cells[f"epoch {e}"] = pct(row.get(f"acc_{e}", math.nan))
        last = int(row["last_epoch"])
        cells["last epoch (min–max)"] = (
            f"{last}: {pct(row[f'acc_{last}'])} ({pct(row['acc_last_min'])}–{pct(row['acc_last_max'])})"
        )
        for level in NEAR:
            cells[f"first epoch ≥ {100 * level:g} %"] = epoch(row[f"epochs_to_{level:g}"])
        out.append(cells)
    return pd.DataFrame(out)


def plot_d_accuracy(series: Sequence[Series], out_path: str | os.PathLike) -> list[Path]:
    """D's accuracy per sub-step and epoch, one panel per D-only series: the mean over seeds with a min–max band.
    Writes `out_path` as .png and .svg."""
    out_path = Path(out_path)
    png, svg = out_path.with_suffix(".png"), out_path.with_suffix(".svg")
    png.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(7 * len(series), 4.5))
    for i, (_, runs) in enumerate(series):
        ax = fig.add_subplot(1, len(series), i + 1)
        for j, (column, step) in enumerate(substeps(runs)):
            per_seed = _per_seed(runs, column)
            kind = step.split(" ", 1)[1]
            colour = KIND_COLOURS.get(kind, f"C{j}")
            style = "-" if sum(s.endswith(kind) for _, s in substeps(runs)[:j]) == 0 else "--"
            ax.plot(per_seed.index, per_seed.mean(axis=1).to_numpy(), color=colour, linestyle=style, label=step)
            if per_seed.shape[1] > 1:
                low, high = per_seed.min(axis=1).to_numpy(), per_seed.max(axis=1).to_numpy()
                ax.fill_between(per_seed.index, low, high, color=colour, alpha=0.15, linewidth=0)
        ax.axhline(0.5, color="gray", linewidth=0.8, linestyle=":")
        ax.set_ylim(0, 1.02)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch (every one D-only; G is Part 1's, frozen)")
        ax.set_ylabel("D's accuracy on the step's batch")
        ax.set_title(f"{runs[0].label} (n={len(runs)}): mean over seeds, band min–max")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(png, dpi=130)
    with matplotlib.rc_context({"svg.hashsalt": "t2i"}):
        fig.savefig(svg, metadata={"Date": None})
    return [png, svg]
