"""Finished runs' small files kept beside the report (`--keep-runs`), so it can be regenerated where the runs
themselves (checkpoints, TensorBoard logs) are gone: `t2i report DIR/runs -o DIR`. Copied back into a runs
directory, they also make a sweep skip those runs."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from t2i.analysis.report.cached_evaluations import CACHE, PART1, RESULT
from t2i.analysis.runs import Run
from t2i.store import part1
from t2i.store.rundir import CONFIG, METRICS, STATUS

RECORD = (CONFIG, STATUS, METRICS, f"{CACHE}/{RESULT}")


def keep_runs(runs: Sequence[Run], runs_dir: Path, dest: Path, shown: Iterable[Path] = ()) -> int:
    """Copy each finished run's RECORD files, Part 1's evaluations and the files the report shows (a sample
    grid, an evaluation figure, Reed et al.'s figures) into `dest`, mirroring `runs_dir`; returns the number of
    runs kept."""
    files = [r.path / name for r in runs if r.status.get("status") == "done" for name in RECORD]
    files += [p for name in (part1.RESULT, RESULT) for p in (runs_dir / PART1).glob(f"*/{name}")]
    for source in [*files, *shown]:
        if source.exists():
            target = dest / source.relative_to(runs_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return sum(r.status.get("status") == "done" for r in runs)
