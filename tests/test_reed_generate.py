"""`t2i generate` on a run of the style data (data.spec=text_colour): several z per text, and style transfer
through S from a true render on --bg; the one-line errors (exit 2, nothing written)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import yaml
from matplotlib.image import imread
from typer.testing import CliRunner

from t2i.cli import app

runner = CliRunner()


def png_size(path):
    height, width = imread(path).shape[:2]
    return width, height


def figure_size(columns, rows):  # t2i.images.save_pairs_figure's size at its dpi
    return round(2.4 * columns * 110), round((1.5 * rows + 0.4) * 110)


def edited_copy(run, tmp_path, **keys):
    """A copy of `run` whose config.yaml has `keys` ("model.style_encoder": False, ...) set."""
    copy = tmp_path / "edited"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("tensorboard", "samples"))
    cfg = yaml.safe_load((copy / "config.yaml").read_text())
    for key, value in keys.items():
        *parents, last = key.split(".")
        node = cfg
        for p in parents:
            node = node[p]
        node[last] = value
    (copy / "config.yaml").write_text(yaml.safe_dump(cfg))
    return copy


def invoke_error(tmp_path, *args):
    """One line `t2i: error: ...`, exit 2, and no figure written."""
    out = tmp_path / "nothing" / "out.png"
    result = runner.invoke(app, [str(a) for a in (*args, "-o", out)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("t2i: error: "), result.stderr
    assert not out.parent.exists()
    return lines[0]


def test_the_run_is_a_style_run_with_s_and_z(style_run):
    cfg = yaml.safe_load((style_run / "config.yaml").read_text())
    assert cfg["data"]["spec"] == "text_colour" and cfg["model"]["style_encoder"] is True
    assert cfg["model"]["generator"]["latent_dim"] == 100
    assert (style_run / "checkpoints" / "style_encoder.weights.h5").exists()


def test_style_spec_names_only_the_text_colour():
    from t2i.generate import UsageError, resolve_style_spec

    assert resolve_style_spec(fg="red") == ("color red", None)  # no default background filled in
    assert resolve_style_spec() == ("color white", None)
    assert resolve_style_spec(bg="blue", fg="red") == ("color red", "blue")  # --bg: the style source's
    assert resolve_style_spec(spec="color red") == ("color red", None)
    with pytest.raises(UsageError, match="names only the text colour"):
        resolve_style_spec(spec="backgroundcolor blue, color red")


def test_a_row_of_z_per_text(style_run, tmp_path):
    out = tmp_path / "grid.png"
    result = runner.invoke(app, ["generate", str(style_run), "42", "--fg", "red", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"wrote {out}"
    assert png_size(out) == figure_size(8, 1)  # 8 z columns by default

    out = tmp_path / "grid3.png"
    args = ["generate", str(style_run), "42", "07", "--spec", "color red", "--samples", "3", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert png_size(out) == figure_size(3, 2)


def test_samples_are_seeded_and_share_z_by_column(style_run):
    from t2i.data.vocab import encode_spec
    from t2i.generate import encode_texts, style_samples
    from t2i.inference import load_model

    model, _, vocab = load_model(style_run)
    chars, spec = encode_texts(["42", "07"], "color red", vocab)
    assert (spec == encode_spec("color red")).all()
    a = style_samples(model, chars, spec, 4, seed=0)
    assert a.shape == (8, 32, 32, 3)
    np.testing.assert_array_equal(a, style_samples(model, chars, spec, 4, seed=0))
    assert not np.allclose(a, style_samples(model, chars, spec, 4, seed=1))
    assert not np.allclose(a[0], a[1])  # another z, another image
    # Column j of every row is G(h(text), z_j): the second text's row equals its own generation under the same z.
    second = style_samples(model, chars[1:], spec[1:], 4, seed=0)
    np.testing.assert_allclose(a[4:], second, atol=1e-5)


def test_style_transfer_from_a_true_render_on_bg(style_run, tmp_path):
    from t2i.data.render import render_reference
    from t2i.generate import encode_texts, style_transfer
    from t2i.inference import load_model

    out = tmp_path / "transfer.png"
    result = runner.invoke(app, ["generate", str(style_run), "42", "--fg", "red", "--bg", "blue", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert png_size(out) == figure_size(1, 1)

    model, _, vocab = load_model(style_run)
    chars, spec = encode_texts(["42", "07"], "color red", vocab)
    source, transferred = style_transfer(model, chars, spec, "blue", 32)
    np.testing.assert_allclose(source[0], render_reference("42", "blue", "red", 32))
    expected = model.from_features_and_z(model.features(chars, spec), model.style(source))
    np.testing.assert_allclose(transferred, expected, atol=1e-5)
    assert transferred.shape == (2, 32, 32, 3)


def test_style_run_errors(style_run, tmp_path):
    line = invoke_error(tmp_path, "generate", style_run, "42", "--spec", "backgroundcolor blue, color red")
    assert "this run's spec names only the text colour" in line
    same = ("--fg", "blue", "--bg", "blue")
    assert "--bg blue is the text colour" in invoke_error(tmp_path, "generate", style_run, "42", *same)
    assert "unknown colour 'pink'" in invoke_error(tmp_path, "generate", style_run, "42", "--bg", "pink")
    assert "at least 1" in invoke_error(tmp_path, "generate", style_run, "42", "--samples", "0")
    assert "not both" in invoke_error(tmp_path, "generate", style_run, "42", "07", "--interpolate", "--bg", "blue")


@pytest.mark.parametrize(
    "keys, why",
    [({"model.style_encoder": False}, "no S"), ({"model.generator.latent_dim": 0}, "no z")],
)
def test_style_transfer_needs_s_and_z(style_run, tmp_path, keys, why):
    copy = edited_copy(style_run, tmp_path, **keys)
    line = invoke_error(tmp_path, "generate", copy, "42", "--fg", "red", "--bg", "blue")
    assert "style transfer needs" in line and why in line


def test_samples_on_a_reference_data_run(style_run, tmp_path):
    copy = edited_copy(style_run, tmp_path, **{"data.spec": "full"})
    assert "--samples is for runs on the style data" in invoke_error(tmp_path, "generate", copy, "42", "--samples", "3")
