"""Alignment against generalization: regimes, rank correlations, counterexamples, and the exact
ridge estimator as a reference setup.

    points = configuration_means(table)                 # one row per configuration
    rho = spearman_interval(points.A, points.E)         # with a bootstrap interval
    pairs = counterexamples(points, within=["chapter", "task"])

A *configuration* is one grid point of a sweep; its independent ensembles (the seeds) give
the mean and the standard error of its alignment A and test error E. A *counterexample* is
a pair of configurations where one has the higher alignment and the worse test error, each
difference larger than ``z`` standard errors of the difference.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import ConstantInputWarning, spearmanr

from . import metrics
from .experiment import Experiment, experiment_data

REGIMES = ("below", "near", "above")
NEAR = (0.8, 1.25)  # N / N_ref (repalign.threshold.reference_sizes) counted as "near the threshold"


def regime(ratio) -> np.ndarray:
    """'below', 'near' or 'above' the threshold, from N / N_ref."""
    ratio = np.asarray(ratio, dtype=float)
    return np.where(ratio < NEAR[0], "below", np.where(ratio > NEAR[1], "above", "near"))


def configuration_means(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean and standard error over the seeds of alignment (A) and test error (E) per configuration."""
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
    """Spearman's rho between alignment and test error, with a bootstrap over the points."""
    a, e = np.asarray(a, dtype=float), np.asarray(e, dtype=float)
    keep = np.isfinite(a) & np.isfinite(e)
    a, e = a[keep], e[keep]
    if len(a) < 3:
        return RankCorrelation(np.nan, np.nan, np.nan, len(a))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(a), size=(boot, len(a)))
    with warnings.catch_warnings():  # a resample of few points can be constant: its rho is NaN, dropped below
        warnings.simplefilter("ignore", ConstantInputWarning)
        rhos = np.array([spearmanr(a[i], e[i]).statistic for i in draws])
    tail = (1 - level) / 2
    low, high = np.nanquantile(rhos, [tail, 1 - tail])
    return RankCorrelation(float(spearmanr(a, e).statistic), float(low), float(high), len(a))


def z_score(x: float, y: float, se_x: float, se_y: float) -> float:
    """(x - y) over its standard error. 0 when x and y agree to rounding (identical members give
    an alignment of 1 in every repeat, with a standard error of 0 and differences of ~1e-16),
    +-inf for an exact difference without spread, NaN when either value is NaN."""
    if not (math.isfinite(x) and math.isfinite(y)):
        return math.nan
    if math.isclose(x, y, rel_tol=1e-12, abs_tol=0.0):
        return 0.0
    se = math.hypot(se_x, se_y)
    return math.copysign(math.inf, x - y) if se == 0 else (x - y) / se


def counterexamples(points: pd.DataFrame, *, within: list[str] = (), z: float = 2.0) -> pd.DataFrame:
    """Pairs of configurations (in the same ``within`` group) where the one with the higher
    alignment has the worse test error, both differences beyond ``z`` standard errors.

    ``within=()``: all points form one group. Columns: the group, the two configurations' row indices in ``points`` (``better_aligned``,
    ``other``), the differences and their z-scores; strongest first (by the smaller z-score).
    """
    within = list(within)
    rows = []
    for group, part in points.groupby(within, dropna=False) if within else [((), points)]:
        group = group if isinstance(group, tuple) else (group,)
        for i, j in itertools.permutations(part.index, 2):
            p, q = points.loc[i], points.loc[j]
            d_a, d_e = p.A - q.A, p.E - q.E
            z_a, z_e = z_score(p.A, q.A, p.A_se, q.A_se), z_score(p.E, q.E, p.E_se, q.E_se)
            if z_a > z and z_e > z:
                rows.append({**dict(zip(within, group)), "better_aligned": i, "other": j, "dA": d_a, "dE": d_e,
                             "zA": z_a, "zE": z_e})
    pairs = pd.DataFrame(rows, columns=[*within, "better_aligned", "other", "dA", "dE", "zA", "zE"])
    return pairs.assign(strength=np.minimum(pairs.zA, pairs.zE)).sort_values("strength", ascending=False)


def ridge_ensemble(exp: Experiment, ridge: float) -> tuple[dict[str, float], float]:
    """Alignment (every metric of ``exp``) and mean test MSE of the exact ridge estimator on the
    data of ``exp``: ``b_k = (X_k^T X_k + N ridge I)^{-1} X_k^T y_k`` for each member.

    Its representation of a probe x is the rank-one hidden layer ``u (b_k . x)`` that a linear
    network trained from a small initialisation ends with; every metric here is invariant to
    the embedding direction u and to scale, so the one feature ``b_k . x`` stands for it.
    """
    if exp.model != "linear" or exp.task != "regression" or not ridge > 0:
        raise ValueError("ridge_ensemble needs a linear-network regression Experiment and ridge > 0, got "
                         f"model={exp.model!r}, data={exp.data!r}, ridge={ridge!r}")
    ens = experiment_data(exp)
    x, y = ens.x_train.astype(float), ens.y_train.astype(float)
    n, d = x.shape[1:]
    gram = np.einsum("kni,knj->kij", x, x) + n * ridge * np.eye(d)
    b = np.linalg.solve(gram, np.einsum("kni,kn->ki", x, y)[..., None])[..., 0]  # (K, D)
    outputs = ens.x_probe @ b.T  # (n_probe, K)
    reps = outputs.T[..., None]  # (K, n_probe, 1)
    alignment = {name: metrics.mean_alignment(metrics.alignment_matrix(reps, name))[0] for name in exp.metrics}
    return alignment, float(np.mean((outputs - ens.y_probe[:, None]) ** 2))
