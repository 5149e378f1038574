"""The style data (`data.spec=text_colour`: the background drawn, never named), the unconditional GAN
(`gan.conditional=false`) and the Reed study's plan: what the spec holds, the nearest-render MAE, the checks."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from t2i.config import ConfigError
from t2i.data import vocab
from t2i.data.dataset import SPECS, TextImageSampler, eval_set, gan_dataset
from t2i.store import part1
from t2i.sweeps import study
from t2i.training import callbacks as cb


@pytest.fixture(scope="module")
def style_sampler(t2i_cache_dir):
    return TextImageSampler(10, 32, t2i_cache_dir, spec="text_colour")


def test_a_spec_without_a_background_is_padding_there_and_reads_back():
    tokens = vocab.spec_tokens(np.array([vocab.UNNAMED, 2]), np.array([1, 3]))
    assert tokens[0, :2].tolist() == [0, 0] and tokens[0, 2:].tolist() == vocab.spec_tokens(0, 1)[2:].tolist()
    assert tokens[1].tolist() == vocab.encode_spec("backgroundcolor red, color cyan").tolist()
    assert vocab.encode_spec("color green").tolist() == tokens[0].tolist()
    assert vocab.decode_spec(tokens[0]) == "color green"
    bg, fg = vocab.spec_colours(tokens)
    assert bg.tolist() == [vocab.UNNAMED, 2] and fg.tolist() == [1, 3]
    with pytest.raises(vocab.VocabularyError, match="unknown colour 'teal'"):
        vocab.encode_spec("color teal")


def test_the_style_data_draws_what_the_reference_draws_but_never_names_the_background(sampler, style_sampler):
    s = tf.constant([7, 1], tf.int64)
    full, style = sampler.batch(s, 256, labels=True), style_sampler.batch(s, 256, labels=True)
    np.testing.assert_array_equal(full["images"], style["images"])  # the same draws, the same true images
    np.testing.assert_array_equal(full["chars"], style["chars"])
    assert (np.asarray(style["spec"])[:, :2] == 0).all()
    np.testing.assert_array_equal(np.asarray(style["spec"])[:, 2:], np.asarray(full["spec"])[:, 2:])
    assert len(set(np.asarray(style["bg"]).tolist())) == 8  # backgrounds still vary: the style
    assert list(SPECS) == ["full", "text_colour"]


def test_a_texts_true_images_are_its_eight_renders(style_sampler):
    ev = eval_set(style_sampler, 16)
    renders = style_sampler.renders_over_backgrounds(tf.constant(ev["pairs"]), tf.constant(ev["fg"])).numpy()
    assert renders.shape == (16, 8, 32, 32, 3)
    rows = np.arange(16)
    np.testing.assert_array_equal(renders[rows, ev["bg"]], ev["images"])  # the drawn one is among them


def test_nearest_is_the_exact_minimum_and_names_its_image():
    rng = np.random.default_rng(0)
    truths = rng.uniform(-1, 1, (5, 8, 4, 4, 3)).astype(np.float32)
    fake = truths[np.arange(5), [3, 0, 7, 1, 1]] + 0.01
    mae, mse, index = cb.nearest(fake, truths, chunk=2)
    assert index.tolist() == [3, 0, 7, 1, 1]
    np.testing.assert_allclose(mae, 0.01, rtol=1e-4)
    np.testing.assert_allclose(mse, 1e-4, rtol=1e-3)
    brute = np.abs(fake[:, None] - truths).mean(axis=(2, 3, 4)).min(axis=1)
    np.testing.assert_allclose(mae, brute)
    shared, _, idx = cb.nearest(fake[:2], truths[0])  # [K, ...] shared by every sample
    np.testing.assert_allclose(shared, np.abs(fake[:2, None] - truths[0][None]).mean(axis=(2, 3, 4)).min(axis=1))
    assert idx.shape == (2,)


def test_what_evaluation_compares_with(tiny_cfg, sampler, style_sampler):
    assert cb.true_images_of(tiny_cfg(), sampler, eval_set(sampler, 8)) is None  # the reference's: bit for bit
    ev = eval_set(style_sampler, 8)
    assert cb.true_images_of(tiny_cfg("+ablation=style"), style_sampler, ev).shape == (8, 8, 32, 32, 3)
    every = cb.true_images_of(tiny_cfg("+ablation=dcgan"), sampler, eval_set(sampler, 8))
    assert every.shape == (10 * 10 * 8 * 8, 32, 32, 3)


def test_the_style_data_trains_on_texts_that_name_no_background(tiny_cfg, style_sampler):
    cfg = tiny_cfg("+ablation=[reed_int_cls,style]")
    element = next(iter(gan_dataset(style_sampler, cfg)))
    for b in (*element["d"], element["g"]):
        assert (np.asarray(b["spec"])[:, :2] == 0).all()


def test_the_checks(tiny_cfg):
    with pytest.raises(ConfigError, match="data.spec='bg' is not one of full, text_colour"):
        tiny_cfg("data.spec=bg")
    with pytest.raises(ConfigError, match="gan.conditional=false needs a latent z"):
        tiny_cfg("gan.conditional=false")
    with pytest.raises(ConfigError, match="gan.cls_weight > 0 shows D images under wrong texts"):
        tiny_cfg("+ablation=dcgan", "gan.cls_weight=0.5")


def test_part1_learns_from_the_runs_texts_and_old_entries_keep_their_digest(tiny_cfg):
    plain, style = part1.needs(tiny_cfg()), part1.needs(tiny_cfg("+ablation=style"))
    assert "spec" not in plain and style["spec"] == "text_colour"
    assert part1.entry(tiny_cfg()) != part1.entry(tiny_cfg("+ablation=style"))


def test_a_part1_entry_of_the_style_data_is_read_and_evaluated_as_the_style_data(tiny_cfg, tmp_path):
    """Its G learned texts that name no background: `t2i evaluate`, `generate` and the report's Part 1 row must
    give it such texts and score it against the nearest of the eight renders, as they do the style runs."""
    from t2i.analysis.evaluation import EVALUATION_VERSION
    from t2i.analysis.report.cached_evaluations import _version_wanted
    from t2i.data.dataset import data_spec

    for overrides, spec, version in (((), "full", None), (("+ablation=style",), "text_colour", EVALUATION_VERSION)):
        entry = tmp_path / "pretrain" / spec
        entry.mkdir(parents=True)
        part1.write_result(entry, {"needs": part1.needs(tiny_cfg(*overrides))})
        assert data_spec(part1.model_config(entry)) == spec and _version_wanted(entry) == version


def test_the_reed_study_runs_combinations_under_their_series_names(tiny_cfg):
    plan = study.load("reed")
    assert plan.seeds == {
        "reed_gan+style+unseen": 3,
        "reed_cls+style+unseen": 3,
        "reed_int+style+unseen": 3,
        "reed_int_cls+style+unseen": 3,
        "unseen": 3,
        "dcgan+unseen": 1,
        "reed_int_cls+style+unseen+mbd": 3,
    }
    for series in plan.series:
        cfg = tiny_cfg(f"+ablation={study._ablations(series)}")
        assert cfg.name == series and cfg.data.holdout == "unseen"
        assert cfg.data.spec == ("text_colour" if "style" in series else "full")
    assert plan.multiruns()[1] == ["+ablation=[dcgan,unseen]", "seed=0"]
