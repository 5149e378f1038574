"""Welch's t-test of final MAEs against known values (t2i.analysis.welch)."""

from __future__ import annotations

import math

import pytest

from t2i.analysis.welch import significance, student_t_two_sided_p, welch_p_value


@pytest.mark.parametrize("t", [0.0, 0.3, 1.0, 2.5, 12.706, 40.0])
def test_t_p_value_matches_closed_forms(t):
    # df=1 is the Cauchy distribution: P(|T|>=t) = 1 - 2/pi * atan(t).
    assert student_t_two_sided_p(t, 1) == pytest.approx(1 - 2 / math.pi * math.atan(t), abs=1e-12)
    # df=2 has CDF 1/2 + t / (2 sqrt(2 + t^2)), so P(|T|>=t) = 1 - t / sqrt(2 + t^2).
    assert student_t_two_sided_p(-t, 2) == pytest.approx(1 - t / math.sqrt(2 + t * t), abs=1e-12)


def test_t_p_value_matches_tables():
    # Two-sided 5% critical values from a standard Student t table: df=10 -> 2.228, df=30 -> 2.042.
    assert student_t_two_sided_p(2.228, 10) == pytest.approx(0.05, abs=2e-4)
    assert student_t_two_sided_p(2.042, 30) == pytest.approx(0.05, abs=2e-4)
    # Large df tends to the normal: 1.959964 is the normal's two-sided 5% point.
    assert student_t_two_sided_p(1.959964, 1e6) == pytest.approx(0.05, abs=1e-4)


def test_welch_matches_r():
    # R's t.test (Welch by default) on these samples prints t = -1.8325, df = 17.9, p-value = 0.08356
    # (the worked example in the stats.stackexchange answer on Welch confidence intervals).
    a = [11, 9, 10, 11, 10, 12, 9, 11, 12, 9]
    b = [11, 13, 10, 13, 12, 9, 11, 12, 12, 11]
    assert welch_p_value(a, b) == pytest.approx(0.08356, abs=1e-5)
    assert math.isnan(welch_p_value([1.0], b))
    assert math.isnan(welch_p_value([1.0, 1.0], [2.0, 2.0]))  # no variance: undefined


def test_significance_labels():
    assert significance(0.031) == "p=0.031 *"
    assert significance(0.004) == "p=0.004 **"
    assert significance(0.21) == "p=0.21 n.s."
    assert significance(math.nan) == ""
