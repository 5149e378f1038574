"""`t2i generate`: images for texts from a trained generator, a grid beside the true renders or an
interpolation strip.

Paths, texts and colours are checked before TensorFlow is imported (t2i.inference.locate reads only the
config); the model is then loaded with t2i.inference.load_model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from t2i.data.vocab import COLOURS, decode_chars, encode_chars, encode_spec, spec_colours, spec_text
from t2i.inference import InferenceModel, load_model, locate

DEFAULT_BG, DEFAULT_FG = "black", "white"


class UsageError(ValueError):
    """Arguments that do not fit together (e.g. --spec with --bg)."""


def resolve_spec(bg: str | None = None, fg: str | None = None, spec: str | None = None) -> str:
    if spec is not None and (bg is not None or fg is not None):
        raise UsageError("give either --spec or --bg/--fg, not both")
    if spec is None:
        spec = spec_text(bg or DEFAULT_BG, fg or DEFAULT_FG)
    encode_spec(spec)  # VocabularyError naming the allowed colours
    return spec


def encode_texts(texts, spec: str, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """chars [n, 2] and spec [n, 4] tokens; VocabularyError names the allowed characters."""
    if not texts:
        raise UsageError("give at least one text")
    chars = np.stack([encode_chars(t, vocab_size) for t in texts])
    return chars, np.tile(encode_spec(spec), (len(texts), 1))


def true_images(chars, spec, size: int) -> np.ndarray:
    """The reference renders (exact, and fast enough for a handful of texts)."""
    from t2i.data import render

    bg, fg = spec_colours(spec)
    renders = [render.render_reference(decode_chars(c), COLOURS[b], COLOURS[f], size) for c, b, f in zip(chars, bg, fg)]
    return np.stack(renders)


def output_path(output, default_name: str = "generated.png") -> Path:
    """Where `-o` puts the figure, checked before any work and without creating anything: an existing
    directory gets `default_name` inside it, a name without a suffix gets .png (as matplotlib would, so the
    path reported is the one written); an unknown format or an unusable directory is a UsageError."""
    from matplotlib.backend_bases import FigureCanvasBase

    from t2i.config import path_problem

    output = Path(output)
    if output.is_dir():
        output = output / default_name
    elif not output.suffix:
        output = output.with_suffix(".png")
    formats = FigureCanvasBase.get_supported_filetypes()
    if output.suffix[1:].lower() not in formats:
        raise UsageError(f"-o {output}: unknown image format '{output.suffix}' (use .png, .svg, .pdf or .jpg)")
    problem = path_problem(output.parent)
    if problem:
        raise UsageError(f"-o {output}: {output.parent} {problem}")
    return output


def check_interpolation(texts: int, steps: int) -> None:
    if texts != 2:
        raise UsageError(f"--interpolate needs exactly two texts, got {texts}")
    if steps < 2:
        raise UsageError(f"--steps must be at least 2, got {steps}")


def interpolate(model: InferenceModel, chars, spec, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Images from text features mixed linearly from the first text's to the second's; also the weights."""
    check_interpolation(len(chars), steps)
    start, end = model.features(chars, spec)
    alpha = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return model.from_features((1.0 - alpha) * start + alpha * end), alpha[:, 0]


def generate_command(
    run,
    texts,
    bg=None,
    fg=None,
    spec=None,
    output: Path = Path("generated.png"),
    interpolation: bool = False,
    steps: int = 8,
) -> Path:
    """What `t2i generate` does; returns the figure's path."""
    from t2i import images

    source = locate(run)
    output = output_path(output)
    spec = resolve_spec(bg, fg, spec)
    chars, spec_ids = encode_texts(texts, spec, source.vocab_size)
    if interpolation:
        check_interpolation(len(chars), steps)  # before the slow part
    model, cfg, _ = load_model(source)
    bg, fg = spec_colours(spec_ids[0])
    colours = f"{COLOURS[fg]} on {COLOURS[bg]}"
    if interpolation:
        strip, alpha = interpolate(model, chars, spec_ids, steps)
        captions = [f"{texts[0]}" if a == 0 else f"{texts[1]}" if a == 1 else f"{a:.2f}" for a in alpha]
        images.save_pairs_figure(
            output,
            None,
            strip,
            captions,
            columns=steps,
            title=f"{texts[0]} -> {texts[1]} ({colours}): text features interpolated",
        )
    else:
        fake = model(chars, spec_ids)
        truth = true_images(chars, spec_ids, int(cfg.data.image_size))
        captions = [images.caption(c, s) for c, s in zip(chars, spec_ids)]
        images.save_pairs_figure(output, truth, fake, captions, columns=min(4, len(texts)), title="truth | generated")
    return output
