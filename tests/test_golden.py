"""Golden curves: the step of every ablation gives the numbers it gave when the goldens were recorded.

Recorded with `python -m tests.golden.record` before a change that must change structure only. On the
recording machine (same CPU model and core count) every number must be equal bit for bit; on another CPU,
kernels round differently, so numbers must agree to 1e-4 relative, which a changed step never does (the
smallest change a step makes at this budget moves D's losses by more than 1e-3).
"""

from __future__ import annotations

import pytest

from t2i.config import available
from tests.golden.harness import COMBOS, FAST, GRAPH, assert_matches_golden, golden_name, recorded, run_ablation

JOBS = [(n, False) for n in available("ablation")] + [(n, True) for n in GRAPH] + [(n, False) for n in COMBOS]


def _param(name, graph):
    # The default config's goldens are slow-marked here: test_training's traced 3-epoch run is the golden run
    # of the default step and is compared with its golden there, and it checks that eager steps give the traced
    # numbers.
    fast = name in FAST and not graph and name != "baseline"
    marks = [] if fast else [pytest.mark.slow]
    return pytest.param(name, graph, id=golden_name(name, graph), marks=marks)


def test_every_ablation_has_a_golden_curve():
    for name, graph in JOBS:
        recorded(golden_name(name, graph))


@pytest.mark.parametrize(("name", "graph"), [_param(n, g) for n, g in JOBS])
def test_golden_curve(name, graph, tmp_path):
    assert_matches_golden(run_ablation(name, tmp_path, graph), golden_name(name, graph))
