"""The `t2i` command line. Config errors are reported before TensorFlow is even imported."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter hides progress

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
def train(overrides: Optional[List[str]] = OVERRIDES):
    """Train one GAN run (Part 2); resumes an interrupted run, skips a finished one."""
    cfg = _compose(overrides)
    from t2i.training.run import RunDirError, train as run_train
    from t2i.training.state import CheckpointError

    try:
        status = run_train(cfg)
    except (RunDirError, CheckpointError) as exc:
        fail(exc)
    if status.get("skipped"):
        typer.echo(f"t2i: {cfg.run_dir} is already complete ({status.get('epochs_done')} epochs); nothing to do")
    else:
        typer.echo(
            f"t2i: done: {cfg.run_dir}  final MAE {status['final_mae']:.4f}  best MAE {status['best_mae']:.4f}"
        )


@app.command()
def pretrain(
    overrides: Optional[List[str]] = OVERRIDES,
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


def main():
    try:
        app()
    except _known_errors() as exc:
        fail(exc)


if __name__ == "__main__":
    main()
