"""Extrema near a measured threshold (repalign.inference.threshold: threshold_window, near_threshold_verdict,
local_peak), on curves whose answer is known and against the real-data chapter's former code."""

import math

import numpy as np
import pytest

from repalign.inference.extrema import Extremum, extremum, mean_curve
from repalign.inference.threshold import (AT_EDGE, AWAY, NEAR, NEAR_FACTOR, NO_THRESHOLD, local_peak,
                                          near_threshold_verdict, threshold_window)

GRID = np.array([10, 20, 30, 40, 60, 80, 120, 160, 240])
REPEATS = 8
NOISE = 0.01  # a mean's standard error: 0.0035; the planted bumps below are 0.2 to 0.5 high (> 50 of them)


def _sweep(curve, seed=0):
    rng = np.random.default_rng(seed)
    x = np.tile(GRID, REPEATS)
    groups = np.repeat(np.arange(REPEATS), GRID.size)
    return x, np.tile(np.asarray(curve, dtype=float), REPEATS) + rng.normal(0, NOISE, x.size), groups


def _at(location, at_edge=False):
    return Extremum(location=location, grid_location=location, value=0.0, low=location, high=location, log_sd=0.0,
                    level=0.68, below=math.nan, above=math.nan, at_edge=at_edge)


# The real-data chapter's functions before they moved, verbatim (WINDOW and cfg.boot as globals).
WINDOW = 2.0
BOOT = 100


def near_verdict(ext, n_star: float) -> str:
    if not np.isfinite(n_star):
        return "no threshold in the grid"
    if ext.at_edge:
        return "at an end of the grid, so no interior extremum"
    rel = ext.location / n_star
    return "near the threshold" if 1 / WINDOW <= rel <= WINDOW else "away from the threshold"


def chapter_local_peak(rows, n_star: float):
    grid, curve = mean_curve(rows["n_train"], rows["test_error"], rows["seed"])
    if not np.isfinite(n_star):
        return None, None
    peaks = [i for i in range(1, grid.size - 1) if n_star / WINDOW <= grid[i] <= n_star * WINDOW
             and curve[i] > curve[i - 1] and curve[i] > curve[i + 1]]
    if not peaks:
        return None, None
    i = max(peaks, key=lambda k: curve[k])
    ext = extremum(rows["n_train"], rows["test_error"], rows["seed"], kind="max", boot=BOOT,
                   window=(math.nextafter(grid[i - 1], math.inf), math.nextafter(grid[i + 1], -math.inf)))
    return ext, float(np.nanmin(curve[:i]))


def test_near_verdict_at_next_to_and_far_from_n_star():
    n_star = 40.0
    assert near_threshold_verdict(_at(40.0), n_star) == NEAR
    assert near_threshold_verdict(_at(80.0), n_star) == NEAR == near_threshold_verdict(_at(20.0), n_star)  # bounds in
    assert near_threshold_verdict(_at(80.5), n_star) == AWAY == near_threshold_verdict(_at(19.5), n_star)
    assert near_threshold_verdict(_at(400.0), n_star) == AWAY
    assert near_threshold_verdict(_at(40.0, at_edge=True), n_star) == AT_EDGE
    assert near_threshold_verdict(_at(40.0), math.nan) == NO_THRESHOLD
    assert near_threshold_verdict(_at(100.0), n_star, factor=3.0) == NEAR
    for ext in (_at(40.0), _at(80.0), _at(80.5), _at(10.0), _at(40.0, at_edge=True)):
        for n in (40.0, math.nan, 15.0):
            assert near_threshold_verdict(ext, n) == near_verdict(ext, n)
    with pytest.raises(ValueError, match="factor must be a number > 1"):
        near_threshold_verdict(_at(40.0), n_star, factor=1.0)


def test_threshold_window():
    assert NEAR_FACTOR == 2.0
    assert threshold_window(40.0) == (20.0, 80.0)
    assert threshold_window(math.nan) is None
    with pytest.raises(ValueError, match="factor"):
        threshold_window(40.0, factor=0.5)


def test_local_peak_finds_a_bump_on_a_falling_curve():
    falling = 2.0 - 0.1 * np.arange(GRID.size)
    bumped = falling.copy()
    bumped[4] += 0.5  # a local maximum at N = 60, below the curve's global maximum at N = 10
    x, values, groups = _sweep(bumped)
    peak, rise_from = local_peak(x, values, groups, 50.0, boot=BOOT)
    assert peak.grid_location == 60 and 40 <= peak.location <= 80
    assert peak.value == pytest.approx(bumped[4], abs=5 * NOISE / math.sqrt(REPEATS))
    # the lowest mean at smaller N: the point just before the bump
    assert rise_from == pytest.approx(falling[3], abs=5 * NOISE / math.sqrt(REPEATS))
    assert local_peak(x, values, groups, 500.0, boot=BOOT) == (None, None)  # the bump is outside N*/2..2N*
    assert local_peak(x, values, groups, math.nan, boot=BOOT) == (None, None)
    assert local_peak(*_sweep(falling), 50.0, boot=BOOT) == (None, None)  # no local maximum at all


def test_local_peak_takes_the_highest_of_several_and_equals_the_chapter():
    curve = 1.0 - 0.05 * np.arange(GRID.size)
    curve[3] += 0.2  # N = 40
    curve[5] += 0.4  # N = 80: higher
    x, values, groups = _sweep(curve, seed=1)
    peak, rise_from = local_peak(x, values, groups, 50.0, boot=BOOT)
    assert peak.grid_location == 80
    rows = {"n_train": x, "test_error": values, "seed": groups}
    for n_star in (50.0, 30.0, math.nan, 500.0):
        assert local_peak(x, values, groups, n_star, boot=BOOT) == chapter_local_peak(rows, n_star)
    assert local_peak(x, values, groups, 30.0, boot=BOOT)[0].grid_location == 40  # 80 lies beyond 2 N*
