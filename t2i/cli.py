"""The `t2i` command line. Config errors are reported before TensorFlow is even imported."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, help=__doc__)

OVERRIDES = typer.Argument(None, help="Hydra overrides, e.g. +ablation=shuffle trainer.epochs=10 seed=1")


def fail(message: str, code: int = 2):
    typer.echo(f"t2i: error: {' '.join(str(message).split())}", err=True)
    raise typer.Exit(code)


def _known_errors():
    from t2i.config import ConfigError
    from t2i.data.vocab import VocabularyError

    errors = [ConfigError, VocabularyError, FileNotFoundError]
    if "t2i.training.run" in sys.modules:
        from t2i.training.run import RunDirError
        from t2i.training.state import CheckpointError

        errors += [RunDirError, CheckpointError]
    return tuple(errors)


def _compose(overrides):
    from t2i.config import ConfigError, compose_config

    try:
        return compose_config(overrides or [])
    except ConfigError as exc:
        fail(exc)


@app.command()
def train(overrides: list[str] | None = OVERRIDES):
    """Train one GAN run (Part 2); resumes an interrupted run, skips a finished one."""
    cfg = _compose(overrides)
    from t2i.training.run import RunDirError
    from t2i.training.run import train as run_train
    from t2i.training.state import CheckpointError

    try:
        status = run_train(cfg)
    except (RunDirError, CheckpointError) as exc:
        fail(exc)
    if status.get("skipped"):
        typer.echo(f"t2i: {cfg.run_dir} is already complete ({status.get('epochs_done')} epochs); nothing to do")
    else:
        typer.echo(f"t2i: done: {cfg.run_dir}  final MAE {status['final_mae']:.4f}  best MAE {status['best_mae']:.4f}")


@app.command()
def pretrain(
    overrides: list[str] | None = OVERRIDES,
    force: bool = typer.Option(False, help="Retrain even if a cached result exists."),
):
    """Part 1: train the generator alone (supervised) and cache the text encoder it yields."""
    cfg = _compose(overrides)
    import json

    from t2i.training import setup
    from t2i.training.pretrain import ensure_pretrained

    setup.configure(cfg.trainer, cfg.seed)
    entry = ensure_pretrained(cfg, verbose=True, force=force)
    result = json.loads((entry / "result.json").read_text())
    typer.echo(f"t2i: pretrained text encoder in {entry}  (MAE {result['mae']:.4f} after {result['epochs']} epochs)")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def sweep(overrides: list[str] | None = OVERRIDES):
    """Run many trainings as a Hydra multirun: by default every ablation of the study, seed 0.

    Sweep values use Hydra syntax: '+ablation=baseline,mbd' 'seed=0,1,2'. Launcher: hydra/launcher=joblib
    (default, local processes; sweep.workers=N), submitit_slurm, or ray.
    """
    overrides = list(overrides or [])
    from t2i.config import ConfigError
    from t2i.sweep import format_table, run_sweep, status_table

    try:
        root = run_sweep(overrides)
    except ConfigError as exc:
        fail(exc)
    rows = status_table(root)
    typer.echo(format_table(rows))
    failed = [r for r in rows if r["status"] != "done"]
    if failed:
        typer.echo(f"t2i: {len(failed)} of {len(rows)} runs did not finish; see their status.json", err=True)
        raise typer.Exit(1)


@app.command("plot-mae")
def plot_mae(
    runs_dir: Path = typer.Argument(..., help="A sweep directory, a runs root or a single run."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Figure path (default RUNS_DIR/mae.png)."),
    band: str = typer.Option("minmax", help="Spread over seeds: minmax, std or none."),
    smooth: int = typer.Option(1, help="Rolling-mean window in epochs."),
    log_scale: bool = typer.Option(False, "--log", help="Logarithmic MAE axis."),
    threshold: list[float] = typer.Option([0.2, 0.1], help="MAE thresholds for the epochs-to-threshold columns."),
):
    """Compare MAE curves of all runs below RUNS_DIR in one figure, plus summary.csv and summary.md."""
    from t2i.plots import PlotError, plot_mae_command

    if not runs_dir.exists():
        fail(f"{runs_dir} does not exist")
    try:
        out = plot_mae_command(
            runs_dir, output, band=band, smooth=smooth, log_scale=log_scale, thresholds=tuple(threshold)
        )
    except PlotError as exc:
        fail(exc)
    for path in [*out["figure"], *out["summary"]]:
        typer.echo(f"wrote {path}")


@app.command()
def report(
    runs_dir: Path = typer.Argument(..., help="A sweep directory, a runs root or a single run."),
    output_dir: Path | None = typer.Option(None, "-o", "--output-dir", help="Default: RUNS_DIR/report."),
    at_epoch: list[int] = typer.Option([100, 250], help="Epochs at which to compare MAE (repeat the option)."),
    threshold: list[float] = typer.Option([0.2, 0.1], help="MAE thresholds for the epochs-to-threshold columns."),
    evaluate: bool = typer.Option(True, help="Evaluate finished runs not evaluated yet (cached per run)."),
    samples: int = typer.Option(6400, help="Inputs per evaluation: all of them where there are at most this many."),
    study: str | None = typer.Option(None, help="Compare the runs with this study's plan (conf/study/NAME.yaml)."),
    findings: str | None = typer.Option(None, help="A hand-written page in the output directory to link to."),
    title: str | None = typer.Option(None, help="The page's title."),
    keep_runs: bool = typer.Option(False, help="Copy finished runs' small files into OUTPUT_DIR/runs."),
):
    """The whole report of a sweep: README.md with the MAE figure, tables, tests, samples and evaluations."""
    from t2i.config import ConfigError
    from t2i.report import Options, build_report
    from t2i.runs import PlotError

    options = Options(
        at_epochs=tuple(at_epoch),
        thresholds=tuple(threshold),
        evaluate=evaluate,
        samples=samples,
        study=study,
        findings=findings,
        title=title,
        keep_runs=keep_runs,
    )
    if not runs_dir.exists():
        fail(f"{runs_dir} does not exist")
    try:
        path = build_report(runs_dir, output_dir, options)
    except (PlotError, ConfigError) as exc:
        fail(exc)
    typer.echo(f"wrote {path}")


MODEL_PATH = typer.Argument(..., help="A run directory, its checkpoints/ directory, or a pretrained cache entry.")


@app.command()
def generate(
    run: Path = MODEL_PATH,
    texts: list[str] = typer.Argument(..., help="Two-character texts in the model's vocabulary, e.g. 42 07."),
    bg: str | None = typer.Option(None, "--bg", help="Background colour (default black)."),
    fg: str | None = typer.Option(None, "--fg", help="Text colour (default white)."),
    spec: str | None = typer.Option(None, "--spec", help="Instead of --bg/--fg: 'backgroundcolor black, color red'"),
    output: Path = typer.Option(Path("generated.png"), "-o", "--output", help="Figure path."),
    interpolate: bool = typer.Option(False, "--interpolate", help="Two texts: a strip, text features mixed linearly."),
    steps: int = typer.Option(8, "--steps", help="Images in the --interpolate strip."),
):
    """Generate images for texts with a trained generator: truth | generated per text, or an interpolation strip."""
    from t2i.data.vocab import VocabularyError
    from t2i.generate import ModelLoadError, UsageError, generate_command

    try:
        path = generate_command(run, texts, bg, fg, spec, output, interpolation=interpolate, steps=steps)
    except (ModelLoadError, UsageError, VocabularyError) as exc:
        fail(exc)
    typer.echo(f"wrote {path}")


@app.command()
def evaluate(
    run: Path = MODEL_PATH,
    samples: int = typer.Option(
        20_000,
        help="Score every input if there are at most this many (digits: 6,400), else a uniform random "
        "sample of this many with a fixed seed.",
    ),
    output_dir: Path | None = typer.Option(None, "-o", "--output-dir", help="Default: the run directory."),
):
    """Score G on the whole input space: MAE overall, per colour, per character, per colour pair, and readability.

    Writes evaluation.json, evaluation_per_colour.csv, evaluation_per_char.csv, evaluation_samples.csv and
    evaluation.png. Readability: share of generated images whose nearest (L1) true render among all texts
    in the same colours is their own.
    """
    from t2i.evaluation import evaluate as run_evaluation
    from t2i.evaluation import format_table
    from t2i.generate import ModelLoadError

    if samples < 1:
        fail(f"--samples must be at least 1, got {samples}")
    try:
        result = run_evaluation(run, samples=samples, output_dir=output_dir, verbose=True)
    except ModelLoadError as exc:
        fail(exc)
    typer.echo(format_table(result))
    for path in result["files"]:
        typer.echo(f"wrote {path}")


@app.command()
def bench(
    quick: bool = typer.Option(False, "--quick", help="A few steps of all but XLA: a smoke test, not a measurement."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Also write the JSON to this file."),
):
    """Measure data, GAN and pretraining speed, FLOPs, epoch overhead and a short-budget MAE; print one JSON.

    Progress goes to stderr. Takes a few minutes on 2 cores; machine.loadavg_* says how busy the machine was.
    """
    import json

    from t2i.bench import run_bench

    text = json.dumps(run_bench(quick=quick), indent=2)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n")
    typer.echo(text)


def main():
    try:
        app()
    except _known_errors() as exc:
        fail(exc)


if __name__ == "__main__":
    main()
