"""`t2i sweep`: Hydra multiruns over ablations x seeds (x anything else), run by a Hydra launcher.

Before anything runs, every combination is composed and validated and its run directory computed, so a
typo or bad value in any one of them is one error line and nothing is created, and two combinations can
never share a run directory. The launcher (joblib processes by default; submitit for SLURM, Ray) then calls
`task` once per run; each returns its outcome (done, resumed, skipped, failed, busy, interrupted), and the
table and the exit code are built from exactly those, not from whatever else lies in the sweep directory.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from t2i.config import CONF_DIR, ConfigError, _one_line, validate

SUCCESS = ("done", "resumed", "skipped")
# Excluded from run-directory names because a sweep usually fixes them, but they change what a run
# computes: when one is swept it goes back into the names, or its runs would share directories.
COMPUTING_EXCLUDED = ("budget",)


# The process that plans and launches the sweep (set by run_sweep). A run trained in this very process (one
# worker, the basic launcher) was interrupted by a signal meant for the whole sweep: it ends the sweep. A run in
# a worker process of its own (joblib's processes, submitit, Ray) reports `interrupted` and the sweep goes on.
_sweep_pid: int | None = None


@dataclass
class Job:
    overrides: list[str]
    run_dir: Path
    cfg: DictConfig  # the config its run is trained with (job_config), validated


@dataclass
class Multirun:
    overrides: list[str]  # what Hydra launches
    root: Path  # the sweep directory
    jobs: list[Job]


def job_config(cfg: DictConfig, run_dir: Path, override_dirname: str) -> DictConfig:
    """A run's config as the trainer sees it in a sweep: its run_dir is the launcher's job directory."""
    cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    if "hydra" in cfg:
        with open_dict(cfg):
            del cfg["hydra"]
    cfg.run_dir = str(run_dir)
    OmegaConf.resolve(cfg)
    if override_dirname:
        # Runs that differ by more than ablation and seed are separate series in plots and tables.
        cfg.name = f"{cfg.name}[{override_dirname}]"
        cfg.label = f"{cfg.label} [{override_dirname}]"
    return cfg


def task(cfg) -> dict:
    """One run of the sweep, in a launcher's worker. Never raises for a run's own failure: it is an outcome."""
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    logging.getLogger("absl").setLevel(logging.WARNING)  # TensorFlow's checkpoint writer logs timings at INFO
    from t2i.store.rundir import RunDirBusy, RunInterrupted, check_run_dir

    try:
        cfg = job_config(cfg, run_dir, hydra_cfg.job.override_dirname)
        validate(cfg)
        if check_run_dir(cfg) == "done":  # before importing TensorFlow: skipping costs nothing
            return {"run_dir": str(run_dir), "outcome": "skipped"}
        from t2i.training.run import train

        return {"run_dir": str(run_dir), "outcome": train(cfg)["outcome"]}
    except RunDirBusy as exc:  # its status belongs to the process training it
        return {"run_dir": str(run_dir), "outcome": "busy", "reason": f"pid {exc.pid}"}
    except RunInterrupted:
        if os.getpid() == _sweep_pid:  # Ctrl-C or SIGTERM to the sweep itself: no next run
            raise KeyboardInterrupt from None
        return {"run_dir": str(run_dir), "outcome": "interrupted"}
    except Exception as exc:  # one bad run must not stop the others; train() recorded it in status.json
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        print(f"t2i: run {run_dir} failed: {reason}", file=sys.stderr, flush=True)
        return {"run_dir": str(run_dir), "outcome": "failed", "reason": reason}


# --- planning and launching --------------------------------------------------------------------------


def _hydra():
    from hydra import version
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path
    from hydra.core.global_hydra import GlobalHydra

    import t2i.config  # noqa: F401  (registers the schema and resolvers)

    version.setbase(None)
    GlobalHydra.instance().clear()
    return Hydra.create_main_hydra2(
        task_name="sweep", config_search_path=create_config_search_path(f"file://{CONF_DIR}")
    )


def _key(override) -> str:
    return override.key_or_group.lstrip("+~")


def plan(overrides: list[str]) -> Multirun:
    """The Hydra overrides to launch (with any swept COMPUTING_EXCLUDED key put back into run-directory
    names) and every job's run directory; each job's config is composed and validated (ConfigError)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.types import RunMode

    hydra = _hydra()
    combo: list[str] | None = None
    try:
        overrides = [*overrides, "hydra.mode=MULTIRUN"]
        master = hydra.compose_config("config", overrides, run_mode=RunMode.MULTIRUN)
        parser = OverridesParser.create(config_loader=hydra.config_loader)
        parsed = parser.parse_overrides(list(master.hydra.overrides.task))
        swept = {_key(o) for o in parsed if o.is_sweep_override()}
        if swept & set(COMPUTING_EXCLUDED):
            exclude = [k for k in master.hydra.job.config.override_dirname.exclude_keys if k not in swept]
            overrides.append(
                "hydra.job.config.override_dirname.exclude_keys=[" + ",".join(f"'{k}'" for k in exclude) + "]"
            )
            master = hydra.compose_config("config", overrides, run_mode=RunMode.MULTIRUN)
        jobs = []
        for combo in BasicSweeper.split_arguments(parsed, None)[0]:
            job = hydra.config_loader.load_sweep_config(master, combo)
            run_dir = Path(os.path.abspath(Path(job.hydra.sweep.dir) / str(job.hydra.sweep.subdir)))
            cfg = job_config(job, run_dir, job.hydra.job.override_dirname)
            validate(cfg)
            jobs.append(Job(combo, run_dir, cfg))
    except Exception as exc:  # Hydra raises many types; all are errors in the overrides
        message = str(exc) if isinstance(exc, ConfigError) else _one_line(exc)
        where = f" (in {' '.join(combo)})" if combo else ""
        raise ConfigError(f"{message}{where}") from None
    return Multirun(overrides, Path(os.path.abspath(master.hydra.sweep.dir)), jobs)


def check_distinct(jobs: list[Job]) -> None:
    seen: dict[Path, Job] = {}
    for job in jobs:
        if job.run_dir in seen:
            raise ConfigError(
                f"'{' '.join(seen[job.run_dir].overrides)}' and '{' '.join(job.overrides)}' would share the run "
                f"directory {job.run_dir}; sweep keys that change the run, or use separate sweep.name values"
            )
        seen[job.run_dir] = job


def run_sweep(overrides: list[str]) -> list[dict]:
    """Plan every multirun the overrides stand for (a +study=NAME is several), then launch them; returns one
    table row per job of this invocation, in order."""
    from t2i.sweeps.study import multiruns

    global _sweep_pid
    _sweep_pid = os.getpid()
    planned = [plan(one) for one in multiruns(list(overrides))]
    check_distinct([job for multirun in planned for job in multirun.jobs])
    rows = []
    for multirun in planned:
        outcomes = _launch(multirun.overrides)
        rows += [_row(job, multirun.root, outcomes.get(job.run_dir)) for job in multirun.jobs]
    return rows


def _launch(overrides: list[str]) -> dict[Path, dict]:
    returns = _hydra().multirun(config_name="config", task_function=task, overrides=overrides)
    outcomes = {}
    for batch in returns:
        for result in batch:
            try:
                value = result.return_value
            except Exception as exc:  # the worker raised outside task's own handling
                value = {"run_dir": result.working_dir, "outcome": "failed", "reason": _one_line(exc)}
            outcomes[Path(os.path.abspath(value["run_dir"]))] = value
    return outcomes


def _row(job: Job, root: Path, outcome: dict | None) -> dict:
    from t2i.store.rundir import read_status, read_summary

    outcome = outcome or {"outcome": "failed", "reason": "its worker ended without reporting"}
    status = read_status(job.run_dir)
    return {
        "run": str(job.run_dir.relative_to(root)),
        "outcome": outcome["outcome"],
        "reason": outcome.get("reason") or "",
        **read_summary(job.run_dir),
        "minutes": status.get("minutes", math.nan),
    }


OUTCOME_TEXT = {"skipped": "skipped (already complete)", "failed": "failed ({reason})", "busy": "busy ({reason})"}


def format_table(rows: list[dict]) -> str:
    w = max([len(r["run"]) for r in rows] + [24])
    head = f"{'run':<{w}} {'epochs':>6} {'final MAE':>10} {'best MAE':>9} {'minutes':>8}  outcome"
    lines = [head, "-" * len(head)]
    for r in rows:
        outcome = OUTCOME_TEXT.get(r["outcome"], r["outcome"]).format(reason=r["reason"][:160])
        lines.append(
            f"{r['run']:<{w}} {r['epochs_done']:>6} {r['final_mae']:>10.4f} {r['best_mae']:>9.4f} "
            f"{r['minutes']:>8.1f}  {outcome}"
        )
    return "\n".join(lines)
