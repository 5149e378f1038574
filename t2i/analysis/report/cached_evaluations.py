"""`t2i evaluate` of every finished run and of Part 1's generator, cached, and their per-colour and
per-character tables.

A run's evaluation is cached in RUN/evaluation/ and a Part 1 generator's in RUNS_DIR/part1/<cache entry>/
(with its result.json), so the report's inputs all live below RUNS_DIR. A cached evaluation is reused while
it is newer than the model's weights and used the same number of samples; where the weights are gone (kept
records of runs), the cached one is all there is and is used as it is. A style-data or unconditional run's
result must also carry today's "version" (t2i/analysis/evaluation.py's EVALUATION_VERSION, bumped whenever
its result dict changes), else it is evaluated again.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from t2i.analysis.runs import Run, Series
from t2i.store import part1, weights

CACHE = "evaluation"  # a run's evaluation directory
PART1 = "part1"  # below RUNS_DIR: one directory per Part 1 cache entry
PART1_LABEL = "Part 1 (supervised G)"
RESULT = "evaluation.json"


@dataclass
class Evaluation:
    series: str
    label: str
    seed: int | None
    directory: Path  # where evaluation.json (and, if computed here, evaluation.png and CSVs) are
    result: dict


def cached(model_dir: Path, out_dir: Path, samples: int | None) -> dict | None:
    """The cached evaluation of the model in `model_dir` if it can stand for a fresh one of `samples` samples
    (None: of any number)."""
    path = out_dir / RESULT
    if not path.exists():
        return None
    result = json.loads(path.read_text())
    # A run keeps the weights `t2i evaluate` loads in checkpoints/, a Part 1 cache entry at its top.
    files = [*weights.listed(model_dir), *weights.listed(model_dir / "checkpoints")]
    if not files:
        return result
    if path.stat().st_mtime < max(w.stat().st_mtime for w in files):
        return None  # the model changed since
    if result.get("version") != _version_wanted(model_dir):
        return None  # from an older `t2i evaluate`, without the measures today's has for this run's data
    # The unconditional GAN draws at most max_samples, however many were asked for.
    limit = min(result.get("input_space", math.inf), result.get("max_samples", math.inf))
    wanted = None if samples is None else min(samples, limit)
    return result if wanted in (None, result.get("samples")) else None


def _version_wanted(model_dir: Path) -> int | None:
    """The evaluation version a model's result must have: EVALUATION_VERSION for a run on the style data or of
    the unconditional GAN (the Reed measures), None (no version key) for the reference data's, unchanged."""
    from omegaconf import OmegaConf

    from t2i.analysis.evaluation import EVALUATION_VERSION

    config = model_dir / "config.yaml"
    try:
        cfg = OmegaConf.load(config) if config.exists() else part1.model_config(model_dir)
    except Exception:  # unreadable: evaluate will say why
        return EVALUATION_VERSION
    style = (OmegaConf.select(cfg, "data.spec", default=None) or "full") == "text_colour"
    unconditional = not OmegaConf.select(cfg, "gan.conditional", default=True)
    return EVALUATION_VERSION if style or unconditional else None


def _evaluation(model_dir: Path, out_dir: Path, samples: int, compute: bool, progress, what: str) -> dict | None:
    result = cached(model_dir, out_dir, samples if compute else None)
    if result is not None or not compute:
        progress(f"{what}: {'cached' if result is not None else 'not evaluated (--no-evaluate)'}")
        return result
    from t2i.analysis.evaluation import evaluate

    progress(f"{what}: evaluating {samples} samples")
    return evaluate(model_dir, samples=samples, output_dir=out_dir)


def evaluate_runs(
    series: Sequence[Series], runs_dir: Path, samples: int, compute: bool, progress: Callable[[str], None]
) -> list[Evaluation]:
    """Part 1's evaluations, then every finished run's, in the series' order.

    With `compute` false nothing is evaluated (and TensorFlow is not imported): only cached results show.
    """
    finished = [run for _, runs in series for run in runs if run.status.get("status") == "done"]
    for entry in _part1_entries(finished) if compute else []:
        out = runs_dir / PART1 / entry.name
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(entry / part1.RESULT, out / part1.RESULT)  # a copy of an entry is read as one
        _evaluation(entry, out, samples, compute, progress, f"Part 1 {entry}")
    found = [
        Evaluation(PART1, PART1_LABEL, None, path.parent, json.loads(path.read_text()))
        for path in sorted((runs_dir / PART1).glob(f"*/{RESULT}"))
    ]
    for i, run in enumerate(finished, start=1):
        what = f"evaluation {i}/{len(finished)} {run.path}"
        result = _evaluation(run.path, run.path / CACHE, samples, compute, progress, what)
        if result is not None:
            found.append(Evaluation(run.name, run.label, run.seed, run.path / CACHE, result))
    return found


def part1_results(runs_dir: Path) -> list[dict]:
    """result.json of every Part 1 entry whose evaluation the report keeps below RUNS_DIR/part1/."""
    return [part1.read_result(p.parent) for p in sorted((runs_dir / PART1).glob(f"*/{part1.RESULT}"))]


SPLIT = ("seen", "unseen")  # an evaluation's parts under a hold-out (t2i/analysis/evaluation.py)


def _part1_entries(runs: Sequence[Run]) -> list[Path]:
    """The Part 1 cache entries these runs' text encoders came from, where they still exist."""
    from t2i.store.rundir import read_config

    entries = set()
    for run in runs:
        if run.setting("gan.text_encoder_init") == "pretrained":
            try:
                entries.add(part1.entry(read_config(run.path)))
            except (KeyError, AttributeError):  # a config from an older t2i lacks what today's cache key needs
                continue
    return sorted(e for e in entries if part1.is_entry(e))


# --- tables ------------------------------------------------------------------------------------------------


# Reed et al.'s measures as the report's table shows them: column -> path into a style run's result["reed"].
REED_COLUMNS = {
    "coverage (of 8)": ("coverage", "distinct_mean"),
    "transfer MAE": ("style_transfer", "mae"),
    "background kept": ("style_transfer", "background_match"),
    "kept, random z": ("style_transfer", "random_z", "background_match"),
    "style AUC": ("style_auc", "auc"),
    "untrained S AUC": ("style_auc", "untrained_auc"),
    "pixel AUC": ("style_auc", "pixel_auc"),
    "S loss": ("style_loss", "loss"),
}


def _dig(d, path):
    for key in path:
        if not isinstance(d, dict) or d.get(key) is None:
            return None
        d = d[key]
    return d


def reed_table(evaluations: Sequence[Evaluation]) -> pd.DataFrame:
    """One row per series with Reed et al.'s measures (style-data runs: t2i/analysis/reed_measures.py), means
    over the evaluated seeds; "—" where a run cannot have one (no S). Empty when no run has them."""
    rows = []
    for series in dict.fromkeys(e.series for e in evaluations):
        runs = [e for e in evaluations if e.series == series and e.result.get("reed")]
        if not runs:
            continue
        row = {"series": runs[0].label, "seeds": len(runs)}
        for column, path in REED_COLUMNS.items():
            values = [v for v in (_dig(e.result["reed"], path) for e in runs) if v is not None]
            row[column] = f"{sum(values) / len(values):.3f}" if values else "—"
        rows.append(row)
    return pd.DataFrame(rows)


def long_table(evaluations: Sequence[Evaluation]) -> pd.DataFrame:
    """Every number of every evaluation, one per row: series, label, seed, samples, quantity, key, value."""
    rows = []
    for e in evaluations:
        r = e.result
        head = {"series": e.series, "label": e.label, "seed": e.seed, "samples": r.get("samples")}
        for quantity in ("mae", "readability", "readability_distinct_colours"):
            if r.get(quantity) is not None:
                rows.append({**head, "quantity": quantity, "key": "", "value": r[quantity]})
        for part in SPLIT if r.get("holdout") else ():  # a run with a hold-out (t2i/data/holdout.py)
            for quantity in ("samples", "mae", "readability"):
                if (r.get(part) or {}).get(quantity) is not None:
                    rows.append({**head, "quantity": f"{quantity}_{part}", "key": "", "value": r[part][quantity]})
        for quantity, field in (("background", "mae_per_background"), ("text_colour", "mae_per_text_colour")):
            rows += [{**head, "quantity": quantity, "key": k, "value": v} for k, v in r.get(field, {}).items()]
        rows += [{**head, "quantity": "char", "key": k, "value": v} for k, v in r.get("mae_per_char", {}).items()]
    columns = ["series", "label", "seed", "samples", "quantity", "key", "value"]
    df = pd.DataFrame(rows, columns=columns)
    return df.astype({"seed": "Int64", "samples": "Int64", "value": float})  # Part 1 has no seed


def _means(df: pd.DataFrame, quantity: str) -> pd.DataFrame:
    """Mean over seeds: rows are series (first-seen order), columns the quantity's keys (first-seen order)."""
    part = df[df["quantity"] == quantity]
    table = part.pivot_table(index="label", columns="key", values="value", aggfunc="mean", sort=False)
    return table.reindex(columns=list(dict.fromkeys(part["key"])))


def has_holdout(df: pd.DataFrame) -> bool:
    """Whether some evaluation split its inputs into seen and unseen ones (a run with data.holdout)."""
    return df["quantity"].isin([f"mae_{part}" for part in SPLIT]).any()


def overview(df: pd.DataFrame) -> pd.DataFrame:
    """Per series: evaluated seeds, samples per seed, MAE and readability (means over seeds); where a run had a
    hold-out, also both of its seen and of its unseen inputs, and how many of its samples were unseen (— for
    series without)."""
    split = [f"{q}_{part}" for q in ("mae", "readability") for part in SPLIT] if has_holdout(df) else []
    counted = ["samples_unseen"] if split else []  # a rate over a few unseen samples is noise: say how many
    scalars = df[df["quantity"].isin(["mae", "readability", *split, *counted])]
    means = scalars.pivot_table(index="label", columns="quantity", values="value", aggfunc="mean", sort=False)
    means = means.reindex(columns=["mae", "readability", *split, *counted])
    unseen = {}
    if counted:
        unseen["unseen samples"] = [f"{v:.0f}" if math.isfinite(v) else "—" for v in means["samples_unseen"]]
    counts = df.groupby("label", sort=False).agg(seeds=("seed", "nunique"), samples=("samples", "first"))
    names = {f"{q}_{part}": f"{'MAE' if q == 'mae' else q} {part}" for q in ("mae", "readability") for part in SPLIT}
    return pd.DataFrame(
        {
            "series": means.index,
            "seeds": [max(1, int(counts.loc[s, "seeds"])) for s in means.index],  # Part 1 has no seed
            "samples": [int(counts.loc[s, "samples"]) for s in means.index],
            "MAE": [_number(v) for v in means["mae"]],
            "readability": [_number(v) for v in means["readability"]],
            **{names[q]: [_number(v) for v in means[q]] for q in split},
            **unseen,
        }
    )


def _number(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) else "—"


def ranked(df: pd.DataFrame, quantity: str) -> pd.DataFrame:
    """Mean MAE per colour (or character) and series, each cell 'MAE (rank)' with rank 1 the hardest of its row;
    `seeds` counts the evaluations that have these numbers."""
    means = _means(df, quantity)
    ranks = means.rank(axis=1, ascending=False, method="min")
    seeds = df[df["quantity"] == quantity].groupby("label", sort=False)["seed"].nunique()
    cells = {"series": list(means.index), "seeds": [max(1, int(seeds[s])) for s in means.index]}
    for key in means.columns:
        cells[key] = [f"{_number(v)} ({int(r)})" if math.isfinite(v) else "—" for v, r in zip(means[key], ranks[key])]
    return pd.DataFrame(cells)


def per_character(df: pd.DataFrame, hardest: int = 3) -> pd.DataFrame:
    """Mean MAE per character, for the characters every evaluated series has (ranked like `ranked`), and
    each series' hardest characters over its whole vocabulary."""
    means = _means(df, "char")
    if means.empty:
        return pd.DataFrame()
    common = [c for c in means.columns if means[c].notna().all()]
    table = ranked(df[df["key"].isin(common)], "char")
    table[f"hardest {hardest}"] = [
        ", ".join(f"{c} {v:.3f}" for c, v in row.dropna().sort_values(ascending=False).head(hardest).items())
        for _, row in means.iterrows()
    ]
    return table
