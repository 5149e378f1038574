"""t2i.data.holdout (`data.holdout`): combinations held out of training, every character and colour still seen;
`none` draws what training drew before; validation; the seen/unseen split of the evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from t2i.config import ConfigError
from t2i.data import holdout as ho
from t2i.data.dataset import TextImageSampler, eval_set, gan_dataset, supervised_dataset
from t2i.data.vocab import COLOURS, DIGITS, char_labels, spec_colours

UNSEEN = ho.HOLDOUTS["unseen"]


def seed(a, b=0):
    return tf.constant([a, b], tf.int64)


@pytest.fixture(scope="module")
def held_sampler(t2i_cache_dir):
    return TextImageSampler(10, 32, t2i_cache_dir, UNSEEN)


def labels(batch):
    chars = char_labels(np.asarray(batch["chars"]))
    bg, fg = spec_colours(np.asarray(batch["spec"]))
    return chars, bg, fg


def test_the_unseen_sets_are_the_documented_ones():
    pairs = {f"{i}{(i + 3) % 10}" for i in range(10)} | {f"{i}{(i + 7) % 10}" for i in range(10)}
    assert set(UNSEEN.pairs) == pairs and len(UNSEEN.pairs) == 20
    assert UNSEEN.colours == tuple((COLOURS[i], COLOURS[(i + 3) % 8]) for i in range(8))
    assert ho.HOLDOUTS["none"] is None
    with pytest.raises(KeyError, match="unknown hold-out 'nope'"):
        ho.HOLDOUTS["nope"]


def test_training_never_draws_an_unseen_combination_but_every_character_and_colour(held_sampler):
    """200 batches of 64 through the real sampler, as gan_dataset calls it (a tensor vocabulary)."""
    draw = tf.function(lambda s: held_sampler.batch(s, 64, tf.constant(10)))
    drawn = [labels(draw(seed(7, step))) for step in range(200)]
    chars = np.concatenate([d[0] for d in drawn])
    bg, fg = (np.concatenate([d[k] for d in drawn]) for k in (1, 2))
    assert not UNSEEN.unseen(chars, bg, fg, 10).any()
    assert set(chars[:, 0]) == set(chars[:, 1]) == set(range(10))  # each digit in each position
    assert set(bg) == set(fg) == set(range(len(COLOURS)))  # each colour as background and as text
    allowed = {(a, b) for a in range(10) for b in range(10)} - {(int(p[0]), int(p[1])) for p in UNSEEN.pairs}
    assert {tuple(c) for c in chars} == allowed  # uniform over the 80 allowed pairs reaches them all
    # Colours as the reference draws them, less the held-out pairs: bg == fg stays rare (8 of 440 draws).
    assert 0.010 < np.mean(bg == fg) < 0.027
    # The images are those of the labels.
    b = held_sampler.batch(seed(8), 16)
    c, g, f = labels(b)
    np.testing.assert_allclose(held_sampler.images(c, g, f).numpy(), b["images"].numpy(), atol=1e-5)


def test_draws_are_a_pure_function_of_the_seed(held_sampler):
    a, b, c = (held_sampler.batch(s, 32) for s in (seed(1, 2), seed(1, 2), seed(1, 3)))
    for k in a:
        np.testing.assert_array_equal(a[k].numpy(), b[k].numpy())
    assert not np.array_equal(a["chars"].numpy(), c["chars"].numpy())


def test_none_draws_exactly_what_training_drew_before(sampler, t2i_cache_dir):
    """A sampler with no hold-out takes the unchanged code path; `everything` takes it with a hold-out too."""
    held = TextImageSampler(10, 32, t2i_cache_dir, UNSEEN)
    s = seed(3, 4)
    before = tf.random.experimental.stateless_split(s, 4)  # the reference's draws, written out
    chars = tf.random.stateless_uniform([64, 2], before[0], 0, 10, dtype=tf.int32)
    bg = tf.random.stateless_uniform([64], before[1], 0, 8, dtype=tf.int32)
    fg = tf.random.stateless_uniform([64], before[2], 0, 8, dtype=tf.int32)
    fg = tf.where(fg == bg, tf.random.stateless_uniform([64], before[3], 0, 8, dtype=tf.int32), fg)
    for drawn in (sampler.draw_labels(s, 64, 10), held.draw_labels(s, 64, 10, everything=True)):
        for got, want in zip(drawn, (chars, bg, fg)):
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    # The evaluation set holds every combination whatever the hold-out: the same set.
    for k, v in eval_set(sampler, 64).items():
        np.testing.assert_array_equal(eval_set(held, 64)[k], v)
    assert UNSEEN.unseen(*labels(eval_set(held, 64)), 10).any()


def test_pairs_beyond_the_digits_are_all_allowed_and_the_curriculum_samples(t2i_cache_dir):
    sampler = TextImageSampler(12, 32, t2i_cache_dir, UNSEEN)
    pairs, counts = UNSEEN.allowed_pairs(12)
    assert len(pairs) == 144 - 20 and list(counts[:11]) == [0, 1, 4, 9, 14, 21, 30, 41, 52, 65, 80]
    for vocab in (1, 4, 10, 12):
        chars, bg, fg = (t.numpy() for t in sampler.draw_labels(seed(5, vocab), 4000, tf.constant(vocab)))
        assert chars.max() == vocab - 1 and not UNSEEN.unseen(chars, bg, fg, 12).any()
        assert not UNSEEN.colour_mask()[bg, fg].any()
    beyond = chars[(chars >= 10).any(axis=1)]
    assert len({tuple(c) for c in beyond}) == 144 - 100  # every pair with a letter is drawn


def test_gan_and_part1_datasets_respect_the_hold_out(tiny_cfg, t2i_cache_dir, monkeypatch):
    from t2i.data import render
    from tests.golden.harness import synthetic_mask_table

    # Which texts are drawn depends on labels alone: seeded stand-in masks spare rendering 3,844 pairs (~30 s).
    monkeypatch.setattr(render, "mask_table", synthetic_mask_table)
    cfg = tiny_cfg("data.holdout=unseen", "+ablation=increment_vocab")
    sampler = TextImageSampler(cfg.data.vocab_size, 32, t2i_cache_dir, ho.of(cfg))
    for element in gan_dataset(sampler, cfg).take(3):
        for b in (*element["d"], element["g"]):
            assert not UNSEEN.unseen(*labels(b), cfg.data.vocab_size).any()
    part1 = TextImageSampler(cfg.pretrain.vocab_size, 32, t2i_cache_dir, ho.of(cfg))
    for (chars, spec), _ in supervised_dataset(part1, 256, 0).take(2):
        bg, fg = spec_colours(spec.numpy())
        assert not UNSEEN.unseen(char_labels(chars.numpy()), bg, fg, cfg.pretrain.vocab_size).any()


def test_validation(tiny_cfg, monkeypatch):
    assert tiny_cfg().data.holdout == "none"
    assert tiny_cfg("data.holdout=unseen", "data.vocab_size=62").data.holdout == "unseen"
    with pytest.raises(ConfigError, match="data.holdout='nope' is not one of none, unseen"):
        tiny_cfg("data.holdout=nope")
    with pytest.raises(ConfigError, match="'56789' lie outside the vocabulary '01234'") as err:
        tiny_cfg("data.holdout=unseen", "data.vocab_size=5")
    assert "\n" not in str(err.value)
    monkeypatch.setitem(ho.HOLDOUTS, "all_pairs", ho.HoldOut(tuple(a + b for a in DIGITS for b in DIGITS)))
    with pytest.raises(ConfigError, match="holds out every character pair of a vocabulary of 10"):
        tiny_cfg("data.holdout=all_pairs")
    monkeypatch.setitem(ho.HOLDOUTS, "all_colours", ho.HoldOut((), tuple((b, f) for b in COLOURS for f in COLOURS)))
    with pytest.raises(ConfigError, match="every \\(background, text colour\\) pair"):
        tiny_cfg("data.holdout=all_colours")
    monkeypatch.setitem(ho.HOLDOUTS, "first_pairs", ho.HoldOut(("00", "01", "10", "11")))
    with pytest.raises(ConfigError, match="vocabulary of 2 \\(the curriculum's start\\)"):
        tiny_cfg("data.holdout=first_pairs", "+ablation=increment_vocab", "data.curriculum.start_vocab=2")


def test_the_part1_cache_key_holds_the_hold_out_only_when_there_is_one(tiny_cfg):
    from t2i.store import part1

    plain, held = part1.needs(tiny_cfg()), part1.needs(tiny_cfg("data.holdout=unseen"))
    assert "holdout" not in plain  # entries made before data.holdout existed keep their digest
    assert held.pop("holdout")["pairs"] == list(UNSEEN.pairs) and held == plain


def test_training_logs_mae_seen_and_unseen_and_evaluate_reports_them(tiny_cfg, tmp_path):
    import pandas as pd

    from t2i.analysis.evaluation import evaluate, format_table
    from t2i.training.run import train

    # No Part 1 (its own cache entry under the hold-out): the split is what is checked, not what was learned.
    cfg = tiny_cfg("data.holdout=unseen", "trainer.run_eagerly=true", "gan.text_encoder_init=random")
    train(cfg)
    df = pd.read_csv(Path(cfg.run_dir) / "metrics.csv")
    for col in ("mae", "mae_seen", "mae_unseen"):
        assert np.isfinite(df[col]).all() and (df[col] > 0).all(), col
    result = evaluate(cfg.run_dir, samples=400, output_dir=tmp_path / "eval")
    assert result["holdout"] == "unseen"
    assert result["seen"]["samples"] + result["unseen"]["samples"] == result["samples"]
    for part in ("seen", "unseen"):
        assert 0 < result[part]["mae"] < 2 and 0 <= result[part]["readability"] <= 1
    table = format_table(result)
    assert "hold-out unseen" in table and "seen" in table and "unseen" in table


def test_the_report_overview_shows_seen_and_unseen_beside_the_overall_numbers():
    from t2i.analysis.report import cached_evaluations as ev

    base = {"samples": 6400, "mae": 0.3, "readability": 0.5}
    held = {
        **base,
        "holdout": "unseen",
        "seen": {"samples": 5120, "mae": 0.2, "readability": 0.6},
        "unseen": {"samples": 1280, "mae": 0.5, "readability": 0.1},
    }
    plain = ev.long_table([ev.Evaluation("baseline", "Baseline", 0, Path("."), base)])
    assert not ev.has_holdout(plain) and list(ev.overview(plain)) == [
        "series",
        "seeds",
        "samples",
        "MAE",
        "readability",
    ]
    both = ev.long_table(
        [ev.Evaluation("baseline", "Baseline", 0, Path("."), base), ev.Evaluation("h", "Held", 0, Path("."), held)]
    )
    rows = ev.overview(both).set_index("series")
    assert rows.loc["Held", ["MAE seen", "MAE unseen", "readability seen", "readability unseen"]].tolist() == [
        "0.200",
        "0.500",
        "0.600",
        "0.100",
    ]
    assert rows.loc["Baseline", "MAE unseen"] == "—"
    assert rows.loc["Held", "unseen samples"] == "1280" and rows.loc["Baseline", "unseen samples"] == "—"


def test_a_part1_entry_trained_under_a_hold_out_is_evaluated_with_it(tiny_cfg, tmp_path):
    from t2i.store import part1

    for overrides, name in (((), "none"), (("data.holdout=unseen",), "unseen")):
        entry = tmp_path / "pretrain" / name
        entry.mkdir(parents=True)
        part1.write_result(entry, {"needs": part1.needs(tiny_cfg(*overrides))})
        assert part1.model_config(entry).data.holdout == name
