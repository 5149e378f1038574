"""Reed et al.'s two figures (t2i/analysis/reed_figures.py) of one style run with a style encoder S, for the report.

The run is chosen among the evaluated ones whose `t2i evaluate` result says "style data, has S" (the decision
evaluation.py and reed_measures.py made from the run's config): in the series of Reed's full model (GAN-INT-CLS)
if it has one, else in the first such series in series order; within it the seed with the lowest final MAE.
Its figures are drawn into its evaluation directory beside evaluation.json, and redrawn only when older than
that (which the report recomputes whenever the weights change), so `--keep-runs` keeps them with the records
and a page regenerated from them, where the weights are gone, shows them again. The report shows copies.

What z draws (reed_figures.z_samples_figure) is drawn, cached and copied the same way for every series on the
style data, of its seed with the lowest final MAE: the series side by side on the same z.
"""

from __future__ import annotations

import functools
import math
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from t2i.analysis.report.cached_evaluations import RESULT, Evaluation
from t2i.analysis.runs import Run, Series

FULL_MODEL = "reed_int_cls"  # Reed's GAN-INT-CLS: the ablation whose series the figures prefer
KINDS = ("style_transfer", "interpolation")
PATTERNS = tuple(f"reed_{kind}_*.png" for kind in KINDS)  # the copies in the report's directory


@dataclass(frozen=True)
class Shown:
    series: str
    label: str
    seed: int | None
    final_mae: float
    full_model: bool  # chosen as the series of Reed's full model, not as the first style series with S

    def file(self, kind: str) -> str:
        """The copy's name in the report's directory."""
        return f"reed_{kind}_{self.series}.png"


def has_style_encoder(result: dict) -> bool:
    """Whether an evaluation is of a run on the style data whose model has S (what the figures need)."""
    return result.get("data") == "style" and bool((result.get("reed") or {}).get("has_style_encoder"))


def _is_full_model(series: str) -> bool:
    return FULL_MODEL in series.split("+")  # a series' name joins its ablations with "+" (t2i/config.py)


def _by_final_mae(run: Run) -> tuple:
    mae = run.final_mae
    return (math.isnan(mae), 0.0 if math.isnan(mae) else mae, run.seed is None, run.seed or 0)


def choose(series: Sequence[Series], found: Sequence[Evaluation]) -> tuple[Run, Evaluation] | None:
    """The run (and its evaluation) whose figures the report shows; None without a style run with S."""
    runs = {(name, run.seed): run for name, members in series for run in members}
    candidates = [
        (runs[e.series, e.seed], e) for e in found if (e.series, e.seed) in runs and has_style_encoder(e.result)
    ]
    if not candidates:
        return None
    names = list(dict.fromkeys(e.series for _, e in candidates))  # `found` is in series order
    name = next((n for n in names if _is_full_model(n)), names[0])
    return min((c for c in candidates if c[1].series == name), key=lambda c: _by_final_mae(c[0]))


def _cached(directory: Path) -> dict[str, Path]:
    return {kind: directory / f"reed_{kind}.png" for kind in KINDS}


def _fresh(files: dict[str, Path], directory: Path) -> bool:
    """Whether every figure was drawn after the evaluation beside it, i.e. from the weights it evaluated."""
    result = (directory / RESULT).stat().st_mtime
    return all(f.exists() and f.stat().st_mtime >= result for f in files.values())


def _load(path: Path):
    """load_model(path), once for both kinds of figure of a run (keyed by its weights' files and times)."""
    from t2i.store import weights

    stamp = tuple((f.name, f.stat().st_mtime_ns) for f in weights.listed(Path(path) / "checkpoints"))
    return _load_cached(Path(path), stamp)


@functools.lru_cache(maxsize=1)
def _load_cached(path: Path, stamp: tuple):
    from t2i.inference import load_model

    return load_model(path)


def _draw(run: Run, files: dict[str, Path]) -> None:
    """Draw both figures of the run's model into `files`; t2i.inference.ModelLoadError where it cannot load."""
    from t2i.analysis.reed_figures import interpolation_figure, style_transfer_figure

    model, cfg, vocab_size = _load(run.path)
    style_transfer_figure(model, vocab_size, int(cfg.data.image_size), files["style_transfer"])
    interpolation_figure(model, vocab_size, files["interpolation"])


def _remove_stale(out: Path, shown: Shown | None) -> None:
    """Delete the copies of other series' figures; the chosen series' stay until replaced, so a figure whose
    model can no longer be loaded is not lost."""
    keep = {shown.file(kind) for kind in KINDS} if shown else set()
    for pattern in PATTERNS:
        for path in out.glob(pattern):
            if path.name not in keep:
                path.unlink()


def reed_figures(
    series: Sequence[Series], found: Sequence[Evaluation], out: Path, draw: bool, progress: Callable[[str], None]
) -> tuple[Shown | None, list[Path]]:
    """Put the chosen run's figures into `out`, drawing them first where `draw` and they are missing or older than
    its evaluation: (what is shown, None if nothing; the run's figure files, for --keep-runs)."""
    chosen = choose(series, found)
    if chosen is None:
        _remove_stale(out, None)
        return None, []
    run, evaluation = chosen
    shown = Shown(run.name, run.label, run.seed, run.final_mae, _is_full_model(run.name))
    _remove_stale(out, shown)
    files = _cached(evaluation.directory)
    if draw and not _fresh(files, evaluation.directory):
        from t2i.inference import ModelLoadError

        progress(f"drawing Reed et al.'s figures of {run.path}")
        try:
            _draw(run, files)
        except ModelLoadError as exc:  # e.g. kept records without weights: what was drawn before stays
            progress(f"Reed et al.'s figures of {run.path}: not drawn ({exc})")
    if _fresh(files, evaluation.directory):
        for kind, source in files.items():
            shutil.copy(source, out / shown.file(kind))
    if not all((out / shown.file(kind)).exists() for kind in KINDS):
        return None, []
    return shown, [f for f in files.values() if f.exists()]


# --- what z draws, every style series ------------------------------------------------------------------------

Z_SAMPLES = "reed_z_samples.png"  # in a run's evaluation directory


@dataclass(frozen=True)
class ZShown:
    series: str
    label: str
    seed: int | None

    @property
    def file(self) -> str:
        """The copy's name in the report's directory."""
        return f"reed_z_samples_{self.series}.png"


def _draw_z_samples(run: Run, path: Path) -> None:
    from t2i.analysis.reed_figures import z_samples_figure

    model, _, vocab_size = _load(run.path)
    z_samples_figure(model, vocab_size, path)


def z_samples(
    series: Sequence[Series], found: Sequence[Evaluation], out: Path, draw: bool, progress: Callable[[str], None]
) -> tuple[list[ZShown], list[Path]]:
    """Put each style series' z samples figure into `out` (drawn first where `draw` and missing or older than the
    evaluation): (what is shown, in series order; the runs' figure files, for --keep-runs)."""
    runs = {(name, run.seed): run for name, members in series for run in members}
    by_series: dict[str, list[tuple[Run, Evaluation]]] = {}
    for e in found:  # in series order
        if (e.series, e.seed) in runs and e.result.get("data") == "style":
            by_series.setdefault(e.series, []).append((runs[e.series, e.seed], e))
    shown, sources = [], []
    for candidates in by_series.values():
        run, evaluation = min(candidates, key=lambda c: _by_final_mae(c[0]))
        source, entry = evaluation.directory / Z_SAMPLES, ZShown(run.name, run.label, run.seed)
        if draw and not _fresh({"z": source}, evaluation.directory):
            from t2i.inference import ModelLoadError

            progress(f"drawing what z draws in {run.path}")
            try:
                _draw_z_samples(run, source)
            except ModelLoadError as exc:  # kept records without weights: the copy drawn before stays
                progress(f"what z draws in {run.path}: not drawn ({exc})")
        if _fresh({"z": source}, evaluation.directory):
            shutil.copy(source, out / entry.file)
            sources.append(source)
        if (out / entry.file).exists():
            shown.append(entry)
    for path in out.glob("reed_z_samples_*.png"):
        if path.name not in {s.file for s in shown}:
            path.unlink()
    return shown, sources
