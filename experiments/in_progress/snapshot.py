"""Keep runs longer than a session resumable: copy each unfinished run below runs/ into experiments/in_progress/runs.

For each run: config.yaml, status.json, metrics.csv, the weights t2i generate loads, and the last resume checkpoint
(nothing else: samples, TensorBoard and older checkpoints stay behind). Runs whose records are already kept in a
report (experiments/*/runs) and are finished there are skipped, and their copies here removed. Run with training
stopped (`queue.sh stop` runs it):

    python experiments/in_progress/snapshot.py            # then commit experiments/in_progress
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from t2i.store import rundir

ROOT = Path(__file__).resolve().parents[2]
DEST = ROOT / "experiments" / "in_progress" / "runs"
# sweep name -> where its report keeps the finished runs' records
KEPT = {
    "ablation_study": ROOT / "experiments" / "ablation_study" / "runs",
    "paper": ROOT / "experiments" / "paper_budget" / "runs",
    "reed_study": ROOT / "experiments" / "reed_study" / "runs",
}


def finished_elsewhere(rel: Path) -> bool:
    kept = KEPT.get(rel.parts[0])
    status = None if kept is None else kept.joinpath(*rel.parts[1:]) / "status.json"
    return status is not None and status.exists() and json.loads(status.read_text()).get("status") == "done"


def copy_run(run: Path, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    for rel in rundir.resumable_files(run):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(run / rel, dest / rel)


def main(runs_root: Path) -> None:
    for status in sorted(runs_root.glob("*/*/seed=*/status.json")):
        run = status.parent
        rel = run.relative_to(runs_root)
        if finished_elsewhere(rel) or rundir.checkpoint_epoch(run) is None:
            continue
        copy_run(run, DEST / rel)
        state = rundir.read_status(run)
        print(f"kept {rel}: {state.get('status')}, {state.get('epochs_done')} epochs")
    for status in sorted(DEST.glob("*/*/seed=*/status.json")):  # finished, and now kept in their report
        rel = status.parent.relative_to(DEST)
        if finished_elsewhere(rel):
            shutil.rmtree(status.parent)
            print(f"removed {rel}: its report keeps it")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "runs")
