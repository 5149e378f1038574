"""t2i/store: one owner per on-disk format.

- The Part 1 cache entry is read and written through t2i/store/part1.py; the cache directory's default is
  t2i.config.default_cache_dir alone.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from t2i.config import compose_config, default_cache_dir
from t2i.store import part1

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
    assert source.weights_file("text_encoder") == entry / "text_encoder.weights.h5"
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
