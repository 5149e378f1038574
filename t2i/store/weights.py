"""Weight files: how a directory that holds a model's weights (a run's checkpoints/, a Part 1 cache entry) names,
writes and lists them. Which networks a directory holds is its owner's data (rundir.WEIGHT_NETWORKS,
part1.NETWORKS); the file names are spelled here only. No TensorFlow here."""

from __future__ import annotations

from pathlib import Path

SUFFIX = ".weights.h5"  # Keras's save_weights refuses a file name without this ending
TEMPORARY = ".tmp"  # written as <network>.tmp + SUFFIX (Keras wants the ending), then renamed over the final file


def file(directory, network: str) -> Path:
    """The final weights of `network` in `directory`."""
    return Path(directory) / f"{network}{SUFFIX}"


def temporary(directory, network: str) -> Path:
    """Where `network`'s weights are written before they replace file(directory, network) in one rename."""
    return Path(directory) / f"{network}{TEMPORARY}{SUFFIX}"


def listed(directory) -> list[Path]:
    """The final weight files in `directory`, sorted; not a temporary one a crash mid-write left behind."""
    return sorted(p for p in Path(directory).glob(f"*{SUFFIX}") if not p.name.endswith(TEMPORARY + SUFFIX))
