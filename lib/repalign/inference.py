"""The statistics behind the book's verdicts: one-sided paired tests, multiplicity control, and
the number of repeats that would resolve an undecided verdict.

    p = one_sided_p(differences)                 # H0: mean <= 0 against mean > 0, per row
    rejected = benjamini_hochberg(p, q=0.05)     # a family of curves: false-discovery rate q
    rejected = holm(p, alpha=0.05)               # a family of pairs: family-wise error alpha
    r = repeats_to_resolve(effects, alpha=0.05)  # repeats for 80% power at the measured effect

Every test takes the independent ensembles (the repeats) as its unit of replication; each
has a false-positive rate measured by simulation in the test suite.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from . import validate

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


def repeats_to_resolve(effects, alpha: float = ALPHA, power: float = POWER) -> float:
    """Repeats that would detect the mean of ``effects`` (one value per repeat) by a two-sided
    test at ``alpha`` with probability ``power``: ((z_{1-alpha/2} + z_power) sd / mean)^2,
    rounded up. NaN when the mean is 0 or there are fewer than two effects (nothing to size)."""
    effects = measurements("effects", effects)
    effects = effects[np.isfinite(effects)]  # NaN: missing
    if effects.size < 2 or effects.mean() == 0:
        return math.nan
    z = stats.norm.ppf(1 - level("alpha", alpha) / 2) + stats.norm.ppf(level("power", power))
    return float(max(2, math.ceil((z * effects.std(ddof=1) / abs(effects.mean())) ** 2)))
