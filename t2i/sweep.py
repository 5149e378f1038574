"""`t2i sweep`: a Hydra multirun over ablations x seeds, run by a Hydra launcher.

The launcher (joblib processes by default; submitit for SLURM, Ray for a Ray cluster) calls `task` once
per run. A failing run is recorded as failed in its status.json and the sweep goes on; finished runs
are skipped; interrupted ones resume. The summary table is read back from the runs' status files.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from t2i.config import CONF_DIR, validate


def task(cfg) -> dict:
    """One run of the sweep, in a launcher's worker. Never raises: failures become a status."""
    hydra_cfg = HydraConfig.get()
    cfg.run_dir = hydra_cfg.runtime.output_dir
    OmegaConf.resolve(cfg)
    if hydra_cfg.job.override_dirname:
        # Runs that differ by more than ablation and seed are separate series in plots and tables.
        cfg.name = f"{cfg.name}[{hydra_cfg.job.override_dirname}]"
        cfg.label = f"{cfg.label} [{hydra_cfg.job.override_dirname}]"
    run_dir = Path(cfg.run_dir)
    try:
        validate(cfg)
        from t2i.training.rundir import check_run_dir, read_status

        if check_run_dir(cfg) == "done":  # before importing TensorFlow: skipping costs nothing
            return {"run_dir": str(run_dir), **read_status(run_dir), "skipped": True}
        from t2i.training.run import train

        status = train(cfg)
    except Exception as exc:  # one bad run must not stop the others
        from t2i.training.rundir import RunDirBusy, read_status, write_status

        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        # A busy run's status belongs to the process training it.
        if not isinstance(exc, RunDirBusy) and read_status(run_dir).get("status") != "failed":
            run_dir.mkdir(parents=True, exist_ok=True)
            write_status(run_dir, status="failed", reason=reason)
        print(f"t2i: run {run_dir} failed: {reason}", file=sys.stderr, flush=True)
        status = {"status": "failed", "reason": reason}
    return {"run_dir": str(run_dir), **status}


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base=None)
def _hydra_entry(cfg):
    return task(cfg)


def run_sweep(overrides: list[str]) -> Path:
    """Launch the multirun(s) the overrides stand for (a +study=NAME is several) and return the sweep directory."""
    from t2i.study import multiruns

    sweeps = multiruns(list(overrides))
    for one in sweeps:
        argv = sys.argv
        sys.argv = [argv[0], "--multirun", *one]
        try:
            _hydra_entry()
        except SystemExit as exc:  # Hydra exits on config errors after printing them
            if exc.code not in (0, None):
                raise
        finally:
            sys.argv = argv
    return sweep_dir(sweeps[0])


def sweep_dir(overrides: list[str]) -> Path:
    from t2i.config import compose_config

    plain = [o for o in overrides if not o.lstrip("+~").startswith("hydra") and "," not in o.split("=", 1)[-1]]
    cfg = compose_config(plain)
    return Path(cfg.runs_root) / cfg.sweep.name


def status_table(root: Path) -> list[dict]:
    from t2i.training.rundir import read_status

    rows = []
    for status_file in sorted(Path(root).glob("**/status.json")):
        run = status_file.parent
        st = read_status(run)
        rows.append(
            {
                "run": str(run.relative_to(root)),
                "status": st.get("status", "?"),
                "epochs": st.get("epochs_done", 0),
                "final_mae": st.get("final_mae", math.nan),
                "best_mae": st.get("best_mae", math.nan),
                "minutes": st.get("minutes", math.nan),
                "reason": st.get("reason") or "",
            }
        )
    return rows


def format_table(rows: list[dict]) -> str:
    w = max([len(r["run"]) for r in rows] + [24])
    head = f"{'run':<{w}} {'status':<8} {'epochs':>6} {'final MAE':>10} {'best MAE':>9} {'minutes':>8}"
    lines = [head, "-" * len(head)]
    for r in rows:
        line = (
            f"{r['run']:<{w}} {r['status']:<8} {r['epochs']:>6} {r['final_mae']:>10.4f} "
            f"{r['best_mae']:>9.4f} {r['minutes']:>8.1f}"
        )
        lines.append(line + (f"  {r['reason'][:120]}" if r["reason"] else ""))
    return "\n".join(lines)
