"""Does the alignment minimum sit where the test error peaks? A co-location test over the
independent ensembles, paired by seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .core import UNDECIDED, level, measurements, one_sided_p, repeats_needed
from .extrema import _location, _locations, _pick, repeat_matrix
from .threshold import NEAR_FACTOR, _check_factor


# --- does the alignment minimum sit at the test-error peak? A co-location test --------------

TOGETHER, APART = "together", "apart"  # the minimum sits at the peak / away from it (UNDECIDED: neither shown)
COLOCATIONS = (TOGETHER, APART, UNDECIDED)


@dataclass(frozen=True)
class Colocation:
    """Where the alignment minimum sits relative to the test-error peak: their ratio N_min / N_peak."""

    ratio: float  # 10 ** (mean over repeats of log10 N_min - log10 N_peak): a geometric mean of per-repeat ratios
    low: float  # its t interval over the repeats, at level ``level`` = 1 - alpha
    high: float
    p_together: float  # two one-sided t-tests (TOST) that the ratio lies within [1/factor, factor]: the larger p
    p_apart: float  # ... that it lies beyond the margin on the estimate's side (doubled: the side is read from the data)
    p: float  # the p-value of ``decision`` (undecided: of the nearer side, the smaller of the two; NaN at_edge)
    decision: str  # one of COLOCATIONS at error ``alpha``
    repeats: int  # repeats with both whole curves
    repeats_needed: float  # repeats that would decide the nearer side with 80% power (t-based; NaN: nothing to
    # size; inf: an extremum at an end of the grid, which more repeats would not move)
    location_min: float  # x of the minimum of the mean alignment curve, and of the peak of the mean error curve
    location_peak: float
    min_at_edge: bool  # that extremum of the mean curve is at an end of the grid: a bound, not a location
    peak_at_edge: bool
    factor: float
    alpha: float
    level: float
    reason: str = ""  # why it could not be tested ("" when it was; otherwise the p-values are NaN)

    @property
    def at_edge(self) -> bool:
        """The minimum or the peak of the mean curve is at an end of the grid: the ratio is no location."""
        return self.min_at_edge or self.peak_at_edge


def colocation_test(x, alignment, error, groups, *, factor: float = NEAR_FACTOR,
                    alpha: float = 0.05) -> Colocation:
    """Does the alignment minimum sit at the test-error peak, within a factor ``factor`` either side?

    Per independent ensemble (``groups``), the minimum of its alignment curve and the maximum of
    its test-error curve are located over the whole grid, as :func:`extremum` locates them (the
    extreme grid point refined by a parabola in log10 x), and the difference of the two log
    locations is taken. The repeat is the right unit for this pairing: one seed gives the same
    clean data and the same initialisations at every x (common random numbers), so its two
    curves share whatever moves them together, and the differences of distinct seeds are
    independent. Their mean estimates log10 of the ratio N_min / N_peak of a typical seed, with
    a t interval over the repeats at level 1 - ``alpha``. That is the ratio of the mean curves'
    extrema when the seeds' curves differ by shifts, tilts or stationary wiggles along log x; a
    seed-to-seed change of shape whose curvature at an extremum goes with its slope there moves
    the seeds' extrema, on average, away from the mean curve's.

    Decisions (with L = log10 ``factor``), each at error ``alpha`` when it is false:

    - TOGETHER: the mean log ratio lies within [-L, L], by two one-sided t-tests (TOST;
      ``p_together`` is the larger of the two p-values), an intersection-union test like
      :func:`window_test`. An interval at level 1 - ``alpha`` inside the margin implies it
      (it is the interval at level 1 - 2 ``alpha`` that TOST reads).
    - APART: it lies beyond the margin on the side of the estimate, by the one-sided t-test of
      lying beyond L (or below -L); the side is read from the data, so its p-value is doubled
      (``p_apart``), which makes APART the same as the interval lying wholly outside the margin.
    - UNDECIDED otherwise; ``p`` is then the smaller of the two p-values and ``repeats_needed``
      sizes the nearer side (:func:`repalign.inference.repeats_needed`, one-sided, at the
      measured mean and spread of its shifted differences).

    An extremum of a mean curve at an end of the grid is a bound, not a location: the curve may
    go on falling (or rising) beyond the grid, and no parabola through a neighbour on each side
    refines it, so the true extremum may lie anywhere from the interior neighbour outwards. Then
    (``min_at_edge`` / ``peak_at_edge``, ``at_edge``) the test decides nothing: UNDECIDED, ``p``
    NaN and ``repeats_needed`` inf (at the measured mean curves the end stays the extremum however
    many ensembles are added: only a longer grid would locate it), the ratio and the two p-values
    reported as they were computed. A repeat whose own extremum is at an end (the mean curve's
    being inside) enters at that grid value. Only repeats with a finite value of both curves at every grid value take part; with
    fewer than two the test is not done (``reason`` says why).
    """
    factor, alpha = _check_factor(factor), level("alpha", alpha)
    measurements("error", error)  # named here: repeat_matrix calls every curve values
    grid, a = repeat_matrix(x, alignment, groups, complete=False)
    _, e = repeat_matrix(x, error, groups, complete=False)
    if np.any(grid <= 0):
        raise ValueError("x must be positive (the locations are found on a log axis)")
    whole = np.isfinite(a).all(axis=1) & np.isfinite(e).all(axis=1)
    a, e = a[whole], e[whole]
    lgrid, every, margin = np.log10(grid), np.ones(grid.size, dtype=bool), math.log10(factor)
    mean_a = a.mean(axis=0) if whole.any() else np.full(grid.size, np.nan)
    mean_e = e.mean(axis=0) if whole.any() else np.full(grid.size, np.nan)
    i_min, i_peak = _pick(mean_a, "min", every), _pick(mean_e, "max", every)  # None: no repeat with whole curves
    loc_min = 10 ** _location(lgrid, mean_a, "min", every) if i_min is not None else math.nan
    loc_peak = 10 ** _location(lgrid, mean_e, "max", every) if i_peak is not None else math.nan
    min_edge, peak_edge = (i in (0, grid.size - 1) for i in (i_min, i_peak))  # None (no whole repeat): False
    common = dict(location_min=float(loc_min), location_peak=float(loc_peak), min_at_edge=min_edge,
                  peak_at_edge=peak_edge, factor=factor, alpha=alpha, level=1 - alpha)
    repeats = int(a.shape[0])
    if repeats < 2:
        return Colocation(math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, UNDECIDED, repeats,
                          math.nan, **common,
                          reason=f"{repeats} repeat(s) with both whole curves; the test needs two or more")
    diff = _locations(lgrid, a, "min", every) - _locations(lgrid, e, "max", every)  # log10 N_min - log10 N_peak
    test = margin_test(diff, margin, alpha, decide=not (min_edge or peak_edge))
    decision = {INSIDE: TOGETHER, BEYOND: APART}.get(test.decision, UNDECIDED)
    return Colocation(ratio=10**test.mean, low=10**test.low, high=10**test.high, p_together=test.p_inside,
                      p_apart=test.p_beyond, p=test.p, decision=decision, repeats=repeats,
                      repeats_needed=math.inf if min_edge or peak_edge else test.repeats_needed, **common)


INSIDE, BEYOND = "inside", "beyond"  # margin_test's decisions (UNDECIDED: neither shown)


@dataclass(frozen=True)
class MarginTest:
    """Is the mean of independent per-repeat values within a margin of 0, or beyond it?"""

    mean: float
    low: float  # t interval at level 1 - alpha
    high: float
    p_inside: float  # two one-sided t-tests (TOST): the larger p
    p_beyond: float  # beyond the margin on the estimate's side, doubled (the side is read from the data)
    p: float  # of the decision (undecided: the smaller of the two; NaN when not decided by design)
    decision: str  # INSIDE, BEYOND or UNDECIDED
    repeats_needed: float  # repeats that would decide the nearer side with 80% power (NaN when not decided)


def margin_test(values: np.ndarray, margin: float, alpha: float, *, decide: bool = True) -> MarginTest:
    """Within [-margin, margin] by TOST, or beyond it on the estimate's side, from per-repeat
    ``values`` (at least two), each at error ``alpha`` when false. ``decide=False`` (the values
    are bounds, not locations) computes the numbers and decides nothing."""
    values = np.asarray(values, dtype=float)
    repeats, mean = values.size, float(values.mean())
    half = float(stats.t.ppf(1 - alpha / 2, repeats - 1) * values.std(ddof=1) / math.sqrt(repeats))
    side = 1 if mean >= 0 else -1  # the estimate's side of 0
    # Each row's mean > 0 is a one-sided alternative: above -margin, below margin (TOST), and beyond
    # the margin on the estimate's side.
    shifted = np.stack([values + margin, margin - values, side * values - margin])
    p_above, p_below, p_beyond = (float(v) for v in one_sided_p(shifted))
    p_inside, p_beyond = max(p_above, p_below), min(1.0, 2 * p_beyond)
    if decide and p_inside <= alpha:
        decision, p = INSIDE, p_inside
    elif decide and p_beyond <= alpha:
        decision, p = BEYOND, p_beyond
    else:
        decision, p = UNDECIDED, min(p_inside, p_beyond) if decide else math.nan
    if p_inside <= p_beyond:  # the nearer side: the TOST side that binds
        effects, level_used = shifted[0 if p_above >= p_below else 1], alpha
    else:
        effects, level_used = shifted[2], alpha / 2
    needed = repeats_needed(effects, alpha=level_used, sides=1) if decide else math.nan
    return MarginTest(mean, mean - half, mean + half, p_inside, p_beyond, float(p), decision, needed)
