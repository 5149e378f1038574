"""The runs below a directory, grouped into series, as the MAE figure, the tables and the report see them.

Every file of a run is read through t2i.store.rundir; nothing here imports TensorFlow, so it is fast and
can be pointed at runs that are still training. Epoch numbers shown to people count finished epochs (the
CSV's 0-based `epoch` + 1).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from t2i.store.rundir import CONFIG, METRICS, DamagedRunDir, metrics_summary, read_config, read_metrics, read_status


class AnalysisError(ValueError):
    """Nothing usable to plot, tabulate or report, or a bad option; the message says which."""


@dataclass
class Run:
    path: Path
    name: str  # the series: runs of one ablation (and any other swept values) share it
    label: str
    seed: int | None
    config: dict = field(repr=False)  # config.yaml as written, interpolations unresolved
    metrics: pd.DataFrame = field(repr=False)  # one row per finished epoch, `epoch` 0, 1, 2, …
    status: dict = field(default_factory=dict)  # status.json; {} when absent
    notes: list[str] = field(default_factory=list)  # recoverable oddities, e.g. a dropped partial line

    @property
    def finished_epochs(self) -> int:
        return len(self.metrics)

    @property
    def final_mae(self) -> float:
        return metrics_summary(self.metrics)["final_mae"]

    @property
    def best_mae(self) -> float:
        return metrics_summary(self.metrics)["best_mae"]

    @property
    def minutes(self) -> float:
        """Training time: status.json's wall-clock minutes, else the sum of the epochs' step time."""
        if isinstance(self.status.get("minutes"), (int, float)):
            return float(self.status["minutes"])
        if "seconds" not in self.metrics:
            return math.nan
        return float(self.metrics["seconds"].sum(min_count=1)) / 60.0

    def mae_at(self, epoch: int) -> float:
        """MAE after `epoch` finished epochs; NaN if the run has not got there."""
        return float(self.metrics["mae"].iloc[epoch - 1]) if 1 <= epoch <= len(self.metrics) else math.nan

    def epochs_to(self, threshold: float) -> float:
        """Finished epochs until MAE first went below `threshold`; NaN if it never did."""
        hit = self.metrics.loc[self.metrics["mae"] < threshold, "epoch"]
        return float(hit.iloc[0]) + 1 if len(hit) else math.nan

    def setting(self, key: str):
        """A config value by dotted key (None if absent)."""
        return OmegaConf.select(OmegaConf.create(self.config), key, default=None, throw_on_resolution_failure=False)


def find_runs(root: str | os.PathLike, skipped: list | None = None) -> list[Run]:
    """All runs at or below `root`, sorted by path.

    Runs that cannot be used are appended to `skipped` as (path, reason); without a list they are raised as
    RuntimeWarnings, so they are never silently lost. When two runs share name and seed (a restarted run in a
    fresh output directory), the one with more finished epochs (then the newer metrics.csv) is kept, since
    counting both would inflate the seed count. Raises AnalysisError if no usable run is found.
    """
    root = Path(root)
    if not root.is_dir():
        raise AnalysisError(f"runs directory not found: {root}")
    found: list[tuple[Path, str]] = []
    runs: list[Run] = []
    for dirpath, dirnames, filenames in os.walk(root):
        # Hidden directories (e.g. Hydra's .hydra/, which has its own config.yaml) are never runs.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if METRICS not in filenames:
            continue
        path = Path(dirpath)
        if CONFIG not in filenames:
            found.append((path, f"{METRICS} without {CONFIG}"))
            continue
        dirnames[:] = []  # a run's subdirectories hold checkpoints, samples and evaluations, not more runs
        try:
            runs.append(_load(path))
        except DamagedRunDir as exc:
            found.append((path, str(exc)))
    runs, duplicates = _drop_duplicate_seeds(runs)
    found = sorted(found + duplicates)
    if skipped is None:
        for path, reason in found:
            warnings.warn(f"skipped {path}: {reason}", RuntimeWarning, stacklevel=2)
    else:
        skipped.extend(found)
    if not runs:
        detail = f" ({len(found)} skipped as unusable)" if found else ""
        raise AnalysisError(f"no runs under {root}{detail}: a run is a directory with {METRICS} and {CONFIG}")
    return sorted(runs, key=lambda r: r.path)


def _load(path: Path) -> Run:
    config = OmegaConf.to_container(read_config(path), resolve=False)
    if config.get("name") in (None, ""):
        raise DamagedRunDir(f"{path / CONFIG} has no 'name'")
    metrics = read_metrics(path)
    if metrics.empty:
        raise DamagedRunDir(f"{path / METRICS} has no finished epoch yet")
    if metrics["mae"].isna().all():
        raise DamagedRunDir(f"{path / METRICS} has no 'mae' values")
    name = str(config["name"])
    return Run(
        path=path,
        name=name,
        label=str(config.get("label") or name),
        seed=_as_int(config.get("seed")),
        config=config,
        metrics=metrics,
        status=read_status(path),
        notes=list(metrics.attrs.get("notes", [])),
    )


def _as_int(value) -> int | None:
    # Unresolved interpolations ("${...}") and missing keys both just mean "unknown".
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _drop_duplicate_seeds(runs: list[Run]) -> tuple[list[Run], list[tuple[Path, str]]]:
    best: dict[tuple[str, int], Run] = {}
    for run in runs:
        key = (run.name, run.seed)
        if run.seed is not None and (key not in best or _preference(run) > _preference(best[key])):
            best[key] = run
    kept = [r for r in runs if r.seed is None or best[(r.name, r.seed)] is r]
    dropped = [
        (r.path, f"duplicate of {best[(r.name, r.seed)].path} (same name and seed)") for r in runs if r not in kept
    ]
    return kept, dropped


def _preference(run: Run) -> tuple[int, float]:
    return run.finished_epochs, (run.path / METRICS).stat().st_mtime


Series = tuple[str, list[Run]]  # (name, its runs sorted by seed)


def group(runs: Iterable[Run], order: Sequence[str] = ()) -> list[Series]:
    """Runs by series: those named in `order` (a study's series) in its order, then the others alphabetically."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.name, []).append(run)
    rank = {name: i for i, name in enumerate(order)}
    names = sorted(groups, key=lambda n: (rank.get(n, len(rank)), n))
    return [(n, sorted(groups[n], key=lambda r: (r.seed is None, r.seed or 0, r.path))) for n in names]
