"""The `t2i` command line. Config errors are reported before TensorFlow is even imported."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, help=__doc__)

OVERRIDES = typer.Argument(None, help="Hydra overrides, e.g. +ablation=shuffle trainer.epochs=10 seed=1")


def fail(message: str, code: int = 2):
    typer.echo(f"t2i: error: {' '.join(str(message).split())}", err=True)
    raise typer.Exit(code)


def _known_errors() -> tuple:
    """Errors a user causes or can fix; each is reported as one line. Modules that import TensorFlow are
    only asked for their errors once something has imported them."""
    from t2i.config import ConfigError
    from t2i.data.vocab import VocabularyError
    from t2i.generate import UsageError
    from t2i.inference import ModelLoadError
    from t2i.store.part1 import Part1CacheError
    from t2i.store.rundir import RunDirError

    errors = [ConfigError, VocabularyError, RunDirError, ModelLoadError, UsageError, Part1CacheError]
    if "t2i.store.checkpoint" in sys.modules:
        from t2i.store.checkpoint import CheckpointError

        errors.append(CheckpointError)
    if "t2i.training.setup" in sys.modules:
        from t2i.training.setup import SetupError

        errors.append(SetupError)
    return tuple(errors)


def _failed_check() -> tuple:
    """Work that ran and failed its own check (exit 1, not 2: the command was right)."""
    if "t2i.training.pretrain" in sys.modules:
        from t2i.training.pretrain import PretrainingRejected

        return (PretrainingRejected,)
    return ()


def _os_error(exc: OSError) -> str:
    return f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)


@contextmanager
def user_errors():
    """One line `t2i: error: ...` instead of a traceback for anything a user can cause or fix."""
    try:
        yield
    except typer.Exit:
        raise
    except Exception as exc:
        if isinstance(exc, _failed_check()):
            fail(exc, code=1)
        if isinstance(exc, _known_errors()):
            fail(exc)
        if isinstance(exc, OSError):  # a path that cannot be created, read or written, a full disk
            fail(_os_error(exc))
        raise


def _compose(overrides):
    from t2i.config import ConfigError, compose_config

    try:
        return compose_config(overrides or [])
    except ConfigError as exc:
        fail(exc)


@app.command()
def train(overrides: list[str] | None = OVERRIDES):
    """Train one GAN run (Part 2); resumes an interrupted run, skips a finished one, continues one to more epochs."""
    cfg = _compose(overrides)
    from t2i.store.rundir import RunInterrupted

    with user_errors():
        from t2i.training.run import train as run_train

        try:
            status = run_train(cfg)
        except RunInterrupted as exc:
            typer.echo(f"t2i: {exc}", err=True)
            raise typer.Exit(130) from None
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

    with user_errors():
        from t2i.store import part1
        from t2i.training import setup
        from t2i.training.pretrain import ensure_pretrained

        setup.configure(cfg.trainer, cfg.seed)
        entry = ensure_pretrained(cfg, verbose=True, force=force)
        result = part1.read_result(entry)
    typer.echo(
        f"t2i: pretrained text encoder in {entry}  (held-out MAE {result['mae']:.4f}, weights of epoch "
        f"{result['epochs']})"
    )


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def sweep(overrides: list[str] | None = OVERRIDES):
    """Run many trainings as a Hydra multirun: by default every ablation of the study, seed 0.

    Sweep values use Hydra syntax: '+ablation=baseline,mbd' 'seed=0,1,2'. Launcher: hydra/launcher=joblib
    (default, local processes; sweep.workers=N), submitit_slurm, or ray.
    """
    overrides = list(overrides or [])
    from t2i.sweeps.sweep import SUCCESS, format_table, run_sweep

    with user_errors():
        try:
            rows = run_sweep(overrides)
        except KeyboardInterrupt:
            typer.echo("t2i: sweep interrupted; rerun the same command to resume (finished runs are skipped)", err=True)
            raise typer.Exit(130) from None
    typer.echo(format_table(rows))
    unfinished = [r for r in rows if r["outcome"] not in SUCCESS]
    if unfinished:
        typer.echo(f"t2i: {len(unfinished)} of {len(rows)} runs of this sweep did not finish (table above)", err=True)
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
    from t2i.analysis.plots import plot_mae_command
    from t2i.analysis.runs import AnalysisError

    if not runs_dir.exists():
        fail(f"{runs_dir} does not exist")
    try:
        out = plot_mae_command(
            runs_dir, output, band=band, smooth=smooth, log_scale=log_scale, thresholds=tuple(threshold)
        )
    except AnalysisError as exc:
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
    from t2i.analysis.report import Options, build_report
    from t2i.analysis.runs import AnalysisError
    from t2i.config import ConfigError

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
    except (AnalysisError, ConfigError) as exc:
        fail(exc)
    typer.echo(f"wrote {path}")


MODEL_PATH = typer.Argument(..., help="A run directory, its checkpoints/ directory, or a pretrained cache entry.")


@app.command()
def parity(
    runs_dirs: list[Path] = typer.Argument(..., help="directories holding the Baseline and LRx10 runs"),
):
    """Check the parity targets against the reference (exit 1 if one is missed, 3 while runs are pending)."""
    from t2i.sweeps import parity as checks

    with user_errors():
        rows = checks.check(runs_dirs)
    typer.echo(checks.format_rows(rows))
    verdicts = {r["verdict"] for r in rows}
    raise typer.Exit(1 if "missed" in verdicts else 3 if "pending" in verdicts else 0)


@app.command()
def generate(
    run: Path = MODEL_PATH,
    texts: list[str] = typer.Argument(..., help="Two-character texts in the model's vocabulary, e.g. 42 07."),
    bg: str | None = typer.Option(
        None, "--bg", help="Background colour (default black). On a style run: the background of a style source."
    ),
    fg: str | None = typer.Option(None, "--fg", help="Text colour (default white)."),
    spec: str | None = typer.Option(
        None, "--spec", help="Instead of --bg/--fg: 'backgroundcolor black, color red' ('color red' on a style run)."
    ),
    output: Path = typer.Option(Path("generated.png"), "-o", "--output", help="Figure path."),
    interpolate: bool = typer.Option(False, "--interpolate", help="Two texts: a strip, text features mixed linearly."),
    steps: int = typer.Option(8, "--steps", help="Images in the --interpolate strip."),
    samples: int | None = typer.Option(None, "--samples", help="Style runs: z per text (default 8)."),
    seed: int = typer.Option(0, "--seed", help="Style runs: the seed of the z drawn for --samples."),
):
    """Generate images for texts with a trained generator: truth | generated per text, or an interpolation strip.

    On a run of the style data (data.spec=text_colour) the spec names only the text colour: a row of --samples
    images per text, one z a column; --bg then names a style source, the text's true render on that background,
    whose style S transfers: G(S(render), h(text)) beside the render.
    """
    from t2i.generate import generate_command

    with user_errors():
        path = generate_command(
            run, texts, bg, fg, spec, output, interpolation=interpolate, steps=steps, samples=samples, seed=seed
        )
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
    from t2i.analysis.evaluation import evaluate as run_evaluation
    from t2i.analysis.evaluation import format_table

    if samples < 1:
        fail(f"--samples must be at least 1, got {samples}")
    with user_errors():
        result = run_evaluation(run, samples=samples, output_dir=output_dir, verbose=True)
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

    from t2i.sweeps.bench import run_bench

    text = json.dumps(run_bench(quick=quick), indent=2)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n")
    typer.echo(text)


def main():
    try:
        app()
    except Exception as exc:  # raised outside a command's own handling; still one line, never a traceback
        if not isinstance(exc, (*_known_errors(), *_failed_check(), OSError)):
            raise
        message = _os_error(exc) if isinstance(exc, OSError) else str(exc)
        print(f"t2i: error: {' '.join(message.split())}", file=sys.stderr)
        sys.exit(1 if isinstance(exc, _failed_check()) else 2)


if __name__ == "__main__":
    main()
