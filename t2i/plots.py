"""Collect finished and in-progress runs, tabulate them per ablation, and plot MAE per epoch.

A run is a directory holding the trainer's `config.yaml` and Keras' `metrics.csv` (and optionally
`status.json`). Nothing here imports TensorFlow: this module only reads files, so it stays fast
and can be pointed at runs that are still training.

Epoch numbers shown to people (the plot's x axis, `epochs`, `epochs_to_<t>`) count finished
epochs, i.e. the CSV's 0-based `epoch` index + 1.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure

# The reference study's series order; anything else follows alphabetically.
REFERENCE_ORDER = (
    "baseline",
    "shuffle",
    "mbd",
    "shuffle_mbd",
    "lrx10",
    "adam_params",
    "img_noise",
    "full_vocab",
    "increment_vocab",
    "rnn_init",
    "wgan",
)
BASELINE = "baseline"
BANDS = ("minmax", "std", "none")
Y_LABEL = "MAE (generator vs. true image, [-1,1] units)"

# 10 colours x 3 line styles: 3 is coprime with 10, so stepping both by one per ablation gives
# 30 distinct (colour, style) pairs and neighbours in the legend never share either.
_COLOURS = tuple(
    f"tab:{c}" for c in ("blue", "orange", "green", "red", "purple", "brown", "pink", "gray", "olive", "cyan")
)
_STYLES = ("-", "--", ":")


class PlotError(ValueError):
    """Nothing usable to plot or tabulate, or a bad option; the message says which."""


class _Skip(Exception):
    """A run that cannot be used; the message is the reason shown to the user."""


@dataclass
class Run:
    path: Path
    name: str
    label: str
    seed: int | None
    planned_epochs: int | None
    metrics: pd.DataFrame = field(repr=False)  # sorted by `epoch`, one row per finished epoch
    status: str | None = None  # from status.json; None when the file is absent or unreadable
    reason: str | None = None
    notes: list[str] = field(default_factory=list)  # recoverable oddities, e.g. a dropped partial line

    @property
    def finished_epochs(self) -> int:
        return int(self.metrics["epoch"].iloc[-1]) + 1

    @property
    def final_mae(self) -> float:
        return float(self.metrics["mae"].iloc[-1])

    @property
    def best_mae(self) -> float:
        return float(self.metrics["mae"].min())

    @property
    def minutes(self) -> float:
        if "seconds" not in self.metrics:
            return math.nan
        return float(self.metrics["seconds"].sum(min_count=1)) / 60.0

    def epochs_to(self, threshold: float) -> float:
        """Finished epochs (1-based) until MAE first went below `threshold`; NaN if it never did."""
        hit = self.metrics.loc[self.metrics["mae"] < threshold, "epoch"]
        return float(hit.iloc[0]) + 1 if len(hit) else math.nan


# ---------------------------------------------------------------------------------------------
# Reading runs


def find_runs(root: str | os.PathLike, skipped: list | None = None) -> list[Run]:
    """All runs at or below `root`, sorted by path.

    Runs that cannot be used are appended to `skipped` as (path, reason); if no list is given they
    are raised as RuntimeWarnings instead, so they are never silently lost. When two runs share
    name and seed (a restarted run in a fresh output directory), the one with more finished epochs
    (then the newer metrics.csv) is kept, since counting both would inflate the seed count.
    Raises PlotError if no usable run is found.
    """
    root = Path(root)
    if not root.is_dir():
        raise PlotError(f"runs directory not found: {root}")
    found: list[tuple[Path, str]] = []
    runs: list[Run] = []
    for dirpath, dirnames, filenames in os.walk(root):
        # Hidden directories (e.g. Hydra's .hydra/, which has its own config.yaml) are never runs.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if "metrics.csv" not in filenames:
            continue
        path = Path(dirpath)
        if "config.yaml" not in filenames:
            found.append((path, "metrics.csv without config.yaml"))
            continue
        dirnames[:] = []  # a run's subdirectories hold checkpoints and samples, not more runs
        try:
            runs.append(_load_run(path))
        except _Skip as exc:
            found.append((path, str(exc)))
    runs, duplicates = _drop_duplicate_seeds(runs)
    found.extend(duplicates)
    found.sort()
    if skipped is None:
        for path, reason in found:
            warnings.warn(f"skipped {path}: {reason}", RuntimeWarning, stacklevel=2)
    else:
        skipped.extend(found)
    if not runs:
        detail = f" ({len(found)} skipped as unreadable)" if found else ""
        raise PlotError(f"no runs under {root}{detail}: a run is a directory with metrics.csv and config.yaml")
    return sorted(runs, key=lambda r: r.path)


def _load_run(path: Path) -> Run:
    try:
        config = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise _Skip(f"unreadable config.yaml ({type(exc).__name__})") from None
    if not isinstance(config, dict) or config.get("name") in (None, ""):
        raise _Skip("config.yaml has no 'name'")
    name = str(config["name"])
    trainer = config.get("trainer") if isinstance(config.get("trainer"), dict) else {}
    metrics, notes = _read_metrics(path / "metrics.csv")
    status, reason = _read_status(path / "status.json", notes)
    return Run(
        path=path,
        name=name,
        label=str(config.get("label") or name),
        seed=_as_int(config.get("seed")),
        planned_epochs=_as_int(trainer.get("epochs")),
        metrics=metrics,
        status=status,
        reason=reason,
        notes=notes,
    )


def _as_int(value) -> int | None:
    # Unresolved interpolations ("${...}") and missing keys both just mean "unknown".
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _read_metrics(path: Path) -> tuple[pd.DataFrame, list[str]]:
    notes: list[str] = []
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _Skip(f"unreadable metrics.csv ({type(exc).__name__})") from None
    lines = text.splitlines(keepends=True)
    # CSVLogger writes and flushes whole lines, so a last line without its newline is what a crash
    # mid-write leaves behind; its numbers may be cut short, so it is dropped rather than trusted.
    if len(lines) > 1 and not lines[-1].endswith(("\n", "\r")):
        lines.pop()
        notes.append("dropped partial last line of metrics.csv")
    rows = [row for row in csv.reader(lines) if row]
    if len(rows) < 2:
        raise _Skip("metrics.csv has no finished epoch yet")
    header = rows[0]
    for column in ("epoch", "mae"):
        if column not in header:
            raise _Skip(f"metrics.csv has no '{column}' column")
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise _Skip(f"metrics.csv row {number} has {len(row)} fields, header has {len(header)}")
    try:
        df = pd.read_csv(io.StringIO("".join(lines)))
    except (ValueError, pd.errors.ParserError) as exc:
        raise _Skip(f"metrics.csv does not parse ({type(exc).__name__})") from None
    # pandas reads "nan"/"NA" as NaN (a diverged epoch is real data), anything else non-numeric
    # leaves the column as text: that is garbage, not a number we can plot.
    for column in ("epoch", "mae"):
        if not pd.api.types.is_numeric_dtype(df[column]):
            raise _Skip(f"metrics.csv column '{column}' is not numeric")
    if df["epoch"].isna().any():
        raise _Skip("metrics.csv has rows without an epoch number")
    if df["mae"].isna().all():
        raise _Skip("metrics.csv has no 'mae' values")
    if "seconds" in df:
        df["seconds"] = pd.to_numeric(df["seconds"], errors="coerce")
    df["epoch"] = df["epoch"].astype(int)
    # A resumed run can log an epoch twice; the later line is the one that training continued from.
    df = df.drop_duplicates("epoch", keep="last").sort_values("epoch", kind="stable").reset_index(drop=True)
    return df, notes


def _read_status(path: Path, notes: list[str]) -> tuple[str | None, str | None]:
    if not path.exists():
        return None, None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data.get("status"), data.get("reason")
    except (OSError, ValueError, AttributeError):
        notes.append("unreadable status.json")
        return None, None


def _drop_duplicate_seeds(runs: list[Run]) -> tuple[list[Run], list[tuple[Path, str]]]:
    best: dict[tuple[str, int], Run] = {}
    kept: list[Run] = []
    for run in runs:
        if run.seed is None:
            kept.append(run)
            continue
        key = (run.name, run.seed)
        if key not in best or _preference(run) > _preference(best[key]):
            best[key] = run
    kept.extend(best.values())
    dropped = [
        (run.path, f"duplicate of {best[(run.name, run.seed)].path} (same name and seed)")
        for run in runs
        if run.seed is not None and best[(run.name, run.seed)] is not run
    ]
    return kept, dropped


def _preference(run: Run) -> tuple[int, float]:
    return run.finished_epochs, (run.path / "metrics.csv").stat().st_mtime


# ---------------------------------------------------------------------------------------------
# Table


def _ordered_groups(runs: Iterable[Run]) -> list[tuple[str, list[Run]]]:
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.name, []).append(run)
    rank = {name: i for i, name in enumerate(REFERENCE_ORDER)}
    names = sorted(groups, key=lambda n: (rank.get(n, len(rank)), n))
    return [(n, groups[n]) for n in names]


def _threshold_key(t: float) -> str:
    return f"{t:g}"


def summarise(runs: Sequence[Run], thresholds: Sequence[float] = (0.2, 0.1)) -> pd.DataFrame:
    """One row per ablation (runs grouped by `name`), baseline first, then the reference order.

    Per-run numbers are averaged over seeds:
      final_mae / best_mae   last / lowest MAE of each run (an in-progress run counts as far as it got;
                             `epochs` is the fewest finished epochs of any seed, to spot that)
      final_mae_std          sample std (ddof=1) over seeds; NaN for a single seed
      epochs_to_<t>          finished epochs until MAE first went below t. NaN if ANY seed has not got
                             there: averaging only the seeds that did would flatter the ablation.
                             reached_<t> counts the seeds that did.
      minutes                total training time, sum of `seconds` / 60
      delta_vs_baseline      final_mae - baseline final_mae (NaN without a baseline)
      p_value, significance  two-sided Welch t-test of the seeds' final MAEs against the baseline's,
                             when both have >= 2 seeds; significance reads "p=0.031 *" (p<0.05),
                             "p=0.004 **" (p<0.01) or "p=0.21 n.s."; empty where no test was run.
    """
    if not runs:
        raise PlotError("no runs to summarise")
    groups = _ordered_groups(runs)
    finals = {name: np.array([r.final_mae for r in group]) for name, group in groups}
    base = finals.get(BASELINE)
    rows = []
    for name, group in groups:
        f = finals[name]
        row = {
            "ablation": name,
            "label": group[0].label,
            "seeds": len(group),
            "epochs": min(r.finished_epochs for r in group),
            "final_mae": f.mean(),
            "final_mae_std": f.std(ddof=1) if len(f) > 1 else math.nan,
            "best_mae": np.mean([r.best_mae for r in group]),
        }
        for t in thresholds:
            reached = np.array([r.epochs_to(t) for r in group])
            row[f"epochs_to_{_threshold_key(t)}"] = reached.mean()  # NaN propagates: see docstring
            row[f"reached_{_threshold_key(t)}"] = int(np.isfinite(reached).sum())
        row["minutes"] = np.mean([r.minutes for r in group])
        row["delta_vs_baseline"] = f.mean() - base.mean() if base is not None else math.nan
        p = welch_p_value(f, base) if base is not None and name != BASELINE else math.nan
        row["p_value"] = p
        row["significance"] = _significance(p)
        rows.append(row)
    return pd.DataFrame(rows)


def _significance(p: float) -> str:
    if not math.isfinite(p):
        return ""
    stars = "**" if p < 0.01 else "*" if p < 0.05 else "n.s."
    return f"p={p:.2g} {stars}"


def welch_p_value(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of Welch's unequal-variance t-test; NaN if undefined (n<2, zero variance)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2:
        return math.nan
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    if not (va + vb > 0):  # also catches NaN from a diverged seed
        return math.nan
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return student_t_two_sided_p(t, df)


def student_t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with (possibly fractional) df: I_{df/(df+t^2)}(df/2, 1/2)."""
    return _betainc(df / 2.0, 0.5, df / (df + t * t))


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) by Lentz's continued fraction (Numerical Recipes 6.4)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    # The fraction converges fast only for x < (a+1)/(a+b+2); use the symmetry I_x(a,b)=1-I_{1-x}(b,a) otherwise.
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            return h
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def write_summary(df: pd.DataFrame, out_dir: str | os.PathLike) -> list[Path]:
    """Write `summary.csv` (full precision) and `summary.md` (floats to 4 decimals); return both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out_dir / "summary.csv", out_dir / "summary.md"
    df.to_csv(csv_path, index=False)
    md_path.write_text(_markdown_table(df), encoding="utf-8")
    return [csv_path, md_path]


def _markdown_table(df: pd.DataFrame) -> str:
    def cell(value) -> str:
        if isinstance(value, (float, np.floating)):
            return "—" if not math.isfinite(value) else f"{value:.4f}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(map(cell, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    lines += [
        "",
        "MAE: generator vs. true image in [-1,1] pixel units, lower is better; means over seeds.",
        "epochs_to_<t>: finished epochs until MAE < t, blank (—) unless every seed got there.",
        "significance: two-sided Welch t-test of final MAE against the baseline (needs >= 2 seeds each).",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Figure


def plot_mae(
    runs: Sequence[Run],
    out_path: str | os.PathLike,
    band: str = "minmax",
    smooth: int = 1,
    log_scale: bool = False,
) -> list[Path]:
    """Mean MAE per epoch for every ablation, with a min-max or ±std band over seeds.

    The mean at each epoch is over the seeds that have reached it, so in-progress runs are drawn as
    far as they got (the line may step where a seed drops out). `smooth` is a trailing rolling
    mean over epochs, applied per seed before averaging. Writes `out_path` as .png and .svg.
    """
    if band not in BANDS:
        raise PlotError(f"band must be one of {', '.join(BANDS)}, not {band!r}")
    if int(smooth) != smooth or smooth < 1:
        raise PlotError(f"smooth must be a whole number of epochs >= 1, not {smooth!r}")
    if not runs:
        raise PlotError("no runs to plot")
    out_path = Path(out_path)
    png, svg = out_path.with_suffix(".png"), out_path.with_suffix(".svg")
    png.parent.mkdir(parents=True, exist_ok=True)

    fig = Figure(figsize=(11, 6))
    ax = fig.add_subplot()
    for i, (name, group) in enumerate(_ordered_groups(runs)):
        # Columns are seeds, index is finished epochs (1-based); missing epochs stay NaN.
        per_seed = pd.concat(
            [
                r.metrics.set_index(r.metrics["epoch"] + 1)["mae"].rolling(int(smooth), min_periods=1).mean()
                for r in group
            ],
            axis=1,
        )
        mean = per_seed.mean(axis=1)
        colour, style = _COLOURS[i % len(_COLOURS)], _STYLES[i % len(_STYLES)]
        label = f"{group[0].label or name} (n={len(group)})"
        ax.plot(mean.index, mean.to_numpy(), color=colour, linestyle=style, linewidth=1.6, label=label)
        if len(group) > 1 and band != "none":
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
    # "tight" grows the canvas to fit the legend placed outside the axes.
    fig.savefig(png, dpi=150, bbox_inches="tight")
    fig.savefig(svg, bbox_inches="tight")
    return [png, svg]


# ---------------------------------------------------------------------------------------------
# The `t2i plot-mae` job


def plot_mae_command(
    runs_dir: str | os.PathLike,
    output: str | os.PathLike | None = None,
    band: str = "minmax",
    smooth: int = 1,
    log_scale: bool = False,
    thresholds: Sequence[float] = (0.2, 0.1),
) -> dict:
    """Find runs, draw the figure and write the summary next to it.

    `output` defaults to <runs_dir>/mae.png; an existing directory gets mae.png inside it. Skipped
    runs and notes (e.g. a dropped partial CSV line) go to stderr. Returns
    {"figure": [png, svg], "summary": [csv, md], "skipped": [(path, reason), ...]}.
    """
    runs_dir = Path(runs_dir)
    output = runs_dir / "mae.png" if output is None else Path(output)
    if output.is_dir():
        output = output / "mae.png"
    skipped: list[tuple[Path, str]] = []
    try:
        runs = find_runs(runs_dir, skipped)
    finally:
        for path, reason in skipped:
            print(f"warning: skipped {path}: {reason}", file=sys.stderr)
    for run in runs:
        for note in run.notes:
            print(f"note: {run.path}: {note}", file=sys.stderr)
    figure = plot_mae(runs, output, band=band, smooth=smooth, log_scale=log_scale)
    summary = write_summary(summarise(runs, thresholds), figure[0].parent)
    return {"figure": figure, "summary": summary, "skipped": skipped}
