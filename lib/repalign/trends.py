"""Is alignment monotone in the SNR? Rank statistics with uncertainties over independent ensembles.

    result = snr_trend(snr, alignment, repeat)   # one value per (SNR, independent ensemble)
    result.rho, result.low, result.high, result.verdict

The statistic is Spearman's rank correlation between S and the alignment over every
measurement of a curve (S = inf ranks above every finite S). Its uncertainty comes from a
cluster bootstrap over the independent ensembles (the repeats): a repeat is resampled with all
its SNR points, because the same seed gives the same clean data and initialisation at every S.
Steps between neighbouring SNRs are tested with paired differences over the repeats.

Also here: the equivalent SNR of symmetric label flips on one-hot targets, so that
classification with flipped labels can share the SNR axis of the other settings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from . import validate

VERDICTS = ("rises monotonically", "rises, with a significant drop", "no significant trend", "falls")


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


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of every row pair of two (B, n) arrays; NaN for a constant row."""
    rx, ry = stats.rankdata(x, axis=1), stats.rankdata(y, axis=1)
    rx, ry = rx - rx.mean(axis=1, keepdims=True), ry - ry.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(axis=1) / np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))


@dataclass(frozen=True)
class Trend:
    """Spearman's rho of a curve, its bootstrap interval, and the steps between neighbouring SNRs."""

    rho: float  # over every (S, repeat) measurement
    se: float  # bootstrap standard deviation of rho
    low: float  # bootstrap percentile interval of rho (level given by ``level``)
    high: float
    rho_of_means: float  # rho of the mean curve: 1 means the means rise at every step
    drops: int  # neighbouring SNR steps along which the paired mean falls significantly
    rises: int  # ... rises significantly
    steps: int  # neighbouring SNR steps
    repeats: int
    level: float
    verdict: str  # one of VERDICTS


def paired_steps(snr, values, groups, level: float = 0.95) -> tuple[int, int, int]:
    """(significant drops, significant rises, steps) between neighbouring SNRs.

    A step is the mean over repeats of A(S_{i+1}) - A(S_i), paired within a repeat; it is
    significant when its t-interval at ``level`` (R - 1 degrees of freedom) excludes 0.
    Repeats missing one of the two SNRs are left out of that step.
    """
    snr, values = _as_1d("snr", snr), _as_1d("values", values, len(np.ravel(snr)))
    groups = _as_1d("groups", groups, snr.size)
    levels = np.unique(snr)
    table: dict[tuple, float] = {}
    for s, v, g in zip(snr, values, groups):
        table[(s, g)] = v
    drops = rises = 0
    for lo, hi in zip(levels[:-1], levels[1:]):
        diffs = np.array([table[(hi, g)] - table[(lo, g)] for g in np.unique(groups)
                          if (lo, g) in table and (hi, g) in table])
        diffs = diffs[np.isfinite(diffs)]
        if diffs.size < 2:
            continue
        half = stats.t.ppf(0.5 + level / 2, diffs.size - 1) * diffs.std(ddof=1) / math.sqrt(diffs.size)
        drops += bool(diffs.mean() + half < 0)
        rises += bool(diffs.mean() - half > 0)
    return drops, rises, len(levels) - 1


def snr_trend(snr, values, groups, *, boot: int = 2000, level: float = 0.95, seed: int = 0) -> Trend:
    """Spearman's rho between ``snr`` and ``values`` with a cluster bootstrap over ``groups``.

    ``snr``, ``values``, ``groups``: one entry per measurement (``groups`` names the independent
    ensemble, e.g. its seed). Non-finite values are left out. The verdict: "falls" if the whole
    interval is below 0, "no significant trend" if it contains 0, otherwise "rises
    monotonically" when no step between neighbouring SNRs is a significant drop
    (:func:`paired_steps`), else "rises, with a significant drop".
    """
    snr = _as_1d("snr", snr)
    values = _as_1d("values", values, snr.size)
    groups = _as_1d("groups", groups, snr.size)
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    if boot < 10:
        raise ValueError(f"boot must be at least 10, got {boot!r}")
    keep = np.isfinite(values) & ~np.isnan(snr)
    snr, values, groups = snr[keep], values[keep], groups[keep]
    if np.unique(snr).size < 2:
        raise ValueError(f"snr must hold at least two distinct values, got {np.unique(snr).tolist()}")
    labels = np.unique(groups)
    members = [np.flatnonzero(groups == g) for g in labels]
    rho = _spearman(snr, values)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, labels.size, (boot, labels.size))
    if len({m.size for m in members}) == 1:  # every repeat has the whole curve: one vectorised pass
        index = np.stack(members)[picks].reshape(boot, -1)
        draws = _spearman_rows(snr[index], values[index])
    else:
        draws = np.array([_spearman(snr[idx], values[idx]) for idx in
                          (np.concatenate([members[i] for i in row]) for row in picks)])
    draws = draws[np.isfinite(draws)]
    if draws.size:
        low, high = np.quantile(draws, [0.5 - level / 2, 0.5 + level / 2])
        se = float(draws.std(ddof=1)) if draws.size > 1 else math.nan
    else:
        low = high = se = math.nan
    levels = np.unique(snr)
    means = np.array([values[snr == s].mean() for s in levels])
    drops, rises, steps = paired_steps(snr, values, groups, level)
    if high < 0:
        verdict = VERDICTS[3]
    elif not low > 0:
        verdict = VERDICTS[2]
    else:
        verdict = VERDICTS[0] if drops == 0 else VERDICTS[1]
    return Trend(rho=rho, se=se, low=float(low), high=float(high), rho_of_means=_spearman(levels, means),
                 drops=drops, rises=rises, steps=steps, repeats=int(labels.size), level=level, verdict=verdict)


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
    (regression, input noise, no flips: ``flip == 0``) keeps its ``snr``. ``flip``, ``snr``:
    columns (or scalars); ``n_classes``: a column or one integer, read only where flips are.
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
    for i in np.flatnonzero(flip > 0):  # NaN flips compare False: they keep their snr
        out[i] = float(f"{snr_for_flip(float(flip[i]), classes[i]):.{SNR_DIGITS}g}")
    return out
