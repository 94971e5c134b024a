"""The interpolation threshold and the extrema of a sweep, measured with their uncertainties.

    n_star = interpolation_threshold(n, interpolated, repeat)   # N*: largest N still fitted
    low = extremum(n, alignment, repeat, kind="min")             # where alignment is lowest
    peak = extremum(n, test_error, repeat, kind="max")           # where the test error peaks

Every function takes one entry per measurement (a grid value, what was measured, and which
independent ensemble it came from), so that a tidy ``repalign.sweep`` table can be passed
column by column. Uncertainties come from the independent ensembles (the repeats), never
from pairs of members of one ensemble.

The counted threshold N_ref that sweeps are laid out by is ``repalign.sizes.reference_size``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import validate
from .core import checked, measurements, repeat_labels

KINDS = ("min", "max")
# A member trained to convergence interpolated when its training loss (half the mean squared error;
# one-hot targets for classification) is numerically zero: targets have variance of order one, and
# Levenberg-Marquardt takes an interpolating member below 1e-10 within a few steps.
INTERPOLATED_LOSS = 1e-8


def interpolated(fraction) -> np.ndarray:
    """Per ensemble, whether it interpolated: a majority (more than half) of its members did, given
    the ``fraction`` of its members that did. Not "every member": where a member fits with
    probability p, all K of an ensemble fit with probability p^K, which would tie the threshold to
    the ensemble size rather than to the network and N."""
    return checked("fraction", fraction, "fractions between 0 and 1", lambda f: (f >= 0) & (f <= 1)) > 0.5


def _columns(x, values, groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three columns, flat and of one length. A grid value must be finite (a NaN would be a
    grid point of its own); a value may be NaN (missing) but not infinite; a repeat label not NaN."""
    x = checked("x", np.reshape(x, -1), "finite numbers (grid values)", np.isfinite)
    values = np.asarray(values).reshape(-1)
    groups = repeat_labels("groups", np.reshape(groups, -1))
    if not (x.size == values.size == groups.size) or x.size == 0:
        raise ValueError(f"x, values and groups must be non-empty and of one length, got {x.size}, "
                         f"{values.size} and {groups.size}")
    if values.dtype.kind == "f":
        measurements("values", values)
    return x, values, groups


def _one_row_per_repeat(x: np.ndarray, groups: np.ndarray) -> None:
    """Refuse an (x, repeat) pair given in more than one row: pivoted into a (repeat, grid)
    matrix only one of them would count, chosen by the order of the rows."""
    labels, row = np.unique(groups, return_inverse=True)
    grid, col = np.unique(x, return_inverse=True)
    keys, counts = np.unique(row.reshape(-1) * grid.size + col.reshape(-1), return_counts=True)
    if (counts > 1).any():
        key, count = int(keys[counts > 1][0]), int(counts[counts > 1][0])
        label = labels[key // grid.size]
        pair = (grid[key % grid.size].item(), label.item() if hasattr(label, "item") else label)
        raise ValueError(f"x and groups must give each (x, repeat) pair one row, got {pair!r} in {count} rows")


def _repeat_columns(x, values, groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_columns` of a curve measured once per grid value and repeat."""
    x, values, groups = _columns(x, values, groups)
    _one_row_per_repeat(x, groups)
    return x, values, groups


@dataclass(frozen=True)
class Threshold:
    """The largest grid value still interpolated, per repeat and summarised."""

    per_repeat: dict  # repeat -> largest interpolated x (NaN if none was)
    mean: float  # over the repeats that interpolated somewhere
    sd: float  # spread over the repeats (NaN with one)
    low: float  # smallest and largest per-repeat value
    high: float
    next_up: float  # the first grid value beyond the extreme per-repeat value (NaN if none)


SIDES = ("largest", "smallest")


def interpolation_threshold(x, interpolated, groups, *, side: str = "largest") -> Threshold:
    """N* = the largest ``x`` at which ``interpolated`` is true, for each repeat in ``groups``.

    ``interpolated`` is a boolean per measurement (e.g. a majority of the members reached a
    numerically zero training loss). The threshold itself lies between N* and the next grid
    value, so the grid spacing bounds its resolution; ``sd`` is the spread over repeats.
    ``side="smallest"`` gives the smallest ``x`` still interpolated instead (a model-wise sweep:
    the smallest network that fits), and ``next_up`` is then the grid value just below it.
    """
    validate.choice("side", side, SIDES)
    x, flags, groups = _columns(x, interpolated, groups)
    if flags.dtype != bool:
        raise ValueError(f"interpolated must be booleans, got dtype {flags.dtype}")
    pick = np.max if side == "largest" else np.min
    per = {}
    for g in np.unique(groups):
        hits = x[(groups == g) & flags]
        per[g.item() if hasattr(g, "item") else g] = float(pick(hits)) if hits.size else math.nan
    found = np.array([v for v in per.values() if np.isfinite(v)])
    grid = np.unique(x)
    if not found.size:
        return Threshold(per, math.nan, math.nan, math.nan, math.nan, math.nan)
    if side == "largest":
        beyond = grid[grid > found.max()]
        next_up = float(beyond[0]) if beyond.size else math.nan
    else:
        beyond = grid[grid < found.min()]
        next_up = float(beyond[-1]) if beyond.size else math.nan
    return Threshold(per, float(found.mean()), float(found.std(ddof=1)) if found.size > 1 else math.nan,
                     float(found.min()), float(found.max()), next_up)


def _vertices(lx: np.ndarray, curves: np.ndarray, i: np.ndarray, kind: str) -> np.ndarray:
    """Per row of ``curves`` (B, G), the vertex of the parabola through point ``i[b]`` and its two
    neighbours, in log x.

    At the ends of the grid, or where the parabola does not bend the way ``kind`` needs (the
    point is the extreme one within a window but not a local extremum of the curve), the
    grid value itself.
    """
    if lx.size < 3:  # every point is an end
        return lx[i]
    rows = np.arange(curves.shape[0])
    inner = np.clip(i, 1, lx.size - 2)  # the ends are replaced below; this keeps the indexing valid
    x0, x1, x2 = lx[inner - 1], lx[inner], lx[inner + 1]
    y0, y1, y2 = curves[rows, inner - 1], curves[rows, inner], curves[rows, inner + 1]
    with np.errstate(divide="ignore", invalid="ignore"):  # a flat parabola (a = 0) is replaced below
        slope01, slope12 = (y1 - y0) / (x1 - x0), (y2 - y1) / (x2 - x1)
        a = (slope12 - slope01) / (x2 - x0)  # the parabola a x^2 + b x + c through the three points
        b = slope01 - a * (x0 + x1)
        vertex = np.clip(-b / (2 * a), x0, x2)
    bends = a > 0 if kind == "min" else a < 0
    return np.where((i == 0) | (i == lx.size - 1) | ~bends, lx[i], vertex)


def _vertex(lx: np.ndarray, y: np.ndarray, i: int, kind: str) -> float:
    """:func:`_vertices` of one curve."""
    return float(_vertices(lx, y[None, :], np.array([i]), kind)[0])


def _pick(curve: np.ndarray, kind: str, allowed: np.ndarray) -> int | None:
    """Index of the extreme finite value of ``curve`` among the ``allowed`` points."""
    candidates = np.flatnonzero(np.isfinite(curve) & allowed)
    if not candidates.size:
        return None
    sub = curve[candidates]
    return int(candidates[np.argmin(sub) if kind == "min" else np.argmax(sub)])


def _location(lx: np.ndarray, curve: np.ndarray, kind: str, allowed: np.ndarray) -> float:
    good = np.isfinite(curve)
    i = _pick(curve, kind, allowed)
    if i is None:
        return math.nan
    j = int(np.flatnonzero(np.flatnonzero(good) == i)[0])  # its index among the finite points
    return _vertex(lx[good], curve[good], j, kind)


def _locations(lx: np.ndarray, curves: np.ndarray, kind: str, allowed: np.ndarray) -> np.ndarray:
    """:func:`_location` of every row of ``curves`` (B, G), the complete rows at once."""
    out = np.full(curves.shape[0], np.nan)
    full = np.isfinite(curves).all(axis=1)
    if full.any():
        masked = np.where(allowed, curves[full], np.inf if kind == "min" else -np.inf)
        i = np.argmin(masked, axis=1) if kind == "min" else np.argmax(masked, axis=1)  # first of ties, as _pick
        out[full] = _vertices(lx, curves[full], i, kind)
    for r in np.flatnonzero(~full):  # a resample without any value at some grid point
        out[r] = _location(lx, curves[r], kind, allowed)
    return out


@dataclass(frozen=True)
class Extremum:
    """Where the mean curve is lowest (or highest), and how that location varies over repeats."""

    location: float  # x of the extremum of the mean curve (parabolic vertex in log x)
    grid_location: float  # the grid value at the extremum
    value: float  # the mean curve there
    low: float  # bootstrap percentile interval of the location (level given by ``level``)
    high: float
    log_sd: float  # bootstrap standard deviation of log10(location)
    level: float
    below: float  # the grid values either side of ``grid_location`` (NaN at an end): the grid's resolution
    above: float
    at_edge: bool  # the extremum is at an end of the grid: a bound, not a located extremum


def mean_curve(x, values, groups) -> tuple[np.ndarray, np.ndarray]:
    """(grid, mean over repeats) with NaN measurements left out (NaN where every one is), summed
    over the repeats in the order of their labels: the order of the rows changes no bit of it."""
    grid, matrix = repeat_matrix(x, values, groups, complete=False)
    counts = np.isfinite(matrix).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return grid, np.where(counts > 0, np.nansum(matrix, axis=0) / counts, np.nan)


def extremum(x, values, groups, *, kind: str = "min", boot: int = 2000, level: float = 0.68,
             seed: int = 0, window: tuple[float, float] | None = None) -> Extremum:
    """Location of the minimum (``kind="min"``) or maximum of the mean curve over repeats.

    The location is refined between grid values by a parabola in log x through the extreme
    grid point and its neighbours. Its uncertainty: a bootstrap that resamples the repeats
    (each with its whole curve), recomputing the mean curve and its extremum each time; the
    interval is the central ``level`` quantile range (0.68: about one standard deviation).
    With few repeats this interval understates the uncertainty; the neighbouring grid values
    (``below``, ``above``) give the grid's resolution. ``window=(lo, hi)`` restricts which grid
    values may be the extremum to lo <= x <= hi (e.g. a local peak near a threshold when the
    curve is highest elsewhere); the refinement still uses the neighbours outside it.
    """
    validate.choice("kind", kind, KINDS)
    validate.integer("boot", boot, minimum=10)
    validate.number("level", level, greater_than=0, less_than=1)
    x, values, groups = _columns(x, values, groups)
    if np.any(x <= 0):
        raise ValueError("x must be positive (the location is found on a log axis)")
    values = values.astype(float)
    grid, means = mean_curve(x, values, groups)
    allowed = np.ones(grid.size, dtype=bool)
    if window is not None:
        lo, hi = window
        if not 0 < lo < hi:
            validate.fail("window", window, "(lo, hi) with 0 < lo < hi")
        allowed = (grid >= lo) & (grid <= hi)
        if not allowed.any():
            raise ValueError(f"window {window!r} holds no grid value")
    lgrid = np.log10(grid)
    loc = _location(lgrid, means, kind, allowed)
    if not np.isfinite(loc):
        raise ValueError("values has no finite entry")
    _, matrix = repeat_matrix(x, values, groups, complete=False)  # repeat x grid, gaps kept as NaN
    repeats = matrix.shape[0]
    rng = np.random.default_rng(seed)
    sample = matrix[rng.integers(0, repeats, (boot, repeats))]  # (boot, repeats, grid)
    with np.errstate(all="ignore"):
        counts = np.isfinite(sample).sum(axis=1)
        curves = np.where(counts > 0, np.nansum(sample, axis=1) / np.maximum(counts, 1), np.nan)
    locs = _locations(lgrid, curves, kind, allowed)
    locs = locs[np.isfinite(locs)]
    low, high = np.quantile(locs, [0.5 - level / 2, 0.5 + level / 2])
    i = _pick(means, kind, allowed)
    return Extremum(location=float(10**loc), grid_location=float(grid[i]), value=float(means[i]),
                    low=float(10**low), high=float(10**high), log_sd=float(locs.std(ddof=1)), level=level,
                    below=float(grid[i - 1]) if i > 0 else math.nan,
                    above=float(grid[i + 1]) if i < grid.size - 1 else math.nan,
                    at_edge=i in (0, grid.size - 1))


def repeat_matrix(x, values, groups, *, complete: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(grid, matrix): the values as a (repeat, grid) matrix; ``complete``: repeats with a gap
    (a missing or NaN value) left out, else kept with NaN there. Each (x, repeat) pair must
    have one row."""
    x, values, groups = _repeat_columns(x, values, groups)
    grid, labels = np.unique(x), np.unique(groups)
    matrix = np.full((labels.size, grid.size), np.nan)
    matrix[np.searchsorted(labels, groups), np.searchsorted(grid, x)] = values.astype(float)
    return grid, matrix[np.isfinite(matrix).all(axis=1)] if complete else matrix
