"""Reed et al.'s claims as Welch tests over seeds (t2i/analysis/reed_claims.py), on hand-made evaluation results."""

from __future__ import annotations

import json

import pytest

from t2i.analysis.reed_claims import CLAIMS, claims_table, variant
from t2i.analysis.welch import welch_p_value


def result(
    mae,
    readability=0.5,
    unseen=None,
    kept=0.9,
    kept_random=0.125,
    auc=0.7,
    untrained_auc=0.6,
    coverage=1.0,
    data="style",
) -> dict:
    return {
        "data": data,
        "mae": mae,
        "readability": readability,
        "unseen": {"mae": mae if unseen is None else unseen, "readability": readability},
        "reed": {
            "style_transfer": {"background_match": kept, "random_z": {"background_match": kept_random}},
            "style_auc": {"auc": auc, "untrained_auc": untrained_auc},
            "coverage": {"distinct_mean": coverage},
        },
    }


# Seeds of each variant. GAN-CLS beats GAN clearly on MAE; GAN-INT is worse than GAN on MAE (against claim b);
# GAN-INT-CLS has one seed (nothing decided against it).
STUDY = {
    "reed_gan+style+unseen": [result(0.30), result(0.31), result(0.29)],
    "reed_cls+style+unseen": [result(0.10), result(0.11), result(0.12)],
    "reed_int+style+unseen": [
        result(0.40, auc=0.9, coverage=3.0),
        result(0.41, auc=0.91, coverage=4.0),
        result(0.42, auc=0.89, coverage=5.0),
    ],
    "reed_int_cls+style+unseen": [result(0.05)],
    "unseen": [result(0.2, data=None)],  # the reference's Baseline: no variant
}


def rows(table, claim, comparison, measure):
    found = table[
        table["claim"].str.startswith(f"({claim})")
        & (table["comparison"] == comparison)
        & table["measure"].str.startswith(measure)
    ]
    assert len(found) == 1, (claim, comparison, measure)
    return found.iloc[0]


def test_each_comparison_is_a_welch_test_read_in_the_claimed_direction():
    table = claims_table(STUDY)
    cls = rows(table, "a", "GAN-CLS vs GAN", "MAE (lower")
    assert cls["result"] == "supports" and cls["gain"] == pytest.approx(0.19)
    assert cls["claimed better"] == "0.110 ± 0.010 (n=3)" and cls["other"] == "0.300 ± 0.010 (n=3)"
    p = welch_p_value([0.10, 0.11, 0.12], [0.30, 0.31, 0.29])
    assert cls["Welch"] == f"p={p:.2g} **"
    against = rows(table, "b", "GAN-INT vs GAN", "MAE (lower")
    assert against["result"] == "contradicts" and against["gain"] == pytest.approx(-0.11)
    assert rows(table, "e", "GAN-INT vs GAN", "style AUC")["result"] == "supports"  # higher is better there
    one_seed = rows(table, "c", "GAN-INT-CLS vs GAN", "MAE")
    assert one_seed["result"] == "not decided" and one_seed["Welch"] == "n < 2"
    # (d) within a variant: S's background against a random z's.
    style = rows(table, "d", "GAN vs GAN, background kept by a random z", "background kept by S(x)")
    assert style["claimed better"].startswith("0.900") and style["other"].startswith("0.125")
    # and S's style AUC against its untrained architecture's (the control whose AUC is not learned)
    # ... the backgrounds G draws over z against a G that ignores z (1): a one-sample t-test
    over_z = rows(table, "d", "GAN-INT vs GAN-INT, one background, a G that ignores z", "backgrounds drawn")
    assert (
        over_z["result"] == "supports" and over_z["gain"] == pytest.approx(3.0) and over_z["other"].startswith("1.000")
    )
    collapsed = rows(table, "d", "GAN vs GAN, one background, a G that ignores z", "backgrounds drawn")
    assert collapsed["result"] == "not decided" and collapsed["gain"] == 0  # coverage 1 everywhere: mode collapse
    learned = rows(table, "d", "GAN-INT vs GAN-INT, style AUC of an untrained S", "style AUC")
    assert learned["result"] == "supports" and learned["gain"] == pytest.approx(0.3)
    tied = rows(table, "a", "GAN-CLS vs GAN", "readability")
    assert tied["result"] == "not decided" and tied["Welch"] == "no variance"  # all seeds equal: no test
    assert table.attrs["variants"] == {
        "GAN": "reed_gan+style+unseen",
        "GAN-CLS": "reed_cls+style+unseen",
        "GAN-INT": "reed_int+style+unseen",
        "GAN-INT-CLS": "reed_int_cls+style+unseen",
    }
    assert len(table) == sum(len(c) for _, c in CLAIMS.values())  # every comparison has both sides here


def test_missing_variants_drop_their_comparisons_and_other_data_never_mixes_in():
    only_two = {k: STUDY[k] for k in ("reed_gan+style+unseen", "reed_cls+style+unseen")}
    only_two["reed_int"] = [result(0.01, data=None), result(0.02, data=None)]  # the reference's data
    table = claims_table(only_two)
    assert set(table["comparison"]) == {"GAN-CLS vs GAN", "GAN vs GAN, background kept by a random z",
                                        "GAN-CLS vs GAN-CLS, background kept by a random z",
                                        "GAN vs GAN, style AUC of an untrained S",
                                        "GAN-CLS vs GAN-CLS, style AUC of an untrained S",
                                        "GAN vs GAN, one background, a G that ignores z",
                                        "GAN-CLS vs GAN-CLS, one background, a G that ignores z"}  # fmt: skip
    assert claims_table({"unseen": STUDY["unseen"]}).empty


def test_variants_are_read_off_the_series_name():
    assert variant("reed_int_cls+style+unseen") == "GAN-INT-CLS" and variant("reed_int+style") == "GAN-INT"
    assert variant("reed_gan") == "GAN" and variant("unseen") is None and variant("dcgan+unseen") is None


def test_the_report_shows_the_claims_under_reeds_measures(tmp_path):
    from t2i.analysis.report import Options, build_report
    from tests.test_report import sections, table

    runs = tmp_path / "sweep"
    for name, results in STUDY.items():
        for seed, res in enumerate(results):
            run = runs / name / f"seed={seed}"
            (run / "evaluation").mkdir(parents=True)
            (run / "config.yaml").write_text(f"name: {name}\nlabel: '{name}'\nseed: {seed}\ntrainer: {{epochs: 2}}\n")
            (run / "metrics.csv").write_text(f"epoch,mae\n0,0.9\n1,{res['mae']}\n")
            (run / "status.json").write_text(json.dumps({"status": "done"}))
            (run / "evaluation" / "evaluation.json").write_text(json.dumps({**res, "samples": 100}))
    out = tmp_path / "report"
    page = build_report(runs, out, Options(at_epochs=(2,), evaluate=False, samples=100), lambda m: None).read_text()
    part = sections(page)["Reed et al.'s claims, tested"]
    assert "GAN-CLS = `reed_cls+style+unseen`" in part
    shown = table(part)
    assert len(shown) == len(claims_table(STUDY)) and (out / "reed_claims.csv").exists()
    assert {r["result"] for r in shown} == {"supports", "contradicts", "not decided"}
