"""When the runs ran and for how long, and the software and machine the report was made with."""

from __future__ import annotations

import math
import os
import platform
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path

from t2i.analysis.runs import Run

PACKAGES = ("t2i", "tensorflow", "keras", "numpy", "pandas", "matplotlib")


def statuses(runs: Sequence[Run]) -> Counter:
    return Counter(r.status.get("status", "unknown") for r in runs)


def wall_time(runs: Sequence[Run]) -> dict:
    """Training time summed over runs; the span from the first run's start to the last one's end; and the hours
    of that span in which at least one run trained (the union of the runs' intervals: a study trained over
    several sessions spans days, most of them idle).

    status.json keeps when a run last wrote it and its training minutes; a run's start is taken as the one
    minus the other, so its interval leaves out pauses between an interruption and the resumption.
    """
    ends, intervals = [], []
    for run in runs:
        try:
            end = datetime.fromisoformat(str(run.status["updated"]))
        except (KeyError, ValueError):
            continue
        ends.append(end)
        if math.isfinite(run.minutes):
            intervals.append((end - timedelta(minutes=run.minutes), end))
    total = sum(r.minutes for r in runs if math.isfinite(r.minutes))
    starts = [start for start, _ in intervals]
    return {
        "training_hours_total": total / 60,
        "first_start": min(starts) if starts else None,
        "last_end": max(ends) if ends else None,
        "wall_hours": (max(ends) - min(starts)).total_seconds() / 3600 if starts else math.nan,
        "busy_hours": _union_hours(intervals) if intervals else math.nan,
    }


def _union_hours(intervals: list[tuple[datetime, datetime]]) -> float:
    seconds, reach = 0.0, None
    for start, end in sorted(intervals):
        if reach is None or start > reach:
            seconds += (end - start).total_seconds()
            reach = end
        elif end > reach:
            seconds += (end - reach).total_seconds()
            reach = end
    return seconds / 3600


def software() -> dict:
    """Versions and machine of this process: runs do not record theirs."""
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {**versions, "machine": f"{_cpu()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"}


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
