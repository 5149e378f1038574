"""Reed et al.'s claims (a)-(e) as Welch tests over seeds, from the `t2i evaluate` results of a Reed study's runs.

The 2x2's variants are the series on the style data whose ablations include reed_gan, reed_cls, reed_int or
reed_int_cls (GAN, GAN-CLS, GAN-INT, GAN-INT-CLS); where two series are the same variant, the first in series
order stands for it. Each claim is a few comparisons of one variant's seeds with another's on one
measure (or, for the style claim, of one measure with its control within a variant: the backgrounds G draws over
z against the one of a G that ignores z, the background S keeps against the one a random z keeps, S's style AUC
against an untrained S's), each a two-sided Welch test (against a constant: the one-sample t-test).
A comparison *supports* its claim when the difference goes the claimed way at p < 0.05, *contradicts* it when it
goes the other way at p < 0.05, and leaves it *not decided* otherwise (also with fewer than two seeds a side).
Whether a claim holds overall is the findings' call, from these rows. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from t2i.analysis.welch import significance, welch_p_value

VARIANTS = {"GAN": "reed_gan", "GAN-CLS": "reed_cls", "GAN-INT": "reed_int", "GAN-INT-CLS": "reed_int_cls"}
ALPHA = 0.05


@dataclass(frozen=True)
class Measure:
    name: str
    path: tuple[str, ...]  # where it is in an evaluation result
    lower_is_better: bool
    constant: float | None = None  # a reference value instead, the same for every result (path unused)


MAE = Measure("MAE", ("mae",), True)
READABILITY = Measure("readability", ("readability",), False)
UNSEEN_MAE = Measure("MAE of unseen texts", ("unseen", "mae"), True)
UNSEEN_READABILITY = Measure("readability of unseen texts", ("unseen", "readability"), False)
KEPT = Measure("background kept by S(x)", ("reed", "style_transfer", "background_match"), False)
KEPT_RANDOM = Measure(
    "background kept by a random z", ("reed", "style_transfer", "random_z", "background_match"), False
)
STYLE_AUC = Measure("style AUC", ("reed", "style_auc", "auc"), False)
COVERAGE = Measure("backgrounds drawn over z (of 8)", ("reed", "coverage", "distinct_mean"), False)
IGNORED_Z = Measure("one background, a G that ignores z", (), False, constant=1.0)
UNTRAINED_AUC = Measure("style AUC of an untrained S", ("reed", "style_auc", "untrained_auc"), False)


@dataclass(frozen=True)
class Comparison:
    """`better` is claimed to beat `worse` on `measure` (on `worse_measure`, if given, for the worse side)."""

    better: str
    worse: str
    measure: Measure
    worse_measure: Measure | None = None


def _pairs(measure: Measure, *pairs: tuple[str, str]) -> list[Comparison]:
    return [Comparison(a, b, measure) for a, b in pairs]


CLAIMS: dict[str, tuple[str, list[Comparison]]] = {
    "a": (
        "CLS makes the images follow the text",
        _pairs(MAE, ("GAN-CLS", "GAN"), ("GAN-INT-CLS", "GAN-INT"))
        + _pairs(READABILITY, ("GAN-CLS", "GAN"), ("GAN-INT-CLS", "GAN-INT")),
    ),
    "b": (
        "INT gives better images and better unseen texts",
        _pairs(MAE, ("GAN-INT", "GAN"), ("GAN-INT-CLS", "GAN-CLS"))
        + _pairs(UNSEEN_MAE, ("GAN-INT", "GAN"), ("GAN-INT-CLS", "GAN-CLS"))
        + _pairs(UNSEEN_READABILITY, ("GAN-INT", "GAN"), ("GAN-INT-CLS", "GAN-CLS")),
    ),
    "c": (
        "GAN-INT-CLS is best",
        _pairs(MAE, ("GAN-INT-CLS", "GAN"), ("GAN-INT-CLS", "GAN-CLS"), ("GAN-INT-CLS", "GAN-INT")),
    ),
    "d": (
        "z carries the unnamed style, and S recovers it well enough to transfer it",
        [Comparison(v, v, COVERAGE, IGNORED_Z) for v in VARIANTS]
        + [Comparison(v, v, KEPT, KEPT_RANDOM) for v in VARIANTS]
        + [Comparison(v, v, STYLE_AUC, UNTRAINED_AUC) for v in VARIANTS],
    ),
    "e": ("the INT variants disentangle style best", _pairs(STYLE_AUC, ("GAN-INT", "GAN"), ("GAN-INT-CLS", "GAN-CLS"))),
}


def variant(series: str) -> str | None:
    """The 2x2 variant a series is (its name joins its ablations with "+"), or None."""
    members = set(series.split("+"))
    found = [name for name, ablation in VARIANTS.items() if ablation in members]
    return found[0] if len(found) == 1 else None


def _values(results: Sequence[dict], measure: Measure) -> np.ndarray:
    if measure.constant is not None:  # against a constant, Welch's test is the one-sample t-test
        return np.full(len(results), measure.constant)
    out = []
    for result in results:
        value = result
        for key in measure.path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, (int, float)) and math.isfinite(value):
            out.append(float(value))
    return np.array(out)


def _cell(values: np.ndarray) -> str:
    if not len(values):
        return "—"
    spread = f" ± {values.std(ddof=1):.3f}" if len(values) > 1 else ""
    return f"{values.mean():.3f}{spread} (n={len(values)})"


def claims_table(results_by_series: dict[str, Sequence[dict]]) -> pd.DataFrame:
    """One row per comparison whose two sides have evaluations, claim by claim. `results_by_series`: series name
    -> its runs' evaluation results (one per evaluated seed), in series order; only style-data results of the
    variants count. attrs["variants"]: which series stands for each variant."""
    by_variant: dict[str, list[dict]] = {}
    chosen: dict[str, str] = {}
    for series, results in results_by_series.items():
        name, style = variant(series), [r for r in results if r.get("data") == "style"]
        if name is not None and style and name not in chosen:
            chosen[name], by_variant[name] = series, style
    rows = []
    for claim, (text, comparisons) in CLAIMS.items():
        for c in comparisons:
            a = _values(by_variant.get(c.better, []), c.measure)
            b = _values(by_variant.get(c.worse, []), c.worse_measure or c.measure)
            if not len(a) or not len(b):
                continue
            p = welch_p_value(a, b)
            gain = (b.mean() - a.mean()) if c.measure.lower_is_better else (a.mean() - b.mean())
            if math.isfinite(p) and p < ALPHA:
                result = "supports" if gain > 0 else "contradicts"
            else:
                result = "not decided"
            worse = c.worse if c.worse_measure is None else f"{c.worse}, {c.worse_measure.name}"
            rows.append(
                {
                    "claim": f"({claim}) {text}",
                    "comparison": f"{c.better} vs {worse}",
                    "measure": f"{c.measure.name} ({'lower' if c.measure.lower_is_better else 'higher'} is better)",
                    "claimed better": _cell(a),
                    "other": _cell(b),
                    "gain": gain,
                    "Welch": "n < 2" if min(len(a), len(b)) < 2 else significance(p) or "no variance",
                    "result": result,
                }
            )
    columns = ["claim", "comparison", "measure", "claimed better", "other", "gain", "Welch", "result"]
    table = pd.DataFrame(rows, columns=columns)
    table.attrs["variants"] = {name: chosen[name] for name in VARIANTS if name in chosen}
    return table
