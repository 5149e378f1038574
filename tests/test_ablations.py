"""Every ablation in conf/ablation/: the config delta its name promises, and its effect on the built GAN.

A new ablation file fails test_every_ablation_has_checks until it gets an expected delta and an effect check.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from omegaconf import OmegaConf

from t2i import losses
from t2i.config import ConfigError, available, compose_config
from t2i.data.dataset import SPECS, TextImageSampler, gan_dataset
from t2i.data.vocab import char_labels, spec_colours
from t2i.models.layers import MinibatchDiscrimination
from t2i.store import part1, rundir
from t2i.training import callbacks as cb
from t2i.training import optim, run
from t2i.training.g_terms import Adversarial
from t2i.training.gan import ConditionalGAN
from t2i.training.run import build_gan
from tests.golden import harness as golden

ABLATIONS = available("ablation")

IDENTITY_KEYS = {"name", "label", "series", "run_dir"}


def _flat(cfg) -> dict:
    out = {}

    def walk(node, prefix):
        for k, v in node.items():
            if isinstance(v, dict) and v and k != "series":
                walk(v, f"{prefix}{k}.")
            else:
                out[f"{prefix}{k}"] = v

    walk(OmegaConf.to_container(cfg, resolve=True), "")
    return out


def _delta(cfg, base) -> dict:
    a, b = _flat(cfg), _flat(base)
    assert set(a) == set(b)
    return {k: a[k] for k in a if a[k] != b[k] and k not in IDENTITY_KEYS}


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


def tiny(runs_root, *extra):
    return compose_config(["budget=tiny", f"runs_root={runs_root}", *extra])


@pytest.fixture(scope="module")
def base_cfg(runs_root):
    return tiny(runs_root)


@pytest.fixture(scope="module")
def base_gan(base_cfg):
    return build_gan(base_cfg, None)


class _AnyVocabSampler(TextImageSampler):
    """The real sampling code over all 62 characters, with blank masks instead of a rendered table."""

    def __init__(self):
        self.vocab_size, self.image_size = 62, 32
        self.holdout = None
        self.spec, self._named = "full", SPECS["full"]
        self.masks = tf.zeros((62 * 62, 32, 32, 2))
        self.colours = tf.zeros((8, 3))


def _element(sampler, cfg, step=0):
    return next(iter(gan_dataset(sampler, cfg, start_step=step)))


def _lr(opt) -> float:
    return float(np.asarray(opt.learning_rate))


def _applied_steps(opt, grads=(1.0, -0.5, 0.25)) -> list[float]:
    """The parameter changes an optimizer applies for a fixed gradient sequence: what a rate or beta does."""
    var = tf.Variable(0.0)
    steps = []
    for g in grads:
        before = float(var.numpy())
        opt.apply_gradients([(tf.constant(g), var)])
        steps.append(float(var.numpy()) - before)
    return steps


def _fresh_optimizers(cfg):
    """Unbuilt copies of the (D, G) optimizers build_gan makes for this config."""
    d, g, _ = optim.build_optimizers(cfg.optimizer, cfg.trainer.steps_per_epoch)
    return d, g


def _copy_weights(src: ConditionalGAN, dst: ConditionalGAN) -> None:
    for a, b in (
        (src.text_encoder, dst.text_encoder),
        (src.generator, dst.generator),
        (src.discriminator, dst.discriminator),
    ):
        b.set_weights(a.get_weights())


def _d_depends_on_batch(gan) -> bool:
    """Does D's (inference) output for sample 0 change when only sample 1 changes?"""
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32)
    feats = rng.normal(size=(4, 64)).astype(np.float32)
    out = gan.discriminator([images, feats], training=False).numpy()
    images[1] = -images[1]
    out2 = gan.discriminator([images, feats], training=False).numpy()
    return not np.allclose(out[0], out2[0], rtol=0, atol=1e-7)


def _layers(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


# --- config deltas ---------------------------------------------------------------------------------


def test_every_ablation_has_checks():
    assert ABLATIONS, "no ablation files found"
    assert set(ABLATIONS) == set(EFFECTS)


@pytest.mark.parametrize("name", ABLATIONS)
def test_ablation_changes_the_run_and_names_it(name, runs_root, base_cfg):
    cfg = tiny(runs_root, f"+ablation={name}")
    if name == "baseline":
        assert cfg == base_cfg
        return
    assert _delta(cfg, base_cfg), f"{name} changes nothing"
    assert cfg.name == name and list(cfg.series) == [name] and cfg.label == cfg.series[name]
    assert cfg.run_dir == f"{runs_root}/{name}/seed=0"


# The fast golden curves (tests/test_golden.py) already train these in the real loop, G included, and compare
# every loss with its recorded value; training them here again would check nothing more.
TRAINED_BY_FAST_GOLDENS = set(golden.FAST_ABLATIONS)
# Every other ablation trains here, in combinations of ablations that change disjoint settings, so that each
# one's change is in effect in its combination: six real steps instead of fifteen. (Each ablation alone trains
# in its slow golden curve.)
TRAINED_IN_COMBINATION = [
    "[lrx10,adam_params,img_noise,saturating,rnn_init]",
    "[full_vocab,shuffle_mbd,d_train]",
    "[reed_gan,style]",
    "[reed_cls,unseen]",
    "[reed_int,shuffle]",
    "[dcgan]",
]


def _members(combination: str) -> list[str]:
    return combination.strip("[]").split(",")


def test_every_ablation_trains_in_one_combination_with_its_change_in_effect(runs_root, base_cfg):
    members = [name for combination in TRAINED_IN_COMBINATION for name in _members(combination)]
    assert sorted(members) == sorted(set(ABLATIONS) - TRAINED_BY_FAST_GOLDENS)
    for combination in TRAINED_IN_COMBINATION:
        combined: dict = {}
        for name in _members(combination):
            for key, value in _delta(tiny(runs_root, f"+ablation={name}"), base_cfg).items():
                assert combined.get(key, value) == value, f"{combination}: {name} overrides {key}"
                combined[key] = value
        assert _delta(tiny(runs_root, f"+ablation={combination}"), base_cfg) == combined, combination


@pytest.mark.parametrize("combination", TRAINED_IN_COMBINATION)
def test_ablation_trains(combination, runs_root, sampler):
    """A GAN step of the real training loop, G included, with finite losses for every ablation."""
    # Eager: tracing every ablation's step would cost minutes; test_training runs the graph.
    cfg = tiny(
        runs_root,
        f"+ablation={combination}",
        "gan.d_only_epochs=0",
        "trainer.steps_per_epoch=1",
        "trainer.run_eagerly=true",
    )
    gan = build_gan(cfg, None)
    before = [w.copy() for w in gan.generator.get_weights()]
    data = sampler if cfg.data.vocab_size == 10 else _AnyVocabSampler()
    history = gan.fit(gan_dataset(data, cfg), epochs=1, steps_per_epoch=1, verbose=0, shuffle=False)
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    assert any(not np.array_equal(a, b) for a, b in zip(before, gan.generator.get_weights()))


def test_combined_ablations(runs_root, base_cfg, sampler):
    cfg = tiny(runs_root, "+ablation=[shuffle,mbd]")
    assert cfg.name == "shuffle+mbd" and cfg.label == "-Shuffle +MBD"
    assert cfg.run_dir == f"{runs_root}/shuffle+mbd/seed=0"
    assert _delta(cfg, base_cfg) == _delta(tiny(runs_root, "+ablation=shuffle_mbd"), base_cfg)
    gan = build_gan(cfg, None)
    assert list(gan.d_step.names) == ["d0_fake", "d1_real"]
    assert gan.discriminator.get_layer("mbd").kernels == 25
    assert len(_element(sampler, cfg)["d"]) == 2


def test_unknown_ablation(runs_root):
    with pytest.raises(ConfigError) as err:
        tiny(runs_root, "+ablation=no_such_thing")
    msg = str(err.value)
    assert "no_such_thing" in msg and "\n" not in msg
    assert all(name in msg for name in ABLATIONS)


# --- effects on the built GAN and its training step ------------------------------------------------

EFFECTS = {}


def effect(name):
    def register(fn):
        EFFECTS[name] = fn
        return fn

    return register


@pytest.mark.parametrize("name", ABLATIONS)
def test_effect(name, runs_root, request):
    assert name in EFFECTS, f"no effect check for ablation {name!r}"
    EFFECTS[name](tiny(runs_root, f"+ablation={name}"), request)


@effect("baseline")
def _baseline(cfg, request):
    gan = request.getfixturevalue("base_gan")
    assert list(gan.d_step.names) == ["d0_fake", "d1_real", "d2_mismatched", "d3_real"]
    assert gan.d_step.loss == (losses.d_cross_entropy, losses.g_nonsaturating)
    assert _layers(gan.discriminator, MinibatchDiscrimination) == [] and not _d_depends_on_batch(gan)
    (noise,) = _layers(gan.discriminator, keras.layers.GaussianNoise)
    assert noise.stddev == pytest.approx(0.05)
    assert gan.discriminator.get_layer("logit").use_bias
    assert gan.latent_dim == 0 and len(gan.generator.inputs) == 1
    for opt in _fresh_optimizers(cfg):
        assert isinstance(opt, keras.optimizers.Adam)
        assert _applied_steps(opt)[0] == pytest.approx(-5e-5, rel=1e-3)  # Adam's first step is the rate
    assert gan.d_optimizer is not gan.g_optimizer
    assert cfg.gan.text_encoder_init == "pretrained"


@effect("mbd")
def _mbd(cfg, request):
    gan = build_gan(cfg, None)
    layer = gan.discriminator.get_layer("mbd")
    assert isinstance(layer, MinibatchDiscrimination) and (layer.kernels, layer.kernel_dim) == (25, 5)
    assert _d_depends_on_batch(gan)


def _no_mismatch(cfg, request):
    gan = build_gan(cfg, None)
    assert list(gan.d_step.names) == ["d0_fake", "d1_real"]
    sampler = request.getfixturevalue("sampler")
    d = _element(sampler, cfg)["d"]
    assert len(d) == 2
    for batch in d:  # every image is exactly what its own text describes
        bg, fg = spec_colours(batch["spec"].numpy())
        chars = char_labels(batch["chars"])
        np.testing.assert_allclose(sampler.images(chars, bg, fg).numpy(), batch["images"].numpy(), atol=1e-5)
    return gan


@effect("shuffle")
def _shuffle(cfg, request):
    gan = _no_mismatch(cfg, request)
    assert _layers(gan.discriminator, MinibatchDiscrimination) == []


@effect("shuffle_mbd")
def _shuffle_mbd(cfg, request):
    gan = _no_mismatch(cfg, request)
    assert gan.discriminator.get_layer("mbd").kernels == 25 and _d_depends_on_batch(gan)


@effect("lrx10")
def _lrx10(cfg, request):
    base = _fresh_optimizers(request.getfixturevalue("base_cfg"))
    for opt, base_opt in zip(_fresh_optimizers(cfg), base):
        np.testing.assert_allclose(_applied_steps(opt), 10 * np.array(_applied_steps(base_opt)), rtol=1e-3)


@effect("adam_params")
def _adam_params(cfg, request):
    base = _fresh_optimizers(request.getfixturevalue("base_cfg"))
    for opt, base_opt in zip(_fresh_optimizers(cfg), base):
        steps, base_steps = _applied_steps(opt), _applied_steps(base_opt)
        assert steps[0] == pytest.approx(base_steps[0], rel=1e-3)  # same rate...
        assert abs(steps[2] - base_steps[2]) > 0.05 * abs(base_steps[2])  # ...other moment averaging


@effect("img_noise")
def _img_noise(cfg, request):
    gan = build_gan(cfg, None)
    assert _layers(gan.discriminator, keras.layers.GaussianNoise) == []
    assert "clip" in [layer.name for layer in gan.discriminator.layers]  # the range clip stays


@effect("full_vocab")
def _full_vocab(cfg, request):
    assert cfg.data.curriculum.start_vocab is None
    assert [cb.VocabularyLog(cfg.data).vocab(e) for e in (0, 1, 1000)] == [62, 62, 62]
    cfg = compose_config(["budget=tiny", f"runs_root={cfg.runs_root}", "+ablation=full_vocab", "data.batch_size=512"])
    chars = char_labels(_element(_AnyVocabSampler(), cfg)["g"]["chars"].numpy())
    assert chars.max() >= 55 and np.mean(chars >= 10) > 0.7  # 52 of 62 characters are letters


@effect("increment_vocab")
def _increment_vocab(cfg, request):
    paper = compose_config([f"runs_root={cfg.runs_root}", "trainer.epochs=1500", "+ablation=increment_vocab"])
    assert (paper.data.curriculum.start_epoch, paper.data.curriculum.every) == (500, 10)
    schedule = cb.VocabularyLog(paper.data)
    assert [schedule.vocab(e) for e in (0, 499, 500, 509, 510, 520)] == [10, 10, 11, 11, 12, 13]
    assert [schedule.vocab(e) for e in (1009, 1010, 1499)] == [61, 62, 62]
    default = compose_config([f"runs_root={cfg.runs_root}", "+ablation=increment_vocab"])
    assert default.trainer.epochs == 250
    assert (default.data.curriculum.start_epoch, default.data.curriculum.every) == (83, 2)
    schedule = cb.VocabularyLog(default.data)
    assert [schedule.vocab(e) for e in (82, 83, 84, 85, 184, 185, 249)] == [10, 11, 11, 12, 61, 62, 62]
    # The batches follow the schedule: at 2 steps an epoch, vocab 10 in epoch 0 and 11 in epoch 1.
    big = compose_config(
        [
            *("budget=tiny", f"runs_root={cfg.runs_root}", "+ablation=increment_vocab", "data.batch_size=512"),
            "trainer.steps_per_epoch=2",
        ]
    )
    sampler = _AnyVocabSampler()
    maxima = [int(char_labels(_element(sampler, big, step)["g"]["chars"].numpy()).max()) for step in (0, 1, 2, 4)]
    assert maxima == [9, 9, 10, 11]


@effect("rnn_init")
def _rnn_init(cfg, request):
    base = compose_config(["budget=tiny", f"runs_root={cfg.runs_root}"])
    pretrained = part1.weights(run.Path("pretrained"), "text_encoder").as_posix()  # pretrained/text_encoder.weights.h5
    assert _text_encoder_weights_used(base, request) == pretrained
    assert _text_encoder_weights_used(cfg, request) is None


class _Stop(Exception):
    pass


def _text_encoder_weights_used(cfg, request):
    """What a new run passes build_gan for the text encoder, without pretraining or training."""
    monkeypatch = request.getfixturevalue("monkeypatch")
    seen = {}

    def fake_build_gan(cfg, te_weights, g_weights=None):
        seen["te_weights"] = te_weights
        raise _Stop

    monkeypatch.setattr(run.setup, "configure", lambda *a: None)
    monkeypatch.setattr(run, "ensure_pretrained", lambda cfg, verbose=True: run.Path("pretrained"))
    monkeypatch.setattr(run, "build_gan", fake_build_gan)
    with pytest.raises(_Stop):
        run._Session(cfg, run.Path(cfg.run_dir), restore=False)
    te = seen["te_weights"]
    return None if te is None else te.as_posix()


@effect("wgan")
def _wgan(cfg, request):
    gan = build_gan(cfg, None)
    logit = gan.discriminator.get_layer("logit")
    assert not logit.use_bias and len(logit.weights) == 1
    assert gan.d_step.loss == (losses.d_wasserstein, losses.g_wasserstein)
    for opt in _fresh_optimizers(cfg):
        # beta_1 = 0: no momentum, so each step follows its own gradient's sign; rate 5e-4.
        steps = _applied_steps(opt)
        assert steps[0] == pytest.approx(-5e-4, rel=1e-3) and steps[1] > 0
    logs = gan.train_step(_element(request.getfixturevalue("sampler"), cfg))
    gp = float(logs["gp"])
    assert np.isfinite(gp) and gp > 0
    assert all(np.isfinite(float(v)) for v in logs.values())


@effect("wgan_clip")
def _wgan_clip(cfg, request):
    assert cfg.gan.penalty.clip_value == 0.01 and cfg.optimizer.learning_rate == 5e-5
    gan = build_gan(cfg, None)
    assert not gan.discriminator.get_layer("logit").use_bias
    for opt in (gan.d_optimizer, gan.g_optimizer):
        assert isinstance(opt, keras.optimizers.RMSprop) and _lr(opt) == pytest.approx(5e-5)

    def largest():
        return max(float(np.abs(v.numpy()).max()) for v in gan.discriminator.trainable_variables)

    assert largest() > 0.01  # the initial weights are not clipped...
    logs = gan.train_step(_element(request.getfixturevalue("sampler"), cfg))
    assert largest() <= 0.01 + 1e-7  # ...every D update clips them
    assert float(logs["gp"]) == 0.0  # no penalty step


@effect("latent")
def _latent(cfg, request):
    gan = build_gan(cfg, None)
    assert gan.latent_dim == 32
    z = gan.generator.get_layer("z")
    assert tuple(gan.generator.inputs[1].shape) == (None, 32) and z.name == "z"
    feats = tf.random.stateless_normal((4, 64), [1, 2])
    a = gan.generate(feats, tf.constant([0, 1])).numpy()
    b = gan.generate(feats, tf.constant([0, 2])).numpy()
    again = gan.generate(feats, tf.constant([0, 1])).numpy()
    np.testing.assert_array_equal(a, again)
    assert np.abs(a - b).max() > 1e-4
    # The baseline's images do not depend on the seed: there is no z.
    base = request.getfixturevalue("base_gan")
    np.testing.assert_array_equal(
        base.generate(feats, tf.constant([0, 1])).numpy(), base.generate(feats, tf.constant([0, 2])).numpy()
    )


@effect("disc_steps")
def _disc_steps(cfg, request):
    sampler = request.getfixturevalue("sampler")
    cfg = tiny(cfg.runs_root, "+ablation=disc_steps", "trainer.steps_per_epoch=2")  # G's turns across epochs
    assert [bool(e["g_turn"]) for e in gan_dataset(sampler, cfg).take(4)] == [True, False, True, False]
    base = request.getfixturevalue("base_cfg")
    assert all(bool(e["g_turn"]) for e in gan_dataset(sampler, base).take(4))


@effect("fresh_batches")
def _fresh_batches(cfg, request):
    element = _element(request.getfixturevalue("sampler"), cfg)
    assert len({b["images"].numpy().tobytes() for b in (*element["d"], element["g"])}) == 5
    base = _element(request.getfixturevalue("sampler"), request.getfixturevalue("base_cfg"))
    assert len({b["images"].numpy().tobytes() for b in (*base["d"], base["g"])}) == 1


def _g_objectives(cfg, request, times=2):
    keras.utils.set_random_seed(0)  # the same initial weights for every config of one architecture
    gan = build_gan(cfg, None)
    batch = _element(request.getfixturevalue("sampler"), cfg)["g"]
    feats = gan.features(batch)
    return [float(gan.g_objective(batch, feats, tf.constant([1, 2], tf.int64))) for _ in range(times)]


@effect("g_step_d_eval")
def _g_step_d_eval(cfg, request):
    first, second = _g_objectives(cfg, request)
    assert first == second  # D without dropout and noise: G's objective is deterministic


@effect("ttur")
def _ttur(cfg, request):
    d_opt, g_opt = _fresh_optimizers(cfg)
    np.testing.assert_allclose(_applied_steps(d_opt), 4 * np.array(_applied_steps(g_opt)), rtol=1e-3)


@effect("saturating")
def _saturating(cfg, request):
    gan = build_gan(cfg, None)
    base = request.getfixturevalue("base_gan")
    confident = tf.constant([[-8.0]])  # D is sure a fake is fake

    def grad(loss_fn):
        with tf.GradientTape() as tape:
            tape.watch(confident)
            loss = loss_fn(confident)
        return float(tape.gradient(loss, confident)[0, 0])

    assert abs(grad(gan.g_terms[0].g_loss)) < 1e-3 < abs(grad(base.g_terms[0].g_loss))  # minimax G saturates


@effect("lr_decay")
def _lr_decay(cfg, request):
    assert cfg.optimizer.decay_factor == 0.5
    gan = build_gan(cfg, None)
    (schedule,) = optim.schedule(cfg.optimizer, cfg.trainer.steps_per_epoch).callbacks()
    schedule.set_model(gan)
    expected = {0: 5e-5, 1: 2.5e-5, 2: 1.25e-5, 3: 6.25e-6}
    for epoch, lr in expected.items():
        schedule.on_epoch_begin(epoch)
        assert _lr(gan.d_optimizer) == pytest.approx(lr) and _lr(gan.g_optimizer) == pytest.approx(lr)
    default = compose_config([f"runs_root={cfg.runs_root}", "+ablation=lr_decay"])
    assert default.optimizer.decay_every == 50  # a fifth of 250 epochs
    # Without the ablation the rate stays put.
    base_cfg = request.getfixturevalue("base_cfg")
    assert optim.schedule(base_cfg.optimizer, base_cfg.trainer.steps_per_epoch).callbacks() == []
    assert _lr(request.getfixturevalue("base_gan").g_optimizer) == pytest.approx(5e-5)


@effect("l1")
def _l1(cfg, request):
    """With D's judgement taken out, the L1 term alone pulls G's images towards the true renders."""
    element = _element(request.getfixturevalue("sampler"), cfg)
    batch = element["g"]
    maes = {}
    fast = ["optimizer.learning_rate=1e-2", "optimizer.decay=none"]
    for name, c in (("l1", tiny(cfg.runs_root, "+ablation=l1", *fast)), ("base", tiny(cfg.runs_root, *fast))):
        gan = build_gan(c, None)
        gan.g_terms[0] = Adversarial(lambda out: 0.0 * tf.reduce_mean(out))
        error = lambda: float(tf.reduce_mean(tf.abs(gan.generate(gan.features(batch)) - batch["images"])))  # noqa: B023,E731
        start = error()
        for _ in range(5):
            gan.g_update(batch, tf.constant([1, 2], tf.int64))
        maes[name] = (start, error())
    assert maes["l1"][1] < maes["l1"][0] - 0.05
    assert maes["base"][1] == pytest.approx(maes["base"][0])


@effect("gan_int")
def _gan_int(cfg, request):
    """Interpolating a text with itself (beta 1) must count G's own loss twice; halfway it must not."""
    deterministic = ["gan.g_step_d_training=false"]
    runs_root = cfg.runs_root
    self_mix = tiny(runs_root, "+ablation=gan_int", "gan.interpolation_beta=1.0", *deterministic)
    (own,) = _g_objectives(self_mix, request, 1)
    (base,) = _g_objectives(tiny(runs_root, *deterministic), request, 1)
    (halfway,) = _g_objectives(tiny(runs_root, "+ablation=gan_int", *deterministic), request, 1)
    assert own == pytest.approx(2 * base, rel=1e-5)
    assert halfway != pytest.approx(2 * base, rel=1e-3)


def test_build_gan_loads_text_encoder_weights(base_gan, base_cfg, tmp_path):
    path = rundir.weights_file(tmp_path, "text_encoder")
    base_gan.text_encoder.save_weights(path)
    gan = build_gan(base_cfg, path)
    for a, b in zip(base_gan.text_encoder.get_weights(), gan.text_encoder.get_weights()):
        np.testing.assert_array_equal(a, b)
    fresh = build_gan(base_cfg, None)
    assert any(
        not np.array_equal(a, b) for a, b in zip(base_gan.text_encoder.get_weights(), fresh.text_encoder.get_weights())
    )


# --- Reed et al. 2016's 2x2 (GAN, GAN-CLS, GAN-INT, GAN-INT-CLS) ---------------------------------------


def _reed_common(cfg):
    """What every Reed series shares: the code's optimizer and latent, the reference's networks."""
    gan = build_gan(cfg, None)
    assert cfg.gan.d_step == "matching_aware" and list(gan.d_step.names) == ["d0_matching"]
    assert gan.latent_dim == 100 and gan.latent_distribution == "normal" and len(gan.generator.inputs) == 2
    assert not gan.d_trains_text_encoder  # Reed's text embeddings are fixed
    o = cfg.optimizer
    assert (o.name, o.learning_rate, o.beta_1, o.beta_2) == ("adam", 2e-4, 0.5, 0.999)
    assert (o.decay, o.decay_every, o.decay_factor) == ("epochs", 100, 0.5)
    base = build_gan(tiny(cfg.runs_root), None)  # the reference's D: the tricks are the only difference
    assert [w.shape for w in gan.discriminator.weights] == [w.shape for w in base.discriminator.weights]
    return gan


def _reed_d_loss_by_hand(cfg, sampler):
    """D's first loss of a step, computed from its formula with D made deterministic (no dropout, no noise)."""
    det = tiny(
        cfg.runs_root, f"+ablation={cfg.name}", "model.discriminator.dropout=0", "model.discriminator.image_noise=0"
    )
    gan = build_gan(det, None)
    element = _element(sampler, det)
    batch, seed = element["d"][0], element["seed"]
    fake = gan.generate(gan.features(batch), seed + 10)
    real = batch["images"]
    judge = lambda images: gan.judge(images, batch)  # noqa: E731
    c = det.gan.cls_weight
    want = losses.d_cross_entropy(judge(real), 1.0) + (1 - c) * losses.d_cross_entropy(judge(fake), 0.0)
    if c > 0:
        want += c * losses.d_cross_entropy(judge(tf.roll(real, 1, axis=0)), 0.0)
    logs = gan.train_step(element)
    return float(logs["d0_matching_loss"]), float(want)


def _reed_interpolation(gan, cfg, on: bool):
    terms = {type(t).__name__: t for t in gan.g_terms}
    assert ("Interpolation" in terms) == on
    if on:
        feats = tf.reshape(tf.range(16, dtype=tf.float32), (8, 2))
        first, second = terms["Interpolation"].pairs(feats, tf.constant([0, 0], tf.int64))
        mixed = 0.5 * first + 0.5 * second  # the batch's halves: half a batch of (h1 + h2) / 2
        np.testing.assert_allclose(mixed.numpy(), (feats[:4] + feats[4:]).numpy() / 2)
        assert terms["Interpolation"].weight == 0.5  # INT = 1 in the code's pooled 96-sample mean


def _make_reed_effect(name, cls_on, int_on):
    @effect(name)
    def check(cfg, request):
        gan = _reed_common(cfg)
        assert cfg.gan.cls_weight == (0.5 if cls_on else 0.0)
        _reed_interpolation(gan, cfg, int_on)
        got, want = _reed_d_loss_by_hand(cfg, request.getfixturevalue("sampler"))
        assert got == pytest.approx(want, rel=1e-5)

    return check


for _name, _cls, _int in (
    ("reed_gan", False, False),
    ("reed_cls", True, False),
    ("reed_int", False, True),
    ("reed_int_cls", True, True),
):
    _make_reed_effect(_name, _cls, _int)


def test_latent_distributions_draw_what_they_say():
    from t2i.models.latent import LATENTS

    normal = LATENTS["normal"]([20000, 4], tf.constant([1, 2])).numpy()
    uniform = LATENTS["uniform"]([20000, 4], tf.constant([1, 2])).numpy()
    assert abs(normal.mean()) < 0.02 and abs(normal.std() - 1) < 0.02 and normal.min() < -3
    assert uniform.min() >= -1 and uniform.max() <= 1 and abs(uniform.std() - 3**-0.5) < 0.01


@effect("d_train")
def _d_train(cfg, request):
    """D learns against Part 1's converged G, which never moves: g_loss 0, the MAE constant, G = Part 1's."""
    import pandas as pd

    from t2i.training.pretrain import ensure_pretrained
    from t2i.training.run import train

    cfg = tiny(cfg.runs_root, "+ablation=d_train", "trainer.epochs=2", "trainer.run_eagerly=true")
    assert cfg.gan.d_only_epochs == cfg.trainer.epochs == 2
    train(cfg)
    df = pd.read_csv(f"{cfg.run_dir}/metrics.csv")
    assert (df["g_loss"] == 0).all() and df["mae"].nunique() == 1
    g = build_gan(cfg, None, part1.weights(ensure_pretrained(cfg, verbose=False), "generator")).generator
    trained = build_gan(cfg, None, rundir.weights_file(f"{cfg.run_dir}/checkpoints", "generator")).generator
    for a, b in zip(g.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ConfigError, match="needs model.generator.latent_dim=0"):
        tiny(cfg.runs_root, "+ablation=[d_train,latent]")


@effect("style")
def _style(cfg, request):
    """The spec names only the text colour: its background tokens are padding; the true images are unchanged."""
    assert cfg.data.spec == "text_colour" and cfg.pretrain.max_mae == 2.0
    sampler = request.getfixturevalue("sampler")
    styled = TextImageSampler(10, 32, cfg.cache_dir, spec="text_colour")
    seed = tf.constant([3, 4], tf.int64)
    a, b = sampler.batch(seed, 16), styled.batch(seed, 16)
    np.testing.assert_array_equal(a["images"], b["images"])
    assert (np.asarray(b["spec"])[:, :2] == 0).all() and (np.asarray(a["spec"])[:, :2] != 0).all()


@effect("unseen")
def _unseen(cfg, request):
    """Training never draws a held-out pair: the hold-out reaches the GAN's batches."""
    from t2i.data import holdout

    held = holdout.of(cfg)
    assert cfg.data.holdout == "unseen" and held is not None
    sampler = TextImageSampler(10, 32, cfg.cache_dir, held)
    element = _element(sampler, cfg)
    chars = np.asarray(element["g"]["chars"]) - 1
    assert not held.pair_mask(10)[chars[:, 0] * 10 + chars[:, 1]].any()


@effect("dcgan")
def _dcgan(cfg, request):
    """G and D never see the text: the features are zeros, so G's image does not depend on the text."""
    gan = build_gan(cfg, None)
    assert not cfg.gan.conditional and cfg.gan.cls_weight == 0 and gan.latent_dim == 100
    chars = tf.constant([[1, 2], [5, 9]], tf.int32)
    spec = tf.constant([[1, 2, 3, 4], [1, 5, 3, 6]], tf.int32)
    feats = gan.text_encoder([chars, spec], training=False).numpy()
    assert (feats == 0).all()
    same_z = gan.generate(tf.constant(np.repeat(feats[:1], 2, axis=0)), tf.constant([0, 1])).numpy()
    other = gan.generate(tf.constant(feats), tf.constant([0, 1])).numpy()
    np.testing.assert_array_equal(same_z, other)
