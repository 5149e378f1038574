"""Which colours are hardest: exhaustive `t2i evaluate` of every finished run and of Part 1's generator.

Usage: python experiments/ablation_study/colours.py RUNS_DIR OUT_DIR
Writes OUT_DIR/colours.csv (MAE per run, role and colour) and OUT_DIR/colours.md (one row per series,
means over its seeds). Each evaluation lands in RUN/evaluation/ and is reused while it is newer than
the run's checkpoint, so rerunning after more runs finish only scores the new ones.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from t2i.evaluation import evaluate
from t2i.generate import locate
from t2i.training.pretrain import cache_entry

SAMPLES = 6400  # all inputs of the digit series; a fixed uniform sample for the 62-character ones


def evaluated(model_dir: Path, out: Path) -> dict:
    newest_weights = max(p.stat().st_mtime for p in model_dir.glob("**/*.weights.h5"))
    result_file = out / "evaluation.json"
    if result_file.exists() and result_file.stat().st_mtime > newest_weights:
        return json.loads(result_file.read_text())
    print(f"evaluating {model_dir}", flush=True)
    return evaluate(model_dir, samples=SAMPLES, output_dir=out)


def finished_runs(runs_dir: Path) -> list[tuple[str, str, Path]]:
    found = []
    for status in sorted(runs_dir.glob("*/seed=*/status.json")):
        if json.loads(status.read_text()).get("status") == "done":
            run = status.parent
            found.append((run.parent.name, run.name.split("=")[1], run))
    return found


def rows_of(series: str, seed: str, result: dict) -> list[dict]:
    rows = [{"series": series, "seed": seed, "role": "all", "colour": "all", "mae": result["mae"]}]
    rows.append({"series": series, "seed": seed, "role": "readability", "colour": "all", "mae": result["readability"]})
    for role, key in (("background", "mae_per_background"), ("text", "mae_per_text_colour")):
        rows += [{"series": series, "seed": seed, "role": role, "colour": c, "mae": v} for c, v in result[key].items()]
    return rows


def markdown(df: pd.DataFrame, order: list[str], labels: dict) -> str:
    head = (
        "| series | seeds | MAE | readability | hardest background | green as background (rank of 8) "
        "| hardest text colour | green as text (rank of 8) |"
    )
    lines = [head, "|---" * 8 + "|"]
    for series in order:
        part = df[df["series"] == series]
        overall = part[part["role"] == "all"]["mae"].mean()
        readable = part[part["role"] == "readability"]["mae"].mean()
        cells = [labels.get(series, series), str(part["seed"].nunique()), f"{overall:.3f}", f"{readable:.3f}"]
        for role in ("background", "text"):
            per = part[part["role"] == role].groupby("colour")["mae"].mean().sort_values(ascending=False)
            rank = list(per.index).index("green") + 1
            cells += [f"{per.index[0]} ({per.iloc[0]:.3f})", f"{per['green']:.3f} ({rank})"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(runs_dir: Path, out_dir: Path) -> None:
    runs = finished_runs(runs_dir)
    if not runs:
        sys.exit(f"colours.py: no finished run under {runs_dir}")
    rows, order = [], []
    # Every series shares Part 1's settings (-RNNinit just does not load its weights).
    part1 = cache_entry(locate(runs[0][2]).cfg)
    if part1.exists():
        rows += rows_of("part1_supervised", "0", evaluated(part1, part1 / "evaluation"))
        order.append("part1_supervised")
    for series, seed, run in runs:
        rows += rows_of(series, seed, evaluated(run / "checkpoints", run / "evaluation"))
        order += [series] if series not in order else []
    df = pd.DataFrame(rows)
    labels = {"part1_supervised": "Part 1 (supervised G)"}
    if (out_dir / "summary.csv").exists():  # the study's series order and labels, as in the MAE table
        summary = pd.read_csv(out_dir / "summary.csv")
        listed = list(summary["ablation"])
        labels.update(zip(summary["ablation"], summary["label"]))
        order = [s for s in order if s not in listed] + [s for s in listed if s in order]
    df.to_csv(out_dir / "colours.csv", index=False, float_format="%.5f")
    (out_dir / "colours.md").write_text(markdown(df, order, labels))
    print((out_dir / "colours.md").read_text())


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
