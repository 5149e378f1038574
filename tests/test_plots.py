"""`t2i plot-mae` and the runs, tables and figure behind it, on hand-made run directories (no TensorFlow)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from t2i.analysis.mae_figure import COLOURS, STYLES, plot_mae
from t2i.analysis.plots import plot_mae_command
from t2i.analysis.runs import AnalysisError, find_runs, group
from t2i.analysis.summary import series_table
from t2i.sweeps import study

ORDER = study.load().series


def table(runs, **kwargs):
    return series_table(group(runs, ORDER), **kwargs)


# name -> label, [(seed, mae per epoch, seconds per epoch)]
BASELINE = [
    (0, [0.50, 0.30, 0.15, 0.08], 10),  # final 0.08, best 0.08, <0.2 at 3, <0.1 at 4
    (1, [0.50, 0.25, 0.09, 0.12], 20),  # final 0.12, best 0.09, <0.2 at 3, <0.1 at 3
    (2, [0.45, 0.19, 0.11, 0.10], 30),  # final 0.10, best 0.10, <0.2 at 2, never < 0.1 (0.10 is not below)
]
SHUFFLE = [
    (0, [0.60, 0.40, 0.30, 0.20], 5),  # 0.20 is not below 0.2
    (1, [0.60, 0.35], 5),  # still training: 2 of 4 epochs
]
MBD = [(0, [0.40, 0.20, 0.10], 60)]


def write_run(directory, name, label, seed, maes, seconds, epochs=4, status=None, tail=""):
    directory.mkdir(parents=True)
    (directory / "config.yaml").write_text(
        f"name: {name}\nlabel: '{label}'\nseed: {seed}\ntrainer:\n  epochs: {epochs}\n  lr: 0.0002\n"
    )
    # Same shape as keras' CSVLogger: "epoch" first, other keys sorted, \r\n line ends.
    lines = ["epoch,d_loss,mae,seconds"]
    lines += [f"{i},0.7,{m},{seconds}" for i, m in enumerate(maes)]
    (directory / "metrics.csv").write_text("".join(line + "\r\n" for line in lines) + tail, newline="")
    if status:
        (directory / "status.json").write_text(f'{{"status": "{status}", "reason": null}}')
    return directory


@pytest.fixture
def runs_root(tmp_path):
    root = tmp_path / "runs"
    for seed, maes, sec in BASELINE:
        write_run(root / "baseline" / f"seed{seed}", "baseline", "Baseline", seed, maes, sec, status="done")
    for seed, maes, sec in SHUFFLE:
        write_run(root / "shuffle" / f"seed{seed}", "shuffle", "-Shuffle", seed, maes, sec)
    # A crash mid-write left a partial 4th line: the three complete rows must survive.
    write_run(root / "mbd" / "seed0", "mbd", "+MBD", 0, *MBD[0][1:], epochs=3, tail="3,0.7,0.0")
    write_run(root / "aaa_custom" / "seed0", "custom", "Custom", 0, [0.9, 0.8], 1)
    return root


def row(df, name):
    return df.set_index("ablation").loc[name]


def test_summary_numbers(runs_root):
    skipped = []
    df = table(find_runs(runs_root, skipped))
    assert skipped == []
    assert list(df["ablation"]) == ["baseline", "shuffle", "mbd", "custom"]  # reference order, then others

    b = row(df, "baseline")
    assert b["label"] == "Baseline" and b["seeds"] == 3 and b["epochs"] == 4
    assert b["final_mae"] == pytest.approx(0.10)
    assert b["final_mae_std"] == pytest.approx(0.02)  # sample std of 0.08, 0.12, 0.10
    assert b["best_mae"] == pytest.approx(0.09)  # mean of 0.08, 0.09, 0.10
    assert b["epochs_to_0.2"] == pytest.approx(8 / 3)  # (3 + 3 + 2) / 3
    assert math.isnan(b["epochs_to_0.1"])  # seed 2 never got below 0.1
    assert b["reached_0.1"] == 2 and b["reached_0.2"] == 3
    assert b["minutes"] == pytest.approx((40 + 80 + 120) / 60 / 3)
    assert b["delta_vs_baseline"] == 0.0
    assert b["significance"] == "" and math.isnan(b["p_value"])

    s = row(df, "shuffle")
    assert s["seeds"] == 2 and s["epochs"] == 2  # the in-progress seed counts as far as it got
    assert s["final_mae"] == pytest.approx((0.20 + 0.35) / 2)
    assert s["final_mae_std"] == pytest.approx(0.15 / math.sqrt(2))
    assert s["best_mae"] == pytest.approx(0.275)
    assert math.isnan(s["epochs_to_0.2"]) and s["reached_0.2"] == 0
    assert s["minutes"] == pytest.approx((20 + 10) / 60 / 2)
    # Final MAEs after 4 and 2 epochs against the baseline's after 4: no delta and no test (mae_at_epochs compares)
    assert math.isnan(s["delta_vs_baseline"]) and math.isnan(s["p_value"]) and s["significance"] == "epochs differ"

    m = row(df, "mbd")
    assert m["seeds"] == 1 and m["epochs"] == 3  # partial 4th line dropped
    assert m["final_mae"] == pytest.approx(0.10)
    assert math.isnan(m["final_mae_std"])
    assert m["epochs_to_0.2"] == 3 and m["epochs_to_0.1"] != m["epochs_to_0.1"]  # 0.10 is not < 0.1
    assert m["minutes"] == pytest.approx(3.0)
    assert m["significance"] == "epochs differ"  # 3 epochs against the baseline's 4


def test_the_baseline_test_needs_equal_epochs(runs_root):
    runs = [r for r in find_runs(runs_root) if (r.name, r.seed) != ("shuffle", 1)]  # drop the run in progress
    s = row(table(runs), "shuffle")
    assert s["seeds"] == 1 and s["epochs"] == 4 and s["delta_vs_baseline"] == pytest.approx(0.10)
    assert s["significance"] == ""  # one seed: no test


def test_custom_thresholds_and_no_baseline(runs_root):
    runs = [r for r in find_runs(runs_root) if r.name != "baseline"]
    df = table(runs, thresholds=(0.5,))
    assert list(df["ablation"]) == ["shuffle", "mbd", "custom"]
    assert "epochs_to_0.5" in df and "epochs_to_0.2" not in df
    assert row(df, "shuffle")["epochs_to_0.5"] == 2
    assert df["delta_vs_baseline"].isna().all() and (df["significance"] == "").all()


def test_run_fields_and_partial_line(runs_root):
    runs = {(r.name, r.seed): r for r in find_runs(runs_root)}
    base = runs[("baseline", 0)]
    assert base.label == "Baseline" and base.status["status"] == "done" and base.setting("trainer.epochs") == 4
    assert runs[("shuffle", 1)].status == {} and runs[("shuffle", 1)].finished_epochs == 2
    assert runs[("shuffle", 1)].mae_at(2) == 0.35 and math.isnan(runs[("shuffle", 1)].mae_at(3))
    mbd = runs[("mbd", 0)]
    assert list(mbd.metrics["mae"]) == [0.40, 0.20, 0.10]
    assert len(mbd.notes) == 1 and "partial last line" in mbd.notes[0]


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"\x00\xff\xfe binary", "metrics.csv"),  # unreadable or damaged: either way, named
        ("hello world\nthis is not a log\n", "not a header naming 'epoch' and 'mae'"),
        ("epoch,loss\n0,0.5\n", "not a header naming 'epoch' and 'mae'"),
        ("epoch,mae\n0,abc\n1,0.3\n", "'mae' holds text"),
        ("epoch,mae\n0,0.5,7\n1,0.3\n", "line 2 has 3 fields"),
        ("epoch,mae\n0,nan\n", "no 'mae' values"),
        ("", "no finished epoch"),
    ],
)
def test_bad_csv_is_skipped_not_fatal(runs_root, content, reason):
    bad = runs_root / "broken" / "seed0"
    write_run(bad, "broken", "Broken", 0, [0.5], 1)
    path = bad / "metrics.csv"
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    skipped = []
    runs = find_runs(runs_root, skipped)
    assert [p for p, _ in skipped] == [bad]
    assert reason in skipped[0][1]
    assert len(runs) == 7 and "broken" not in {r.name for r in runs}


def test_skips_without_list_become_warnings(runs_root):
    (runs_root / "baseline" / "seed0" / "metrics.csv").write_text("garbage")
    with pytest.warns(RuntimeWarning, match="skipped .*seed0"):
        assert len(find_runs(runs_root)) == 6


def test_bad_config_and_orphan_metrics(tmp_path):
    write_run(tmp_path / "ok", "baseline", "Baseline", 0, [0.5], 1)
    (tmp_path / "ok" / "config.yaml").write_text("name: baseline\nseed: ${oc.env:SEED}\ntrainer: {epochs: '${x}'}\n")
    write_run(tmp_path / "noname", "x", "X", 0, [0.5], 1)
    (tmp_path / "noname" / "config.yaml").write_text("seed: 1\n")
    (tmp_path / "orphan").mkdir()
    (tmp_path / "orphan" / "metrics.csv").write_text("epoch,mae\n0,0.5\n")
    skipped = []
    (run,) = find_runs(tmp_path, skipped)
    assert run.label == "baseline" and run.seed is None  # raw, unresolved
    assert run.setting("trainer.epochs") is None  # an unresolvable interpolation is unknown, not an error
    reasons = {p.name: r for p, r in skipped}
    assert reasons["orphan"] == "metrics.csv without config.yaml"
    assert reasons["noname"].endswith("config.yaml has no 'name'")


def test_duplicate_seed_keeps_the_longer_run(tmp_path):
    write_run(tmp_path / "a", "baseline", "Baseline", 0, [0.5, 0.4, 0.3], 1)
    write_run(tmp_path / "b", "baseline", "Baseline", 0, [0.5], 1)
    skipped = []
    (run,) = find_runs(tmp_path, skipped)
    assert run.path == tmp_path / "a"
    assert skipped == [(tmp_path / "b", f"duplicate of {tmp_path / 'a'} (same name and seed)")]


def test_no_runs_raises(tmp_path):
    with pytest.raises(AnalysisError, match="no runs under"):
        find_runs(tmp_path)
    with pytest.raises(AnalysisError, match="not found"):
        find_runs(tmp_path / "missing")
    write_run(tmp_path / "r", "baseline", "Baseline", 0, [0.5], 1)
    (tmp_path / "r" / "metrics.csv").write_text("junk")
    with pytest.raises(AnalysisError, match="1 skipped"):
        find_runs(tmp_path, [])


def test_single_run_as_root(tmp_path):
    run_dir = write_run(tmp_path / "run", "wgan", "WGAN-GP", 3, [0.3, 0.2], 1)
    (run_dir / ".hydra").mkdir()
    (run_dir / ".hydra" / "config.yaml").write_text("name: other\n")
    run = find_runs(run_dir)[0]
    assert run.path == run_dir and run.name == "wgan"
    result = plot_mae_command(run_dir)
    assert result["figure"][0] == run_dir / "mae.png"
    assert pd.read_csv(result["summary"][0])["ablation"].tolist() == ["wgan"]


def test_plot_command_writes_everything(runs_root, tmp_path, capsys):
    (runs_root / "junk" / "seed0").mkdir(parents=True)
    write_run(runs_root / "junk" / "seed1", "junk", "Junk", 1, [0.5], 1)
    (runs_root / "junk" / "seed1" / "metrics.csv").write_text("not,a\nlog")
    out = tmp_path / "figs" / "mae"
    result = plot_mae_command(runs_root, out, band="std", smooth=2, log_scale=True)

    png, svg = result["figure"]
    assert (png, svg) == (out.with_suffix(".png"), out.with_suffix(".svg"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in svg.read_bytes()[:2000]
    csv_path, md_path = result["summary"]
    assert csv_path.parent == out.parent
    assert pd.read_csv(csv_path)["ablation"].tolist() == ["baseline", "shuffle", "mbd", "custom"]
    md = md_path.read_text().splitlines()
    assert md[0].startswith("| ablation | label | seeds | epochs | final_mae |")
    assert md[2].startswith("| baseline | Baseline | 3 | 4 | 0.1000 | 0.0200 | 0.0900 | 2.6667 | 3 | — | 2 |")

    assert [p for p, _ in result["skipped"]] == [runs_root / "junk" / "seed1"]
    err = capsys.readouterr().err
    assert "warning: skipped" in err and "junk" in err and "partial last line" in err


def test_plot_mae_options(runs_root, tmp_path):
    runs = group(find_runs(runs_root), ORDER)
    for band in ("minmax", "none"):
        png, svg = plot_mae(runs, tmp_path / band / "fig.png", band=band)
        assert png.stat().st_size > 1000 and svg.stat().st_size > 1000
    with pytest.raises(AnalysisError, match="band"):
        plot_mae(runs, tmp_path / "x.png", band="iqr")
    with pytest.raises(AnalysisError, match="smooth"):
        plot_mae(runs, tmp_path / "x.png", smooth=0)


def test_styles_are_unique_for_many_ablations():
    pairs = {(COLOURS[i % 10], STYLES[i % 3]) for i in range(30)}
    assert len(pairs) == 30
