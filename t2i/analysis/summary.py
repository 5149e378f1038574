"""Tables of series: final and best MAE, epochs to thresholds, tests against the baseline, MAE at set epochs."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from t2i.analysis.runs import AnalysisError, Series
from t2i.analysis.welch import significance, welch_p_value

BASELINE = "baseline"  # the series every other one is compared with (its ablation file is empty)
NOTES = (
    "MAE: generator vs. true image in [-1,1] pixel units, lower is better; means over seeds.",
    "epochs_to_<t>: finished epochs until MAE < t, blank (—) unless every seed got there.",
    "significance: two-sided Welch t-test of final MAE against the baseline (needs >= 2 seeds each, and every "
    "run of both series at the same epoch).",
)
UNEQUAL = "epochs differ"  # the significance cell where runs in progress would compare unequal training


def series_table(series: Sequence[Series], thresholds: Sequence[float] = (0.2, 0.1)) -> pd.DataFrame:
    """One row per series, in the given order. Per-run numbers are averaged over seeds:

    final_mae / best_mae   last / lowest MAE of each run (an in-progress run counts as far as it got;
                           `epochs` is the fewest finished epochs of any seed, to spot that)
    final_mae_std          sample std (ddof=1) over seeds; NaN for a single seed
    epochs_to_<t>          finished epochs until MAE first went below t. NaN if ANY seed has not got
                           there: averaging only the seeds that did would flatter the series.
                           reached_<t> counts the seeds that did.
    minutes                training time of a run
    delta_vs_baseline      final_mae - baseline final_mae (NaN without a baseline)
    p_value, significance  Welch t-test of the seeds' final MAEs against the baseline's (see t2i.analysis.welch)
    Both compare final MAEs, so they are NaN (significance 'epochs differ') unless every run of the series
    and of the baseline finished the same number of epochs: a run in progress is compared in mae_at_epochs.
    """
    if not series:
        raise AnalysisError("no runs to summarise")
    finals = {name: np.array([r.final_mae for r in runs]) for name, runs in series}
    epochs = {name: {r.finished_epochs for r in runs} for name, runs in series}
    base = finals.get(BASELINE)
    rows = []
    for name, runs in series:
        f = finals[name]
        row = {
            "ablation": name,
            "label": runs[0].label,
            "seeds": len(runs),
            "epochs": min(r.finished_epochs for r in runs),
            "final_mae": f.mean(),
            "final_mae_std": f.std(ddof=1) if len(f) > 1 else math.nan,
            "best_mae": np.mean([r.best_mae for r in runs]),
        }
        for t in thresholds:
            reached = np.array([r.epochs_to(t) for r in runs])
            row[f"epochs_to_{t:g}"] = reached.mean()  # NaN propagates: see the docstring
            row[f"reached_{t:g}"] = int(np.isfinite(reached).sum())
        row["minutes"] = np.mean([r.minutes for r in runs])
        comparable = base is not None and len(epochs[name] | epochs[BASELINE]) == 1
        row["delta_vs_baseline"] = f.mean() - base.mean() if comparable else math.nan
        p = welch_p_value(f, base) if comparable and name != BASELINE else math.nan
        row["p_value"] = p
        row["significance"] = significance(p) if comparable or base is None else UNEQUAL
        rows.append(row)
    return pd.DataFrame(rows)


def mae_at_epochs(series: Sequence[Series], epochs: Sequence[int]) -> pd.DataFrame:
    """MAE of every series after each of `epochs` finished epochs: mean, std and count over the seeds that
    got there, so series still in progress compare at equal training."""
    rows = []
    for name, runs in series:
        row = {"ablation": name, "label": runs[0].label}
        for epoch in epochs:
            values = np.array([m for m in (r.mae_at(epoch) for r in runs) if math.isfinite(m)])
            row[f"mae_{epoch}"] = values.mean() if len(values) else math.nan
            row[f"std_{epoch}"] = values.std(ddof=1) if len(values) > 1 else math.nan
            row[f"n_{epoch}"] = len(values)
        rows.append(row)
    return pd.DataFrame(rows)


def mae_at_epochs_cells(df: pd.DataFrame, epochs: Sequence[int]) -> pd.DataFrame:
    """mae_at_epochs() for reading: one 'mean ± std (n=seeds)' cell per epoch."""

    def cell(row, epoch) -> str:
        if not row[f"n_{epoch}"]:
            return "—"
        spread = f" ± {row[f'std_{epoch}']:.4f}" if row[f"n_{epoch}"] > 1 else ""
        return f"{row[f'mae_{epoch}']:.4f}{spread} (n={row[f'n_{epoch}']})"

    cells = {"series": df["label"]}
    cells.update({f"epoch {e}": [cell(row, e) for _, row in df.iterrows()] for e in epochs})
    return pd.DataFrame(cells)


def markdown_table(df: pd.DataFrame) -> str:
    """A Markdown table; floats to 4 decimals, NaN as —."""

    def cell(value) -> str:
        if isinstance(value, (float, np.floating)):
            return "—" if not math.isfinite(value) else f"{value:.4f}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(map(cell, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_summary(df: pd.DataFrame, out_dir: str | os.PathLike) -> list[Path]:
    """Write `summary.csv` (full precision) and `summary.md` (the table and what its columns mean)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out_dir / "summary.csv", out_dir / "summary.md"
    df.to_csv(csv_path, index=False)
    md_path.write_text(markdown_table(df) + "\n" + "\n".join(NOTES) + "\n", encoding="utf-8")
    return [csv_path, md_path]
