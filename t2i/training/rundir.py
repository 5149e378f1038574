"""The run directory's identity and status, without TensorFlow, so a sweep can skip finished runs cheaply."""

from __future__ import annotations

import json
import os
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

from omegaconf import OmegaConf

from t2i.locks import LockHeld, file_lock

# Keys that change how a run is executed or displayed, not what it computes.
VOLATILE_KEYS = ("run_dir", "runs_root", "cache_dir", "sweep", "trainer.verbose", "trainer.threads")


class RunDirError(RuntimeError):
    """The run directory holds a different run; never overwritten."""


def comparable(cfg) -> dict:
    data = OmegaConf.to_container(cfg, resolve=True)
    for key in VOLATILE_KEYS:
        *parents, leaf = key.split(".")
        node = data
        for p in parents:
            node = node.get(p, {})
        node.pop(leaf, None)
    return data


def _first_difference(a, b, prefix="") -> str:
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, "<missing>"), b.get(key, "<missing>")
        if isinstance(va, dict) and isinstance(vb, dict):
            diff = _first_difference(va, vb, f"{prefix}{key}.")
            if diff:
                return diff
        elif va != vb:
            return f"{prefix}{key}: {va!r} there, {vb!r} now"
    return ""


class RunDirBusy(RunDirError):
    """Another live process is training this run directory; its status must be left alone."""


@contextmanager
def claim(run_dir: Path):
    """Hold the run directory for this process: two overlapping sweeps must not train one run twice."""
    with ExitStack() as stack:
        try:
            stack.enter_context(file_lock(Path(run_dir) / ".lock", wait=False))
        except LockHeld as held:
            raise RunDirBusy(
                f"{run_dir} is being trained by another process (pid {held.holder}); "
                "wait for it or choose another run_dir"
            ) from None
        yield


def read_status(run_dir: Path) -> dict:
    try:
        return json.loads((Path(run_dir) / "status.json").read_text())
    except (OSError, ValueError):
        return {}


def write_status(run_dir: Path, **fields) -> None:
    path = Path(run_dir) / "status.json"
    data = {**read_status(run_dir), **fields, "updated": time.strftime("%Y-%m-%dT%H:%M:%S")}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def check_run_dir(cfg) -> str:
    """'new', 'resume' or 'done' for this config's run directory; RunDirError if it holds another run."""
    run_dir = Path(cfg.run_dir)
    saved = run_dir / "config.yaml"
    if not saved.exists():
        # Hydra's launcher puts its own .hydra/ and job log into the directory before the run starts.
        foreign = (
            [p for p in run_dir.iterdir() if not p.name.startswith(".") and p.suffix != ".log"]
            if run_dir.exists()
            else []
        )
        if foreign:
            raise RunDirError(f"{run_dir} exists and is not a t2i run directory; choose another run_dir")
        return "new"
    try:
        old = comparable(OmegaConf.load(saved))
    except Exception as exc:
        raise RunDirError(f"{saved} is unreadable ({exc}); move it away or choose another run_dir") from None
    diff = _first_difference(old, comparable(cfg))
    if diff:
        raise RunDirError(f"{run_dir} holds a run with a different config ({diff}); choose another run_dir")
    return "done" if read_status(run_dir).get("status") == "done" else "resume"
