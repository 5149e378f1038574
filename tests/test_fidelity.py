"""The default configuration is the reference's GAN (tf-text2image): each semantic point on the built
networks or on one train step. The facts come from the reference's source; see issue 10's list."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from t2i.data import render, vocab
from t2i.data.dataset import gan_dataset
from t2i.models.layers import MinibatchDiscrimination
from t2i.training.run import build_gan


def _params(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.weights))


# --- networks ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("ablation, discriminator", [("baseline", 203_085), ("mbd", 267_110)])
def test_parameter_counts_equal_the_reference(tiny_cfg, ablation, discriminator):
    """Counts as the reference's models report them (the text encoder is inside G and D there)."""
    gan = build_gan(tiny_cfg(f"+ablation={ablation}"), None)
    te = _params(gan.text_encoder)
    assert te == 3_852
    assert te + _params(gan.generator) == 97_359
    assert te + _params(gan.discriminator) == discriminator


def test_tokens_are_numbered_as_the_reference_tokenizers_number_them():
    # Characters: the alphabet plus "$", ids from 1 (0 pads), one out-of-vocabulary id.
    assert vocab.CHAR_TOKENS == 65
    np.testing.assert_array_equal(vocab.encode_chars("09"), [1, 10])
    np.testing.assert_array_equal(vocab.encode_chars("aZ"), [11, 62])
    # The spec splits on spaces: four words, and the background colour keeps its comma.
    assert vocab.SPEC_TOKENS == 21 and vocab.SPEC_LENGTH == 4
    assert vocab.SPEC_WORDS[:6] == ("$", "backgroundcolor", "black", "black,", "blue", "blue,")
    red_on_red = vocab.encode_spec("backgroundcolor red, color red")
    assert red_on_red[1] == vocab.SPEC_WORDS.index("red,") + 1 != red_on_red[3] == vocab.SPEC_WORDS.index("red") + 1


def _inbound(model, name):
    """Names of the layers feeding layer `name`."""
    node = model.get_layer(name)._inbound_nodes[0]
    return [t._keras_history[0].name for t in node.input_tensors]


def test_discriminator_block_skips_before_any_activation(tiny_cfg):
    d = build_gan(tiny_cfg(), None).discriminator
    # The residual branch starts with LeakyReLU(0.1) of the dropped-out strided conv; the skip is that map.
    (act,) = _inbound(d, "block1_res")
    assert isinstance(d.get_layer(act), keras.layers.LeakyReLU)
    assert d.get_layer(act).negative_slope == pytest.approx(0.1)
    (dropout,) = _inbound(d, act)
    assert isinstance(d.get_layer(dropout), keras.layers.Dropout) and _inbound(d, dropout) == ["block1_down"]
    add = next(
        layer for layer in d.layers if isinstance(layer, keras.layers.Add) and "block1_res" in _inbound(d, layer.name)
    )
    assert sorted(_inbound(d, add.name)) == sorted([dropout, "block1_res"])
    head = d.get_layer("head")
    assert isinstance(head.activation, keras.layers.LeakyReLU) and head.activation.negative_slope == pytest.approx(0.1)


def test_generator_block_skips_the_normalised_map_and_has_no_bias(tiny_cfg):
    g = build_gan(tiny_cfg(), None).generator
    assert not g.get_layer("block0_up").use_bias
    (act,) = _inbound(g, "block0_res")
    assert isinstance(g.get_layer(act), keras.layers.LeakyReLU) and _inbound(g, act) == ["block0_norm"]
    add = next(
        layer for layer in g.layers if isinstance(layer, keras.layers.Add) and "block0_res" in _inbound(g, layer.name)
    )
    assert sorted(_inbound(g, add.name)) == ["block0_norm", "block0_res"]


def test_minibatch_discrimination_starts_unsaturated():
    layer = MinibatchDiscrimination(25, 5)
    layer.build((None, 512))
    assert tuple(layer.tensor.shape) == (25, 512, 5)
    std = float(np.std(layer.tensor.numpy()))
    assert std == pytest.approx(1 / np.sqrt(512 * 25), rel=0.1)  # LeCun normal over fan-in 512 x 25
    features = np.random.default_rng(0).normal(size=(16, 512)).astype(np.float32) * 0.3
    out = layer(features).numpy()
    assert out.min() > 1.5  # the other samples are close: exp(-distance) is far from 0 at the start


# --- the train step ----------------------------------------------------------------------------------


def test_one_batch_serves_the_whole_step(tiny_cfg, sampler):
    element = next(iter(gan_dataset(sampler, tiny_cfg())))
    fake, real, mismatched, real_again = element["d"]
    for batch in (real, mismatched, real_again, element["g"]):
        np.testing.assert_array_equal(batch["images"].numpy(), fake["images"].numpy())
    np.testing.assert_array_equal(element["g"]["chars"].numpy(), fake["chars"].numpy())
    # D sees the same real images under shuffled text: chars and specs permuted within the batch.
    for key in ("chars", "spec"):
        assert sorted(map(tuple, mismatched[key].numpy().tolist())) == sorted(map(tuple, real[key].numpy().tolist()))
    assert not np.array_equal(mismatched["chars"].numpy(), real["chars"].numpy()) or not np.array_equal(
        mismatched["spec"].numpy(), real["spec"].numpy()
    )
    assert bool(element["g_turn"])


def test_fresh_batches_draw_a_batch_per_update(tiny_cfg, sampler):
    element = next(iter(gan_dataset(sampler, tiny_cfg("+ablation=fresh_batches"))))
    images = [b["images"].numpy().tobytes() for b in (*element["d"], element["g"])]
    assert len(set(images)) == 5


def _g_losses(gan, element, times=2):
    feats = gan.features(element["g"])
    return [float(gan.g_objective(element["g"], feats, tf.constant([1, 2], tf.int64))) for _ in range(times)]


def test_d_runs_in_training_mode_inside_g_step(tiny_cfg, sampler):
    """Same weights, same batch, same seed: only D's dropout and input noise can make G's loss vary."""
    element = next(iter(gan_dataset(sampler, tiny_cfg())))
    first, second = _g_losses(build_gan(tiny_cfg(), None), element)
    assert first != second
    first, second = _g_losses(build_gan(tiny_cfg("+ablation=g_step_d_eval"), None), element)
    assert first == second


def test_g_step_leaves_d_and_the_text_encoder_alone(tiny_cfg, sampler):
    gan = build_gan(tiny_cfg(), None)
    element = next(iter(gan_dataset(sampler, tiny_cfg())))
    frozen = [w.copy() for w in gan.discriminator.get_weights() + gan.text_encoder.get_weights()]
    g_before = [w.copy() for w in gan.generator.get_weights()]
    gan.g_update(element["g"], tf.constant([1, 2], tf.int64))
    for a, b in zip(frozen, gan.discriminator.get_weights() + gan.text_encoder.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(g_before, gan.generator.get_weights()))


def test_disc_steps_trains_g_on_every_second_batch_of_an_epoch(tiny_cfg, sampler):
    cfg = tiny_cfg("+ablation=disc_steps", "trainer.steps_per_epoch=3")
    turns = [bool(e["g_turn"]) for e in gan_dataset(sampler, cfg).take(6)]
    assert turns == [True, False, True, True, False, True]  # batch index within the epoch decides
    gan = build_gan(cfg, None)
    element = next(iter(gan_dataset(sampler, cfg, start_step=1)))
    g_before = [w.copy() for w in gan.generator.get_weights()]
    d_before = [w.copy() for w in gan.discriminator.get_weights()]
    gan.train_step(element)
    assert all(np.array_equal(a, b) for a, b in zip(g_before, gan.generator.get_weights()))
    assert any(not np.array_equal(a, b) for a, b in zip(d_before, gan.discriminator.get_weights()))


def test_wgan_critic_updates_as_the_reference(tiny_cfg, sampler):
    cfg = tiny_cfg("+ablation=wgan")
    gan = build_gan(cfg, None)
    assert list(gan.d_step.names) == ["d0_fake", "d1_permuted"]
    assert int(gan.d_optimizer.iterations) == 0
    te_before = [w.copy() for w in gan.text_encoder.get_weights()]
    gan.train_generator.assign(False)
    logs = gan.train_step(next(iter(gan_dataset(sampler, cfg))))
    assert int(gan.d_optimizer.iterations) == 2  # two critic updates, no labelled sub-steps
    assert float(logs["gp"]) > 0
    for a, b in zip(te_before, gan.text_encoder.get_weights()):  # the critic leaves the encoder alone
        np.testing.assert_array_equal(a, b)


def test_wgan_learning_rates_halve_every_250_epochs_of_own_updates(tiny_cfg):
    gan = build_gan(tiny_cfg("+ablation=wgan", "trainer.steps_per_epoch=32"), None)
    for opt in (gan.d_optimizer, gan.g_optimizer):
        schedule = opt._learning_rate
        rates = [float(schedule(tf.constant(it))) for it in (0, 7998, 7999, 15999)]
        assert rates == pytest.approx([5e-4, 5e-4, 2.5e-4, 1.25e-4])


def test_d_trains_the_text_encoder_in_the_labelled_step(tiny_cfg, sampler):
    gan = build_gan(tiny_cfg(), None)
    before = [w.copy() for w in gan.text_encoder.get_weights()]
    gan.train_generator.assign(False)
    gan.train_step(next(iter(gan_dataset(sampler, tiny_cfg()))))
    assert int(gan.d_optimizer.iterations) == 4
    assert any(not np.array_equal(a, b) for a, b in zip(before, gan.text_encoder.get_weights()))


# --- data --------------------------------------------------------------------------------------------


def _reference_recipe(chars: str, bg: str, fg: str) -> np.ndarray:
    """The reference's render, line by line from its recipe, with pyplot and default rcParams."""
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, frameon=False)
    ax.set_position([0.0, 0.0, 1.0, 1.0])
    ax.set_axis_off()
    ax.text(0.5, 0.5, chars, horizontalalignment="center", verticalalignment="center", fontsize=300,
            backgroundcolor=bg, color=fg)  # fmt: skip
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(np.int32)
    plt.close(fig)
    image = tf.image.resize(rgb, [32, 32]) / 255.0
    return image.numpy() * 2.0 - 1.0


def test_fast_composite_equals_the_reference_recipe():
    rng = np.random.default_rng(10)
    worst = 0.0
    for _ in range(12):
        text = "".join(rng.choice(list(vocab.FULL_ALPHABET), 2))
        bg, fg = rng.integers(0, 8, 2)
        masks = render.coverage_masks(text, 32)[None]
        fast = render.compose(masks, render.COLOUR_RGB[bg][None], render.COLOUR_RGB[fg][None]).numpy()[0]
        truth = _reference_recipe(text, vocab.COLOURS[bg], vocab.COLOURS[fg])
        worst = max(worst, float(np.abs(fast - truth).max()) / 2 * 255)
    assert worst <= 2.5
