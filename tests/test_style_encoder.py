"""Reed et al.'s style encoder S (model.style_encoder): trained on G's images only, checkpointed, loaded."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from t2i.config import ConfigError, compose_config

REED = ["budget=tiny", "model=reed", "gan.text_encoder_init=random"]


@pytest.fixture
def cfg(tmp_path):
    def make(*extra):
        return compose_config([*REED, f"runs_root={tmp_path}", *extra])

    return make


def _gan(cfg):
    from t2i.training import setup
    from t2i.training.run import build_gan

    setup.configure(cfg.trainer, cfg.seed)
    return build_gan(cfg, None)


def _values(net) -> list:
    return [np.array(v) for v in net.weights]


def _same(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def _element(sampler, cfg):
    from t2i.data.dataset import gan_dataset

    return next(iter(gan_dataset(sampler, cfg)))


def test_s_learns_to_invert_g_and_leaves_g_d_and_the_text_encoder_alone(cfg, sampler):
    import tensorflow as tf

    gan = _gan(cfg())
    assert gan.style_encoder.output.shape == (None, 100) and "style_loss" in [m.name for m in gan.metrics]
    feats = gan.features(_element(sampler, cfg())["g"])
    before = {n: _values(getattr(gan, n)) for n in ("generator", "discriminator", "text_encoder")}
    losses = []
    for _ in range(6):  # the same z and images each step: the loss of a fixed batch must fall
        gan.style_update.loss.reset_state()
        gan.style_update(gan, feats, tf.constant([1, 2]))
        losses.append(float(gan.style_update.loss.result()))
    assert losses[-1] < losses[0], losses
    assert all(_same(before[n], _values(getattr(gan, n))) for n in before)


def test_a_run_with_s_trains_the_same_g_and_d_as_one_without(cfg, sampler):
    with_s, without = _gan(cfg()), _gan(cfg("model.style_encoder=false"))
    assert without.style_encoder is None
    element = _element(sampler, cfg())
    logs = with_s.train_step(element)
    plain = without.train_step(element)
    assert np.isfinite(float(logs["style_loss"])) and "style_loss" not in plain
    assert {k: float(v) for k, v in plain.items()} == {k: float(logs[k]) for k in plain}
    for net in ("generator", "discriminator", "text_encoder"):
        assert _same(_values(getattr(with_s, net)), _values(getattr(without, net))), net


def test_a_resume_restores_s_and_its_optimizer_and_refuses_a_checkpoint_without_s(cfg, tmp_path):
    from t2i.store import checkpoint as state

    gan = _gan(cfg())
    for v in gan.style_encoder.weights:
        v.assign(v + 1.0)
    gan.style_update.optimizer.iterations.assign(7)
    state.RunCheckpoint(gan, tmp_path / "a").save(2)
    again = _gan(cfg())
    assert not _same(_values(gan.style_encoder), _values(again.style_encoder))
    assert state.RunCheckpoint(again, tmp_path / "a").restore() == 2
    assert _same(_values(gan.style_encoder), _values(again.style_encoder))
    assert int(again.style_update.optimizer.iterations.numpy()) == 7

    state.RunCheckpoint(_gan(cfg("model.style_encoder=false")), tmp_path / "b").save(2)
    with pytest.raises(state.CheckpointError, match="it lacks this model's variable style_encoder/"):
        state.RunCheckpoint(_gan(cfg()), tmp_path / "b").restore()


def test_s_needs_a_latent_z(cfg):
    with pytest.raises(ConfigError, match=r"^model.style_encoder needs a latent z") as refused:
        cfg("model.generator.latent_dim=0")
    assert "\n" not in str(refused.value)
    assert cfg("model.generator.latent_dim=0", "model.style_encoder=false").model.style_encoder is False


def _saved_run(cfg, run_dir):
    """A run directory as training's Checkpoint callback leaves it, with the networks of `cfg`."""
    from t2i.store import checkpoint as state
    from t2i.training import callbacks as cb

    gan = _gan(cfg)
    callback = cb.Checkpoint(state.RunCheckpoint(gan, run_dir), run_dir, every=1)
    callback.set_model(gan)
    callback.save(1)
    OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
    return gan


def test_inference_loads_s_and_says_when_a_run_has_none(cfg, tmp_path):
    from t2i.inference import InferenceModel, ModelLoadError, load_model

    gan = _saved_run(cfg(), tmp_path / "s")
    assert (tmp_path / "s" / "checkpoints" / "style_encoder.weights.h5").exists()
    model, _, _ = load_model(tmp_path / "s")
    images = np.random.default_rng(0).uniform(-1, 1, (3, 32, 32, 3)).astype(np.float32)
    z = model.style(images)
    np.testing.assert_allclose(z, gan.style_encoder(images, training=False).numpy(), rtol=1e-5, atol=1e-6)
    assert model.from_features_and_z(np.zeros((3, 64), np.float32), z).shape == (3, 32, 32, 3)

    _saved_run(cfg("model.style_encoder=false"), tmp_path / "plain")
    assert not (tmp_path / "plain" / "checkpoints" / "style_encoder.weights.h5").exists()
    plain, _, _ = load_model(tmp_path / "plain")
    with pytest.raises(ModelLoadError, match="no style encoder: model.style_encoder=false"):
        plain.style(images)
    with pytest.raises(ModelLoadError, match="no style encoder: its G has no z"):
        InferenceModel(None, None, latent_dim=0, random_z=True).style(images)
