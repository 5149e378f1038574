"""Record the golden curves (run before a change that must not change numbers): python -m tests.golden.record"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(names: list[str]) -> None:
    from t2i.config import available
    from tests.golden.harness import COMBOS, GRAPH, HERE, golden_name, machine, run_ablation

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["T2I_CACHE_DIR"] = str(Path(tmp) / "cache")
        jobs = [(n, False) for n in available("ablation")] + [(n, True) for n in GRAPH] + [(n, False) for n in COMBOS]
        for name, graph in jobs:
            if names and golden_name(name, graph) not in names:
                continue
            df = run_ablation(name, Path(tmp) / "runs", graph)
            df.to_csv(HERE / f"{golden_name(name, graph)}.csv", index=False, float_format="%.17g")
            print(name, "mae", list(df["mae"]), flush=True)
    (HERE / "machine.json").write_text(json.dumps(machine(), indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
