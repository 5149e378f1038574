"""The GPU check (`make gpu-check`): on a machine with a GPU, in under 8 minutes, one JSON document.

Parts, each time-boxed so that one that hangs or is slow cannot take the others' time:
  device      what TensorFlow sees (and nvidia-smi's name for it)
  tests       the suite's device-relevant part: graph == eager, the fidelity tests, the Baseline golden curve
  bench       `t2i bench` (float32, bfloat16, XLA) on the GPU
  shared_gpu  a local sweep of 4 runs at once on the one GPU (memory growth must let the 2nd..4th start)
  lrx10_1500  LRx10 at the paper's 1,500 epochs, timed (a short Part 1; how far it got if the box ends first)
Writes $OUT/gpu_check.json when OUT is set (the device tool's output folder), else experiments/bench/gpu_check.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
T2I = [sys.executable, "-m", "t2i.cli"]
BUDGET_S = {"tests": 100, "bench": 170, "shared_gpu": 70, "lrx10_1500": 120}


def run(cmd: list[str], timeout: int, env=None) -> dict:
    start = time.time()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc, out, err = "timeout", exc.stdout or "", exc.stderr or ""
        out, err = (x.decode() if isinstance(x, bytes) else x for x in (out, err))
    return {"rc": rc, "seconds": round(time.time() - start, 1), "stdout_tail": out[-3000:], "stderr_tail": err[-3000:]}


def device() -> dict:
    probe = "import t2i, tensorflow as tf, json; print(json.dumps([d.name for d in tf.config.list_physical_devices()]))"
    info = run([sys.executable, "-c", probe], 60)
    smi = run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"], 20)
    return {"tensorflow_devices": info["stdout_tail"].strip(), "nvidia_smi": smi["stdout_tail"].strip()}


def main() -> None:
    out_dir = Path(os.environ.get("OUT") or ROOT / "experiments" / "bench")
    work = Path(tempfile.mkdtemp(prefix="t2i_gpu_check_"))
    env = {**os.environ, "T2I_CACHE_DIR": str(work / "cache"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "device": device(), "budget_s": BUDGET_S}
    tests = ["tests/test_models.py", "tests/test_fidelity.py", "tests/test_golden.py::test_golden_curve"]
    result["tests"] = run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:randomly", *tests, "-k", "not slow"],
        BUDGET_S["tests"],
        env,
    )
    bench = run([*T2I, "bench", "-o", str(work / "bench.json")], BUDGET_S["bench"], env)
    if (work / "bench.json").exists():
        bench["json"] = json.loads((work / "bench.json").read_text())
    result["bench"] = bench
    sweep = [*T2I, "sweep", "+ablation=baseline", "seed=0,1,2,3", "budget=tiny", "trainer.epochs=3",
             "sweep.workers=4", "sweep.name=gpu4", f"runs_root={work / 'runs'}"]  # fmt: skip
    result["shared_gpu"] = run(sweep, BUDGET_S["shared_gpu"], env)
    lrx10 = [*T2I, "train", "+ablation=lrx10", "budget=paper", "pretrain.epochs=20", "pretrain.max_mae=2.0",
             f"runs_root={work / 'runs'}"]  # fmt: skip
    result["lrx10_1500"] = run(lrx10, BUDGET_S["lrx10_1500"], env)
    status = work / "runs" / "lrx10" / "seed=0" / "status.json"
    if status.exists():
        result["lrx10_1500"]["status"] = json.loads(status.read_text())
    result["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "gpu_check.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v.get("rc") if isinstance(v, dict) else v for k, v in result.items()}, indent=2))


if __name__ == "__main__":
    main()
