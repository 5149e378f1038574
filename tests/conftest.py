"""Shared test setup: a quiet TensorFlow, a per-session cache directory, and tiny configs."""

from __future__ import annotations

import os
from pathlib import Path

# Before anything imports TensorFlow.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest

# The files whose tests take longest. `--dist loadfile` hands files to the two workers in collection order, so
# these go first: the short files then fill in, and neither worker is left running a long file alone at the end.
LONGEST_FIRST = ("test_training.py", "test_golden.py", "test_robustness.py", "test_sweep.py", "test_ablations.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the order within a file stays


@pytest.fixture(scope="session", autouse=True)
def t2i_cache_dir(tmp_path_factory):
    """Mask tables and pretraining results go to one directory per session, shared by all tests.

    Under xdist each worker has a session of its own; they share one cache (beside their base temporary
    directories), so a mask table is rendered and a Part 1 trained once for the whole run, not once a worker.
    Both caches are safe to fill from many processes at once (file locks, atomic renames).
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # no xdist, or -n 0
        path = tmp_path_factory.mktemp("t2i_cache")
    else:
        path = tmp_path_factory.getbasetemp().parent / "t2i_cache"
        path.mkdir(exist_ok=True)
    mp = pytest.MonkeyPatch()
    mp.setenv("T2I_CACHE_DIR", str(path))
    yield path
    mp.undo()


@pytest.fixture
def tiny_cfg(tmp_path):
    """A factory of tiny-budget configs whose runs land in this test's tmp_path.

    tiny_cfg("+ablation=mbd", "seed=3") composes ["budget=tiny", f"runs_root={tmp_path}", ...]; a later
    override of the same key (e.g. runs_root=...) wins.
    """
    from t2i.config import compose_config

    def make(*extra: str):
        return compose_config(["budget=tiny", f"runs_root={tmp_path}", *extra])

    return make


@pytest.fixture(scope="session")
def sampler(t2i_cache_dir):
    """The digits sampler over the real mask table (rendered once per session)."""
    from t2i.data.dataset import TextImageSampler

    return TextImageSampler(10, 32, t2i_cache_dir)


@pytest.fixture(scope="session")
def style_run(tmp_path_factory, t2i_cache_dir):
    """One tiny trained run of Reed's full model with S on the style data, for the tests that read it and leave
    it as it is. Eager steps and a random text encoder (no Part 1): what these tests check is what a style run
    writes and how the commands read it, not what it learned."""
    from t2i.config import compose_config
    from t2i.training.run import train

    root = tmp_path_factory.mktemp("style_runs")
    overrides = ["+ablation=[reed_int_cls,style]", "budget=tiny", "trainer.epochs=1", "trainer.run_eagerly=true"]
    cfg = compose_config([*overrides, "gan.text_encoder_init=random", "trainer.verbose=false", f"runs_root={root}"])
    train(cfg)
    return Path(cfg.run_dir)
