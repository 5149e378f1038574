"""Parity with the reference: does t2i's default GAN learn as fast as the reference's own code?

Targets come from the reference's training code run on t2i's data and from its published figure (issue
10): LRx10 at most 0.25 MAE by epoch 30 and 0.20 by epoch 60, Baseline at most 0.30 at epoch 250, each the
mean over three seeds; Part 1's held-out MAE at most 0.052 after 480 epochs. Runs are found by what they
are (series, seed, epochs reached), wherever they lie below the given directories, so the study's own
Baseline and LRx10 runs count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from t2i.analysis.runs import find_runs
from t2i.store import part1

SEEDS = 3


@dataclass(frozen=True)
class Target:
    series: str
    epoch: int  # finished epochs
    max_mae: float


TARGETS = (Target("lrx10", 30, 0.25), Target("lrx10", 60, 0.20), Target("baseline", 250, 0.30))
PRETRAIN_EPOCHS, PRETRAIN_MAX_MAE = 480, 0.052


def check(roots: list[Path], cache_dir: Path | None = None) -> list[dict]:
    """One row per target: the seeds' MAEs at its epoch, their mean, and met / missed / pending; Part 1's
    results are read from `cache_dir` (default: the one runs use, t2i.config.default_cache_dir)."""
    if cache_dir is None:
        from t2i.config import default_cache_dir

        cache_dir = Path(default_cache_dir())
    runs = [run for root in roots for run in find_runs(root)]
    rows = []
    for t in TARGETS:
        by_seed = {}
        for run in runs:
            if run.name == t.series and run.seed is not None and run.seed < SEEDS and run.finished_epochs >= t.epoch:
                by_seed.setdefault(run.seed, run.mae_at(t.epoch))
        maes = [by_seed[s] for s in sorted(by_seed)]
        mean = sum(maes) / len(maes) if maes else math.nan
        verdict = "pending" if len(maes) < SEEDS else "met" if mean <= t.max_mae else "missed"
        rows.append({"check": f"{t.series} MAE at epoch {t.epoch}", "target": t.max_mae, "seeds": maes,
                     "mean": mean, "verdict": verdict})  # fmt: skip
    rows.append(_pretrain_row(cache_dir))
    return rows


def _pretrain_row(cache_dir: Path) -> dict:
    maes = []
    for entry in part1.entries(cache_dir):
        data = part1.read_result(entry)
        if data.get("epochs") == PRETRAIN_EPOCHS and isinstance(data.get("mae"), (int, float)):
            maes.append(float(data["mae"]))
    best = min(maes) if maes else math.nan
    verdict = "pending" if not maes else "met" if best <= PRETRAIN_MAX_MAE else "missed"
    return {"check": f"Part 1 held-out MAE after {PRETRAIN_EPOCHS} epochs", "target": PRETRAIN_MAX_MAE,
            "seeds": maes, "mean": best, "verdict": verdict}  # fmt: skip


def format_rows(rows: list[dict]) -> str:
    lines = ["| check | target | per seed | mean | verdict |", "|---|---|---|---|---|"]
    for r in rows:
        seeds = ", ".join(f"{m:.3f}" for m in r["seeds"]) or "—"
        mean = "—" if math.isnan(r["mean"]) else f"{r['mean']:.3f}"
        lines.append(f"| {r['check']} | ≤ {r['target']} | {seeds} | {mean} | {r['verdict']} |")
    return "\n".join(lines)
