"""`t2i generate`: images for texts from a trained generator, a grid beside the true renders or an
interpolation strip.

On a run of the style data (data.spec=text_colour, whose specs name only the text colour) a text has no one
true image: the grid is a row per text of G's images for several z (the same z in each column), and --bg names
a style source instead: the text's true render on that background goes through the style encoder S and
G(S(render), h(text)) is shown beside it (Reed et al.'s style transfer).

Paths, texts and colours are checked before TensorFlow is imported (t2i.inference.locate reads only the
config); the model is then loaded with t2i.inference.load_model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from t2i.data.vocab import (
    COLOURS,
    colour_id,
    decode_chars,
    encode_chars,
    encode_spec,
    parse_spec,
    spec_colours,
    spec_text,
)
from t2i.inference import InferenceModel, load_model, locate

DEFAULT_BG, DEFAULT_FG = "black", "white"
DEFAULT_SAMPLES = 8  # z per text on a style run
STYLE_SPEC = "text_colour"  # data.spec of the style data


class UsageError(ValueError):
    """Arguments that do not fit together (e.g. --spec with --bg)."""


def resolve_spec(bg: str | None = None, fg: str | None = None, spec: str | None = None) -> str:
    if spec is not None and (bg is not None or fg is not None):
        raise UsageError("give either --spec or --bg/--fg, not both")
    if spec is None:
        spec = spec_text(bg or DEFAULT_BG, fg or DEFAULT_FG)
    encode_spec(spec)  # VocabularyError naming the allowed colours
    return spec


def is_style_run(cfg) -> bool:
    """Whether the run trained on the style data: its specs name only the text colour."""
    from omegaconf import OmegaConf

    return OmegaConf.select(cfg, "data.spec", default=None) == STYLE_SPEC


def resolve_style_spec(bg: str | None = None, fg: str | None = None, spec: str | None = None) -> tuple[str, str | None]:
    """(spec, style source background or None) on a style run: the spec names the text colour only, and --bg
    is not part of it but the background of the style source."""
    if spec is not None and (bg is not None or fg is not None):
        raise UsageError("give either --spec or --bg/--fg, not both")
    if spec is not None:
        named_bg, fg = parse_spec(spec)  # VocabularyError naming the allowed colours
        if named_bg is not None:
            raise UsageError(
                f"--spec {spec!r}: this run's spec names only the text colour (data.spec={STYLE_SPEC}): give "
                f"'{spec_text(None, fg)}', and --bg {named_bg} --fg {fg} for the style of the text on {named_bg}"
            )
    fg = fg or DEFAULT_FG
    colour_id(fg)
    if bg is not None:
        colour_id(bg)
        if bg == fg:
            raise UsageError(f"--bg {bg} is the text colour: a style source needs a background the text shows on")
    return spec_text(None, fg), bg


def check_style_transfer(cfg) -> None:
    """UsageError unless the run's model has a z and the style encoder S (read from its config)."""
    from omegaconf import OmegaConf

    latent = int(OmegaConf.select(cfg, "model.generator.latent_dim", default=0) or 0)
    has_s = bool(OmegaConf.select(cfg, "model.style_encoder", default=False))
    if latent == 0 or not has_s:
        why = (
            "its G has no z (model.generator.latent_dim=0)"
            if latent == 0
            else "it has no S (model.style_encoder=false)"
        )
        raise UsageError(f"--bg: style transfer needs a style encoder S and a z (e.g. +ablation=reed_int_cls): {why}")


def sample_z(model: InferenceModel, n: int, seed: int) -> np.ndarray:
    """n draws of z from the model's latent distribution, fixed by `seed`."""
    import tensorflow as tf

    from t2i.models.latent import LATENTS

    return LATENTS[model.latent_distribution]([n, model.latent_dim], tf.constant([seed, 1])).numpy()


def style_samples(model: InferenceModel, chars, spec, samples: int, seed: int) -> np.ndarray:
    """G's images [texts * samples] of each text under `samples` z, row by row; the same z in each column."""
    features = np.repeat(model.features(chars, spec), samples, axis=0)
    if model.latent_dim == 0:
        return model.from_features(features)
    z = np.tile(sample_z(model, samples, seed), (len(chars), 1))
    return model.from_features_and_z(features, z)


def style_transfer(model: InferenceModel, chars, spec, bg: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(source, transferred): each text's true render on `bg`, and G(S(render), h(text))."""
    _, fg = spec_colours(spec[0])
    source = true_images(chars, np.tile(encode_spec(spec_text(bg, COLOURS[fg])), (len(chars), 1)), size)
    return source, model.from_features_and_z(model.features(chars, spec), model.style(source))


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
    samples: int | None = None,
    seed: int = 0,
) -> Path:
    """What `t2i generate` does; returns the figure's path."""
    from t2i import images

    source = locate(run)
    output = output_path(output)
    if is_style_run(source.cfg):
        return _generate_style(source, texts, bg, fg, spec, output, interpolation, steps, samples, seed)
    if samples is not None:
        raise UsageError(
            f"--samples is for runs on the style data (data.spec={STYLE_SPEC}); this run's texts have one image"
        )
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


def _generate_style(source, texts, bg, fg, spec, output, interpolation, steps, samples, seed) -> Path:
    """generate_command on a style run: a row of `samples` z per text, or the style transfer from --bg."""
    from t2i import images

    spec, style_bg = resolve_style_spec(bg, fg, spec)
    samples = DEFAULT_SAMPLES if samples is None else samples
    if samples < 1:
        raise UsageError(f"--samples must be at least 1, got {samples}")
    if style_bg is not None:
        if interpolation:
            raise UsageError("give either --interpolate or --bg (a style source), not both")
        check_style_transfer(source.cfg)
    chars, spec_ids = encode_texts(texts, spec, source.vocab_size)
    if interpolation:
        check_interpolation(len(chars), steps)
    model, cfg, _ = load_model(source)
    fg_name = COLOURS[int(spec_colours(spec_ids[0])[1])]
    if interpolation:
        strip, alpha = interpolate(model, chars, spec_ids, steps)
        captions = [f"{texts[0]}" if a == 0 else f"{texts[1]}" if a == 1 else f"{a:.2f}" for a in alpha]
        title = f"{texts[0]} -> {texts[1]} ('{spec}'): text features interpolated"
        images.save_pairs_figure(output, None, strip, captions, columns=steps, title=title)
    elif style_bg is not None:
        source_images, transferred = style_transfer(model, chars, spec_ids, style_bg, int(cfg.data.image_size))
        captions = [f"{text} {fg_name}: style of {style_bg}" for text in texts]
        title = f"style transfer: true render on {style_bg} | G(S(render), h('{spec}'))"
        images.save_pairs_figure(output, source_images, transferred, captions, columns=min(4, len(texts)), title=title)
    else:
        columns = samples if model.latent_dim else 1
        fake = style_samples(model, chars, spec_ids, columns, seed)
        captions = [f"{text} z{j}" for text in texts for j in range(columns)]
        what = f"{columns} z (seed {seed}) per text" if model.latent_dim else "G has no z: one image per text"
        images.save_pairs_figure(output, None, fake, captions, columns=columns, title=f"'{spec}': {what}")
    return output
