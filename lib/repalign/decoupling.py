"""Alignment against generalization: regimes, rank correlations, counterexamples, and the exact
ridge estimator as a reference setup.

    points = configuration_means(table)                 # one row per configuration
    rho = spearman_interval(points.A, points.E)         # with a bootstrap interval
    test = counterexample_test(table, keys, within=["chapter", "task"])   # at family-wise error 5%

A *configuration* is one grid point of a sweep; its independent ensembles (the seeds) give
the mean and the standard error of its alignment A and test error E. A *counterexample* is
a pair of configurations where one has the higher alignment and the worse test error, both
significant at a family-wise error over every pair tested.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from . import metrics
from .experiment import Experiment, experiment_data, split_measurement
from .inference import (ALPHA, checked, holm, level, measurements, one_sided_p, repeat_labels, repeats_to_resolve,
                        welch_one_sided_p)
from .trends import spearman_rows

REGIMES = ("below", "near", "above")
NEAR = (0.8, 1.25)  # N / N_ref (repalign.threshold.reference_sizes) counted as "near the threshold"


def regime(ratio) -> np.ndarray:
    """'below', 'near' or 'above' the threshold, from N / N_ref (positive and finite: a NaN would
    compare false both ways and land "near")."""
    ratio = checked("ratio", ratio, "positive finite numbers (N / N_ref)", lambda r: (r > 0) & np.isfinite(r))
    return np.where(ratio < NEAR[0], "below", np.where(ratio > NEAR[1], "above", "near"))


def _check_measurements(table: pd.DataFrame) -> None:
    """A table's alignment and test error: NaN is a missing ensemble (it diverged), inf is refused:
    one infinite test error would make its configuration worse than every other, exactly. A seed
    is not NaN (the pairing is by seed)."""
    for column in ("alignment", "test_error"):
        measurements(f"table.{column}", table[column])
    repeat_labels("table.seed", table["seed"])


def configuration_means(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean and standard error over the seeds of alignment (A) and test error (E) per configuration
    (NaN values left out; infinite ones refused)."""
    _check_measurements(table)
    grouped = table.groupby(keys, dropna=False)
    points = grouped.agg(A=("alignment", "mean"), A_se=("alignment", "sem"), E=("test_error", "mean"),
                         E_se=("test_error", "sem"), repeats=("seed", "nunique")).reset_index()
    return points


@dataclass(frozen=True)
class RankCorrelation:
    rho: float
    low: float  # bootstrap percentile interval over configurations
    high: float
    n: int


def spearman_interval(a, e, *, boot: int = 2000, level: float = 0.95, seed: int = 0) -> RankCorrelation:
    """Spearman's rho between alignment and test error, with a bootstrap over the points (points
    with a NaN left out; infinite values refused)."""
    a, e = measurements("a", a), measurements("e", e)
    keep = np.isfinite(a) & np.isfinite(e)
    a, e = a[keep], e[keep]
    if len(a) < 3:
        return RankCorrelation(np.nan, np.nan, np.nan, len(a))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(a), size=(boot, len(a)))
    rhos = spearman_rows(a[draws], e[draws])  # a constant resample's rho is NaN, dropped below
    tail = (1 - level) / 2
    low, high = np.nanquantile(rhos, [tail, 1 - tail])
    return RankCorrelation(float(spearmanr(a, e).statistic), float(low), float(high), len(a))


@dataclass(frozen=True, eq=False)
class CounterexampleTest:
    """The counterexample pairs that survive Holm's correction over every ordered pair tested."""

    points: pd.DataFrame  # configuration_means of the table: the pairs index its rows
    pairs: pd.DataFrame  # the significant pairs, strongest (smallest p) first
    tests: int  # ordered pairs tested: the family Holm controls
    alpha: float  # family-wise error


def _pair_p_values(a: np.ndarray, part: pd.DataFrame, column: str) -> np.ndarray:
    """(c, c) one-sided p-values of "row i exceeds row j": paired over the seeds the two rows
    share (at least two), else Welch's test from the configurations' means and errors."""
    paired = one_sided_p(a[:, None, :] - a[None, :, :])
    mean, se, n = (part[k].to_numpy(float) for k in (column, f"{column}_se", "repeats"))
    welch = welch_one_sided_p(mean[:, None], se[:, None], mean[None, :], se[None, :], n[:, None], n[None, :])
    return np.where(np.isfinite(paired), paired, welch)


def counterexample_test(table: pd.DataFrame, keys: list[str], *, within: list[str] = (),
                        alpha: float = ALPHA) -> CounterexampleTest:
    """Pairs of configurations (same ``within`` group) where one has the higher alignment *and*
    the higher test error, at family-wise error ``alpha`` over every ordered pair tested.

    ``table``: one row per independent ensemble, with ``keys`` (a configuration), ``seed``,
    ``alignment`` and ``test_error`` (NaN: a missing ensemble; inf is refused). A pair's
    p-value is the larger of its two one-sided p-values (an intersection-union test: both
    differences must be significant), paired by seed where the two configurations share seeds
    (the same seed: the same clean data and initialisation, so what they share cancels);
    Holm's step-down then controls the chance of reporting any counterexample where none
    exists at ``alpha``, whatever the dependence.
    """
    alpha = level("alpha", alpha)
    within = list(within)
    points = configuration_means(table, keys).rename(columns={"A": "alignment", "A_se": "alignment_se",
                                                              "E": "test_error", "E_se": "test_error_se"})
    # groupby, not pivot_table: pivot_table's dropna=False expands to every combination of the keys' values
    wide = {c: table.groupby([*keys, "seed"], dropna=False)[c].mean().unstack("seed")
            .reindex(points.set_index(keys).index) for c in ("alignment", "test_error")}
    found = []
    for group, part in points.groupby(within, dropna=False, sort=False) if within else [((), points)]:
        rows = points.index.get_indexer(part.index)
        p_a, p_e = (_pair_p_values(wide[c].to_numpy(float)[rows], part, c) for c in ("alignment", "test_error"))
        i, j = np.nonzero(~np.eye(len(rows), dtype=bool))
        found.append(pd.DataFrame({**{k: [v] * len(i) for k, v in zip(within, np.atleast_1d(group))},
                                   "better_aligned": part.index[i], "other": part.index[j],
                                   "pA": p_a[i, j], "pE": p_e[i, j]}))
    pairs = pd.concat(found, ignore_index=True)
    pairs["p"] = np.fmax(pairs.pA, pairs.pE)
    pairs = pairs[holm(pairs.p.to_numpy(), alpha)]
    a, e = points.alignment.to_numpy(), points.test_error.to_numpy()
    pairs = pairs.assign(dA=a[pairs.better_aligned] - a[pairs.other], dE=e[pairs.better_aligned] - e[pairs.other])
    points = points.rename(columns={"alignment": "A", "alignment_se": "A_se", "test_error": "E",
                                    "test_error_se": "E_se"})
    return CounterexampleTest(points=points, pairs=pairs.sort_values(["p", "dA"], ascending=[True, False],
                                                                     ignore_index=True),
                              tests=len(pd.concat(found)) if found else 0, alpha=alpha)


def nearest_counterexample(table: pd.DataFrame, keys: list[str], level: float) -> tuple[float, float]:
    """(p, repeats) for the pair of configurations of ``table`` (one family, one row per ensemble)
    nearest to being a counterexample: its p-value (the larger of its two one-sided paired t-tests
    over the seeds, before Holm's correction), and the repeats per configuration that would
    detect each of its two measured differences with 80% power in a one-sided test at ``level``
    (Holm's strictest: alpha over the family's ordered pairs). NaN, NaN when no pair has both
    mean differences in the direction of a counterexample."""
    _check_measurements(table)
    wide = {c: table.groupby([*keys, "seed"])[c].mean().unstack("seed").to_numpy(float)
            for c in ("alignment", "test_error")}
    da, de = (w[:, None] - w[None] for w in wide.values())
    p = np.fmax(one_sided_p(da), one_sided_p(de))
    candidate = (np.nanmean(da, axis=-1) > 0) & (np.nanmean(de, axis=-1) > 0) & np.isfinite(p)
    if not candidate.any():
        return math.nan, math.nan
    i, j = np.unravel_index(np.argmin(np.where(candidate, p, np.inf)), p.shape)
    return float(p[i, j]), max(repeats_to_resolve(diff[i, j], alpha=2 * level) for diff in (da, de))


def ridge_ensemble(exp: Experiment, ridge: float) -> tuple[dict[str, float], float]:
    """Alignment (every metric of ``exp``) and mean test MSE of the exact ridge estimator on the
    data of ``exp``: ``b_k = (X_k^T X_k + N ridge I)^{-1} X_k^T y_k`` for each member.

    Its representation of a probe x is the rank-one hidden layer ``u (b_k . x)`` that a linear
    network trained from a small initialisation ends with; every metric here is invariant to
    the embedding direction u and to scale, so the one feature ``b_k . x`` stands for it.
    """
    if exp.model != "linear" or exp.task != "regression" or not 0 < ridge < math.inf:
        raise ValueError("ridge_ensemble needs a linear-network regression Experiment and a finite ridge > 0, got "
                         f"model={exp.model!r}, data={exp.data!r}, ridge={ridge!r}")
    ens = experiment_data(exp)
    x, y = ens.x_train.astype(float), ens.y_train.astype(float)
    n, d = x.shape[1:]
    gram = np.einsum("kni,knj->kij", x, x) + n * ridge * np.eye(d)
    b = np.linalg.solve(gram, np.einsum("kni,kn->ki", x, y)[..., None])[..., 0]  # (K, D)
    outputs = ens.x_probe @ b.T  # (n_probe, K)
    reps = outputs.T[..., None]  # (K, n_probe, 1)
    alignment = {name: metrics.mean_alignment(metrics.alignment_matrix(reps, split_measurement(name)[0]))[0]
                 for name in exp.metrics}  # one feature: every layer's alignment is the same
    return alignment, float(np.mean((outputs - ens.y_probe[:, None]) ** 2))
