"""t2i.data.dataset: sampling, determinism, the curriculum, text shuffling and the GAN's batches."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from t2i.data import render
from t2i.data.dataset import (
    gan_dataset,
    shuffle_text,
    spec_ids,
    supervised_dataset,
    vocab_at_epoch,
)
from t2i.data.vocab import COLOURS, char_labels, decode_chars, encode_spec, spec_colours, spec_text


def seed(a, b=0):
    return tf.constant([a, b], tf.int64)


def colours_of(spec):
    return spec_colours(np.asarray(spec))


def recompose(sampler, chars, spec):
    """The image the given text describes, from the sampler's own mask table."""
    bg, fg = colours_of(spec)
    return sampler.images(tf.constant(char_labels(np.asarray(chars))), tf.constant(bg), tf.constant(fg)).numpy()


def matches_text(sampler, batch):
    """Per row: is the image the composition of its own chars and spec (to float rounding)?"""
    images = recompose(sampler, batch["chars"], batch["spec"])
    # tf.data's graph and eager ops may round differently (seen: 1.2e-7); another text differs by far more.
    return np.all(np.abs(images - np.asarray(batch["images"])) < 1e-5, axis=(1, 2, 3))


def test_batch_shapes_and_ranges(sampler):
    b = sampler.batch(seed(1), 8)
    assert set(b) == {"chars", "spec", "images"}
    assert b["chars"].shape == (8, 2) and b["chars"].dtype == tf.int32
    assert b["spec"].shape == (8, 4) and b["spec"].dtype == tf.int32
    assert b["images"].shape == (8, 32, 32, 3) and b["images"].dtype == tf.float32
    big = sampler.batch(seed(2), 2000, vocab_size=4)
    chars = char_labels(big["chars"].numpy())
    assert chars.min() == 0 and chars.max() == 3  # below the vocabulary, and reaching its end
    images = big["images"].numpy()
    assert images.min() >= -1.0 and images.max() <= 1.0 and images.min() < 0 < images.max()
    bg, fg = colours_of(big["spec"])
    assert set(bg) == set(fg) == set(range(len(COLOURS)))


def test_spec_ids_match_the_tokeniser():
    bg, fg = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    ids = spec_ids(tf.constant(bg.ravel(), tf.int32), tf.constant(fg.ravel(), tf.int32)).numpy()
    for row, b, f in zip(ids, bg.ravel(), fg.ravel()):
        np.testing.assert_array_equal(row, encode_spec(spec_text(COLOURS[b], COLOURS[f])))


def test_images_equal_the_reference_renderer(sampler):
    b = sampler.batch(seed(3), 4)
    bg, fg = colours_of(b["spec"])
    for k in range(2):
        ref = render.render_reference(decode_chars(b["chars"][k].numpy()), COLOURS[bg[k]], COLOURS[fg[k]])
        err = np.abs(b["images"][k].numpy() - ref) / 2  # in [0, 1] units, as in test_render
        assert err.max() <= 2.5 / 255


def test_fg_equal_bg_is_rare_but_possible(sampler):
    _, bg, fg = sampler.draw_labels(seed(4), 20000, 10)
    same = np.mean(bg.numpy() == fg.numpy())
    # One redraw: P(fg == bg) = 1/8 * 1/8 = 1/64 ~ 0.0156 (0.125 without it); std ~ 0.0009 here.
    assert 0.011 < same < 0.021


def test_batch_is_a_pure_function_of_its_seed(sampler):
    a, b, c = sampler.batch(seed(5, 7), 8), sampler.batch(seed(5, 7), 8), sampler.batch(seed(5, 8), 8)
    for k in a:
        np.testing.assert_array_equal(a[k].numpy(), b[k].numpy())
    assert not np.array_equal(a["images"].numpy(), c["images"].numpy())


def _as_numpy(tree):
    return tf.nest.map_structure(lambda t: t.numpy(), tree)


def test_gan_dataset_is_a_function_of_the_step(sampler, tiny_cfg):
    cfg = tiny_cfg()
    first_two = [_as_numpy(e) for e in gan_dataset(sampler, cfg).take(2)]
    again = _as_numpy(next(iter(gan_dataset(sampler, cfg))))
    resumed = _as_numpy(next(iter(gan_dataset(sampler, cfg, start_step=1))))
    tf.nest.map_structure(np.testing.assert_array_equal, first_two[0], again)
    tf.nest.map_structure(np.testing.assert_array_equal, first_two[1], resumed)  # a resumed run's batches
    assert not np.array_equal(first_two[0]["g"]["images"], first_two[1]["g"]["images"])
    other_seed = _as_numpy(next(iter(gan_dataset(sampler, tiny_cfg("seed=1")))))
    assert not np.array_equal(first_two[0]["g"]["chars"], other_seed["g"]["chars"])


def test_supervised_dataset(sampler):
    (chars, spec), images = next(iter(supervised_dataset(sampler, 6, seed=0)))
    assert chars.shape == (6, 2) and spec.shape == (6, 4) and images.shape == (6, 32, 32, 3)
    assert chars.dtype == spec.dtype == tf.int32 and images.dtype == tf.float32
    b = {"chars": chars.numpy(), "spec": spec.numpy(), "images": images.numpy()}
    assert matches_text(sampler, b).all()
    (_, _), second = list(supervised_dataset(sampler, 6, seed=0).take(2))[1]
    assert not np.array_equal(second.numpy(), images.numpy())


def test_vocab_at_epoch_constant_without_curriculum():
    for epoch in (0, 7, 10_000):
        assert vocab_at_epoch(epoch, 10, None, 500, 10) == 10
        assert int(vocab_at_epoch(tf.constant(epoch), 62, None, 500, 10)) == 62


def test_vocab_at_epoch_curriculum():
    expected = {0: 10, 499: 10, 500: 11, 509: 11, 510: 12, 519: 12, 520: 13, 1009: 61, 1010: 62, 5000: 62}
    for epoch, vocab in expected.items():
        assert vocab_at_epoch(epoch, 62, 10, 500, 10) == vocab, epoch
    epochs = np.arange(0, 1600)
    py = [vocab_at_epoch(int(e), 62, 10, 500, 10) for e in epochs]
    tensor = vocab_at_epoch(tf.constant(epochs, tf.int32), 62, 10, 500, 10).numpy()
    np.testing.assert_array_equal(py, tensor)
    assert np.all(np.diff(py) >= 0) and py[-1] == 62
    # A small schedule: start 3, one more every 2 epochs from epoch 1, capped at 5.
    assert [vocab_at_epoch(e, 5, 3, 1, 2) for e in range(7)] == [3, 4, 4, 5, 5, 5, 5]


def test_shuffle_text_permutes_rows():
    chars = tf.constant(np.stack([np.arange(16), np.arange(16) + 100], 1), tf.int32)
    spec = tf.constant(np.stack([np.arange(5) + 10 * k for k in range(16)]), tf.int32)
    modes = set()
    for s in range(40):
        c, p = (t.numpy() for t in shuffle_text(seed(s), chars, spec, 0.75, 0.2))
        # Rows move whole, so each output is a permutation of the input's rows...
        assert sorted(map(tuple, c)) == sorted(map(tuple, chars.numpy()))
        assert sorted(map(tuple, p)) == sorted(map(tuple, spec.numpy()))
        changed = (not np.array_equal(c, chars.numpy()), not np.array_equal(p, spec.numpy()))
        assert any(changed)  # ... and at least one of chars or spec is really shuffled
        modes.add(changed)
        again = [t.numpy() for t in shuffle_text(seed(s), chars, spec, 0.75, 0.2)]
        np.testing.assert_array_equal(again[0], c)
        np.testing.assert_array_equal(again[1], p)
    assert modes == {(True, False), (False, True), (True, True)}  # chars only, spec only, both
    only_chars = shuffle_text(seed(0), chars, spec, 1.0, 0.0)
    np.testing.assert_array_equal(only_chars[1].numpy(), spec.numpy())
    only_spec = shuffle_text(seed(0), chars, spec, 0.0, 0.0)
    np.testing.assert_array_equal(only_spec[0].numpy(), chars.numpy())


def test_gan_dataset_mismatched_batch(sampler, tiny_cfg):
    cfg = tiny_cfg("data.batch_size=16")
    assert list(cfg.gan.d_substeps) == ["fake", "real", "mismatched", "real"]
    element = _as_numpy(next(iter(gan_dataset(sampler, cfg))))
    assert set(element) == {"d", "g", "seed", "g_turn"} and element["seed"].shape == (2,)
    d = element["d"]
    assert len(d) == 4
    for b in (*d, element["g"]):
        assert b["chars"].shape == (16, 2) and b["spec"].shape == (16, 4) and b["images"].shape == (16, 32, 32, 3)
    for k in (0, 1, 3):  # fake (its images are the truth for the text), real, real
        assert matches_text(sampler, d[k]).all(), k
    assert matches_text(sampler, element["g"]).all()
    # The mismatched batch's images were drawn for the text before it was shuffled.
    assert np.mean(~matches_text(sampler, d[2])) >= 0.5


def test_gan_dataset_without_shuffle(sampler, tiny_cfg):
    cfg = tiny_cfg("+ablation=shuffle", "data.batch_size=16")
    for element in gan_dataset(sampler, cfg).take(2):
        element = _as_numpy(element)
        assert len(element["d"]) == 2
        for b in element["d"]:
            assert matches_text(sampler, b).all()


def test_gan_dataset_curriculum_limits_chars(sampler, tiny_cfg):
    # steps_per_epoch 2: steps 0-1 are epoch 0 (vocab 3), steps 2-3 epoch 1 (vocab 4), then 5, capped at 5.
    cfg = tiny_cfg(
        "trainer.steps_per_epoch=2",
        "data.batch_size=64",
        "data.curriculum.start_vocab=3",
        "data.curriculum.start_epoch=1",
        "data.curriculum.every=1",
        "data.vocab_size=5",
    )
    maxima = []
    for element in gan_dataset(sampler, cfg).take(8):
        maxima.append(max(int(char_labels(b["chars"].numpy()).max()) for b in (*element["d"], element["g"])))
    assert maxima == [2, 2, 3, 3, 4, 4, 4, 4]
