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
from scipy import stats

from . import validate
from .inference import UNDECIDED, checked, level, measurements, one_sided_p, repeat_labels, repeats_needed

KINDS = ("min", "max")


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


# --- extrema near a measured threshold ------------------------------------------------------

NEAR_FACTOR = 2.0  # an extremum within this factor of N* (either side) counts as near the threshold
NEAR = "near the threshold"
AWAY = "away from the threshold"
AT_EDGE = "at an end of the grid, so no interior extremum"
NO_THRESHOLD = "no threshold in the grid"
NEAR_VERDICTS = (NEAR, AWAY, AT_EDGE, NO_THRESHOLD)


def _check_star(name: str, value) -> float:
    """A measured threshold: a positive finite grid value, or NaN when nothing interpolated."""
    if validate.is_number(value) and math.isnan(value):
        return math.nan
    return validate.number(name, value, greater_than=0, allowed="a positive finite number or NaN (no threshold)")


def _check_factor(factor) -> float:
    if isinstance(factor, bool) or not isinstance(factor, (int, float, np.integer, np.floating)) or not factor > 1:
        raise ValueError(f"factor must be a number > 1, got {factor!r}")
    return float(factor)


def threshold_window(n_star: float, factor: float = NEAR_FACTOR) -> tuple[float, float] | None:
    """``(N*/factor, N* factor)``: where to look for an extremum near the measured threshold.

    None when nothing interpolated (``n_star`` is NaN): then the whole grid is searched.
    """
    factor, n_star = _check_factor(factor), _check_star("n_star", n_star)
    return (n_star / factor, n_star * factor) if np.isfinite(n_star) else None


def near_threshold_verdict(ext: Extremum, n_star: float, factor: float = NEAR_FACTOR) -> str:
    """Whether an extremum of a sample-size sweep lies near the measured threshold N*.

    One of NEAR_VERDICTS: no threshold when N* is NaN; no interior extremum when it sits at an
    end of the grid (a bound, not a location); near when N*/factor <= location <= factor N*
    (bounds included); away otherwise.
    """
    factor, n_star = _check_factor(factor), _check_star("n_star", n_star)
    if not np.isfinite(n_star):
        return NO_THRESHOLD
    if ext.at_edge:
        return AT_EDGE
    return NEAR if 1 / factor <= ext.location / n_star <= factor else AWAY


def local_peak(x, values, groups, n_star: float, *, factor: float = NEAR_FACTOR, boot: int = 2000,
               seed: int = 0) -> tuple[Extremum | None, float | None]:
    """The highest local maximum of the mean curve within a factor ``factor`` of ``n_star``.

    A local maximum is a grid point above both its grid neighbours, so a bump on a falling
    curve counts even where the curve is highest elsewhere. Returns (its :func:`extremum`,
    located between its two neighbours, and the lowest mean value at smaller x), or
    (None, None) when ``n_star`` is NaN or the curve has no local maximum there.
    """
    factor, n_star = _check_factor(factor), _check_star("n_star", n_star)
    grid, curve = mean_curve(x, values, groups)
    if not np.isfinite(n_star):
        return None, None
    peaks = [i for i in range(1, grid.size - 1) if n_star / factor <= grid[i] <= n_star * factor
             and curve[i] > curve[i - 1] and curve[i] > curve[i + 1]]
    if not peaks:
        return None, None
    i = max(peaks, key=lambda k: curve[k])
    # The window holds grid[i] alone; its neighbours still shape the parabola.
    window = (math.nextafter(grid[i - 1], math.inf), math.nextafter(grid[i + 1], -math.inf))
    ext = extremum(x, values, groups, kind="max", boot=boot, seed=seed, window=window)
    return ext, float(np.nanmin(curve[:i]))


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


def repeat_matrix(x, values, groups, *, complete: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(grid, matrix): the values as a (repeat, grid) matrix; ``complete``: repeats with a gap
    (a missing or NaN value) left out, else kept with NaN there. Each (x, repeat) pair must
    have one row."""
    x, values, groups = _repeat_columns(x, values, groups)
    grid, labels = np.unique(x), np.unique(groups)
    matrix = np.full((labels.size, grid.size), np.nan)
    matrix[np.searchsorted(labels, groups), np.searchsorted(grid, x)] = values.astype(float)
    return grid, matrix[np.isfinite(matrix).all(axis=1)] if complete else matrix


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
    repeats_needed: float  # repeats that would decide the nearer side with 80% power (t-based; NaN: nothing to size)
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
    and ``repeats_needed`` NaN, the ratio and the two p-values reported as they were computed. A
    repeat whose own extremum is at an end (the mean curve's being inside) enters at that grid
    value. Only repeats with a finite value of both curves at every grid value take part; with
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
    mean = float(diff.mean())
    half = float(stats.t.ppf(1 - alpha / 2, repeats - 1) * diff.std(ddof=1) / math.sqrt(repeats))
    side = 1 if mean >= 0 else -1  # the estimate's side of 0
    # Each row's mean > 0 is a one-sided alternative: above -L, below L (TOST), and beyond the margin on the
    # estimate's side.
    shifted = np.stack([diff + margin, margin - diff, side * diff - margin])
    p_above, p_below, p_beyond = (float(v) for v in one_sided_p(shifted))
    p_together, p_apart = max(p_above, p_below), min(1.0, 2 * p_beyond)
    located = not (min_edge or peak_edge)
    if located and p_together <= alpha:
        decision, p = TOGETHER, p_together
    elif located and p_apart <= alpha:
        decision, p = APART, p_apart
    else:
        decision, p = UNDECIDED, min(p_together, p_apart) if located else math.nan
    if p_together <= p_apart:  # the nearer side: the TOST side that binds
        effects, level_used = shifted[0 if p_above >= p_below else 1], alpha
    else:
        effects, level_used = shifted[2], alpha / 2
    needed = repeats_needed(effects, alpha=level_used, sides=1) if located else math.nan
    return Colocation(ratio=10**mean, low=10 ** (mean - half), high=10 ** (mean + half), p_together=p_together,
                      p_apart=p_apart, p=float(p), decision=decision, repeats=repeats, repeats_needed=needed, **common)
