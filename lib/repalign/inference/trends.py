"""Does alignment rise with the SNR? A calibrated trend test per curve, and families of curves.

    result = snr_trend(snr, alignment, repeat)   # one value per (SNR, independent ensemble)
    result.rho, result.p, result.verdict
    words = family_verdicts(results, q=0.05)     # many curves: Benjamini-Hochberg over them

The statistic is the mean over the independent ensembles (the repeats) of Spearman's rank
correlation between S and the alignment within a repeat (S = inf ranks above every finite S).
The unit of the test is the repeat: a sweep gives one seed the same clean data, the same
initialisation and the same noise draws (scaled) at every S, so a repeat's curve is a smooth
function of S and its S labels are not exchangeable. Each repeat's own rho is one independent
number; the null distribution flips their signs (every one of the 2^R patterns up to 16
repeats, random flips beyond), so the level holds whatever the dependence along S within a
repeat, as long as a repeat's rho is as likely to be negative as positive under no trend. The
interval is a bootstrap over repeats. Steps between neighbouring SNRs are tested with paired
t-tests, Holm-corrected over the steps: a rise is "at every step" only when every step rises
significantly.

Also here: the equivalent SNR of symmetric label flips on one-hot targets, so that
classification with flipped labels can share the SNR axis of the other settings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats

from .. import validate
from .core import (ALPHA, UNDECIDED, benjamini_hochberg, checked, holm, measurements, one_sided_p, repeat_labels,
                        repeats_needed)

EVERY_STEP, RISES, WITH_DROP, FALLS = ("rises at every step", "rises overall", "rises, with a significant drop",
                                       "falls")
VERDICTS = (EVERY_STEP, RISES, WITH_DROP, UNDECIDED, FALLS)
RISING = (EVERY_STEP, RISES, WITH_DROP)  # a significant rise, whatever its steps do

PERMUTATIONS = 4999  # random sign flips beyond EXACT_REPEATS repeats: the smallest p-value is 1 / 5000
EXACT_REPEATS = 16  # up to here every sign pattern is enumerated (2^16 = 65,536)
SNRS = validate.number_phrase(greater_than=0, finite=False, plural=True)  # "positive numbers (inf allowed)"


def positive_snrs(name: str, values) -> np.ndarray:
    """SNRs as a float array: each positive, inf meaning no noise; NaN, 0, negative and -inf are
    refused (an S <= 0 has no meaning, and a NaN would be dropped or ranked arbitrarily)."""
    return checked(name, values, SNRS, lambda s: s > 0)


def _as_1d(name: str, values, size: int | None = None) -> np.ndarray:
    array = np.asarray(values, dtype=float).reshape(-1) if name != "groups" else np.asarray(values).reshape(-1)
    if size is not None and array.size != size:
        raise ValueError(f"{name} must have the same length as snr ({size}), got {array.size}")
    return array


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho with average ranks for ties; NaN when either side is constant."""
    if np.ptp(stats.rankdata(x)) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(stats.spearmanr(x, y).statistic)


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of every row pair of two (B, n) arrays; NaN for a constant row."""
    rx, ry = stats.rankdata(x, axis=1), stats.rankdata(y, axis=1)
    rx, ry = rx - rx.mean(axis=1, keepdims=True), ry - ry.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(axis=1) / np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))


def curve_matrix(snr, values, groups) -> tuple[np.ndarray, np.ndarray]:
    """(levels, matrix): the distinct S ascending, and one row per repeat with a finite value at
    every level (repeats missing one, a NaN, are left out; a repeated (S, repeat) is averaged).
    S must be positive (inf allowed), values not infinite."""
    snr = positive_snrs("snr", _as_1d("snr", snr))
    values = measurements("values", _as_1d("values", values, snr.size))
    groups = repeat_labels("groups", _as_1d("groups", groups, snr.size))
    levels, col = np.unique(snr, return_inverse=True)
    labels, row = np.unique(groups, return_inverse=True)
    total = np.zeros((labels.size, levels.size))
    count = np.zeros_like(total)
    np.add.at(total, (row, col), values)
    np.add.at(count, (row, col), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        matrix = total / count
    return levels, matrix[np.isfinite(matrix).all(axis=1)]


@dataclass(frozen=True)
class Trend:
    """The trend test of one curve of alignment against S."""

    rho: float  # mean over repeats of the within-repeat Spearman's rho
    se: float  # its standard error over repeats
    low: float  # bootstrap percentile interval of rho over repeats (level given by ``level``)
    high: float
    p_rise: float  # one-sided sign-flip p-values: rises with S, falls with S
    p_fall: float
    rho_of_means: float  # rho of the mean curve: 1 means the means rise at every step
    drops: int  # neighbouring SNR steps along which the paired mean falls significantly (Holm)
    rises: int  # ... rises significantly
    steps: int  # neighbouring SNR steps
    repeats: int  # repeats with the whole curve (the test's units)
    repeats_needed: float  # repeats for 80% power at the measured rho (t-based), at least sign_flip_floor
    level: float
    verdict: str  # one of VERDICTS, for this curve alone at error 1 - level
    mean_falls: tuple[tuple[float, float], ...] = ()  # (S, next S) of every step where the mean curve falls

    @property
    def p(self) -> float:
        """Two-sided p-value: min(1, 2 min(p_rise, p_fall)), the p-value of the verdict."""
        return min(1.0, 2 * min(self.p_rise, self.p_fall))


def paired_steps(snr, values, groups, level: float = 1 - ALPHA) -> tuple[int, int, int]:
    """(significant drops, significant rises, steps) between neighbouring SNRs.

    A step is A(S_{i+1}) - A(S_i), paired within a repeat; drops and rises are each tested by a
    one-sided paired t-test, Holm-corrected over the steps at family-wise error 1 - ``level``.
    """
    levels, matrix = curve_matrix(snr, values, groups)
    return _steps(matrix, 1 - validate.number("level", level, greater_than=0, less_than=1))


def _steps(matrix: np.ndarray, alpha: float) -> tuple[int, int, int]:
    steps = np.diff(matrix, axis=1).T  # (steps, repeats)
    if matrix.shape[0] < 2:
        return 0, 0, steps.shape[0]
    return int(holm(one_sided_p(-steps), alpha).sum()), int(holm(one_sided_p(steps), alpha).sum()), steps.shape[0]


def sign_flip_floor(alpha: float = ALPHA) -> int:
    """The fewest repeats with which the sign-flip test can reach a two-sided p-value of
    ``alpha`` at all: its smallest p-value is 2 / 2^R."""
    return max(2, math.ceil(math.log2(2 / alpha)))


@lru_cache(maxsize=EXACT_REPEATS)
def _every_sign(repeats: int) -> np.ndarray:
    """The 2^R sign patterns of R repeats, one per row (the first is all +1)."""
    return 1.0 - 2.0 * ((np.arange(2**repeats)[:, None] >> np.arange(repeats)) & 1)


def sign_flip_p(effects: np.ndarray, *, permutations: int = PERMUTATIONS, seed: int = 0) -> tuple[float, float]:
    """(p_rise, p_fall): one-sided sign-flip p-values of the mean of ``effects`` (one per repeat).

    Under the null each effect is symmetric about 0, independently of the others, so flipping
    its sign leaves the joint law unchanged: every pattern is enumerated up to EXACT_REPEATS
    repeats (an exact p-value, counting the observed one), random patterns beyond it
    ((1 + exceedances) / (1 + permutations))."""
    effects = np.asarray(effects, dtype=float)
    observed = effects.mean()
    slack = 1e-12  # equal statistics count as exceedances in both directions
    if effects.size <= EXACT_REPEATS:
        null = _every_sign(effects.size) @ effects / effects.size
        return float(np.mean(null >= observed - slack)), float(np.mean(null <= observed + slack))
    signs = 1.0 - 2.0 * (np.random.default_rng(seed).random((permutations, effects.size)) < 0.5)
    null = signs @ effects / effects.size
    return (float((1 + np.sum(null >= observed - slack)) / (1 + permutations)),
            float((1 + np.sum(null <= observed + slack)) / (1 + permutations)))


def _within_rho(matrix: np.ndarray) -> np.ndarray:
    """Spearman's rho between S (the columns, ascending) and each repeat's values; 0 for a
    repeat without spread (it carries no order)."""
    k = matrix.shape[1]
    c = np.arange(k) - (k - 1) / 2
    v = stats.rankdata(matrix, axis=1)
    v = v - v.mean(axis=1, keepdims=True)
    norm = np.sqrt((c**2).sum() * (v**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, v @ c / norm, 0.0)


def snr_trend(snr, values, groups, *, boot: int = 2000, level: float = 1 - ALPHA, seed: int = 0,
              permutations: int = PERMUTATIONS) -> Trend:
    """The trend test of alignment against S on one curve.

    ``snr``, ``values``, ``groups``: one entry per measurement (``groups`` names the independent
    ensemble, e.g. its seed). Only repeats with a finite value at every S are tested. The
    statistic, the mean of the repeats' own Spearman's rho, is tested by :func:`sign_flip_p`
    (``permutations`` random patterns from ``seed`` beyond EXACT_REPEATS repeats). The verdict
    of this curve alone, at two-sided error 1 - ``level``: "falls", or a rise that is "at every
    step" when every step between neighbouring SNRs rises significantly, "with a significant
    drop" when some step falls significantly, and "overall" otherwise (:func:`paired_steps`);
    "undecided" when the trend is not significant. For many curves, use :func:`family_verdicts`.
    """
    validate.number("level", level, greater_than=0, less_than=1)
    validate.integer("boot", boot, minimum=10)
    validate.integer("permutations", permutations, minimum=99)
    levels, matrix = curve_matrix(snr, values, groups)
    if levels.size < 2:
        raise ValueError(f"snr must hold at least two distinct values, got {levels.tolist()}")
    repeats = matrix.shape[0]
    means = matrix.mean(axis=0) if repeats else np.full(levels.size, np.nan)
    drops, rises, steps = _steps(matrix, 1 - level)
    falls_at = tuple((float(a), float(b)) for a, b, step in zip(levels, levels[1:], np.diff(means)) if step < 0)
    if repeats < 2:
        return Trend(math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, _spearman(levels, means),
                     drops, rises, steps, repeats, math.nan, level, UNDECIDED, falls_at)
    per_repeat = _within_rho(matrix)
    p_rise, p_fall = sign_flip_p(per_repeat, permutations=permutations, seed=seed)
    draws = per_repeat[np.random.default_rng(seed).integers(0, repeats, (boot, repeats))].mean(axis=1)
    low, high = np.quantile(draws, [0.5 - level / 2, 0.5 + level / 2])
    trend = Trend(rho=float(per_repeat.mean()), se=float(per_repeat.std(ddof=1) / math.sqrt(repeats)),
                  low=float(low), high=float(high), p_rise=p_rise, p_fall=p_fall,
                  rho_of_means=_spearman(levels, means), drops=drops, rises=rises, steps=steps, repeats=repeats,
                  repeats_needed=repeats_needed(per_repeat, 1 - level, floor=sign_flip_floor(1 - level)),
                  level=level, verdict=UNDECIDED, mean_falls=falls_at)
    return _with_verdict(trend, trend.p <= 1 - level)


def _with_verdict(trend: Trend, significant: bool) -> Trend:
    """``trend`` with the verdict its p-value and steps give when ``significant`` (else undecided)."""
    if not significant:
        word = UNDECIDED
    elif trend.p_fall < trend.p_rise:
        word = FALLS
    elif trend.drops:
        word = WITH_DROP
    else:
        word = EVERY_STEP if trend.rises == trend.steps else RISES
    return replace(trend, verdict=word)


def family_verdicts(trends, q: float = ALPHA) -> list[Trend]:
    """The curves of one family with their verdicts at false-discovery rate ``q``.

    A curve rises or falls when the Benjamini-Hochberg step-up over the family's two-sided
    p-values rejects it (the direction is its sign: the directional false-discovery rate is
    then at most q as well); otherwise it is undecided. A rise is at every step, overall, or
    with a significant drop, as for one curve.
    """
    trends = list(trends)
    rejected = benjamini_hochberg([t.p for t in trends], q)
    return [_with_verdict(t, bool(r)) for t, r in zip(trends, rejected)]


TREND_COLUMNS = ("rho", "se", "low", "high", "p", "rho_of_means", "drops", "rises", "steps", "mean_falls", "repeats",
                 "repeats_needed", "verdict")


def family_table(table, curve: list[str], family: str | list[str], *, x: str = "S", y: str = "alignment",
                 groups: str = "seed", q: float = ALPHA, **options):
    """One row per curve of a tidy table (the ``curve`` columns identify it) with its trend test
    (:func:`snr_trend` of ``y`` against ``x`` over ``groups``; ``options`` go to it), decided at
    false-discovery rate ``q`` within its ``family`` (columns: e.g. the metric), in TREND_COLUMNS."""
    rows = [{**dict(zip(curve, keys if isinstance(keys, tuple) else (keys,))),
             "trend": snr_trend(part[x], part[y], part[groups], **options)}
            for keys, part in table.groupby(curve, sort=False)]
    found = pd.DataFrame(rows)
    for _, index in found.groupby(family, sort=False).groups.items():
        found.loc[index, "trend"] = pd.Series(family_verdicts(found.trend[index], q), index=index)
    return found.assign(**{name: [getattr(t, name) for t in found.trend] for name in TREND_COLUMNS}).drop(
        columns="trend")


def rises_with_snr_everywhere(curves) -> bool:
    """True when each curve (rows: S ascending; columns: the x grid) is above the previous one
    at every point: alignment rises strictly with S everywhere on the grid."""
    curves = checked("curves", curves, "finite numbers", np.isfinite)  # NaN would read as "not ordered"
    if curves.ndim != 2 or curves.shape[0] < 2:
        raise ValueError(f"curves must be a 2-d array with one row per S, at least two, got shape {curves.shape}")
    return bool(np.all(np.diff(curves, axis=0) > 0))


# --- label flips as an SNR ------------------------------------------------------------------


def _check_classes(n_classes) -> int:
    return validate.integer("n_classes", n_classes, minimum=2)


def flip_for_snr(snr: float, n_classes: int) -> float:
    """The flip probability whose one-hot targets have signal-to-noise ratio ``snr``.

    A label moved with probability p to a uniformly random other class (``repalign.data``)
    gives one-hot targets whose conditional mean is kappa e_y + (1 - kappa) / C with
    kappa = 1 - p C / (C - 1). With balanced classes, the signal (that mean) has variance
    kappa^2 (C - 1) / C summed over the outputs and the targets (C - 1) / C, so the noise has
    (1 - kappa^2) (C - 1) / C and S = kappa^2 / (1 - kappa^2). Inverted: kappa = sqrt(S / (1 + S)),
    p = (1 - kappa) (C - 1) / C; S = inf gives p = 0, S -> 0 gives the uninformative p = 1 - 1/C.
    """
    classes = _check_classes(n_classes)
    if isinstance(snr, bool) or not isinstance(snr, (int, float, np.integer, np.floating)) or not snr > 0:
        raise ValueError(f"snr must be a positive number (inf allowed), got {snr!r}")
    kappa = 1.0 if math.isinf(snr) else math.sqrt(snr / (1.0 + snr))
    return (1.0 - kappa) * (classes - 1) / classes


def snr_for_flip(flip: float, n_classes: int) -> float:
    """The inverse of :func:`flip_for_snr`: the equivalent SNR of a flip probability in [0, 1 - 1/C)."""
    classes = _check_classes(n_classes)
    top = 1 - 1 / classes
    if isinstance(flip, bool) or not isinstance(flip, (int, float, np.integer, np.floating)) or not 0 <= flip < top:
        raise ValueError(f"flip must be a probability in [0, 1 - 1/C) = [0, {top:.4g}), got {flip!r}")
    kappa = 1.0 - flip * classes / (classes - 1)
    return math.inf if kappa == 1.0 else kappa**2 / (1.0 - kappa**2)


SNR_DIGITS = 6  # significant digits that map a flip back onto the SNR grid it was made from


def equivalent_snr(flip, snr, n_classes) -> np.ndarray:
    """The SNR axis of a sweep table, label flips included: one value per row.

    A row with ``flip > 0`` gets the equivalent SNR of its flip (:func:`snr_for_flip`),
    rounded to SNR_DIGITS significant digits so that a flip made by :func:`flip_for_snr`
    maps back to exactly the S it came from (4.0, not 3.9999999999999982); every other row
    (regression, input noise, no flips: ``flip`` 0 or NaN) keeps its ``snr``, which must be
    positive (inf allowed). A negative flip is refused, as :func:`snr_for_flip` refuses it.
    ``flip``, ``snr``: columns (or scalars); ``n_classes``: a column or one integer, read only
    where flips are.
    """
    flip = np.atleast_1d(np.asarray(flip, dtype=float))
    if flip.ndim != 1:
        raise ValueError(f"flip must be one column (1-d), got shape {flip.shape}")
    columns = {"snr": np.asarray(snr, dtype=float), "n_classes": np.asarray(n_classes, dtype=object)}
    for name, column in columns.items():
        if column.ndim > 1 or column.size not in (1, flip.size):
            raise ValueError(f"{name} must be one value or a column as long as flip ({flip.size}), "
                             f"got shape {column.shape}")
    out = np.broadcast_to(columns["snr"].reshape(-1), flip.shape).astype(float)  # a writable copy
    classes = np.broadcast_to(columns["n_classes"].reshape(-1), flip.shape)
    flipped = (flip != 0) & ~np.isnan(flip)  # NaN: no flips (regression); a negative flip is refused below
    positive_snrs("snr", out[~flipped])
    for i in np.flatnonzero(flipped):
        out[i] = float(f"{snr_for_flip(float(flip[i]), classes[i]):.{SNR_DIGITS}g}")
    return out
