"""`t2i evaluate`'s exact measures of Reed et al.'s claims (t2i/analysis/reed_measures.py): on one tiny trained
run of GAN-INT-CLS on the style data under the unseen hold-out, and on stand-in models whose answers are known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from t2i.analysis import reed_measures as reed
from t2i.data.vocab import COLOURS, char_labels, spec_colours

N = len(COLOURS)


@pytest.fixture(scope="module")
def style_run(tmp_path_factory, t2i_cache_dir):
    from t2i.config import compose_config
    from t2i.training.run import train

    root = tmp_path_factory.mktemp("reed_runs")
    cfg = compose_config(
        [
            *("+ablation=[reed_int_cls,style,unseen]", "budget=tiny", "trainer.epochs=1", f"runs_root={root}"),
            *("trainer.run_eagerly=true", "gan.text_encoder_init=random"),  # the measures' plumbing, not learning
        ]
    )
    train(cfg)
    return cfg.run_dir


@pytest.fixture(scope="module")
def result(style_run, tmp_path_factory):
    from t2i.analysis.evaluation import evaluate

    return evaluate(style_run, samples=400, output_dir=tmp_path_factory.mktemp("eval"))


@pytest.fixture(scope="module")
def style_sampler(t2i_cache_dir):
    from t2i.data.dataset import TextImageSampler

    return TextImageSampler(10, 32, t2i_cache_dir, spec="text_colour")


class StandIn:
    """A model of the InferenceModel interface whose G draws the true render of its text in the background
    `background(z)`; its S (if `style`) outputs the one-hot of an image's background (read off a pixel that
    always shows it)."""

    latent_distribution = "normal"

    def __init__(self, sampler, background, style=True, latent_dim=N):
        self.sampler, self.background, self.latent_dim = sampler, background, latent_dim
        self.style_encoder = object() if style else None
        # a pixel that shows the background in every text's render (not the white frame, never under a character)
        pairs = np.stack(np.divmod(np.arange(100), 10), axis=1).astype(np.int32)
        renders = sampler.images(pairs, np.zeros(100, np.int32), np.full(100, 2, np.int32)).numpy()
        blue = sampler.images(pairs[:1], [0], [0]).numpy()[0]  # text colour = background: the blank
        self.pixel = tuple(
            np.argwhere(
                np.all(np.abs(renders - blue[None]).sum(-1) < 1e-3, axis=0) & (np.abs(blue - 1).sum(-1) > 1e-3)
            )[0]
        )
        blanks = sampler.images(np.zeros((N, 2), np.int32), np.arange(N), np.arange(N)).numpy()
        self.colours = blanks[:, self.pixel[0], self.pixel[1]]

    def features(self, chars, spec):
        _, fg = spec_colours(np.asarray(spec))
        return np.concatenate([char_labels(np.asarray(chars)), fg[:, None]], axis=1).astype(np.float32)

    def from_features_and_z(self, features, z):
        f = np.asarray(features).astype(np.int32)
        return self.sampler.images(f[:, :2], self.background(np.asarray(z)), f[:, 2]).numpy()

    def style(self, images):
        seen = np.asarray(images)[:, self.pixel[0], self.pixel[1]]
        bg = np.abs(seen[:, None] - self.colours[None]).sum(-1).argmin(1)
        return np.eye(self.latent_dim, dtype=np.float32)[bg]


def argmax_background(z):
    return z[:, :N].argmax(axis=1).astype(np.int32)


def test_an_exact_auc():
    assert reed.roc_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
    assert reed.roc_auc([1, 1, 1, 1], [True, False, True, False]) == 0.5  # ties count one half
    assert reed.roc_auc([3, 2, 1], [True, False, False]) == 1.0


def test_a_model_that_always_draws_one_background_covers_one(style_sampler):
    c = reed.background_coverage(StandIn(style_sampler, lambda z: np.full(len(z), 4, np.int32)), style_sampler)
    assert c["distinct_mean"] == 1.0 and c["share"] == 1 / N and c["distinct_max"] == 1
    assert c["nearest_background_share"]["magenta"] == 1.0


def test_a_model_whose_z_picks_the_background_covers_nearly_all(style_sampler):
    from t2i.data.holdout import HOLDOUTS

    c = reed.background_coverage(StandIn(style_sampler, argmax_background), style_sampler, HOLDOUTS["unseen"])
    # 32 draws of a uniform background: 8 * (1 - (7/8)^32) = 7.86 expected; a blank text (fg = bg) can tie
    assert 7.0 < c["distinct_mean"] <= 8 and c["texts"] == 64 and c["draws"] == 32
    assert c["seen"]["texts"] + c["unseen"]["texts"] == 64


def test_an_s_that_outputs_the_background_transfers_it_and_separates_backgrounds(style_sampler):
    oracle = StandIn(style_sampler, argmax_background)
    t = reed.style_transfer(oracle, style_sampler)
    assert t["mae"] == pytest.approx(0.0, abs=1e-6) and t["background_match"] == 1.0
    assert t["random_z"]["background_match"] < 0.5 and t["random_z"]["mae"] > 0.05
    assert reed.style_auc(oracle, style_sampler)["auc"] == 1.0
    # S's z is the one-hot of the background G drew, b = argmax z: its loss is the mean ||z - e_b||^2
    z = reed._z(oracle, reed.STYLE_LOSS_SAMPLES, reed._STYLE_LOSS)
    expected = np.square(z - np.eye(N)[z.argmax(axis=1)]).sum(axis=1).mean()
    assert reed.style_loss(oracle, style_sampler)["loss"] == pytest.approx(expected, rel=1e-5)


def test_an_s_that_sees_nothing_is_at_chance(style_sampler):
    blind = StandIn(style_sampler, argmax_background)
    blind.style = lambda images: np.ones((len(images), N), np.float32)
    assert reed.style_auc(blind, style_sampler)["auc"] == 0.5
    assert reed.style_loss(blind, style_sampler)["loss"] == pytest.approx(2 * N, rel=0.15)  # E||z - 1||^2 = 2d


def test_the_untrained_control_is_s_architecture_with_seeded_fresh_weights(style_run):
    from t2i.inference import load_model

    s = load_model(style_run)[0].style_encoder
    a, b, other = reed.untrained_copy(s, 1), reed.untrained_copy(s, 1), reed.untrained_copy(s, 2)
    assert [w.shape for w in a.get_weights()] == [w.shape for w in s.get_weights()]
    assert all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))  # same seed, same S
    kernels = [w for w in a.get_weights() if w.ndim > 1]
    assert not any(np.array_equal(x, y) for x, y in zip(kernels, (w for w in other.get_weights() if w.ndim > 1)))
    assert not any(np.array_equal(x, y) for x, y in zip(kernels, (w for w in s.get_weights() if w.ndim > 1)))


def test_without_s_those_measures_are_absent(style_sampler):
    m = reed.style_measures(StandIn(style_sampler, argmax_background, style=False), style_sampler)
    assert m["style_transfer"] is None and m["style_auc"] is None and m["style_loss"] is None
    assert m["coverage"]["distinct_mean"] > 1


def test_the_unconditional_measures_find_the_nearest_of_every_text(sampler):
    rows = np.array([[3, 1, 2], [57, 6, 7], [57, 6, 7], [99, 0, 5]])  # (pair id, bg, fg)

    class Renders:  # "samples" that are true renders, plus a little noise
        def __call__(self, chars, spec):
            chars = np.stack(np.divmod(rows[:, 0], 10), axis=1)
            images = sampler.images(chars, rows[:, 1], rows[:, 2]).numpy()
            return images + np.random.default_rng(0).normal(0, 0.01, images.shape).astype(np.float32)

    u, (_, errors, pair, bg, fg) = reed.unconditional_measures(Renders(), sampler, samples=4)
    assert (
        pair.tolist() == rows[:, 0].tolist()
        and bg.tolist() == rows[:, 1].tolist()
        and fg.tolist() == rows[:, 2].tolist()
    )
    assert u["distinct_texts"] == 3 and u["texts"] == 6400 and u["distinct_pairs"] == 3 and u["pairs"] == 100
    assert u["distinct_colour_pairs"] == 3 and u["mae"] == pytest.approx(errors.mean()) and 0 < u["mae"] < 0.02


def test_the_evaluation_of_a_style_run(result):
    assert result["data"] == "style" and result["holdout"] == "unseen"
    assert result["seen"]["samples"] + result["unseen"]["samples"] == result["samples"] == 400
    assert 0 < result["mae"] < 2 and 0 <= result["readability"] <= 1
    for part in ("seen", "unseen"):
        assert 0 < result[part]["mae"] < 2
    r = result["reed"]
    c = r["coverage"]
    assert (
        1 <= c["distinct_min"] <= c["distinct_mean"] <= c["distinct_max"] <= 8 and c["share"] == c["distinct_mean"] / 8
    )
    assert sum(c["nearest_background_share"].values()) == pytest.approx(1.0)
    t = r["style_transfer"]
    assert 0 < t["mae"] < 2 and 0 <= t["background_match"] <= 1 and t["nearest_mae"] <= t["mae"]
    a = r["style_auc"]
    assert 0 <= a["auc"] <= 1 and a["pairs"] == 256 * 255 // 2
    # the controls: S's architecture untrained (seeded by the run's seed), and the raw pixels
    assert 0 <= a["untrained_auc"] <= 1 and a["untrained_seed"] == 0 and 0.5 < a["pixel_auc"] <= 1
    assert r["style_loss"]["loss"] >= 0 and r["style_loss"]["latent_dim"] == 100


def test_the_same_run_gives_the_same_numbers_and_the_cli_prints_them(style_run, result, tmp_path):
    from typer.testing import CliRunner

    from t2i.cli import app

    out = CliRunner().invoke(app, ["evaluate", str(style_run), "--samples", "400", "-o", str(tmp_path)])
    assert out.exit_code == 0, out.output
    again = json.loads((tmp_path / "evaluation.json").read_text())
    drop = ("seconds", "files")
    assert {k: v for k, v in again.items() if k not in drop} == {k: v for k, v in result.items() if k not in drop}
    for words in ("background coverage", "style transfer", "ROC AUC", "S loss", "hold-out unseen"):
        assert words in out.output


def test_an_old_cached_style_evaluation_is_evaluated_again(style_run, result, tmp_path):
    from t2i.analysis.report import cached_evaluations as ev

    out = tmp_path / "cache"
    out.mkdir()
    old = {k: v for k, v in result.items() if k not in ("version", "reed")}
    (out / "evaluation.json").write_text(json.dumps(old))
    assert ev.cached(Path(style_run), out, 400) is None
    (out / "evaluation.json").write_text(json.dumps(result))
    assert ev.cached(Path(style_run), out, 400) is not None


def test_the_reports_reed_table_means_each_measure_over_seeds_and_leaves_missing_ones_out():
    from pathlib import Path

    from t2i.analysis.report import cached_evaluations as cev

    def result(auc, loss):
        return {
            "reed": {
                "coverage": {"distinct_mean": 4.0},
                "style_transfer": None
                if auc is None
                else {"mae": 0.2, "background_match": 0.5, "random_z": {"background_match": 0.125}},
                "style_auc": None if auc is None else {"auc": auc},
                "style_loss": None if loss is None else {"loss": loss},
            }
        }

    found = [
        cev.Evaluation("a", "A", 0, Path("."), result(0.6, 1.0)),
        cev.Evaluation("a", "A", 1, Path("."), result(0.8, 3.0)),
        cev.Evaluation("b", "B", 0, Path("."), result(None, None)),
        cev.Evaluation("ref", "Ref", 0, Path("."), {"mae": 0.1}),
    ]
    table = cev.reed_table(found)
    assert table["series"].tolist() == ["A", "B"]
    a, b = table.iloc[0], table.iloc[1]
    assert a["seeds"] == 2 and a["style AUC"] == "0.700" and a["S loss"] == "2.000" and a["coverage (of 8)"] == "4.000"
    assert b["style AUC"] == "—" and b["transfer MAE"] == "—" and b["coverage (of 8)"] == "4.000"
    assert cev.reed_table(found[3:]).empty
