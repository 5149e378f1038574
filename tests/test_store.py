"""t2i/store: one owner per on-disk format, new state checkpointed by construction, runs that survive upgrades.

- The Part 1 cache entry is read and written through t2i/store/part1.py; the cache directory's default is
  t2i.config.default_cache_dir alone.
- Weight files are named, written and listed by t2i/store/weights.py, with the names older runs and Part 1
  entries have.
- The resume checkpoint holds every variable the GAN has, found by walking it, and refuses by name a checkpoint
  that lacks one; the committed in-progress checkpoints still restore.
- A key added to the schema with `added(as_before=...)` keeps recorded runs the same config; a key missing
  without that declaration, or a different value, is still another config.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from t2i import config
from t2i.config import added, as_before_values, compose_config, default_cache_dir
from t2i.store import part1, rundir

# --- the Part 1 cache and the cache directory ------------------------------------------------------------


def test_the_cache_directory_has_one_default(tmp_path, monkeypatch):
    monkeypatch.setenv("T2I_CACHE_DIR", str(tmp_path / "cache"))
    assert compose_config([]).cache_dir == default_cache_dir() == str(tmp_path / "cache")
    monkeypatch.delenv("T2I_CACHE_DIR")
    assert compose_config([]).cache_dir == default_cache_dir() == os.path.expanduser("~/.cache/t2i")


def test_a_part1_entry_is_read_and_written_through_its_owner(tmp_path, monkeypatch):
    from t2i.inference import ModelLoadError, locate

    cfg = compose_config(["budget=tiny", f"runs_root={tmp_path}", f"cache_dir={tmp_path / 'cache'}"])
    entry = part1.entry(cfg)
    assert entry.parent == tmp_path / "cache" / "pretrain"
    assert part1.entry(compose_config(["budget=tiny", f"cache_dir={tmp_path / 'other'}"])).name == entry.name
    assert entries_written(entry, part1.needs(cfg)) == [entry]  # not the rejected one, nor one being written

    source = locate(entry)
    assert source.kind == "pretrained" and source.cache_dir == tmp_path / "cache"
    assert source.cfg.data.vocab_size == cfg.pretrain.vocab_size and source.cfg.model.generator.latent_dim == 0
    assert source.weights_file("text_encoder") == part1.weights(entry, "text_encoder")
    assert part1.read_result(entry)["mae"] == 0.05

    copy = tmp_path / "copied" / entry.name  # an entry kept outside a cache: mask tables from the default
    shutil.copytree(entry, copy)
    monkeypatch.setenv("T2I_CACHE_DIR", str(tmp_path / "default"))
    assert locate(copy).cache_dir == tmp_path / "default"

    (copy / part1.RESULT).write_text("{garbled")
    with pytest.raises(part1.Part1CacheError, match=r"result.json is unreadable \(JSONDecodeError\); remove"):
        part1.read_result(copy)
    with pytest.raises(ModelLoadError, match="result.json is unreadable"):
        locate(copy)


def entries_written(entry: Path, needs: dict) -> list[Path]:
    """A complete entry, a rejected one and one being written beside it; the entries the cache lists."""
    for directory in (entry, part1.rejected_path(entry), entry.parent / ".tmp-abc"):
        directory.mkdir(parents=True)
        part1.write_result(directory, {"mae": 0.05, "epochs": 2, "needs": needs})
    return part1.entries(entry.parent.parent)


# --- weight files ---------------------------------------------------------------------------------------------


def test_weight_files_keep_their_names_and_a_crash_leftover_is_not_one(tmp_path):
    from t2i.inference import ModelLoadError, locate
    from t2i.store import weights

    ckpt = tmp_path / "run" / "checkpoints"
    ckpt.mkdir(parents=True)
    OmegaConf.save(compose_config(["budget=tiny"]), ckpt.parent / rundir.CONFIG)
    # The names every run directory and Part 1 entry on disk has: never to change.
    assert rundir.weights_file(ckpt, "generator") == ckpt / "generator.weights.h5"
    assert part1.weights(tmp_path, "text_encoder") == tmp_path / "text_encoder.weights.h5"
    assert weights.temporary(ckpt, "generator") == ckpt / "generator.tmp.weights.h5"
    with pytest.raises(ValueError, match="Part 1 has no network 'discriminator'"):
        part1.weights(tmp_path, "discriminator")

    (ckpt / "generator.tmp.weights.h5").touch()  # what a crash while saving leaves
    assert weights.listed(ckpt) == []
    with pytest.raises(ModelLoadError, match="not a t2i run directory"):
        locate(ckpt)
    for network in ("text_encoder", "generator"):
        rundir.weights_file(ckpt, network).touch()
    assert weights.listed(ckpt) == [ckpt / "generator.weights.h5", ckpt / "text_encoder.weights.h5"]
    assert locate(ckpt).kind == "checkpoints"


# --- the checkpoint holds every variable of the model ------------------------------------------------------


@pytest.fixture(scope="module")
def make_gan(tmp_path_factory):
    from t2i.training import setup
    from t2i.training.run import build_gan

    cfg = compose_config(["budget=tiny", f"runs_root={tmp_path_factory.mktemp('runs')}"])

    def make():
        setup.configure(cfg.trainer, cfg.seed)
        return build_gan(cfg, None)

    return make


def test_new_state_of_the_model_is_checkpointed_without_a_list(make_gan):
    """A sub-network, a variable, seed generators in a list and variables in a dict, given to the GAN as
    attributes, are in the checkpoint without any change to t2i/store/checkpoint.py."""
    import keras
    import tensorflow as tf

    from t2i.store import checkpoint as state

    gan = make_gan()
    before = state.named_variables(gan)
    assert {"train_generator", "d_optimizer/iteration", "g_optimizer/iteration"} <= set(before)
    assert not [name for name in before if name.startswith("optimizer/")]  # Keras's unused placeholder
    gan.style_encoder = keras.Sequential([keras.layers.Dense(3, name="style")], name="style_net")
    gan.style_encoder.build((None, 4))
    gan.ema_decay = tf.Variable(0.5, trainable=False)
    gan.rngs = [keras.random.SeedGenerator(1)]
    gan.averages = {"g": keras.Variable(2.0, name="g_average")}
    named = state.named_variables(gan)
    assert set(named) - set(before) == {
        "style_encoder/style_net/style/kernel",
        "style_encoder/style_net/style/bias",
        "ema_decay",
        "rngs/0",
        "averages/g",
    }
    assert named["ema_decay"] is gan.ema_decay and named["rngs/0"] is gan.rngs[0].state

    hidden = make_gan()
    hidden._average = keras.Variable(1.0, name="average")  # tracked by Keras, but no public attribute names it
    with pytest.raises(state.CheckpointError, match="'average' would not be checkpointed"):
        state.named_variables(hidden)


def test_a_checkpoint_lacking_a_variable_of_the_model_is_refused_by_name(make_gan, tmp_path):
    """The checkpoint of a run saved before the model had a variable: one line naming it, nothing changed;
    never a resume that leaves the new variable at its fresh value."""
    import tensorflow as tf

    from t2i.store import checkpoint as state

    state.RunCheckpoint(make_gan(), tmp_path).save(3)
    files = {p: p.read_bytes() for p in (tmp_path / "checkpoints").rglob("*") if p.is_file()}
    newer = make_gan()
    newer.ema_decay = tf.Variable(0.5, trainable=False)
    with pytest.raises(state.CheckpointError) as refused:
        state.RunCheckpoint(newer, tmp_path).restore()
    message = str(refused.value)
    assert "\n" not in message and "is from another model: it lacks this model's variable ema_decay" in message
    assert "nothing was changed" in message and float(newer.ema_decay.numpy()) == 0.5
    assert {p: p.read_bytes() for p in files} == files

    older = make_gan()  # and the other way round: a checkpoint holding a variable the model lacks
    state.RunCheckpoint(newer, tmp_path / "newer").save(3)
    with pytest.raises(state.CheckpointError, match="it holds ema_decay, which this model lacks"):
        state.RunCheckpoint(older, tmp_path / "newer").restore()
    assert state.RunCheckpoint(make_gan(), tmp_path).restore() == 3  # the same model restores


COMMITTED = sorted(p.parents[1] for p in Path("experiments").glob("*/runs/**/checkpoints/resume"))


@pytest.mark.skipif(not COMMITTED, reason="no committed run holds a checkpoint")
@pytest.mark.parametrize("run", COMMITTED, ids=str)
def test_the_committed_checkpoints_restore(run, tmp_path):
    """Runs parked resumable in experiments/ restore into the GAN their config.yaml builds today: every
    variable by name, at the epoch the run directory says, with the weights `t2i generate` loads."""
    import numpy as np

    from t2i.models import build_generator
    from t2i.store import checkpoint as state
    from t2i.training import setup
    from t2i.training.run import build_gan

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    cfg = rundir.read_config(copy)
    cfg.trainer.threads = 0  # how it was run (a volatile key), and one process has one thread count
    setup.configure(cfg.trainer, cfg.seed)
    gan = build_gan(cfg, None)
    assert state.RunCheckpoint(gan, copy).restore() == rundir.checkpoint_epoch(run)
    g = build_generator(cfg.model.generator, cfg.model.text_encoder.features)
    g.load_weights(rundir.weights_file(run / "checkpoints", "generator"))
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(g.weights, gan.generator.weights, strict=True))


# --- runs survive upgrades ---------------------------------------------------------------------------------


@dataclass
class _GanWithAddedKey:
    l1_weight: float = added(as_before=0.0)


@dataclass
class _SchemaWithAddedKey:
    """As if gan.l1_weight had been added to the schema after runs were recorded, with 0 meaning 'as before'."""

    gan: _GanWithAddedKey = field(default_factory=_GanWithAddedKey)


def _recorded(tmp_path, *overrides, status="done"):
    """A run directory as training leaves it (config.yaml, status.json), without training; and its config."""
    cfg = compose_config(["budget=tiny", f"runs_root={tmp_path}", *overrides])
    run = Path(cfg.run_dir)
    run.mkdir(parents=True)
    OmegaConf.save(cfg, run / rundir.CONFIG, resolve=True)
    rundir.write_status(run, status=status, epochs_done=0)
    return cfg, run


def _written_before(run: Path, key: str) -> None:
    """Remove `key` from the run's config.yaml, as a t2i from before the key existed wrote it."""
    saved = OmegaConf.to_container(OmegaConf.load(run / rundir.CONFIG))
    *parents, leaf = key.split(".")
    node = saved
    for p in parents:
        node = node[p]
    del node[leaf]
    OmegaConf.save(OmegaConf.create(saved), run / rundir.CONFIG)


def test_a_key_added_with_its_as_before_value_keeps_recorded_runs_the_same_config(tmp_path, monkeypatch):
    cfg, run = _recorded(tmp_path)
    _written_before(run, "gan.l1_weight")
    saved = (run / rundir.CONFIG).read_bytes()
    # Undeclared, a missing key is another config: nothing says what the old run computed.
    with pytest.raises(rundir.RunDirError, match=r"different config \(gan\.l1_weight: '<missing>' there, 0\.0 now\)"):
        rundir.check_run_dir(cfg)

    monkeypatch.setattr(config, "AS_BEFORE", as_before_values(_SchemaWithAddedKey))
    assert config.AS_BEFORE == {"gan.l1_weight": 0.0}
    assert rundir.check_run_dir(cfg) == "done"
    assert rundir.read_config(run).gan.l1_weight == 0.0
    rundir.write_status(run, status="interrupted")
    assert rundir.check_run_dir(cfg) == "resume" and rundir.resume_point(cfg) is None  # resumable, from epoch 0
    # A value other than the as-before one is another config, as it always was.
    other = compose_config(["budget=tiny", f"runs_root={tmp_path}", "gan.l1_weight=5"])
    with pytest.raises(rundir.RunDirError, match=r"gan\.l1_weight: 0\.0 there, 5\.0 now"):
        rundir.check_run_dir(other)
    assert (run / rundir.CONFIG).read_bytes() == saved  # reading upgrades nothing on disk


def test_the_declared_keys_are_keys_of_the_config():
    assert as_before_values(_SchemaWithAddedKey) == {"gan.l1_weight": 0.0}
    assert config.AS_BEFORE == as_before_values(config.T2IConfig)
    composed = compose_config([])
    missing = object()
    assert [k for k in config.AS_BEFORE if OmegaConf.select(composed, k, default=missing) is missing] == []


def test_part1_entries_keep_their_digest_when_the_schema_grows(tiny_cfg):
    """A key added to the schema must not orphan cached Part 1 results: the tiny baseline's entry (and Reed's,
    which differs only in what Part 1 never uses) keeps the digest it had before keys were added."""
    from t2i.store import part1

    recorded = "b8371ebd9a05d3a1"  # this entry's digest since before gan.cls_weight, latent_distribution etc.
    assert part1.entry(tiny_cfg()).name == recorded
    assert part1.entry(tiny_cfg("+ablation=reed_int_cls")).name == recorded
