"""Reading and checking run directories, without TensorFlow: sweeps, plots, the report and the trainer all
read config, status, metrics and checkpoint positions through here, so they agree on what a run is.

A run directory holds config.yaml (resolved config), status.json, metrics.csv (one row per finished epoch,
0-based `epoch`), checkpoints/ (resume/: the exact resume state, by tf.train.CheckpointManager; and the
weights `t2i generate` loads, named by t2i.store.weights), samples/ and tensorboard/.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import os
import re
import socket
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from t2i.store import weights
from t2i.store.locks import LockHeld, file_lock

METRICS = "metrics.csv"
STATUS = "status.json"
CONFIG = "config.yaml"
RESUME_DIR = Path("checkpoints") / "resume"  # tf.train.CheckpointManager's directory
CHECKPOINT_PREFIX = "ckpt"  # files ckpt-<epoch>.index / .data-*: the number is the epoch it holds
LEGACY_STATE = Path("checkpoints") / "state.npz"  # the format before tf.train.Checkpoint (+ state.json)
# The final weights in checkpoints/, one file per network a run has (the GAN's attribute and the Keras model's
# name): what `t2i generate` and load_model read. style_encoder only where model.style_encoder.
WEIGHT_NETWORKS = ("text_encoder", "generator", "discriminator", "style_encoder")


def weights_file(weights_dir: Path, network: str) -> Path:
    """The final weights of `network` (one of WEIGHT_NETWORKS) in a run's checkpoints/ directory."""
    return weights.file(weights_dir, network)


# Keys that change how a run is executed or displayed, not what it computes. Part 1's guards decide which
# encoder is accepted; the cache key holds them, and once a run has a checkpoint its encoder is in there, so
# run directories made before the guards existed still resume.
VOLATILE_KEYS = (
    "run_dir",
    "runs_root",
    "cache_dir",
    "sweep",
    "trainer.verbose",
    "trainer.threads",
    "trainer.gpu_memory_mb",  # where a run's memory lives, not what it computes
    "trainer.run_eagerly",  # the same numbers up to float rounding (tests/test_training.py checks)
    "pretrain.max_mae",
    "pretrain.divergence_factor",
    "pretrain.max_recoveries",
    "pretrain.recovery_lr_factor",
)


class RunDirError(RuntimeError):
    """The run directory cannot be used as asked; nothing in it was changed. The message is one line."""


class RunDirBusy(RunDirError):
    """Another live process is training this run directory; its status must be left alone."""

    def __init__(self, message: str, pid: str):
        super().__init__(message)
        self.pid = pid


class DamagedRunDir(RunDirError):
    """A file of the run directory is damaged or missing; the message names it and what to do."""


class RunInterrupted(RuntimeError):
    """Training stopped on Ctrl-C or a signal; the run is resumable."""


# --- config ------------------------------------------------------------------------------------------


def read_config(run_dir) -> DictConfig:
    """The run's config.yaml, with every key added to the schema since it was written set to the value that
    keeps the old behaviour (t2i.config.added); a key dropped without that declaration stays missing."""
    path = Path(run_dir) / CONFIG
    try:
        cfg = OmegaConf.load(path)
    except FileNotFoundError:
        raise DamagedRunDir(f"{path} does not exist") from None
    except Exception as exc:  # YAML and OmegaConf raise many types; all mean the file is unusable
        raise DamagedRunDir(f"{path} is unreadable ({type(exc).__name__})") from None
    if not isinstance(cfg, DictConfig):
        raise DamagedRunDir(f"{path} is not a config mapping")
    return OmegaConf.create(with_added_keys(OmegaConf.to_container(cfg)))


def with_added_keys(data: dict) -> dict:
    """A config (as a plain dict) where each key of t2i.config.AS_BEFORE it lacks is set to its as-before
    value: a run recorded before the key existed reads as what it computed."""
    from t2i import config  # the schema; no TensorFlow

    data = copy.deepcopy(data)
    for key, value in config.AS_BEFORE.items():
        *parents, leaf = key.split(".")
        node = data
        for p in parents:
            node = node.setdefault(p, {}) if isinstance(node, dict) else None
        if isinstance(node, dict) and leaf not in node:
            node[leaf] = copy.deepcopy(value)
    return data


# A finished (or interrupted) run continues under a larger `trainer.epochs`: its first epochs are what a longer
# run computes, since nothing in a run reads the epoch budget except through the config, and whatever is
# scaled to it (a curriculum, a decay schedule) resolves to another value and is refused as another config.
# `budget` is the budget file's name, which says nothing beyond the values it sets.
EXTENDABLE_KEYS = ("trainer.epochs", "budget")


def comparable(cfg) -> dict:
    """What two configs must agree on to be one run: all but VOLATILE_KEYS, with added keys filled in."""
    return _without(with_added_keys(OmegaConf.to_container(cfg, resolve=True)), VOLATILE_KEYS)


def _without(data: dict, keys) -> dict:
    data = copy.deepcopy(data)
    for key in keys:
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


# --- status ------------------------------------------------------------------------------------------


def read_status(run_dir) -> dict:
    """status.json as a dict ({} if absent or unreadable). A `running` run whose process is gone reads as
    `interrupted`: a kill -9 or a machine crash cannot update the file itself."""
    try:
        data = json.loads((Path(run_dir) / STATUS).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    if data.get("status") == "running" and _process_gone(data):
        data = {**data, "status": "interrupted"}
    return data


def _process_gone(status: dict) -> bool:
    pid, host = status.get("pid"), status.get("host")
    if not isinstance(pid, int) or (host is not None and host != socket.gethostname()):
        return False  # another machine's process cannot be checked from here
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by someone else
        return False
    return False


def write_status(run_dir, **fields) -> None:
    path = Path(run_dir) / STATUS
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        old = {}
    data = {**old, **fields, "updated": time.strftime("%Y-%m-%dT%H:%M:%S")}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def running_fields() -> dict:
    # A run continued to more epochs was `done`: its final and best MAE are not final any more.
    return {
        "status": "running",
        "reason": None,
        "traceback": None,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "final_mae": None,
        "best_mae": None,
    }


# --- metrics -----------------------------------------------------------------------------------------

_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def read_metrics(run_dir_or_file, required: tuple[str, ...] = ("epoch", "mae")) -> pd.DataFrame:
    """metrics.csv, checked: a header naming the `required` columns, whole rows, numbers, epochs 0, 1, 2, ….
    (Part 1's metrics.csv has no `mae`, only `pixel_mae` and `heldout_mae`: read it with required=("epoch",).)

    A last line without its newline is what a crash mid-write leaves; it is dropped (and noted in
    `df.attrs["notes"]`). Empty `val_*` columns, which Keras's CSVLogger added to older files, are dropped.
    A missing or empty file is a run with no finished epoch. Raises DamagedRunDir.
    """
    path = Path(run_dir_or_file)
    if path.is_dir():
        path = path / METRICS
    notes: list[str] = []
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")  # garbage bytes fail the checks below
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        raise DamagedRunDir(f"{path} is unreadable ({type(exc).__name__})") from None
    lines = text.splitlines(keepends=True)
    if len(lines) > 1 and not lines[-1].endswith(("\n", "\r")):
        lines.pop()
        notes.append(f"dropped the partial last line of {path}")
    rows = list(csv.reader(lines))
    if not rows:
        df = pd.DataFrame({c: pd.Series(dtype=int if c == "epoch" else float) for c in ("epoch", *required)})
        df.attrs["notes"] = notes
        return df
    header = rows[0]
    if (
        not {"epoch", *required} <= set(header)
        or not all(_COLUMN.match(c) for c in header)
        or len(set(header)) < len(header)
    ):
        names = " and ".join(f"'{c}'" for c in dict.fromkeys(("epoch", *required)))
        raise DamagedRunDir(f"{path} is damaged: line 1 is not a header naming {names}")
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DamagedRunDir(f"{path} is damaged: line {number} has {len(row)} fields, the header {len(header)}")
    try:
        df = pd.read_csv(io.StringIO("".join(lines)), keep_default_na=True)
    except (ValueError, pd.errors.ParserError) as exc:
        raise DamagedRunDir(f"{path} is damaged: it does not parse ({type(exc).__name__})") from None
    for column in df.columns:
        if not pd.api.types.is_numeric_dtype(df[column]):
            raise DamagedRunDir(f"{path} is damaged: column '{column}' holds text")
    if df["epoch"].isna().any() or list(df["epoch"]) != list(range(len(df))):
        raise DamagedRunDir(f"{path} is damaged: its epochs are not 0, 1, 2, … in order")
    df["epoch"] = df["epoch"].astype(int)
    legacy = [c for c in df.columns if c.startswith("val_") and df[c].isna().all()]
    df = df.drop(columns=legacy)
    df.attrs["notes"] = notes
    return df


def metrics_summary(metrics: pd.DataFrame) -> dict:
    """A run's epochs done, final and best MAE from its metrics (read_metrics): the numbers every table,
    status.json and dashboard shows for a run, computed here only."""
    mae = metrics["mae"] if "mae" in metrics else pd.Series(dtype=float)
    return {
        "epochs_done": int(len(metrics)),
        "final_mae": float(mae.iloc[-1]) if len(mae) else math.nan,
        "best_mae": float(mae.min()) if mae.notna().any() else math.nan,
    }


def read_summary(run_dir) -> dict:
    """metrics_summary() of the run's metrics.csv; NaNs and no epochs if it is damaged."""
    try:
        return metrics_summary(read_metrics(run_dir))
    except DamagedRunDir:
        return metrics_summary(pd.DataFrame())


def truncate_metrics(path: Path, epochs: int) -> int:
    """Keep the header and the first `epochs` rows of a checked metrics.csv, byte for byte (atomic replace);
    returns how many rows were dropped."""
    lines = path.read_text().splitlines(keepends=True) if path.exists() else []
    if not lines:
        return 0
    keep = [line for line in lines[: 1 + epochs] if line.endswith(("\n", "\r"))]
    dropped = len(lines) - len(keep)
    if dropped:
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(keep))
        os.replace(tmp, path)
    return dropped


def metrics_header(path: Path) -> list[str] | None:
    """The header of an existing metrics.csv (None if there is none yet)."""
    try:
        with open(path, newline="") as fh:
            return next(csv.reader(fh), None) or None
    except FileNotFoundError:
        return None


def extend_metrics_header(path: Path, columns: list[str]) -> None:
    """Add columns to an existing metrics.csv (atomic replace); earlier rows get empty cells there."""
    lines = path.read_text().splitlines()
    header = next(csv.reader(lines[:1]))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*header, *columns])
    for row in csv.reader(lines[1:]):
        writer.writerow([*row, *[""] * len(columns)])
    tmp = path.with_suffix(".tmp")
    tmp.write_text(out.getvalue())
    os.replace(tmp, path)


# --- checkpoints -------------------------------------------------------------------------------------

_LATEST = re.compile(r'^model_checkpoint_path:\s*"(?:.*/)?' + CHECKPOINT_PREFIX + r'-(\d+)"\s*$', re.M)


def checkpoint_epoch(run_dir) -> int | None:
    """Finished epochs the run's checkpoint holds (None if there is none), read from CheckpointManager's
    state file (or the legacy state.json) without TensorFlow. Raises DamagedRunDir."""
    run_dir = Path(run_dir)
    state = run_dir / RESUME_DIR / "checkpoint"
    if state.exists():
        try:
            match = _LATEST.search(state.read_text())
        except (OSError, UnicodeDecodeError):
            match = None
        if not match:
            raise DamagedRunDir(f"{state} is damaged: it names no {CHECKPOINT_PREFIX}-<epoch>")
        epoch = int(match.group(1))
        index = state.parent / f"{CHECKPOINT_PREFIX}-{epoch}.index"
        if not index.exists():
            raise DamagedRunDir(f"{state} names {index.name}, which is missing")
        return epoch
    legacy, meta = run_dir / LEGACY_STATE, (run_dir / LEGACY_STATE).with_suffix(".json")
    if legacy.exists() or meta.exists():
        try:
            epoch = json.loads(meta.read_text())["epoch"]
        except Exception:
            raise DamagedRunDir(f"{meta} is missing or damaged (it holds the epoch of {legacy.name})") from None
        if not legacy.exists():
            raise DamagedRunDir(f"{legacy} is missing ({meta.name} says it holds {epoch} epochs)")
        return int(epoch)
    return None


def resumable_files(run_dir) -> list[Path]:
    """The files, relative to the run directory, that a copy needs to resume the run where it stopped and to
    serve `t2i generate`: config, status, metrics, the final weights and the latest resume checkpoint (or the
    legacy state). Samples, TensorBoard logs and older checkpoints are left out. Raises DamagedRunDir."""
    run_dir = Path(run_dir)
    found = [run_dir / name for name in (CONFIG, STATUS, METRICS)]
    found += weights.listed(run_dir / "checkpoints")
    epoch = checkpoint_epoch(run_dir)
    if (run_dir / RESUME_DIR / "checkpoint").exists():
        found.append(run_dir / RESUME_DIR / "checkpoint")
        found += sorted((run_dir / RESUME_DIR).glob(f"{CHECKPOINT_PREFIX}-{epoch}.*"))
    elif epoch is not None:
        found += [run_dir / LEGACY_STATE, (run_dir / LEGACY_STATE).with_suffix(".json")]
    return [p.relative_to(run_dir) for p in found if p.exists()]


# --- the run directory as a whole --------------------------------------------------------------------


@contextmanager
def claim(run_dir: Path):
    """Hold the run directory for this process: two overlapping sweeps must not train one run twice."""
    with ExitStack() as stack:
        try:
            stack.enter_context(file_lock(Path(run_dir) / ".lock", wait=False))
        except LockHeld as held:
            raise RunDirBusy(
                f"{run_dir} is being trained by another process (pid {held.holder}); "
                "wait for it or choose another run_dir",
                held.holder,
            ) from None
        yield


def check_run_dir(cfg) -> str:
    """'new', 'resume' or 'done' for this config's run directory; RunDirError if it holds another run. A run
    asked for more epochs than its directory's config resumes (EXTENDABLE_KEYS)."""
    run_dir = Path(cfg.run_dir)
    saved = run_dir / CONFIG
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
        old = comparable(read_config(run_dir))
    except DamagedRunDir as exc:
        raise DamagedRunDir(f"{exc}; move it away or choose another run_dir") from None
    new = comparable(cfg)
    diff = _first_difference(old, new)
    if not diff:
        return "done" if read_status(run_dir).get("status") == "done" else "resume"
    if _longer(old, new) and not _first_difference(_without(old, EXTENDABLE_KEYS), _without(new, EXTENDABLE_KEYS)):
        return "resume"  # continued to the larger budget; _mark_running saves the new config
    if _longer(new, old):
        diff += "; a run can be continued to more epochs, not cut to fewer"
    raise RunDirError(f"{run_dir} holds a run with a different config ({diff}); choose another run_dir")


def _longer(a: dict, b: dict) -> bool:
    """Whether config `b` asks for more epochs than `a`."""
    epochs = [c.get("trainer", {}).get("epochs") for c in (a, b)]
    return all(isinstance(e, int) for e in epochs) and epochs[1] > epochs[0]


def resume_point(cfg) -> int | None:
    """The epoch an unfinished run continues from (None: it has no checkpoint and starts at 0), after checking
    that metrics.csv, the checkpoint and status.json tell one story. Changes nothing; raises DamagedRunDir.

    Per epoch the trainer logs a row, then saves the checkpoint, then records it in status.json; a crash in
    between leaves at most `checkpoint_every` rows beyond the checkpoint, which are dropped and retrained.
    Anything else means a file was damaged, deleted or replaced, and training over it would lose work.
    """
    run_dir = Path(cfg.run_dir)
    move_away = f"nothing was changed; repair it, or move {run_dir} away to start the run over"
    try:
        logged = len(read_metrics(run_dir))
        epoch = checkpoint_epoch(run_dir)
    except DamagedRunDir as exc:
        raise DamagedRunDir(f"{exc}; {move_away}") from None
    recorded = read_status(run_dir).get("epochs_done") or 0
    window = cfg.trainer.checkpoint_every
    if epoch is None and (recorded > 0 or logged > window):
        raise DamagedRunDir(
            f"{run_dir / 'checkpoints'} holds no checkpoint but the run logged {max(logged, recorded)} epochs "
            f"(deleted?); {move_away}"
        )
    held = epoch or 0
    if held > logged:
        raise DamagedRunDir(f"{run_dir / METRICS} logs {logged} epochs but the checkpoint holds {held}; {move_away}")
    if logged - held > window or recorded > held:
        raise DamagedRunDir(
            f"the checkpoint in {run_dir / 'checkpoints'} holds {held} epochs but the run logged "
            f"{max(logged, recorded)} (replaced by an older one?); {move_away}"
        )
    return epoch
