"""The study as config (conf/study/*.yaml): its series, seeds and budget, and the sweeps it expands to."""

from __future__ import annotations

import copy
import os
import re

import pytest

from t2i.config import ConfigError, available
from t2i.sweeps import study


def test_the_reference_study():
    ref = study.load("reference")
    assert ref.series[:11] == [
        "baseline", "shuffle", "mbd", "shuffle_mbd", "lrx10", "adam_params", "img_noise", "full_vocab",
        "increment_vocab", "rnn_init", "wgan",
    ]  # fmt: skip
    assert set(ref.seeds.values()) == {3} and len(ref.seeds) == 16  # every series: a finding, not a lucky seed
    assert ref.series[-2:] == [
        "d_train",
        "d_train+lrx10",
    ]  # the write-up's D_train, shown apart by the report (t2i/analysis/d_train.py)
    assert (ref.budget, ref.sweep_name) == ("default", "ablation_study")
    assert sorted(ref.series, key=ref.rank) == ref.series
    assert ref.rank("zzz") > ref.rank("ttur") and ref.rank("aaa") < ref.rank("zzz")


def test_every_series_of_every_study_is_an_ablation():
    ablations = set(available("ablation"))
    for name in available("study"):
        # a series of several ablations (a+b) runs them together
        missing = {a for series in study.load(name).series for a in series.split("+")} - ablations
        assert not missing, f"study {name}: no conf/ablation/ file for {sorted(missing)}"


def jobs(multiruns: list[list[str]]) -> set[tuple[str, str]]:
    """The (ablation, seed) runs a list of multiruns makes: each multirun is a product of its swept values."""
    out = set()
    for overrides in multiruns:
        values = dict(o.lstrip("+").split("=", 1) for o in overrides)
        # A list value ([a,b]) is one series of several ablations, named a+b.
        ablations = [a.strip("[]").replace(",", "+") for a in re.findall(r"\[[^\]]*\]|[^,]+", values["ablation"])]
        out |= {(a, s) for a in ablations for s in values["seed"].split(",")}
    return out


def test_a_study_expands_to_each_series_times_its_seeds():
    ref = study.load("reference")
    multiruns = study.multiruns(["+study=reference", "budget=quick", "sweep.workers=2"])
    expected = {(name, str(s)) for name, n in ref.seeds.items() for s in range(n)}
    assert jobs(multiruns) == expected and len(expected) == 48
    for overrides in multiruns:
        # The study's sweep name; the user's budget wins over the study's.
        assert "sweep.name=ablation_study" in overrides and "sweep.workers=2" in overrides
        assert "budget=quick" in overrides and "budget=default" not in overrides
    default_budget = study.multiruns(["+study=reference"])
    assert all("budget=default" in overrides for overrides in default_budget)


def test_without_a_study_or_ablation_the_reference_series_run_once():
    (overrides,) = study.multiruns(["seed=0,1"])
    assert overrides == ["seed=0,1", f"+ablation={','.join(study.load().series)}"]
    assert study.multiruns(["+ablation=mbd", "seed=0"]) == [["+ablation=mbd", "seed=0"]]


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["+study=nope"], "unknown study 'nope' (available: reed, reference)"),
        (["+study=reference", "seed=1"], "+study sets the ablations and seeds"),
        (["+study=reference", "+ablation=mbd"], "+study sets the ablations and seeds"),
        (["+study=reference,reference"], "name one study"),
    ],
)
def test_study_errors_are_one_line(overrides, message):
    with pytest.raises(ConfigError, match="^" + message.replace("+", r"\+").replace("(", r"\(").replace(")", r"\)")):
        study.multiruns(overrides)


def test_t2i_sweep_launches_every_run_of_the_study(tmp_path, monkeypatch):
    from hydra.core.hydra_config import HydraConfig

    import t2i.sweeps.sweep as sweep

    launched = []

    def task(cfg):
        launched.append((cfg.name, str(cfg.seed), cfg.budget))
        return {"run_dir": HydraConfig.get().runtime.output_dir, "outcome": "skipped"}

    monkeypatch.setattr(sweep, "task", task)
    # The Reed study: 19 runs, series of several ablations among them (the reference's 48 are planned, not
    # launched, in test_every_committed_run_is_the_one_its_study_composes; Hydra launches take ~0.4 s each).
    sweep.run_sweep(["+study=reed", f"runs_root={tmp_path}", "budget=tiny", "hydra/launcher=basic"])
    reed = study.load("reed")
    assert sorted(launched) == sorted((n, str(s), "tiny") for n, k in reed.seeds.items() for s in range(k))


def test_every_committed_run_is_the_one_its_study_composes():
    """Each recorded run of experiments/ is what `t2i sweep` would compose for it today: complete ("done")
    for the finished ones, so a rerun skips them; resumable at its checkpoint for those parked in progress
    (experiments/in_progress, the reference study's, the paper budget's and the Reed study's).
    The paper-budget runs are `make study-paper`'s: budget=paper, seed 0 of their ablation."""
    from pathlib import Path

    from t2i.store import rundir
    from t2i.sweeps.sweep import plan

    paper = ["+ablation=baseline,lrx10,wgan,shuffle_mbd", "seed=0", "budget=paper"]
    # experiments/in_progress/queue.sh's: the seven new paper series, and Baseline and LRx10 again with weights
    new_paper = ["+ablation=shuffle,mbd,adam_params,img_noise,full_vocab,increment_vocab,rnn_init", "seed=0"]
    models = ["+ablation=baseline,lrx10", "seed=0", "budget=paper"]
    reference, reed = (study.multiruns([f"+study={name}", "sweep.name=runs"]) for name in ("reference", "reed"))
    recorded = {  # a sweep directory, the multiruns that made its runs, and what a rerun finds them
        "experiments/ablation_study/runs": (reference, "done"),
        "experiments/paper_budget/runs": ([paper], "done"),
        "experiments/reed_study/runs": (reed, "done"),
        # Parked between sessions: finished (waiting for their report) or resumable at their last checkpoint.
        "experiments/in_progress/runs/paper": ([paper, [*new_paper, "budget=paper"]], "parked"),
        "experiments/in_progress/runs/paper_models": ([models], "parked"),
        "experiments/in_progress/runs/ablation_study": (reference, "parked"),
        "experiments/in_progress/runs/reed_study": (reed, "parked"),
    }
    parked = {str(p) for p in Path("experiments/in_progress/runs").iterdir() if p.is_dir()}
    assert parked <= set(recorded), f"parked runs of a sweep this test does not know: {parked - set(recorded)}"
    planned: dict[int, dict] = {}  # each study planned once (~0.5 s a job), its jobs by their place in the sweep

    def jobs_of(multiruns) -> dict:
        if id(multiruns) not in planned:
            where = ["runs_root=/planned", "sweep.name=sweep"]
            jobs = (job for overrides in multiruns for job in plan([*overrides, *where]).jobs)
            planned[id(multiruns)] = {job.run_dir.relative_to("/planned/sweep"): job for job in jobs}
        return planned[id(multiruns)]

    for directory, (multiruns, expected) in recorded.items():
        root = Path(directory)
        runs = sorted(root.glob("*/seed=*"))
        assert runs or expected == "parked", f"no runs in {root}"  # parked runs leave when they finish
        for run in runs:
            job = jobs_of(multiruns).get(run.relative_to(root))
            assert job is not None, f"{run} is no run of its study"
            cfg = copy.deepcopy(job.cfg)  # where the run is; the rest as a sweep of it composes it
            cfg.run_dir, cfg.runs_root, cfg.sweep.name = os.path.abspath(run), os.path.abspath(root.parent), root.name
            found = rundir.check_run_dir(cfg)
            assert found == expected or (expected == "parked" and found in ("done", "resume")), run
            if found == "resume":
                assert rundir.resume_point(cfg) == rundir.checkpoint_epoch(run), run
