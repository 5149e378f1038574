"""`t2i report` on a hand-made sweep (no TensorFlow) and on one real tiny run: the page's numbers, not just files."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from t2i.analysis.report import Options, build_report
from t2i.analysis.runs import AnalysisError
from t2i.analysis.welch import welch_p_value
from t2i.cli import app
from t2i.store import rundir

COLOURS = ["blue", "green", "red", "cyan", "magenta", "yellow", "black", "white"]
DEAD_PID = 2**22 + 12345  # above Linux's pid_max default: no such process

# series -> (label, [(seed, MAE per epoch, status)]); 4 epochs planned everywhere.
SWEEP = {
    "baseline": (
        "Baseline",
        [(0, [0.9, 0.6, 0.4, 0.30], "done"), (1, [0.9, 0.7, 0.5, 0.32], "done"), (2, [0.8, 0.6, 0.4, 0.34], "done")],
    ),
    "shuffle": ("-Shuffle", [(0, [0.9, 0.8, 0.75, 0.70], "done")]),
    "mbd": (
        "+MBD",
        [(0, [0.9, 0.5, 0.3, 0.20], "done"), (1, [0.9, 0.5, 0.3, 0.22], "done"), (2, [0.8, 0.5, 0.3, 0.21], "done")],
    ),
    "lrx10": ("LRx10", [(0, [0.5, 0.3, 0.15, 0.10], "done")]),
    # Lowest MAE of all, but only half-way: it must not be called the best series.
    "wgan": ("WGAN-GP", [(0, [0.3, 0.05], "running")]),
    "custom": ("Custom", [(0, [0.9, 0.9, 0.9, 0.90], "done")]),
}


CURRICULUM = (
    "data: {batch_size: 8, vocab_size: 62, eval_samples: 16, curriculum: {start_vocab: 10, start_epoch: 2, every: 1}}\n"
)


def evaluation(mae: float, hardest_bg: str, vocab: int = 10) -> dict:
    """A cached `t2i evaluate` result: every colour at `mae` but one background at 2 * mae."""
    chars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[:vocab]
    return {
        "samples": 6400,
        "input_space": vocab * vocab * 64,
        "mae": mae,
        "readability": mae / 10,
        "mae_per_background": {c: 2 * mae if c == hardest_bg else mae for c in COLOURS},
        "mae_per_text_colour": {c: mae + 0.01 * i for i, c in enumerate(COLOURS)},  # white hardest
        "mae_per_char": {c: mae + (0.05 if c == "8" else 0.0) for c in chars},
    }


def write_sweep(root, evaluate=True):
    for name, (label, runs) in SWEEP.items():
        for seed, maes, status in runs:
            run = root / name / f"seed={seed}"
            run.mkdir(parents=True)
            (run / "config.yaml").write_text(
                f"name: {name}\nlabel: '{label}'\nseed: {seed}\nbudget: tiny\n"
                "trainer: {epochs: 4, steps_per_epoch: 2}\n"
                + ("data: {batch_size: 8, vocab_size: 10, eval_samples: 16}\n" if name != "custom" else CURRICULUM)
                + "gan: {text_encoder_init: pretrained}\n"
            )
            rows = [f"{e},{m},30,NA" for e, m in enumerate(maes)]
            (run / "metrics.csv").write_text("epoch,mae,seconds,val_mae\n" + "\n".join(rows) + "\n")
            (run / "status.json").write_text(
                json.dumps(
                    {
                        "status": status,
                        "pid": DEAD_PID,
                        "minutes": 2.0 * len(maes),
                        "updated": f"2026-01-01T10:{10 + seed:02d}:00",
                    }
                )
            )
            (run / "samples").mkdir()
            for epoch in range(1, len(maes) + 1):
                (run / "samples" / f"epoch_{epoch:04d}.png").write_bytes(f"{name} {seed} {epoch}".encode())
            if evaluate and status == "done":
                (run / "evaluation").mkdir()
                result = evaluation(maes[-1], "yellow" if name == "baseline" else "red")
                (run / "evaluation" / "evaluation.json").write_text(json.dumps(result))
                if name == "baseline":
                    (run / "evaluation" / "evaluation.png").write_bytes(b"figure of baseline seed %d" % seed)
    if not evaluate:
        return
    part1 = root / "part1" / "0123abcd"
    part1.mkdir(parents=True)
    (part1 / "evaluation.json").write_text(json.dumps(evaluation(0.05, "green", vocab=62)))
    (part1 / "result.json").write_text(json.dumps({"mae": 0.063, "epochs": 480, "epochs_trained": 500}))


def sections(page: str) -> dict[str, str]:
    """Headed parts of the page: '## title' or '### title' -> text up to the next heading."""
    parts = re.split(r"^#{2,3} (.+)$", page, flags=re.M)
    return {title: body for title, body in zip(parts[1::2], parts[2::2])}


def table(text: str) -> list[dict]:
    """The first Markdown table in `text`, as one dict per row."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(head, (c.strip() for c in line.strip("|").split("|")))) for line in lines[2:]]


def by(rows: list[dict], key: str) -> dict[str, dict]:
    return {row[key]: row for row in rows}


@pytest.fixture
def report(tmp_path):
    runs = tmp_path / "sweep"
    write_sweep(runs)
    out = tmp_path / "report"
    out.mkdir()
    (out / "findings.md").write_text("# What we think\n")
    options = Options(
        at_epochs=(2, 4),
        thresholds=(0.5, 0.25),
        evaluate=False,
        study="reference",
        findings="findings.md",
        title="Tiny study",
        keep_runs=True,
    )
    messages: list[str] = []
    page = build_report(runs, out, options, progress=messages.append).read_text()
    return {"runs": runs, "out": out, "page": page, "parts": sections(page), "messages": messages, "options": options}


def test_status_plan_and_what_was_run(report):
    page, parts = report["page"], report["parts"]
    assert page.startswith("<!-- Generated by `t2i report`") and "\n# Tiny study\n" in page
    assert "**Status:** 10 runs in 6 series: 9 done, 1 interrupted." in page  # wgan's process is gone
    missing = "not run yet: shuffle (seed 1, 2), shuffle_mbd (seed 0, 1, 2), lrx10 (seed 1, 2), adam_params (seed 0, 1"
    assert missing in page
    assert "[findings.md](findings.md)" in page
    runs = table(parts["What was run"])
    # The reference study's order, then series it does not name.
    assert [r["series"] for r in runs] == ["baseline", "shuffle", "mbd", "lrx10", "wgan", "custom"]
    assert by(runs, "series")["baseline"]["seeds"] == "0, 1, 2"
    assert by(runs, "series")["wgan"]["done"] == "0 of 1" and by(runs, "series")["wgan"]["epochs"] == "2 of 4"
    assert by(runs, "series")["custom"]["vocabulary"] == "10 → 62: one more every 1 epochs from epoch 2"
    assert "fixed set of 16 samples of each run's own vocabulary" in parts["What was run"]
    assert "held-out MAE 0.063, from epoch 480 of 500" in parts["What was run"]
    assert "kept in [runs/](runs/)" in parts["What was run"]
    assert "`t2i sweep +study=reference` runs the rest" in page
    # Runs end 10:10-10:12 and trained 8 minutes each (wgan: 4): first start 10:02, last end 10:12.
    # Intervals 10:02-10:10, 10:03-10:11, 10:04-10:12 (baseline's three seeds) and the like: one busy stretch.
    assert (
        "Wall time: 0.2 hours in which at least one run trained, between the first run's start (2026-01-01 10:02) "
        "and the last one's end (2026-01-01 10:12), 0.2 hours apart" in parts["What was run"]
    )
    assert "1.3 hours of training summed over runs" in parts["What was run"]  # (9 * 8 + 4) / 60


def test_mae_at_chosen_epochs(report):
    rows = by(table(report["parts"]["MAE at equal training"]), "series")
    assert rows["Baseline"]["epoch 2"] == "0.6333 ± 0.0577 (n=3)"
    assert rows["Baseline"]["epoch 4"] == "0.3200 ± 0.0200 (n=3)"
    assert rows["WGAN-GP"]["epoch 2"] == "0.0500 (n=1)" and rows["WGAN-GP"]["epoch 4"] == "—"


def test_summary_table_with_thresholds_and_welch_tests(report):
    rows = by(table(report["parts"]["Summary"]), "ablation")
    base, mbd = rows["baseline"], rows["mbd"]
    assert (base["seeds"], base["final_mae"], base["final_mae_std"]) == ("3", "0.3200", "0.0200")
    assert base["epochs_to_0.5"] == "3.3333" and base["reached_0.25"] == "0"  # 3, 4 (0.5 is not < 0.5), 3
    assert mbd["delta_vs_baseline"] == "-0.1100"
    p = welch_p_value([0.20, 0.22, 0.21], [0.30, 0.32, 0.34])
    assert mbd["p_value"] == f"{p:.4f}" and mbd["significance"] == f"p={p:.2g} **"
    assert rows["lrx10"]["significance"] == ""  # one seed: no test
    assert rows["wgan"]["epochs"] == "2"


def test_best_and_worst_series_among_those_that_finished(report):
    part, out = report["parts"]["Samples of the best and the worst series"], report["out"]
    assert "**best: LRx10** (final MAE 0.1000)" in part and "**worst: Custom** (final MAE 0.9000)" in part
    assert "WGAN-GP" not in part  # lower MAE, but only 2 of 4 epochs
    # The last grid of the series' first seed, as training wrote it.
    assert (out / "samples_best_lrx10.png").read_bytes() == b"lrx10 0 4"
    assert (out / "samples_worst_custom.png").read_bytes() == b"custom 0 4"


def test_a_series_ahead_of_all_others_is_shown_once():
    import pandas as pd

    from t2i.analysis.report.samples import best_and_worst

    summary = pd.DataFrame({"ablation": ["baseline", "lrx10"], "epochs": [325, 438], "final_mae": [0.18, 0.05]})
    assert best_and_worst(summary) == {"best": "lrx10"}
    assert best_and_worst(summary.assign(epochs=1500)) == {"best": "lrx10", "worst": "baseline"}


def test_evaluation_per_colour_and_character(report):
    parts, out = report["parts"], report["out"]
    overview = by(table(parts["Evaluation: colours and characters"]), "series")
    assert list(overview)[0] == "Part 1 (supervised G)"
    assert overview["Baseline"] == {
        "series": "Baseline",
        "seeds": "3",
        "samples": "6400",
        "MAE": "0.320",
        "readability": "0.032",
    }
    assert "WGAN-GP" not in overview  # not finished, so not evaluated
    background = by(table(parts["MAE per background colour"]), "series")
    assert background["Baseline"]["yellow"] == "0.640 (1)" and background["Baseline"]["red"] == "0.320 (2)"
    assert background["Part 1 (supervised G)"]["green"] == "0.100 (1)"
    assert background["LRx10"]["red"] == "0.200 (1)"
    text = by(table(parts["MAE per text colour"]), "series")
    assert text["+MBD"]["white"] == "0.280 (1)" and text["+MBD"]["blue"] == "0.210 (8)"
    chars = by(table(parts["MAE per character"]), "series")
    assert list(chars["Baseline"])[2:12] == list("0123456789")  # digits: what every series draws
    assert chars["Baseline"]["8"] == "0.370 (1)" and chars["Baseline"]["hardest 3"].startswith("8 0.370, ")
    assert chars["Part 1 (supervised G)"]["seeds"] == "1"
    # The first series' first seed's evaluation figure and numbers are copied and shown.
    assert (out / "evaluation_baseline.png").read_bytes() == b"figure of baseline seed 0"
    assert "![evaluation of Baseline](evaluation_baseline.png)" in report["page"]
    csv = (out / "evaluation.csv").read_text().splitlines()
    assert "baseline,Baseline,1,6400,background,yellow,0.64" in csv


def test_progress_goes_through_the_progress_callback(report):
    messages = report["messages"]
    assert messages[0].startswith("reading the runs below")
    assert sum("not evaluated" in m or "cached" in m for m in messages) == 9  # every finished run
    assert messages[-1].startswith("wrote ")


def test_kept_records_regenerate_the_same_report(report):
    out, runs = report["out"], report["runs"]
    records = out / "runs"
    assert (records / "baseline" / "seed=1" / "evaluation" / "evaluation.json").exists()
    assert (records / "lrx10" / "seed=0" / "samples" / "epoch_0004.png").exists()  # shown, so kept
    assert not (records / "lrx10" / "seed=0" / "samples" / "epoch_0003.png").exists()
    assert not (records / "wgan").exists()  # only finished runs are kept
    again = build_report(records, out, report["options"], progress=lambda m: None).read_text()
    first, second = sections(report["page"]), sections(again)
    assert set(first) == set(second)
    for title in (
        "Samples of the best and the worst series",
        "Evaluation: colours and characters",
        "MAE per background colour",
        "MAE per text colour",
        "MAE per character",
    ):
        assert first[title] == second[title], title
    # The same tables without the unfinished run, which was not kept.
    for title, key in (("MAE at equal training", "series"), ("Summary", "ablation")):
        assert table(second[title]) == [r for r in table(first[title]) if r[key] not in ("WGAN-GP", "wgan")]
    assert [r["series"] for r in table(second["What was run"])] == ["baseline", "shuffle", "mbd", "lrx10", "custom"]
    assert runs.exists() and (out / "samples_best_lrx10.png").read_bytes() == b"lrx10 0 4"


def test_report_command(tmp_path):
    write_sweep(tmp_path / "sweep", evaluate=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "sweep"), "--no-evaluate", "--at-epoch", "3"])
    assert result.exit_code == 0, result.output
    page = tmp_path / "sweep" / "report" / "README.md"
    assert result.stdout.strip() == f"wrote {page}"
    assert "t2i report: reading the runs below" in result.stderr
    text = page.read_text()
    assert "| series | epoch 3 |" in text and "No evaluation yet" in text
    bad = CliRunner().invoke(app, ["report", str(tmp_path / "sweep"), "--study", "nope"])
    assert bad.exit_code == 2 and "unknown study 'nope'" in bad.stderr
    inside = CliRunner().invoke(app, ["report", str(tmp_path / "sweep"), "--keep-runs", "--no-evaluate"])
    assert inside.exit_code == 2 and "--keep-runs needs an output directory outside" in inside.stderr


# The write-up's D_train: D alone against Part 1's frozen G, so MAE stays Part 1's. Per seed, accuracy per epoch of
# its labelled sub-steps (fake, real, mismatched, real).
D_TRAIN = {
    0: {"d0_fake": [0.5, 0.8, 0.96, 1.0], "d1_real": [0.6, 0.7, 0.9, 0.99], "d2_mismatched": [0.5, 0.5, 0.6, 0.6]},
    1: {"d0_fake": [0.5, 0.9, 0.98, 1.0], "d1_real": [0.6, 0.8, 0.9, 0.97], "d2_mismatched": [0.5, 0.6, 0.6, 0.7]},
}


def write_d_train(root: Path) -> None:
    for seed, accuracies in D_TRAIN.items():
        run = root / "d_train" / f"seed={seed}"
        run.mkdir(parents=True)
        (run / "config.yaml").write_text(
            f"name: d_train\nlabel: DTrain\nseed: {seed}\nbudget: tiny\n"
            "trainer: {epochs: 4, steps_per_epoch: 2}\ndata: {batch_size: 8, vocab_size: 10, eval_samples: 16}\n"
            "gan: {text_encoder_init: pretrained, generator_init: pretrained, d_only_epochs: '${trainer.epochs}'}\n"
        )
        head = ",".join(f"{k}_acc" for k in accuracies)
        rows = [",".join([str(e), *(str(v[e]) for v in accuracies.values()), "0.063", "5"]) for e in range(4)]
        (run / "metrics.csv").write_text(f"epoch,{head},mae,seconds\n" + "\n".join(rows) + "\n")
        (run / "status.json").write_text(json.dumps({"status": "done", "minutes": 1.0, "updated": "2026-01-01T11:00"}))


def test_d_only_series_get_their_own_section_and_stay_out_of_the_mae_comparison(tmp_path):
    runs, out = tmp_path / "sweep", tmp_path / "report"
    write_sweep(runs)
    write_d_train(runs)
    options = Options(at_epochs=(2, 4), evaluate=False, study="reference", keep_runs=True)
    parts = sections(build_report(runs, out, options, progress=lambda m: None).read_text())
    assert by(table(parts["What was run"]), "series")["d_train"]["seeds"] == "0, 1"
    # Not a generator: no row among the MAE tables, no evaluation, no sample grid.
    for title, key in (("MAE at equal training", "series"), ("Summary", "ablation")):
        assert not {"DTrain", "d_train"} & {r[key] for r in table(parts[title])}, title
    assert "d_train" not in (out / "summary.csv").read_text()
    section = parts["D against the converged generator (the write-up's D_train)"]
    assert "![D's accuracy per sub-step](d_train.png)" in section and (out / "d_train.png").stat().st_size > 0
    rows = {r["sub-step"]: r for r in table(section)}
    assert list(rows) == ["d0 fake", "d1 real", "d2 mismatched"]
    fake, real, mismatched = rows["d0 fake"], rows["d1 real"], rows["d2 mismatched"]
    assert (fake["seeds"], fake["epoch 1"], fake["epoch 2"]) == ("2", "50.0 %", "85.0 %")
    assert fake["first epoch ≥ 90 %"] == "3" and fake["first epoch ≥ 99 %"] == "4"
    assert real["last epoch (min–max)"] == "4: 98.0 % (97.0 %–99.0 %)" and real["first epoch ≥ 99 %"] == "never"
    assert mismatched["first epoch ≥ 90 %"] == "never"
    assert (out / "runs" / "d_train" / "seed=1" / "metrics.csv").exists()  # kept with the records
    # Without a D-only series the section and its files go.
    shutil.rmtree(runs / "d_train")
    page = build_report(runs, out, options, progress=lambda m: None).read_text()
    assert "D_train" not in page and not list(out.glob("d_train.*"))


def test_plot_mae_leaves_d_only_series_out_with_a_note(tmp_path, capsys):
    from t2i.analysis.plots import plot_mae_command

    write_sweep(tmp_path / "sweep", evaluate=False)
    write_d_train(tmp_path / "sweep")
    plot_mae_command(tmp_path / "sweep")
    assert "d_train" not in (tmp_path / "sweep" / "summary.csv").read_text()
    assert "note: series d_train trains D alone" in capsys.readouterr().err
    shutil.rmtree(tmp_path / "sweep")
    write_d_train(tmp_path / "sweep")
    with pytest.raises(AnalysisError, match="holds only D-only runs"):
        plot_mae_command(tmp_path / "sweep")


def untrained_run(cfg) -> Path:
    """A finished run directory whose networks were saved untrained: enough for `t2i evaluate`, in seconds."""
    from omegaconf import OmegaConf

    from t2i.inference import locate
    from t2i.models import build_generator, build_text_encoder

    run = Path(cfg.run_dir)
    run.mkdir(parents=True)
    OmegaConf.save(cfg, run / "config.yaml")
    (run / "metrics.csv").write_text("epoch,mae\n0,0.9\n1,0.8\n")
    (run / "status.json").write_text(json.dumps({"status": "done"}))
    weights = locate(run).weights_dir
    weights.mkdir(parents=True)
    m = cfg.model
    build_text_encoder(m.text_encoder).save_weights(rundir.weights_file(weights, "text_encoder"))
    build_generator(m.generator, m.text_encoder.features).save_weights(rundir.weights_file(weights, "generator"))
    return run


def test_a_finished_run_is_evaluated_once_then_read_from_its_cache(tiny_cfg, tmp_path):
    run = untrained_run(tiny_cfg())
    options = Options(at_epochs=(1, 2), samples=200)
    messages: list[str] = []
    page = build_report(tmp_path, tmp_path / "out", options, progress=messages.append).read_text()
    cache = run / "evaluation" / "evaluation.json"
    result = json.loads(cache.read_text())
    assert result["samples"] == 200 and any(m.endswith("evaluating 200 samples") for m in messages)
    overview = by(table(sections(page)["Evaluation: colours and characters"]), "series")
    assert overview["Baseline"]["MAE"] == f"{result['mae']:.3f}" and overview["Baseline"]["samples"] == "200"
    background = by(table(sections(page)["MAE per background colour"]), "series")["Baseline"]
    assert background["black"].startswith(f"{result['mae_per_background']['black']:.3f} (")

    stamp = cache.stat().st_mtime_ns
    messages.clear()
    assert build_report(tmp_path, tmp_path / "out", options, progress=messages.append).read_text() == page
    assert any(m.endswith(": cached") for m in messages) and cache.stat().st_mtime_ns == stamp
    # Another sample count needs a new evaluation.
    build_report(tmp_path, tmp_path / "out", Options(samples=100), progress=messages.append)
    assert json.loads(cache.read_text())["samples"] == 100
    assert "Reed et al.'s figures" not in page and not list((tmp_path / "out").glob("reed_*"))  # not style data


# --- Reed et al.'s figures of a style run with S ---------------------------------------------------------------

# series -> (label, {seed: final MAE}, data, has S); in the default order: reed_cls+style, reed_gan+style, ...
STYLE_SWEEP = {
    "reed_cls+style": ("GAN-CLS Style", {0: 0.3, 1: 0.2}, "style", True),
    "reed_gan+style": ("GAN Style", {0: 0.1}, "style", False),  # no S: no figures, however good
    "reed_int_cls": ("GAN-INT-CLS", {0: 0.1}, None, True),  # the reference's data: no figures
    "reed_int_cls+style": ("GAN-INT-CLS Style", {0: 0.5, 1: 0.4, 2: 0.45}, "style", True),
}


def write_style_sweep(root: Path, sweep=STYLE_SWEEP) -> None:
    """Finished runs with cached evaluations that say whether each is a style run with S (no weights)."""
    for name, (label, seeds, data, has_s) in sweep.items():
        for seed, mae in seeds.items():
            run = root / name / f"seed={seed}"
            (run / "evaluation").mkdir(parents=True)
            (run / "config.yaml").write_text(f"name: {name}\nlabel: '{label}'\nseed: {seed}\ntrainer: {{epochs: 2}}\n")
            (run / "metrics.csv").write_text(f"epoch,mae\n0,0.9\n1,{mae}\n")
            (run / "status.json").write_text(json.dumps({"status": "done"}))
            result = {**evaluation(mae, "red"), "data": data, "reed": {"has_style_encoder": has_s} if data else None}
            (run / "evaluation" / "evaluation.json").write_text(json.dumps({k: v for k, v in result.items() if v}))


def test_the_figures_are_of_reeds_full_model_else_the_first_style_series_with_s(tmp_path):
    from t2i.analysis.report.cached_evaluations import evaluate_runs
    from t2i.analysis.report.style_figures import choose
    from t2i.analysis.runs import find_runs, group

    def chosen(sweep):
        root = tmp_path / f"sweep of {len(sweep)}"
        write_style_sweep(root, sweep)
        series = group(find_runs(root), [])
        found = choose(series, evaluate_runs(series, root, 100, False, lambda m: None))
        return None if found is None else (found[0].name, found[0].seed)

    assert chosen(STYLE_SWEEP) == ("reed_int_cls+style", 1)  # the lowest final MAE of its seeds
    others = {k: v for k, v in STYLE_SWEEP.items() if k != "reed_int_cls+style"}
    assert chosen(others) == ("reed_cls+style", 1)
    assert chosen({k: STYLE_SWEEP[k] for k in ("reed_gan+style", "reed_int_cls")}) is None


def test_the_figures_are_kept_with_the_records_and_never_lost_where_the_model_is_gone(tmp_path):
    runs, out = tmp_path / "sweep", tmp_path / "report"
    write_style_sweep(runs)
    out.mkdir()
    (out / "reed_interpolation_reed_cls+style.png").write_bytes(b"an older report's choice")
    cache = runs / "reed_int_cls+style" / "seed=1" / "evaluation"
    for kind in ("style_transfer", "interpolation"):
        (cache / f"reed_{kind}.png").write_bytes(kind.encode())  # drawn after the evaluation: current
    options = Options(at_epochs=(2,), evaluate=False, keep_runs=True)
    page = build_report(runs, out, options, progress=lambda m: None).read_text()
    part = sections(page)["Reed et al.'s figures (style data)"]
    assert "**GAN-INT-CLS Style (`reed_int_cls+style`), seed 1**: the series of Reed's full model" in part
    assert "lowest final MAE (0.4000)" in part
    assert (
        "](reed_style_transfer_reed_int_cls+style.png)" in part
        and "](reed_interpolation_reed_int_cls+style.png)" in part
    )
    assert (out / "reed_style_transfer_reed_int_cls+style.png").read_bytes() == b"style_transfer"
    assert not (out / "reed_interpolation_reed_cls+style.png").exists()  # stale
    kept = out / "runs" / "reed_int_cls+style" / "seed=1" / "evaluation"
    assert (kept / "reed_interpolation.png").read_bytes() == b"interpolation"

    # From the records, with evaluation on: nothing to load, the kept figures are shown as they were.
    again = Options(at_epochs=(2,), keep_runs=True)
    assert (
        sections(build_report(out / "runs", out, again, progress=lambda m: None).read_text())[
            "Reed et al.'s figures (style data)"
        ]
        == part
    )
    # Without them, the model cannot be loaded to draw them again: the report's copies stay and are shown.
    for path in kept.glob("reed_*.png"):
        path.unlink()
    messages: list[str] = []
    page = build_report(out / "runs", out, again, progress=messages.append).read_text()
    assert any("Reed et al.'s figures of" in m and "not drawn" in m for m in messages)
    assert (out / "reed_style_transfer_reed_int_cls+style.png").read_bytes() == b"style_transfer"
    assert sections(page)["Reed et al.'s figures (style data)"] == part


def test_what_z_draws_is_shown_for_every_style_series_and_kept_with_the_records(tmp_path):
    runs, out = tmp_path / "sweep", tmp_path / "report"
    write_style_sweep(runs)
    out.mkdir()
    (out / "reed_z_samples_gone.png").write_bytes(b"a series no longer in the sweep")
    best = {"reed_cls+style": 1, "reed_gan+style": 0, "reed_int_cls+style": 1}  # lowest final MAE; style data only
    for name, seed in best.items():
        (runs / name / f"seed={seed}" / "evaluation" / "reed_z_samples.png").write_bytes(name.encode())
    (runs / "reed_cls+style" / "seed=0" / "evaluation" / "reed_z_samples.png").write_bytes(b"not its best seed")
    options = Options(at_epochs=(2,), evaluate=False, keep_runs=True)
    page = build_report(runs, out, options, progress=lambda m: None).read_text()
    part = sections(page)["What z draws (style data)"]
    for name, seed in best.items():
        assert f"(`{name}`), seed {seed}:" in part and f"](reed_z_samples_{name}.png)" in part
        assert (out / f"reed_z_samples_{name}.png").read_bytes() == name.encode()
        kept = out / "runs" / name / f"seed={seed}" / "evaluation" / "reed_z_samples.png"
        assert kept.read_bytes() == name.encode()
    assert "reed_int_cls)" not in part and not (out / "reed_z_samples_gone.png").exists()
    assert part.index("reed_cls+style") < part.index("reed_gan+style") < part.index("reed_int_cls+style")


def test_without_evaluation_the_figures_are_shown_as_drawn_and_no_tensorflow_is_imported(tmp_path):
    write_style_sweep(tmp_path / "sweep")
    for kind in ("style_transfer", "interpolation"):
        (tmp_path / "sweep" / "reed_int_cls+style" / "seed=1" / "evaluation" / f"reed_{kind}.png").write_bytes(b"")
    code = (
        "import sys; from t2i.analysis.report import Options, build_report; "
        f"build_report({str(tmp_path / 'sweep')!r}, {str(tmp_path / 'out')!r}, "
        "Options(at_epochs=(2,), evaluate=False), progress=lambda m: None); print('tensorflow' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False"]
    assert "](reed_interpolation_reed_int_cls+style.png)" in (tmp_path / "out" / "README.md").read_text()


def test_a_report_without_a_style_run_with_s_has_no_reed_figure(report):
    assert "Reed et al.'s figures" not in report["page"] and not list(report["out"].glob("reed_*"))


def test_the_report_draws_reeds_figures_of_a_style_run_with_s(style_run, tmp_path):
    from matplotlib.image import imread

    options = Options(at_epochs=(1,), samples=64, keep_runs=True)
    runs = tmp_path / "runs"  # a copy: the report writes the run's evaluation into it
    shutil.copytree(style_run, runs / style_run.parent.name / style_run.name)
    page = build_report(runs, tmp_path / "report", options, progress=lambda m: None).read_text()
    part = sections(page)["Reed et al.'s figures (style data)"]
    assert "**GAN-INT-CLS Style (`reed_int_cls+style`), seed 0**" in part
    for kind, rows, columns in (("style_transfer", 4, 6), ("interpolation", 5, 8)):
        name = f"reed_{kind}_reed_int_cls+style.png"
        assert f"]({name})" in part
        image = imread(tmp_path / "report" / name)
        # One cell of 32 pixels or more per image, and not blank.
        assert image.shape[0] > 32 * rows and image.shape[1] > 32 * columns and image.std() > 0.05
        assert (
            tmp_path / "report" / "runs" / "reed_int_cls+style" / "seed=0" / "evaluation" / f"reed_{kind}.png"
        ).exists()


def test_wall_time_counts_the_hours_some_run_trained_not_the_idle_days_between_sessions():
    from t2i.analysis.report.provenance import wall_time
    from t2i.analysis.runs import Run

    def run(updated, minutes):
        return Run(Path("r"), "s", "s", 0, {}, None, {"updated": updated, "minutes": minutes})

    # Two overlapping runs on day 1 (10:00-11:00 and 10:30-12:00), one on day 3 (09:00-09:30).
    wall = wall_time([run("2026-01-01T11:00", 60), run("2026-01-01T12:00", 90), run("2026-01-03T09:30", 30)])
    assert wall["busy_hours"] == pytest.approx(2.5) and wall["wall_hours"] == pytest.approx(47.5)
    assert wall["training_hours_total"] == pytest.approx(3.0)
