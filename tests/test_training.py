"""End-to-end runs on tiny budgets: outputs, determinism, resume, run-directory safety, CLI errors."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from t2i.cli import app
from t2i.config import ConfigError, compose_config
from t2i.store import rundir
from tests.golden import harness as golden

TIMING = ["seconds", "images_per_s"]


def tiny(tmp_path, *extra):
    return compose_config(["budget=tiny", f"runs_root={tmp_path}", *extra])


def eager(tmp_path, *extra):
    """For tests of run-directory handling: the same run without tracing the step (seconds less each)."""
    return tiny(tmp_path, "trainer.run_eagerly=true", *extra)


def metrics(run_dir) -> pd.DataFrame:
    return pd.read_csv(Path(run_dir) / "metrics.csv").drop(columns=TIMING)


@pytest.fixture(scope="module")
def three_epochs(tmp_path_factory):
    """The default GAN for 3 epochs, traced: the golden run of its traced step (tests/golden), trained once for
    the tests that read it and leave it as is: its root, its config and train()'s status."""
    root = tmp_path_factory.mktemp("three_epochs")
    cfg = golden.golden_config("baseline", root, True)
    return root, cfg, golden.train_golden(cfg)


@pytest.fixture(scope="module")
def five_epochs(tmp_path_factory):
    """The same run trained for 5 epochs at once (traced step): the curve that a copy of `three_epochs`
    continued to 5 epochs must repeat bit for bit. Tests leave it as it is."""
    cfg = golden.golden_config("baseline", tmp_path_factory.mktemp("five_epochs"), True, "trainer.epochs=5")
    golden.train_golden(cfg)
    return cfg


def test_the_traced_default_gan_repeats_its_golden_curve(three_epochs):
    golden.assert_matches_golden(golden.curve(three_epochs[1].run_dir), golden.golden_name("baseline", graph=True))


def test_train_writes_run_directory(three_epochs):
    root, cfg, status = three_epochs
    run = Path(cfg.run_dir)
    assert run == Path(cfg.runs_root) / "baseline" / "seed=0" and run.is_relative_to(root)
    df = pd.read_csv(run / "metrics.csv")
    assert list(df["epoch"]) == [0, 1, 2]
    for col in ("mae", "mse", "mae_train", "g_loss", "d0_fake_loss", "d2_mismatched_acc", "seconds", "images_per_s"):
        assert col in df and df[col].notna().all(), col
    assert ((df["mae"] > 0) & (df["mae"] < 2)).all()
    assert status["status"] == "done" and status["epochs_done"] == 3
    assert status["final_mae"] == pytest.approx(df["mae"].iloc[-1])
    assert list((run / "tensorboard" / "train").glob("events.out.tfevents.*"))
    assert sorted(p.name for p in (run / "samples").glob("*.png")) == [
        "epoch_0001.png",
        "epoch_0002.png",
        "epoch_0003.png",
    ]
    for network in ("text_encoder", "generator", "discriminator"):  # what `t2i generate` and resume read
        assert rundir.weights_file(run / "checkpoints", network).exists(), network
    assert (run / "checkpoints" / "resume" / "ckpt-3.index").exists()  # the resume state, holding epoch 3
    # G is frozen during the D-only warm-up epoch and trained after it.
    assert df["g_loss"].iloc[0] == 0 and df["g_loss"].iloc[1] > 0


def test_same_seed_gives_identical_metrics(three_epochs, five_epochs, tmp_path):
    """Two traced runs of the same seed agree bit for bit: the baseline's first three epochs do not depend on
    the budget (and the 3-epoch run is its recorded golden curve: the test above)."""
    from t2i.training.run import train

    a = three_epochs[1]
    pd.testing.assert_frame_equal(metrics(a.run_dir), metrics(five_epochs.run_dir).iloc[:3], check_exact=True)
    # trainer.run_eagerly is for debugging: it must not change the numbers (up to float rounding).
    # Two epochs: D alone, then D and G; from the same Part 1 (the golden's traced one).
    c = golden.golden_config("baseline", tmp_path / "c", False, "trainer.epochs=2", f"cache_dir={a.cache_dir}")
    train(c)
    pd.testing.assert_frame_equal(metrics(c.run_dir), metrics(a.run_dir).iloc[:2], rtol=1e-5)
    # Another seed: another G from the first epoch (D-only: one step shows G's initial MAE as well).
    one_step = ["trainer.epochs=1", "trainer.steps_per_epoch=1", "seed=1", f"cache_dir={a.cache_dir}"]
    d = golden.golden_config("baseline", tmp_path / "d", False, *one_step)
    train(d)
    assert metrics(d.run_dir)["mae"].iloc[0] != metrics(a.run_dir)["mae"].iloc[0]


def test_finished_run_is_skipped_and_a_different_config_is_refused(tmp_path):
    from t2i.store.rundir import RunDirError
    from t2i.training.run import train

    cfg = eager(tmp_path)
    train(cfg)
    before = (Path(cfg.run_dir) / "metrics.csv").read_text()
    assert train(cfg).get("skipped")
    assert (Path(cfg.run_dir) / "metrics.csv").read_text() == before
    with pytest.raises(RunDirError, match="different config.*learning_rate"):
        train(eager(tmp_path, "optimizer.learning_rate=0.001"))
    assert (Path(cfg.run_dir) / "metrics.csv").read_text() == before


def test_a_finished_run_continues_to_more_epochs_as_if_it_had_run_them_at_once(
    three_epochs, five_epochs, tmp_path, capsys
):
    """The paper budget's runs repeated the default budget's 250 epochs bit for bit; a finished run asked for
    more epochs resumes from its last checkpoint instead, and its curve is the longer run's."""
    import shutil

    from t2i.store.rundir import RunDirError, read_config
    from t2i.training.run import train

    # A copy of the finished 3-epoch run (runs_root is not part of a run's identity), continued to 5 epochs.
    short = Path(three_epochs[1].run_dir)
    extended = golden.golden_config("baseline", tmp_path / "extended", True, "trainer.epochs=5", "trainer.verbose=true")
    shutil.copytree(short, extended.run_dir)
    capsys.readouterr()
    status = train(extended)
    # Progress shows the run's best MAE, the first three epochs' included.
    best_of_three = metrics(short)["mae"].min()
    first = next(line for line in capsys.readouterr().err.splitlines() if "epoch 4/5" in line)
    assert float(first.split("best ")[1].split()[0]) <= round(best_of_three, 4)
    assert status["outcome"] == "resumed" and status["epochs_done"] == 5
    pd.testing.assert_frame_equal(metrics(extended.run_dir), metrics(five_epochs.run_dir), check_exact=True)
    assert read_config(extended.run_dir).trainer.epochs == 5
    # What is scaled to the budget (here the decay schedule) changes the first epochs too: another config.
    decayed = ["budget=tiny", "+ablation=lr_decay", f"runs_root={tmp_path / 'decay'}", "trainer.run_eagerly=true"]
    train(compose_config([*decayed, "trainer.epochs=2"]))
    with pytest.raises(RunDirError, match="different config.*decay_every"):
        train(compose_config([*decayed, "trainer.epochs=10"]))


def test_a_run_held_by_another_process_is_refused_and_left_alone(tmp_path):
    from omegaconf import OmegaConf

    from t2i.store.rundir import RunDirBusy, claim, read_status, write_status
    from t2i.training.run import train

    cfg = eager(tmp_path, "trainer.epochs=1")
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True)
    OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)  # as the other process left it
    write_status(run_dir, status="running", pid=os.getpid())  # a live pid: the other process
    with claim(run_dir):  # a second open file description: the same conflict another process would meet
        with pytest.raises(RunDirBusy, match=f"another process \\(pid {os.getpid()}\\)"):
            train(cfg)
    assert read_status(run_dir)["status"] == "running" and not (run_dir / "metrics.csv").exists()
    assert train(cfg)["status"] == "done"  # released with its holder: the run goes on as a resume


def test_pretraining_is_cached_and_shared(tmp_path, capsys):
    from t2i.store import part1
    from t2i.store.part1 import entry as cache_entry
    from t2i.training.pretrain import ensure_pretrained

    cfg = tiny(tmp_path, "pretrain.epochs=2")
    entry = ensure_pretrained(cfg, verbose=False)
    assert part1.weights(entry, "text_encoder").exists() and (entry / "metrics.csv").exists()
    stamp = (entry / "result.json").stat().st_mtime_ns
    assert ensure_pretrained(tiny(tmp_path, "pretrain.epochs=2", "seed=5", "+ablation=mbd")) == entry
    assert (entry / "result.json").stat().st_mtime_ns == stamp
    assert cache_entry(tiny(tmp_path, "pretrain.epochs=3")) != entry


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.nope=1", "trainer.nope"),
        ("trainer.epochs=many", "trainer.epochs"),
        ("+ablation=nope", "unknown ablation 'nope' (available: adam_params, baseline"),
        ("data=nope", "unknown data 'nope'"),
        ("gan.loss=hinge", "gan.loss='hinge' is not one of"),
        ("trainer.epochs=0", "trainer.epochs must be >= 1"),
        ("data.image_size=64", "block_filters"),
        ("seed", "seed"),
    ],
)
def test_bad_overrides_fail_with_one_line(override, message, tmp_path):
    result = CliRunner().invoke(app, ["train", override, f"runs_root={tmp_path}"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("t2i: error:") and message in lines[0], result.output
    assert not any(tmp_path.iterdir()), "a bad override must not create anything"


def test_cli_train_smoke_and_existing_run_dir(tmp_path):
    runner = CliRunner()
    args = ["train", "budget=tiny", "trainer.run_eagerly=true", f"runs_root={tmp_path}"]
    ok = runner.invoke(app, args)
    assert ok.exit_code == 0, ok.output
    assert "final MAE" in ok.output
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "already complete" in again.output
    clash = runner.invoke(app, [*args, "trainer.epochs=1"])
    assert clash.exit_code == 2 and "different config" in clash.output and "not cut to fewer" in clash.output
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    refused = runner.invoke(app, ["train", "budget=tiny", f"run_dir={foreign}"])
    assert refused.exit_code == 2 and "not a t2i run directory" in refused.output
    assert (foreign / "notes.txt").read_text() == "mine"


def test_config_composition_public_keys(tmp_path):
    cfg = compose_config(
        [
            "trainer.epochs=7",
            "trainer.steps_per_epoch=3",
            "pretrain.epochs=4",
            "data.batch_size=16",
            "seed=3",
            f"runs_root={tmp_path}",
        ]
    )
    assert (cfg.trainer.epochs, cfg.trainer.steps_per_epoch, cfg.pretrain.epochs, cfg.data.batch_size) == (7, 3, 4, 16)
    assert cfg.run_dir == f"{tmp_path}/baseline/seed=3"
    assert compose_config([f"run_dir={tmp_path}/x"]).run_dir == f"{tmp_path}/x"
    with pytest.raises(ConfigError):
        compose_config(["data.batch_size=0"])


def test_every_value_comes_from_conf(tmp_path):
    """The schema holds types only: every budget and every ablation composes to a config with no MISSING leaf."""
    from omegaconf import OmegaConf

    from t2i.config import available

    choices = [f"budget={b}" for b in available("budget")] + [f"+ablation={a}" for a in available("ablation")]
    for choice in choices:
        assert not OmegaConf.missing_keys(compose_config([choice, f"runs_root={tmp_path}"])), choice


def test_keys_that_do_not_change_a_run_do_not_name_its_directory():
    """A sweep over a volatile key (say pretrain.max_mae) must land in the run's one directory, which then
    accepts the run as the same; so every volatile key is also left out of the sweep's directory names."""
    import yaml

    from t2i.store.rundir import VOLATILE_KEYS

    hydra = yaml.safe_load((Path(__file__).parents[1] / "conf" / "config.yaml").read_text())["hydra"]
    excluded = set(hydra["job"]["config"]["override_dirname"]["exclude_keys"])
    for key in VOLATILE_KEYS:
        assert key in excluded or any(k.startswith(f"{key}.") for k in excluded), key


def test_tensorboard_has_scalars_samples_and_hparams(three_epochs):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tb = Path(three_epochs[1].run_dir) / "tensorboard"

    def tags(path):  # TF2 summaries are stored as tensors
        return set(EventAccumulator(str(path)).Reload().Tags()["tensors"])

    assert {"epoch_mae", "epoch_g_loss", "epoch_vocab_size", "epoch_d2_mismatched_loss"} <= tags(tb / "train")
    assert {"final_mae", "best_mae", "_hparams_/session_start_info"} <= tags(tb)
    assert "samples (truth | generated)" in tags(tb / "samples")
