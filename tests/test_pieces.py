"""GAN tricks are pieces picked by name: the registries are what config validation allows, each D step
builds only the batches it reads, and a new piece plugs in without touching the GAN."""

from __future__ import annotations

import pytest
import tensorflow as tf

from t2i.config import ConfigError
from t2i.data.dataset import gan_dataset
from t2i.losses import GAN_LOSSES
from t2i.training import callbacks as cb
from t2i.training import d_steps, g_terms, optim
from t2i.training.penalties import PENALTIES
from t2i.training.run import build_gan

REGISTRIES = {
    "gan.loss": GAN_LOSSES,
    "gan.penalty.name": PENALTIES,
    "gan.d_step": d_steps.D_STEPS,
    "optimizer.decay": optim.SCHEDULES,
    "optimizer.name": optim.OPTIMIZERS,
}


@pytest.mark.parametrize("key", REGISTRIES)
def test_validation_allows_exactly_the_registered_names(tiny_cfg, key):
    with pytest.raises(ConfigError, match=f"{key}='nope' is not one of " + ", ".join(REGISTRIES[key])):
        tiny_cfg(f"{key}=nope")


def test_a_piece_names_what_it_cannot_run_with(tiny_cfg):
    with pytest.raises(ConfigError, match="gan.d_step=critic needs gan.loss=wasserstein"):
        tiny_cfg("gan.d_step=critic")
    with pytest.raises(ConfigError, match="gan.penalty.name=gradient needs gan.d_step=critic"):
        tiny_cfg("gan.penalty.name=gradient")
    with pytest.raises(ConfigError, match="unknown sub-step 'bogus'"):
        tiny_cfg("gan.d_substeps=[fake,bogus]")


def test_unknown_name_in_a_registry_lists_the_known_ones():
    with pytest.raises(KeyError, match="unknown D step .nope. \\(available: critic, labelled, matching_aware\\)"):
        d_steps.D_STEPS["nope"]


@pytest.mark.parametrize(("ablation", "batches"), [("baseline", 4), ("shuffle", 2), ("wgan", 1)])
def test_the_data_pipeline_builds_only_the_batches_the_d_step_reads(tiny_cfg, sampler, ablation, batches):
    cfg = tiny_cfg(f"+ablation={ablation}")
    gan = build_gan(cfg, None)
    element = next(iter(gan_dataset(sampler, cfg)))
    assert len(element["d"]) == len(gan.d_step.batches) == batches


def test_g_terms_follow_their_config(tiny_cfg):
    kinds = lambda cfg: [type(t).__name__ for t in build_gan(cfg, None).g_terms]  # noqa: E731
    assert kinds(tiny_cfg()) == ["Adversarial"]
    assert kinds(tiny_cfg("+ablation=[l1,gan_int]")) == ["Adversarial", "L1Reconstruction", "Interpolation"]


def test_a_new_g_term_plugs_in_by_registering(tiny_cfg, sampler, monkeypatch):
    """What a new trick needs: a piece in a registry (and, in real use, its YAML and a behaviour test)."""

    class Constant(g_terms.GTerm):
        @classmethod
        def from_config(cls, gan_cfg, loss):
            return cls()

        def __call__(self, gan, batch, feats, images, seeds):
            return tf.constant(7.0)

    cfg = tiny_cfg("gan.g_step_d_training=false")  # D without dropout and noise: G's objective is deterministic
    plain = build_gan(cfg, None)
    monkeypatch.setitem(g_terms.G_TERMS, "constant", Constant)
    extended = build_gan(cfg, None)
    assert [type(t) for t in extended.g_terms] == [g_terms.Adversarial, Constant]
    extended.set_weights(plain.get_weights())
    batch = next(iter(gan_dataset(sampler, cfg)))["g"]
    feats = plain.features(batch)
    seed = tf.constant([1, 2], tf.int64)
    want = float(plain.g_objective(batch, feats, seed)) + 7.0
    assert float(extended.g_objective(batch, feats, seed)) == pytest.approx(want)


def test_generator_warmup_freezes_g_for_the_d_only_epochs(tiny_cfg):
    gan = build_gan(tiny_cfg("gan.d_only_epochs=2"), None)
    warmup = cb.GeneratorWarmup(2)
    warmup.set_model(gan)
    seen = []
    for epoch in range(4):
        warmup.on_epoch_begin(epoch)
        seen.append(bool(gan.train_generator.numpy()))
    assert seen == [False, False, True, True]
