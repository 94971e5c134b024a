"""Trained alignment against the untrained floor (repalign.inference.floor): decisions, phrases, error rate."""

import math

import numpy as np
import pandas as pd
import pytest

from repalign.inference import UNDECIDED
from repalign.inference.floor import ABOVE, BELOW, floor_phrase, floor_test


def table(shifts, repeats=10, noise=0.01, seed=0, drift=0.0):
    """One row per (point, seed): alignment = floor + shift of the point + noise; ``drift`` adds
    a per-seed effect shared by every point of that seed (common random numbers)."""
    rng = np.random.default_rng(seed)
    per_seed = drift * rng.normal(size=repeats)
    rows = [{"n": n, "seed": s, "floor": 0.3 + 0.05 * rng.normal(),
             "noise": per_seed[s] + noise * rng.normal()} for n in range(len(shifts)) for s in range(repeats)]
    frame = pd.DataFrame(rows)
    frame["alignment"] = frame.floor + np.asarray(shifts)[frame.n] + frame.noise
    return frame


def test_points_above_below_and_at_the_floor():
    found = floor_test(table([0.1, -0.1, 0.0], noise=0.01), ["n"])
    assert found.verdict.tolist() == [ABOVE, BELOW, UNDECIDED]
    np.testing.assert_allclose(found.difference[:2], [0.1, -0.1], atol=0.01)  # noise 0.01 per ensemble
    assert (found.p[:2] < 1e-6).all() and math.isnan(found.repeats_needed[0]) and found.p[2] > 0.01
    assert floor_phrase(found) == ("Trained alignment is above its untrained floor at 1 of 3 points, below it at 1 "
                                   "and indistinguishable from it at 1, at a false-discovery rate of 5%")
    every = floor_test(table([0.1, 0.2]), ["n"])
    none = floor_test(table([0.0, 0.0], noise=0.0), ["n"])  # exactly at the floor
    assert floor_phrase(none) == ("Trained alignment is above its untrained floor at none of the 2 points and "
                                  "indistinguishable from it at 2, at a false-discovery rate of 5%")
    assert floor_phrase(every, "curves") == ("Trained alignment is above its untrained floor at all 2 curves, "
                                             "at a false-discovery rate of 5%")


def test_a_missing_floor_or_column_is_refused():
    broken = table([0.1]).assign(floor=np.nan)
    with pytest.raises(ValueError, match="table.floor must be finite numbers"):
        floor_test(broken, ["n"])
    with pytest.raises(ValueError, match="missing \\['floor'\\]"):
        floor_test(table([0.1]).drop(columns="floor"), ["n"])


def test_no_point_is_called_off_the_floor_more_often_than_the_nominal_rate():
    # At the floor everywhere, with a per-seed effect shared by every point: any discovery at
    # most at q = 5% plus three Monte-Carlo standard errors (BH over the points is then FWER).
    sims = 400
    found = sum((floor_test(table([0.0] * 6, noise=0.05, seed=i, drift=0.05), ["n"]).verdict != UNDECIDED).any()
                for i in range(sims))
    assert found / sims <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / sims)
