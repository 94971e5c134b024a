"""The tests every verdict is built from: one-sided paired tests, multiplicity control, and the
number of repeats that would resolve an undecided verdict.

    p = one_sided_p(differences)                 # H0: mean <= 0 against mean > 0, per row
    rejected = benjamini_hochberg(p, q=0.05)     # a family of curves: false-discovery rate q
    rejected = holm(p, alpha=0.05)               # a family of pairs: family-wise error alpha
    r = repeats_needed(effects, alpha=0.05)      # repeats for 80% power at the measured effect (t-test)

Every test takes the independent ensembles (the repeats) as its unit of replication; each
has a false-positive rate measured by simulation in the test suite.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from .. import validate

UNDECIDED = "undecided"  # the one word for a test that decided neither way, in every verdict vocabulary
ALPHA = 0.05  # the book's error level: family-wise (Holm) or false-discovery rate (Benjamini-Hochberg)
POWER = 0.8  # the power at which ``repeats_to_resolve`` sizes a study
ROUNDING = 1e-12  # differences of quantities of order one below this are rounding, not effects
MEASUREMENTS = "finite numbers or NaN (a missing measurement)"  # what every test takes as data


def level(name: str, value) -> float:
    """A probability in (0, 1), named in the error when it is not."""
    return validate.number(name, value, greater_than=0, less_than=1)


def checked(name: str, values, allowed: str, ok) -> np.ndarray:
    """``values`` as a float array (its shape kept), or a one-line ValueError naming ``name``,
    ``allowed`` and the first value that the element-wise test ``ok`` rejects."""
    array = np.asarray(values, dtype=float)
    bad = ~ok(array)
    if bad.any():
        validate.fail(name, float(array[bad].flat[0]), allowed)
    return array


def measurements(name: str, values) -> np.ndarray:
    """Measurements as a float array: NaN is a missing one (a diverged member), left out where the
    test says so; +-inf is refused, since a test would read it as an infinite, exact difference
    (a p-value of 0) or silently as a gap."""
    return checked(name, values, MEASUREMENTS, lambda a: ~np.isinf(a))


def repeat_labels(name: str, values) -> np.ndarray:
    """Labels of the independent ensembles (seeds, or any names) as an array: NaN is refused, since
    NaN labels would all fall into one repeat, or each into its own."""
    labels = np.asarray(values)
    if labels.dtype.kind == "f":
        checked(name, labels, "repeat labels, not NaN", lambda g: ~np.isnan(g))
    return labels


def _is_error(se: np.ndarray) -> np.ndarray:
    """Where ``se`` is a standard error: finite and >= 0, or NaN (fewer than two repeats)."""
    return np.isnan(se) | ((se >= 0) & ~np.isinf(se))


def _p_values(p) -> np.ndarray:
    """p-values: each in [0, 1], or NaN (a hypothesis that could not be tested)."""
    return checked("p", p, "p-values in [0, 1] or NaN (untested)",
                   lambda a: np.isnan(a) | ((a >= 0) & (a <= 1))).reshape(-1)


def one_sided_p(differences) -> np.ndarray:
    """p-value of the one-sided paired t-test of mean > 0, for each row of ``differences``.

    ``differences``: (..., R) paired differences over R repeats; NaN entries are left out of
    their row (+-inf is refused). A row with fewer than two finite entries gets p = NaN; a row without spread
    gets 0 when its mean is above ROUNDING and 1 otherwise (an exact difference needs no test,
    and one of the size of rounding errors is none: identical members align to 1 in every
    repeat, and two such points differ by 1e-16).
    """
    d = measurements("differences", differences)
    n = np.isfinite(d).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(d, axis=-1) / n
        sd = np.sqrt(np.nansum((d - mean[..., None]) ** 2, axis=-1) / (n - 1))
        t = mean / (sd / np.sqrt(n))
    p = stats.t.sf(t, np.maximum(n - 1, 1))
    exact = ~(sd > 1e-12 * np.maximum(1.0, np.abs(mean)))  # no spread (or NaN): decided by the mean's sign
    p = np.where(exact, np.where(mean > ROUNDING, 0.0, 1.0), p)
    return np.where(n >= 2, p, np.nan)


def welch_one_sided_p(mean_a, se_a, mean_b, se_b, n_a, n_b) -> np.ndarray:
    """p-value of Welch's one-sided test of mean_a > mean_b from means, standard errors and counts.

    NaN in any input is a missing configuration (p NaN); an infinite mean or a negative or
    infinite standard error is refused."""
    mean_a, mean_b = measurements("mean_a", mean_a), measurements("mean_b", mean_b)
    se_a, se_b = (checked(name, se, "finite numbers >= 0 or NaN (missing)", _is_error)
                  for name, se in (("se_a", se_a), ("se_b", se_b)))
    n_a, n_b = np.asarray(n_a, dtype=float), np.asarray(n_b, dtype=float)
    var = se_a**2 + se_b**2
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (mean_a - mean_b) / np.sqrt(var)
        dof = var**2 / (se_a**4 / (n_a - 1) + se_b**4 / (n_b - 1))
    p = stats.t.sf(t, np.where(np.isfinite(dof), dof, 1.0))
    p = np.where(var > 0, p, np.where(mean_a - mean_b > ROUNDING, 0.0, 1.0))
    return np.where((n_a >= 2) & (n_b >= 2), p, np.nan)


def benjamini_hochberg(p, q: float = ALPHA) -> np.ndarray:
    """Which hypotheses the Benjamini-Hochberg step-up rejects at false-discovery rate ``q``.

    NaN p-values are never rejected but count in the family (a curve that could not be tested
    is still a curve of the family); a p-value outside [0, 1] is refused.
    """
    q = level("q", q)
    p = _p_values(p)
    m = p.size
    order = np.argsort(np.where(np.isnan(p), np.inf, p), kind="stable")
    passed = p[order] <= q * np.arange(1, m + 1) / max(m, 1)
    rejected = np.zeros(m, dtype=bool)
    if passed.any():
        rejected[order[: np.flatnonzero(passed).max() + 1]] = True
    return rejected


def holm(p, alpha: float = ALPHA) -> np.ndarray:
    """Which hypotheses Holm's step-down rejects at family-wise error ``alpha`` (any dependence)."""
    alpha = level("alpha", alpha)
    p = _p_values(p)
    m = p.size
    order = np.argsort(np.where(np.isnan(p), np.inf, p), kind="stable")
    failed = ~(p[order] <= alpha / (m - np.arange(m)))
    stop = int(np.argmax(failed)) if failed.any() else m
    rejected = np.zeros(m, dtype=bool)
    rejected[order[:stop]] = True
    return rejected


def mean_interval(values, *, alpha: float = ALPHA) -> tuple[float, float, float]:
    """The mean of per-repeat ``values`` and its t interval at level 1 - ``alpha`` over the
    repeats (NaN bounds with fewer than two)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if values.size < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(1 - alpha / 2, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size))
    return mean, mean - half, mean + half


def t_power(repeats, effect_size: float, alpha: float = ALPHA, sides: int = 2) -> np.ndarray:
    """Power of the one-sample t-test (``sides`` 1 or 2) at level ``alpha`` with ``repeats``
    independent ensembles, when the true mean is ``effect_size`` standard deviations from 0:
    the non-central t distribution with R - 1 degrees of freedom and non-centrality d sqrt(R)."""
    r = np.asarray(repeats, dtype=float)
    dof, shift = r - 1, abs(effect_size) * np.sqrt(r)
    critical = stats.t.ppf(1 - alpha / sides, dof)
    power = stats.nct.sf(critical, dof, shift)
    if sides == 1:
        return power
    # The wrong-side tail: scipy returns NaN where it underflows (it is then far below 1e-12).
    return power + np.nan_to_num(stats.nct.cdf(-critical, dof, shift), nan=0.0)


MOST_REPEATS = 100_000  # beyond this a study is out of reach: repeats_needed says inf
T_EXACT = 1000  # below this size the t-test's power is searched exactly, above it approximated


def repeats_needed(effects, alpha: float = ALPHA, power: float = POWER, *, sides: int = 2,
                   floor: int = 2) -> float:
    """Independent ensembles that a t-test of the mean of ``effects`` (one value per repeat) at
    ``alpha`` (``sides`` 1 or 2) would need to reject with probability ``power``, if the true mean
    and spread were the measured ones: the smallest R with :func:`t_power` >= ``power``, and never
    below ``floor`` (the fewest repeats with which the test used can reach ``alpha`` at all).

    NaN when there is nothing to size (fewer than two effects, or a mean of 0); ``floor`` for
    effects without spread (an exact difference); inf beyond MOST_REPEATS."""
    effects = measurements("effects", effects)
    effects = effects[np.isfinite(effects)]  # NaN: missing
    alpha, power = level("alpha", alpha), level("power", power)
    sides = validate.choice("sides", sides, (1, 2))
    floor = validate.integer("floor", floor, minimum=2)
    if effects.size < 2 or effects.mean() == 0:
        return math.nan
    sd = effects.std(ddof=1)
    if not sd > ROUNDING * max(1.0, abs(effects.mean())):
        return float(floor)
    size = abs(effects.mean()) / sd
    z_alpha = stats.norm.ppf(1 - alpha / sides)
    z_test = ((z_alpha + stats.norm.ppf(power)) / size) ** 2  # the z-test's size: a lower bound
    if z_test > T_EXACT:  # Guenther's correction of the z-test's size, within one repeat out here
        needed = math.ceil(z_test + z_alpha**2 / 2)
        return float(max(floor, needed)) if needed <= MOST_REPEATS else math.inf
    start = max(2, math.floor(z_test))
    while True:  # the t-test is never more powerful than the z-test: search upwards from its size
        candidates = np.arange(start, start + 32)
        enough = np.flatnonzero(t_power(candidates, size, alpha, sides) >= power)
        if enough.size:
            return float(max(floor, candidates[enough[0]]))
        start += 32
