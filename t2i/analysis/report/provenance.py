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
    """Training time summed over runs, and the span from the first run's start to the last one's end.

    status.json keeps when a run last wrote it and its training minutes; a run's start is taken as the one
    minus the other, so the span leaves out pauses between a run's interruption and its resumption.
    """
    ends, starts = [], []
    for run in runs:
        try:
            end = datetime.fromisoformat(str(run.status["updated"]))
        except (KeyError, ValueError):
            continue
        ends.append(end)
        if math.isfinite(run.minutes):
            starts.append(end - timedelta(minutes=run.minutes))
    total = sum(r.minutes for r in runs if math.isfinite(r.minutes))
    return {
        "training_hours_total": total / 60,
        "first_start": min(starts) if starts else None,
        "last_end": max(ends) if ends else None,
        "wall_hours": (max(ends) - min(starts)).total_seconds() / 3600 if starts else math.nan,
    }


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
