"""`t2i report`: the whole report of a sweep as one Markdown page (README.md) beside its figures and tables.

The page shows what was run, the MAE figure, MAE at set epochs, the summary table with Welch tests against
the baseline, sample grids of the best and the worst series, every finished run's evaluation per colour and
per character, D's accuracy against the converged generator (the write-up's D_train, from D-only series),
Reed et al.'s measures and figures of style runs, and the wall time and software. Progress goes
to stderr.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from t2i.analysis import d_train, reed_claims
from t2i.analysis.mae_figure import plot_mae
from t2i.analysis.plots import read_runs
from t2i.analysis.report import cached_evaluations as evaluations
from t2i.analysis.report import provenance, records, samples, style_figures
from t2i.analysis.report.document import Page, render
from t2i.analysis.runs import AnalysisError, group
from t2i.analysis.summary import mae_at_epochs, series_table, write_summary
from t2i.sweeps import study

PAGE = "README.md"


@dataclass(frozen=True)
class Options:
    at_epochs: tuple[int, ...] = (100, 250)
    thresholds: tuple[float, ...] = (0.2, 0.1)
    evaluate: bool = True  # False: show cached evaluations only, import no TensorFlow
    samples: int = 6400  # every input of the digit series; a fixed sample of the 62-character ones
    band: str = "minmax"
    study: str | None = None  # compare the runs with this study's plan (series are always in study order)
    findings: str | None = None  # a hand-written page in the output directory the report links to
    title: str | None = None
    keep_runs: bool = False  # copy finished runs' small files into DIR/runs (see records.py)


def _progress(message: str) -> None:
    print(f"t2i report: {message}", file=sys.stderr, flush=True)


def command_line(runs_dir: Path, out_dir: Path, options: Options) -> str:
    """The `t2i report` call that makes this report again."""
    words = ["t2i", "report", str(runs_dir), "-o", str(out_dir)]
    defaults = Options()
    if options.at_epochs != defaults.at_epochs:
        words += [w for e in options.at_epochs for w in ("--at-epoch", str(e))]
    if options.thresholds != defaults.thresholds:
        words += [w for t in options.thresholds for w in ("--threshold", f"{t:g}")]
    if options.samples != defaults.samples:
        words += ["--samples", str(options.samples)]
    for flag, value in (("--study", options.study), ("--findings", options.findings), ("--title", options.title)):
        if value is not None:
            words += [flag, value]
    words += ["--keep-runs"] if options.keep_runs else []
    words += ["--no-evaluate"] if not options.evaluate else []
    return shlex.join(words)


def build_report(runs_dir, out_dir=None, options: Options = Options(), progress=_progress) -> Path:
    """Write the report of the runs below `runs_dir` into `out_dir` (default RUNS_DIR/report); returns the page."""
    runs_dir = Path(runs_dir)
    out = runs_dir / "report" if out_dir is None else Path(out_dir)
    if not all(e >= 1 for e in options.at_epochs) or options.samples < 1:
        raise AnalysisError("--at-epoch and --samples must be at least 1")
    if options.keep_runs and (out / "runs").resolve().is_relative_to(runs_dir.resolve()):
        if (out / "runs").resolve() != runs_dir.resolve():  # the copies would be found as runs next time
            raise AnalysisError(f"--keep-runs needs an output directory outside {runs_dir}; give -o")
    if options.findings is not None and not (out / options.findings).exists():
        raise AnalysisError(f"--findings {options.findings}: no such file in {out}")
    plan = study.load(options.study) if options.study else None
    progress(f"reading the runs below {runs_dir}")
    runs, skipped = read_runs(runs_dir)
    every_series = group(runs, (plan or study.load()).series)
    series, d_only = d_train.split(every_series, runs_dir)  # D-only series get their own section
    progress(f"{len(runs)} runs in {len(every_series)} series; drawing the MAE figure")
    out.mkdir(parents=True, exist_ok=True)
    plot_mae(series, out / "mae.png", band=options.band)
    summary = series_table(series, options.thresholds)
    write_summary(summary, out)
    mae_at = mae_at_epochs(series, options.at_epochs)
    mae_at.to_csv(out / "mae_at_epochs.csv", index=False)

    found = evaluations.evaluate_runs(series, runs_dir, options.samples, options.evaluate, progress)
    table = evaluations.long_table(found)
    table.to_csv(out / "evaluation.csv", index=False)
    claims = reed_claims.claims_table(
        {name: [e.result for e in found if e.series == name and e.seed is not None] for name, _ in series}
    )
    if claims.empty:
        (out / "reed_claims.csv").unlink(missing_ok=True)
    else:
        claims.to_csv(out / "reed_claims.csv", index=False)
    d_table = _d_train(d_only, out)
    for stale in ("samples_best_*.png", "samples_worst_*.png", "evaluation_*.png", "evaluation_*.json"):
        for path in out.glob(stale):
            path.unlink()
    grids, grid_files = _sample_grids(series, summary, out)
    figure, figure_files = _evaluation_figure(found, out)
    # Drawing needs the model, so TensorFlow: only with evaluation on; else the figures already there show.
    reed_figures, reed_files = style_figures.reed_figures(series, found, out, options.evaluate, progress)
    z_samples, z_files = style_figures.z_samples(series, found, out, options.evaluate, progress)

    if options.keep_runs and runs_dir.resolve() != (out / "runs").resolve():
        kept = records.keep_runs(runs, runs_dir, out / "runs", grid_files + figure_files + reed_files + z_files)
        progress(f"kept the records of {kept} finished runs in {out / 'runs'}")
    page = Page(
        title=options.title or f"Report: {runs_dir.resolve().name}",
        command=command_line(runs_dir, out, options),
        series=every_series,
        skipped=skipped,
        summary=summary,
        mae_at=mae_at,
        at_epochs=options.at_epochs,
        d_train=d_table,
        evaluations=table,
        reed=evaluations.reed_table(found),
        reed_claims=claims,
        reed_figures=reed_figures,
        z_samples=z_samples,
        samples=options.samples,
        grids=grids,
        evaluation_figure=figure,
        part1=evaluations.part1_results(runs_dir),
        wall=provenance.wall_time(runs),
        statuses=dict(provenance.statuses(runs)),
        software=provenance.software(),
        plan=plan,
        findings=options.findings,
        records="runs" if options.keep_runs or runs_dir.resolve() == (out / "runs").resolve() else None,
    )
    path = out / PAGE
    path.write_text(render(page), encoding="utf-8")
    progress(f"wrote {path}")
    return path


def _d_train(d_only, out: Path):
    """The D-only series' accuracy figure and table in `out` (d_train.png/.svg/.csv); None, and no such files,
    without one."""
    if not d_only:
        for path in out.glob("d_train.*"):
            path.unlink()
        return None
    d_train.plot_d_accuracy(d_only, out / "d_train.png")
    table = d_train.accuracy_table(d_only)
    table.to_csv(out / "d_train.csv", index=False)
    return table


def _sample_grids(series, summary, out: Path) -> tuple[dict, list[Path]]:
    """Copy the best and the worst series' last sample grids into `out`: ({kind: (series, file)}, sources)."""
    grids, sources = {}, []
    for kind, name in samples.best_and_worst(summary).items():
        grid = samples.last_grid(series, name)
        if grid is not None:
            grids[kind] = (name, f"samples_{kind}_{name}.png")
            shutil.copy(grid, out / grids[kind][1])
            sources.append(grid)
    return grids, sources


def _evaluation_figure(found: list[evaluations.Evaluation], out: Path) -> tuple[tuple | None, list[Path]]:
    """Copy the evaluation figure and numbers of the first run (in series order) that has them into `out`."""
    shown = next((e for e in found if e.seed is not None and (e.directory / "evaluation.png").exists()), None)
    if shown is None:
        return None, []
    stem = f"evaluation_{shown.series}"
    sources = [shown.directory / "evaluation.png", shown.directory / evaluations.RESULT]
    for source, suffix in zip(sources, (".png", ".json")):
        shutil.copy(source, out / f"{stem}{suffix}")
    return (shown.label, shown.seed, stem, shown.result.get("samples", 0)), sources
