"""`t2i generate` and `t2i evaluate` on one tiny trained run (digits vocabulary)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from typer.testing import CliRunner

from t2i.cli import app
from t2i.data import render
from t2i.data.vocab import COLOURS, DIGITS, encode_chars, encode_spec, spec_text
from t2i.store import rundir

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory, t2i_cache_dir):
    """The tiny baseline, trained once; its Part 1 and mask table come from the session's shared cache."""
    from t2i.config import compose_config
    from t2i.training.run import train

    tmp = tmp_path_factory.mktemp("runs")
    # Eager steps: what generate and evaluate read is the same; tracing four steps would cost most of the time.
    cfg = compose_config(["budget=tiny", f"runs_root={tmp}", "trainer.verbose=false", "trainer.run_eagerly=true"])
    assert cfg.cache_dir == str(t2i_cache_dir)
    train(cfg)
    return cfg


@pytest.fixture(scope="module")
def run_dir(trained):
    return Path(trained.run_dir)


@pytest.fixture(scope="module")
def evaluation(run_dir):
    result = runner.invoke(app, ["evaluate", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "MAE" in result.output and "readability" in result.output
    return json.loads((run_dir / "evaluation.json").read_text())


def invoke_error(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("t2i: error: "), result.stderr
    return lines[0]


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def png_size(path):
    height, width = imread(path).shape[:2]
    return width, height


def figure_size(columns, rows):  # t2i.images.save_pairs_figure's size at its dpi
    return round(2.4 * columns * 110), round((1.5 * rows + 0.4) * 110)


@pytest.mark.parametrize("texts", [["42"], ["12", "34", "90"]])
def test_generate_grid(run_dir, tmp_path, texts):
    out = tmp_path / "grid.png"
    result = runner.invoke(app, ["generate", str(run_dir), *texts, "--bg", "black", "--fg", "red", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    assert png_size(out) == figure_size(len(texts), 1)


def test_generate_default_output_from_checkpoints_dir(run_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = "backgroundcolor white, color blue"
    result = runner.invoke(app, ["generate", str(run_dir / "checkpoints"), "07", "--spec", spec])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "generated.png").exists()


def test_interpolation_strip(run_dir, tmp_path):
    from t2i.generate import encode_texts, interpolate, resolve_spec
    from t2i.inference import load_model

    out = tmp_path / "strip.png"
    result = runner.invoke(app, ["generate", str(run_dir), "12", "89", "--interpolate", "--steps", "5", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert png_size(out) == figure_size(5, 1)

    model, _, vocab = load_model(run_dir)
    chars, spec = encode_texts(["12", "89"], resolve_spec(), vocab)
    strip, alpha = interpolate(model, chars, spec, 5)
    assert strip.shape == (5, 32, 32, 3) and alpha.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    # The ends are the two texts' own images.
    np.testing.assert_allclose(strip[[0, -1]], model(chars, spec), atol=1e-5)


def test_generate_errors(run_dir, tmp_path):
    assert "outside the vocabulary '0123456789'" in invoke_error("generate", run_dir, "ab")
    assert "allowed: blue, green" in invoke_error("generate", run_dir, "12", "--bg", "pink")
    bad_spec = "backgroundcolor grey, color red"
    assert "unknown colour 'grey'" in invoke_error("generate", run_dir, "12", "--spec", bad_spec)
    assert "does not exist" in invoke_error("generate", tmp_path / "missing", "12")
    assert "exactly two texts" in invoke_error("generate", run_dir, "12", "--interpolate")
    assert "does not exist" in invoke_error("evaluate", tmp_path / "missing")


def test_generate_output_paths(run_dir, tmp_path):
    """-o names exactly the file written: a directory gets generated.png inside, a bare name gets .png;
    an unknown format or a directory under a file is one line before any work, and nothing is written."""
    (tmp_path / "afile").write_text("mine")
    assert "unknown image format '.xyz'" in invoke_error("generate", run_dir, "12", "-o", tmp_path / "out.xyz")
    assert "which is a file" in invoke_error("generate", run_dir, "12", "-o", tmp_path / "afile" / "x" / "g.png")
    assert "is a file, not a directory" in invoke_error("generate", run_dir, "12", "-o", tmp_path / "afile" / "g.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
    for given, written in [(tmp_path, tmp_path / "generated.png"), (tmp_path / "bare", tmp_path / "bare.png")]:
        result = runner.invoke(app, ["generate", str(run_dir), "12", "-o", str(given)])
        assert result.exit_code == 0, result.output
        assert result.output.strip() == f"wrote {written}" and written.exists()


def test_missing_and_corrupt_weights(run_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("tensorboard", "samples", "state.npz"))
    weights = rundir.weights_file(copy / "checkpoints", "generator")
    weights.write_bytes(weights.read_bytes()[:500])  # a torn write
    assert "corrupt" in invoke_error("generate", copy, "12")
    assert "corrupt" in invoke_error("evaluate", copy)
    weights.unlink()
    assert "missing weights file" in invoke_error("generate", copy, "12")


def test_pretrained_cache_entry_generates(trained, tmp_path):
    from t2i.store import part1

    entry = part1.entry(trained)  # the run's Part 1, in the shared cache
    assert part1.is_entry(entry)
    out = tmp_path / "pre.png"
    result = runner.invoke(app, ["generate", str(entry), "55", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists()


def test_evaluate_files_and_shapes(run_dir, evaluation):
    assert evaluation["samples"] == 6400 and evaluation["exhaustive"]
    assert np.shape(evaluation["mae_matrix"]) == (8, 8)
    assert np.all(np.array(evaluation["samples_matrix"]) == 100)
    assert 0.0 <= evaluation["readability"] <= 1.0
    assert set(evaluation["mae_per_char"]) == set(DIGITS)
    for name in ("evaluation.png", "evaluation_per_colour.csv", "evaluation_per_char.csv", "evaluation_samples.csv"):
        assert (run_dir / name).stat().st_size > 0
    rows = read_csv(run_dir / "evaluation_per_char.csv")
    # A digit appears in 19 of 100 pairs, in 64 colour pairs each.
    assert [int(r["samples"]) for r in rows] == [19 * 64] * 10


def test_evaluate_averages_are_consistent(evaluation):
    overall = evaluation["mae"]
    for key in ("background", "text_colour"):
        maes, counts = evaluation[f"mae_per_{key}"], evaluation[f"samples_per_{key}"]
        weighted = sum(maes[c] * counts[c] for c in COLOURS) / sum(counts.values())
        assert weighted == pytest.approx(overall, rel=1e-9)
    matrix = np.array(evaluation["mae_matrix"])
    assert matrix.mean() == pytest.approx(overall, rel=1e-9)  # 100 samples in every cell
    assert matrix.mean(axis=1) == pytest.approx([evaluation["mae_per_background"][c] for c in COLOURS], rel=1e-9)


def test_evaluate_errors_match_independent_computation(run_dir, evaluation):
    from t2i.inference import load_model

    rows = read_csv(run_dir / "evaluation_samples.csv")
    errors = np.array([float(r["mae"]) for r in rows])
    assert errors.mean() == pytest.approx(evaluation["mae"], rel=1e-9)

    model, cfg, _ = load_model(run_dir)
    table = render.mask_table(DIGITS, 32, cfg.cache_dir)
    for r in (rows[i] for i in (0, 777, 3141, 5000, 6399)):
        text, bg, fg = r["text"], r["background"], r["text_colour"]
        spec = encode_spec(spec_text(bg, fg))[None]
        fake = model(encode_chars(text, 10)[None], spec)[0]
        fast = render.compose(
            table[int(text)], render.COLOUR_RGB[COLOURS.index(bg)], render.COLOUR_RGB[COLOURS.index(fg)]
        ).numpy()
        assert float(r["mae"]) == pytest.approx(np.abs(fake - fast).mean(), abs=1e-6)
        reference = render.render_reference(text, bg, fg, 32)
        assert float(r["mae"]) == pytest.approx(np.abs(fake - reference).mean(), abs=0.01)


def test_nearest_renders(trained):
    """The nearest-render search on two colour pairs: true images, a swapped one, and a brute-force check."""
    from t2i.analysis.evaluation import nearest_renders
    from t2i.data.dataset import TextImageSampler

    sampler = TextImageSampler(10, 32, trained.cache_dir)
    pair = np.tile(np.arange(100), 2).astype(np.int32)
    bg = np.repeat([COLOURS.index("black"), COLOURS.index("white")], 100).astype(np.int32)
    fg = np.repeat([COLOURS.index("red"), COLOURS.index("blue")], 100).astype(np.int32)
    truth = sampler.images(np.stack(np.divmod(pair, 10), 1), bg, fg).numpy().reshape(200, -1)
    np.testing.assert_array_equal(nearest_renders(truth, sampler, pair, bg, fg), pair)
    # Another text's image is no longer its own: "11" and "17" differ only in the second glyph.
    swapped = truth.copy()
    swapped[11] = truth[17]
    assert nearest_renders(swapped, sampler, pair, bg, fg)[11] == 17

    noisy = np.clip(0.3 * truth + np.random.default_rng(0).normal(0, 0.5, truth.shape), -1, 1).astype(np.float32)
    found = nearest_renders(noisy, sampler, pair, bg, fg)
    for rows in (slice(0, 100), slice(100, 200)):  # each block holds all 100 renders of its colours, in pair order
        dist = np.abs(noisy[rows, None, :] - truth[None, rows, :]).sum(-1)
        own = dist[np.arange(100), pair[rows]]
        expected = np.where(own <= dist.min(1), pair[rows], dist.argmin(1))
        assert (found[rows] == expected).mean() >= 0.99  # float32 sums in another order may flip exact ties


def test_the_shipped_model_draws_readable_digits_without_training(tmp_path):
    """experiments/models/lrx10_250 (LRx10, 250 epochs; the README's first screen draws with it) loads and
    draws its texts close to their true renders."""
    from t2i.generate import encode_texts, true_images
    from t2i.inference import load_model, locate

    shipped = Path(__file__).resolve().parent.parent / "experiments" / "models" / "lrx10_250"
    texts = ["42", "17", "90", "36"]
    chars, spec = encode_texts(texts, "backgroundcolor black, color red", 10)
    model, cfg, _ = load_model(locate(shipped))
    mae = np.abs(np.asarray(model(chars, spec)) - true_images(chars, spec, int(cfg.data.image_size))).mean()
    assert mae < 0.15, mae  # the run's own evaluation: 0.07 over every text
    out = tmp_path / "grid.png"
    result = runner.invoke(app, ["generate", str(shipped), *texts, "--fg", "red", "--bg", "black", "-o", str(out)])
    assert result.exit_code == 0 and png_size(out) == figure_size(4, 1), result.output
