"""The tracking test: does an extremum move with the threshold across widths? Its decisions on
constructed sweeps, and its error rates at the margin, measured by simulation."""

import math

import numpy as np
import pytest

from repalign.inference import UNDECIDED
from repalign.inference.threshold import NEAR_FACTOR
from repalign.inference.phrases import tracking_sentence
from repalign.inference import mean_interval
from repalign.inference.tracking import DRIFTS, TRACKS, Located, geometric_interval, locate, tracking_test

THRESHOLDS = {2: 9.0, 4: 17.0, 8: 33.0, 16: 65.0, 32: 129.0}  # N* of five widths, about 14x apart


def _sweep(slope: float, repeats: int, rng, spread: float = 0.05, edge: tuple = ()):
    """Per width, each repeat's threshold and extremum location: N_x = N*^slope x lognormal noise."""
    stars, located = {}, {}
    for w, star in THRESHOLDS.items():
        per_star = {r: star * math.exp(0.02 * rng.standard_normal()) for r in range(repeats)}
        stars[w] = per_star
        located[w] = Located({r: per_star[r] ** slope * math.exp(spread * rng.standard_normal())
                              for r in range(repeats)}, at_edge=w in edge)
    return stars, located


def test_a_minimum_at_the_threshold_tracks_it_and_one_fixed_in_n_drifts():
    rng = np.random.default_rng(0)
    tracks = tracking_test(*_sweep(1.0, 6, rng))
    assert tracks.decision == TRACKS and tracks.low < 1 < tracks.high and tracks.widths == 5
    assert tracks.margin == pytest.approx(math.log(NEAR_FACTOR) / math.log(tracks.span))
    fixed = tracking_test(*_sweep(0.0, 6, rng))
    assert fixed.decision == DRIFTS and fixed.high < 1 - fixed.margin


def test_widths_at_a_grid_end_are_left_out_and_too_few_decide_nothing():
    rng = np.random.default_rng(1)
    result = tracking_test(*_sweep(1.0, 6, rng, edge=(2, 4)))
    assert result.widths == 3 and result.decision == TRACKS
    none = tracking_test(*_sweep(1.0, 6, rng, edge=(2, 4, 8)))
    assert none.decision == UNDECIDED and "only 2 widths with a located extremum" in none.reason and math.isnan(none.p)
    assert none.repeats_needed == math.inf and "at 3 widths it sits at an end of the grid" in none.reason
    stars, located = _sweep(1.0, 6, rng)
    two = tracking_test({w: stars[w] for w in (16, 32)}, {w: located[w] for w in (16, 32)})
    assert two.decision == UNDECIDED and math.isnan(two.repeats_needed)  # only two widths swept: nothing to size
    one = tracking_test(*_sweep(1.0, 1, rng))
    assert one.decision == UNDECIDED and "only 1 repeat with" in one.reason


def test_a_noisy_slope_with_two_repeats_is_undecided_and_says_how_many_would_decide():
    result = tracking_test(*_sweep(1.0, 2, np.random.default_rng(2), spread=0.6))
    assert result.decision == UNDECIDED and result.repeats_needed > 2


@pytest.mark.parametrize("inside", [True, False])
def test_error_rates_at_the_margin_are_at_most_alpha(inside):
    """At the margin's edge (slope 1 + margin, seen from outside), TRACKS is a false positive;
    just inside it (slope 1 + margin / 2 with the noise set so that it is hard), DRIFTS is. Each
    at most alpha = 0.05 plus three Monte-Carlo standard errors over 600 simulated sweeps."""
    rng = np.random.default_rng(3)
    span = THRESHOLDS[32] / THRESHOLDS[2]
    margin = math.log(NEAR_FACTOR) / math.log(span)
    slope = 1 + (margin / 2 if inside else margin)
    wrong = DRIFTS if inside else TRACKS
    runs = 600
    hits = sum(tracking_test(*_sweep(slope, 5, rng, spread=0.3)).decision == wrong for _ in range(runs))
    assert hits / runs <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / runs)


def test_locate_finds_each_repeats_minimum_and_flags_a_grid_end():
    grid = np.array([10.0, 20.0, 40.0, 80.0, 160.0])
    x = np.tile(grid, 3)
    groups = np.repeat([0, 1, 2], grid.size)
    centres = {0: 40.0, 1: 30.0, 2: 50.0}
    values = np.concatenate([(np.log10(grid) - math.log10(centres[g])) ** 2 for g in (0, 1, 2)])
    found = locate(x, values, groups, kind="min")
    assert not found.at_edge
    for g, centre in centres.items():  # a parabola in log x is refined exactly
        assert found.per_repeat[g] == pytest.approx(centre, rel=1e-9)
    falling = locate(x, -np.log(x), groups, kind="min")
    assert falling.at_edge


def test_geometric_interval_is_the_t_interval_of_the_logs():
    centre, low, high = geometric_interval([10.0, 20.0, 40.0])
    assert centre == pytest.approx(20.0)
    half = 4.302652729911275 * math.log(2) / math.sqrt(3)  # t(0.975, 2) x sd of the logs / sqrt(3)
    assert (low, high) == pytest.approx((20 * math.exp(-half), 20 * math.exp(half)))
    assert math.isnan(geometric_interval([5.0])[1])


def test_mean_interval_is_the_t_interval_and_covers_at_its_level():
    mean, low, high = mean_interval([1.0, 2.0, 3.0])
    assert (mean, low, high) == pytest.approx((2.0, 2.0 - 4.302652729911275 / math.sqrt(3),
                                               2.0 + 4.302652729911275 / math.sqrt(3)))
    assert math.isnan(mean_interval([5.0])[2])
    rng = np.random.default_rng(4)
    sims = 2000  # normal samples of 8: the 95% interval misses the true mean at about 5%
    misses = sum(not (low <= 0.0 <= high) for _, low, high in (mean_interval(rng.normal(0, 1, 8)) for _ in range(sims)))
    assert abs(misses / sims - 0.05) <= 3 * math.sqrt(0.05 * 0.95 / sims)


@pytest.mark.parametrize("decisions, expected", [
    ({"A": TRACKS, "B": TRACKS}, "The minimum for both settings tracks the threshold."),
    ({"A": DRIFTS}, "The minimum drifts away from the threshold."),
    ({f"s{i}": UNDECIDED for i in range(10)},
     "The minimum for all 10 settings is undecided with 4 ensembles per point."),
    ({"A": TRACKS, "B": UNDECIDED}, "The minimum for A tracks the threshold; the minimum for B is undecided with "
                                    "4 ensembles per point."),
    ({"A": DRIFTS, "B": TRACKS, "C": DRIFTS}, "The minimum for B tracks the threshold; the minimum for A and C drifts "
                                              "away from the threshold."),
])
def test_the_tracking_sentence_reads_identical_decisions_as_one_clause(decisions, expected):
    assert tracking_sentence(decisions, "the minimum", 4) == expected
