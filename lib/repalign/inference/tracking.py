"""Does an extremum move with the interpolation threshold as the network grows?

    per_width = locate(n, values, groups, kind="min")       # each repeat's extremum, one width
    t = tracking_test(stars, locations)                      # across widths: slope of log N_x on log N*

The claim "the alignment minimum sits at the interpolation threshold" is tested across network
sizes: if it does, the minimum's location N_min moves with the measured threshold N*, so that
log N_min against log N* has slope 1. A slope s means N_min grows as N*^s, so over the swept
range of thresholds (a factor ``span``) the minimum drifts against the threshold by a factor
span^|s - 1|. "Tracks" is that drift staying within ``NEAR_FACTOR`` (the book's one meaning of
"near"): |s - 1| <= log(NEAR_FACTOR) / log(span).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .colocation import BEYOND, INSIDE, margin_test
from .core import ALPHA, UNDECIDED, level, mean_interval
from .extrema import _locations, _pick, repeat_matrix
from .threshold import NEAR_FACTOR, _check_factor

TRACKS, DRIFTS = "tracks", "drifts"  # the slope is within the margin of 1 / beyond it (UNDECIDED: neither)
TRACKINGS = (TRACKS, DRIFTS, UNDECIDED)
MIN_WIDTHS = 3  # a slope through two points has no spread of its own to test against


@dataclass(frozen=True)
class Located:
    """One width's extremum: each repeat's own location, and whether the mean curve's is at a grid end."""

    per_repeat: dict  # repeat label -> x of that repeat's extremum (refined by a parabola in log x)
    at_edge: bool  # the mean curve's extremum is at an end of the grid: a bound, not a location


def locate(x, values, groups, *, kind: str) -> Located:
    """Each repeat's extremum over the whole grid, as ``extremum`` and ``colocation_test`` locate it."""
    grid, matrix = repeat_matrix(x, values, groups, complete=False)
    labels = np.unique(np.asarray(groups))
    every = np.ones(grid.size, dtype=bool)
    located = _locations(np.log10(grid), matrix, kind, every)
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(matrix, axis=0)
    i = _pick(mean, kind, every)
    per = {(g.item() if hasattr(g, "item") else g): float(10**v) for g, v in zip(labels, located)}
    return Located(per, at_edge=i in (0, grid.size - 1))


@dataclass(frozen=True)
class Tracking:
    """The slope of log N_x on log N* across widths, per repeat, and its decision."""

    slope: float  # mean over repeats of each repeat's least-squares slope
    low: float  # t interval over the repeats at level 1 - alpha
    high: float
    margin: float  # |slope - 1| allowed: log(factor) / log(span)
    span: float  # largest over smallest mean threshold of the widths used
    p_tracks: float
    p_drifts: float
    p: float  # of the decision (undecided: the smaller of the two; NaN when not tested)
    decision: str  # one of TRACKINGS
    repeats: int
    widths: int  # widths whose extremum is located (not at a grid end) and used
    repeats_needed: float  # repeats that would decide the nearer side with 80% power (inf: extrema at a grid end)
    reason: str = ""  # why it was not tested ("" when it was)


def _slopes(stars: np.ndarray, locations: np.ndarray) -> np.ndarray:
    """Each row's least-squares slope of log locations on log stars (rows: repeats, columns: widths)."""
    lx, ly = np.log(stars), np.log(locations)
    cx, cy = lx - lx.mean(axis=1, keepdims=True), ly - ly.mean(axis=1, keepdims=True)
    return (cx * cy).sum(axis=1) / (cx * cx).sum(axis=1)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def tracking_test(stars: dict, located: dict, *, factor: float = NEAR_FACTOR, alpha: float = 0.05) -> Tracking:
    """Does the extremum track the threshold across widths?

    ``stars``: width -> {repeat: N*} (``extrema.interpolation_threshold(...).per_repeat``);
    ``located``: width -> ``Located``. Widths whose mean curve has its extremum at a grid end are
    left out (a bound moves with the grid, not with the threshold), and so are repeats without a
    finite threshold and location at every width used. Each repeat gives one slope across the
    widths (one seed draws the same data at every width, so its slope is a within-seed
    comparison), and the slopes of distinct seeds are independent: the t-based margin test of
    ``colocation.margin_test`` on slope - 1, with margin log(``factor``) / log(span), decides
    TRACKS (within it, by TOST) or DRIFTS (beyond it), each at error ``alpha`` when false.

    With fewer than MIN_WIDTHS located widths because the others have their extremum at a grid
    end, ``repeats_needed`` is inf: at the measured mean curves that end stays the extremum however
    many ensembles are added, so only a longer grid gives the slope.
    """
    factor, alpha = _check_factor(factor), level("alpha", alpha)
    widths = sorted(w for w in located if w in stars and not located[w].at_edge)
    repeats = sorted(set.intersection(*(set(stars[w]) & set(located[w].per_repeat) for w in widths))) if widths else []
    star = np.array([[stars[w][r] for w in widths] for r in repeats], dtype=float).reshape(len(repeats), len(widths))
    where = np.array([[located[w].per_repeat[r] for w in widths] for r in repeats],
                     dtype=float).reshape(len(repeats), len(widths))
    whole = (np.isfinite(star) & np.isfinite(where)).all(axis=1)
    star, where = star[whole], where[whole]
    span = float(np.nanmax(star.mean(axis=0)) / np.nanmin(star.mean(axis=0))) if star.size else math.nan
    reason, needed = "", math.nan
    if len(widths) < MIN_WIDTHS:
        reason = f"only {_count(len(widths), 'width')} with a located extremum, and a slope needs {MIN_WIDTHS}"
        edges = sum(1 for w in located if w in stars and located[w].at_edge)
        if len(widths) + edges >= MIN_WIDTHS:  # the grid, not the ensembles, is short
            reason += (f"; at {_count(edges, 'width')} it sits at an end of the grid, and more ensembles at the "
                       "measured curves would keep it there")
            needed = math.inf
    elif star.shape[0] < 2:
        reason = (f"only {_count(star.shape[0], 'repeat')} with a threshold and a location at every width, and the "
                  "test needs two")
    elif not span > 1:
        reason = "the thresholds do not change across the widths"
    if reason:
        nan = math.nan
        return Tracking(nan, nan, nan, nan, span, nan, nan, nan, UNDECIDED, int(star.shape[0]), len(widths), needed,
                        reason)
    margin = math.log(factor) / math.log(span)
    test = margin_test(_slopes(star, where) - 1, margin, alpha)
    decision = {INSIDE: TRACKS, BEYOND: DRIFTS}.get(test.decision, UNDECIDED)
    return Tracking(1 + test.mean, 1 + test.low, 1 + test.high, margin, span, test.p_inside, test.p_beyond, test.p,
                    decision, int(star.shape[0]), len(widths), test.repeats_needed)


def geometric_interval(values, *, alpha: float = ALPHA) -> tuple[float, float, float]:
    """The geometric mean of positive per-repeat values (thresholds, locations) and its t
    interval at level 1 - ``alpha`` over the repeats (NaN bounds with fewer than two)."""
    return tuple(float(np.exp(v)) for v in mean_interval(np.log(np.asarray(values, dtype=float)), alpha=alpha))
