"""Where an extremum lies relative to the interpolation threshold, by tests with a known error
rate: the window test (is the minimum of the mean curve inside a window of the grid?), its
form around a measured threshold, and two paired questions about a curve (is its minimum
lower than another's; does it rise somewhere?). The extrema themselves: ``extrema``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import validate
from .core import UNDECIDED, level, measurements, one_sided_p, repeats_needed
from .extrema import _columns, _repeat_columns, repeat_matrix


# --- extrema near a measured threshold ------------------------------------------------------

NEAR_FACTOR = 2.0  # an extremum within this factor of N* (either side) counts as near the threshold


def _check_star(name: str, value) -> float:
    """A measured threshold: a positive finite grid value, or NaN when nothing interpolated."""
    if validate.is_number(value) and math.isnan(value):
        return math.nan
    return validate.number(name, value, greater_than=0, allowed="a positive finite number or NaN (no threshold)")


def _check_factor(factor) -> float:
    if isinstance(factor, bool) or not isinstance(factor, (int, float, np.integer, np.floating)) or not factor > 1:
        raise ValueError(f"factor must be a number > 1, got {factor!r}")
    return float(factor)


def nearest_to_threshold(ratios: Sequence[float]) -> float:
    """The ratio N/N_ref closest to 1 on a log scale: the sweep's "near the threshold" point."""
    ratios = list(ratios)
    if not ratios or any(not 0 < r < math.inf for r in ratios):
        raise ValueError(f"ratios must be positive finite numbers, at least one, got {ratios!r}")
    return min(ratios, key=lambda r: abs(math.log(r)))


def threshold_window(n_star: float, factor: float = NEAR_FACTOR) -> tuple[float, float] | None:
    """``(N*/factor, N* factor)``: where to look for an extremum near the measured threshold.

    None when nothing interpolated (``n_star`` is NaN): then the whole grid is searched.
    """
    factor, n_star = _check_factor(factor), _check_star("n_star", n_star)
    return (n_star / factor, n_star * factor) if np.isfinite(n_star) else None


# --- is the minimum inside a window? A test with a known error rate --------------------------

INSIDE, OUTSIDE = "inside", "outside"
LOCATIONS = (INSIDE, OUTSIDE, UNDECIDED)


def window_p(test, decision: str) -> float:
    """The p-value of a window test's ``decision`` (its own, or the one its family reached): of
    "inside" or "outside", and for "undecided" the smaller of the two (the nearer side)."""
    return {INSIDE: test.p_inside, OUTSIDE: test.p_outside}.get(decision, np.fmin(test.p_inside, test.p_outside))


@dataclass(frozen=True)
class WindowTest:
    """Whether the minimum of the mean curve (over the whole grid) lies inside a window."""

    p_inside: float  # p-value for "the minimum is inside" (intersection-union, Bonferroni over the window)
    p_outside: float  # ... for "the minimum is outside"
    inside: tuple[float, ...]  # the grid values in the window
    repeats: int  # repeats with the whole curve
    alpha: float
    decision: str  # one of LOCATIONS at error ``alpha``
    repeats_needed: float = math.nan  # repeats that would decide it with 80% power (NaN: no rival to beat)
    reason: str = ""  # why it could not be tested ("" when it was: then the p-values are NaN)

    @property
    def p(self) -> float:
        """The p-value of the decision (for an undecided test, the smaller of the two)."""
        return window_p(self, self.decision)


def window_test(x, values, groups, window: tuple[float, float], *, alpha: float = 0.05) -> WindowTest:
    """Is the minimum of the mean curve inside ``window = (lo, hi)`` (bounds included)?

    "Inside" needs one grid point of the window whose alignment is significantly below that
    of every grid point outside it (one-sided paired t-tests over the repeats: the largest
    p-value over the outside points is that window point's p-value, an intersection-union
    test), Bonferroni-corrected over the window's points; "outside" is the same with the
    roles swapped. Each has false-positive rate at most ``alpha`` when it is false; neither
    may hold ("undecided"). The whole grid is searched. Only repeats with a finite value at
    every grid point take part.
    """
    alpha = level("alpha", alpha)
    x, values, groups = _columns(x, values, groups)
    lo, hi = window
    if not 0 < lo <= hi:
        validate.fail("window", window, "(lo, hi) with 0 < lo <= hi")
    grid, matrix = repeat_matrix(x, values, groups)
    within = (grid >= lo) & (grid <= hi)
    if within.all() or not within.any():
        raise ValueError(f"window {window!r} must hold some but not all of the grid {grid.tolist()}")

    def p_below(mine: np.ndarray, others: np.ndarray) -> float:
        """Some point of ``mine`` lies below every point of ``others``: Bonferroni over ``mine``."""
        diffs = matrix[:, others][:, None, :] - matrix[:, mine][:, :, None]  # (R, mine, others): other - mine
        worst = one_sided_p(np.moveaxis(diffs, 0, -1)).max(axis=1)  # intersection-union per point of mine
        return float(min(1.0, np.nanmin(worst) * mine.sum())) if np.isfinite(worst).any() else math.nan

    p_in, p_out = p_below(within, ~within), p_below(~within, within)
    decision = INSIDE if p_in <= alpha else OUTSIDE if p_out <= alpha else UNDECIDED
    return WindowTest(p_inside=p_in, p_outside=p_out, inside=tuple(float(g) for g in grid[within]),
                      repeats=int(matrix.shape[0]), alpha=alpha, decision=decision,
                      repeats_needed=_repeats_to_place(matrix, within, alpha))


def _repeats_to_place(matrix: np.ndarray, within: np.ndarray, alpha: float) -> float:
    """Repeats that would decide the window test with 80% power at the measured differences: the
    mean curve's minimum against its closest rival across the window's edge (the pair with the
    largest one-sided p-value), at the Bonferroni level of the minimum's side. NaN without rivals."""
    if matrix.shape[0] < 2:
        return math.nan
    best = int(np.argmin(matrix.mean(axis=0)))
    side = within if within[best] else ~within
    rivals = matrix[:, ~side] - matrix[:, [best]]  # per repeat: each point across the edge minus the minimum
    p = one_sided_p(rivals.T)
    if not np.isfinite(p).any():
        return math.nan
    return repeats_needed(rivals[:, int(np.nanargmax(p))], alpha=alpha / side.sum(), sides=1)


def threshold_test(x, values, groups, star: float, *, factor: float = NEAR_FACTOR,
                   alpha: float = 0.05) -> WindowTest:
    """:func:`window_test` of the window from ``star / factor`` to ``star * factor`` around a
    measured threshold; when there is no such test (no threshold: ``star`` NaN, or a window
    holding every grid value or none), an undecided WindowTest whose ``reason`` says why."""
    factor, alpha, star = _check_factor(factor), level("alpha", alpha), _check_star("star", star)
    x, values, groups = _repeat_columns(x, values, groups)
    grid = np.unique(x)
    if not np.isfinite(star):
        reason = "no ensemble interpolated anywhere on the grid, so there is no threshold"
    else:
        inside = (grid >= star / factor) & (grid <= star * factor)
        if inside.all() or not inside.any():
            reason = f"the window around the threshold holds {'every' if inside.any() else 'no'} grid value"
        else:
            return window_test(x, values, groups, (star / factor, star * factor), alpha=alpha)
    return WindowTest(math.nan, math.nan, (), 0, alpha, UNDECIDED, reason=reason)


# --- two more questions about a curve: is its minimum lower than another's; does it rise? ----


@dataclass(frozen=True)
class PairedTest:
    """A one-sided test over the repeats (paired by repeat), at error ``alpha``."""

    effect: float  # the mean difference tested (see each test)
    p: float
    repeats: int
    alpha: float
    significant: bool
    repeats_needed: float  # repeats that would detect the measured effect with 80% power
    between: tuple[float, float] = (math.nan, math.nan)  # rise_test: the grid values of its most significant pair


def lower_minimum_test(x, values, other, groups, *, alpha: float = 0.05) -> PairedTest:
    """Is the minimum over the grid of ``values`` lower than that of ``other`` (the same grid
    and repeats)? Per repeat, the minimum of each curve; a one-sided paired t-test of their
    difference (``effect``: the mean of other's minimum minus this one's). The two minima are
    the same statistic of two curves, so when the curves have one distribution the difference
    has mean zero and the test keeps its level, however noisy the curves."""
    alpha = level("alpha", alpha)
    measurements("other", other)  # named here: repeat_matrix would call it values
    grid_a, a = repeat_matrix(x, values, groups)
    grid_b, b = repeat_matrix(x, other, groups)
    if a.shape != b.shape or not np.array_equal(grid_a, grid_b):
        raise ValueError("values and other must cover the same grid and repeats without gaps")
    diff = b.min(axis=1) - a.min(axis=1)
    p = float(one_sided_p(diff))
    return PairedTest(effect=float(diff.mean()) if diff.size else math.nan, p=p, repeats=int(diff.size),
                      alpha=alpha, significant=bool(p <= alpha), repeats_needed=repeats_needed(diff, alpha=alpha, sides=1))


def rise_test(x, values, groups, *, alpha: float = 0.05) -> PairedTest:
    """Does the curve rise somewhere along the grid (a peak, for a curve that ends falling)?

    For every pair of grid values x_i < x_j, a one-sided paired t-test of value(x_j) > value(x_i)
    over the repeats; Holm's step-down over all pairs rejects "the mean curve never rises"
    (every pair non-increasing) with family-wise error at most ``alpha``. ``p`` is the adjusted
    p-value of the most significant pair (Bonferroni's, Holm's first step); ``effect`` its mean
    rise, and ``between`` its two grid values.
    """
    alpha = level("alpha", alpha)
    grid, matrix = repeat_matrix(x, values, groups)
    i, j = np.triu_indices(matrix.shape[1], k=1)
    rises = (matrix[:, j] - matrix[:, i]).T  # (pairs, repeats)
    p = one_sided_p(rises)
    if not np.isfinite(p).any():
        return PairedTest(math.nan, math.nan, int(matrix.shape[0]), alpha, False, math.nan)
    best = int(np.nanargmin(p))
    adjusted = float(min(1.0, p[best] * p.size))
    return PairedTest(effect=float(rises[best].mean()), p=adjusted, repeats=int(matrix.shape[0]), alpha=alpha,
                      significant=bool(adjusted <= alpha),
                      repeats_needed=repeats_needed(rises[best], alpha=alpha / p.size, sides=1),
                      between=(float(grid[i[best]]), float(grid[j[best]])))
