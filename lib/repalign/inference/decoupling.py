"""Alignment against generalization: regimes, rank correlations, the coupling of the two over
seeds, and counterexamples (the exact ridge estimator, a reference setup: ``repalign.untrained``).

    points = configuration_means(table)                 # one row per configuration
    c = coupling(table, keys, strata=["n_train", "snr"])  # how strongly A and E go together, over seeds
    test = counterexample_test(table, keys, within=["chapter", "task"])   # at family-wise error 5%

A *configuration* is one grid point of a sweep; its independent ensembles (the seeds) give
the mean and the standard error of its alignment A and test error E. A *counterexample* is
a pair of configurations where one has the higher alignment and the worse test error, both
significant at a family-wise error over every pair tested.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats import rankdata

from .. import validate
from . import core as inference
from .core import (ALPHA, checked, holm, level, measurements, one_sided_p, repeat_labels, repeats_needed,
                        welch_one_sided_p)
from .trends import spearman_rows

REGIMES = ("below", "near", "above")
NEAR = (0.8, 1.25)  # N / N_ref (repalign.sizes.reference_sizes) counted as "near the threshold"


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
    low: float  # bootstrap percentile interval over the seeds (coupling)
    high: float
    n: int  # the points correlated, or (coupling's averaged estimates) the correlations averaged


def _spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho along the last axis of two arrays of one shape, each row over the points
    finite in both (``trends.spearman_rows`` where every point is); NaN for a row with fewer than
    three such points or a constant one."""
    shape, points = x.shape[:-1], x.shape[-1]
    x, y = x.reshape(-1, points), y.reshape(-1, points)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.all():
        rho = spearman_rows(x, y) if points >= 3 else np.full(len(x), np.nan)
        return rho.reshape(shape)
    # A missing point ranks above every present one (inf), so the present ones keep the ranks 1..k
    # they have among themselves; centred, the missing ones are then set to 0 and drop out.
    count = ok.sum(axis=1, keepdims=True)
    rx, ry = (np.where(ok, rankdata(np.where(ok, v, np.inf), axis=1) - (count + 1) / 2, 0.0) for v in (x, y))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (rx * ry).sum(axis=1) / np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    return np.where(count[:, 0] >= 3, rho, np.nan).reshape(shape)


def _rho_over_seeds(a: np.ndarray, e: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(resamples, configurations): Spearman's rho of A against E over each configuration's seeds
    (``a``, ``e``: (configurations, seeds)), each seed counted as often as ``weights`` (resamples,
    seeds) draws it; a seed with a NaN in either left out, NaN for fewer than 3 seeds drawn or
    a constant sample. A seed's mid-rank in a resample is the weight of the seeds below it plus
    half the weight of those tied with it (itself included), plus 1/2: a product of the weights
    with each configuration's comparisons, without ranking every resample."""
    present = np.isfinite(a) & np.isfinite(e)
    drawn = weights @ present.T  # (resamples, configurations): the seeds each resample counts

    def centred_ranks(values: np.ndarray) -> np.ndarray:
        below = (values[:, None, :] < values[:, :, None]) & present[:, None, :]  # [c, k, m]: seed m below seed k
        tied = (values[:, None, :] == values[:, :, None]) & present[:, None, :]
        ranks = (weights @ (below + tied / 2).reshape(-1, values.shape[1]).T).reshape(len(weights), *values.shape)
        ranks -= drawn[..., None] / 2  # centred: the mean mid-rank of n values is (n + 1) / 2
        ranks *= present  # a seed left out counts nothing
        return ranks

    rx, ry = centred_ranks(a), centred_ranks(e)
    cov, vx, vy = (np.einsum("bs,bcs,bcs->bc", weights, u, v) for u, v in ((rx, ry), (rx, rx), (ry, ry)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(drawn >= 3, cov / np.sqrt(vx * vy), np.nan)


@dataclass(frozen=True, eq=False)
class Coupling:
    """How strongly alignment A and test error E go together (:func:`coupling`): each estimate a
    Spearman's rho with its bootstrap interval over the seeds, at ``level``."""

    across: RankCorrelation  # rho of the configurations' mean A and E; n: configurations
    within: Mapping[str, RankCorrelation]  # stratum column -> mean within-stratum rho; n: strata averaged
    across_seeds: RankCorrelation  # mean over configurations of rho over their seeds; n: configurations averaged
    seeds: int  # independent ensembles: the unit resampled
    boot: int
    level: float

    @property
    def coupled(self) -> bool:
        """Whether the interval of ``across`` excludes 0 (either sign; False when it is NaN)."""
        return bool(self.across.low > 0 or self.across.high < 0)


def coupling(table: pd.DataFrame, keys: list[str], *, strata: Sequence[str] = (), boot: int = 2000,
             level: float = 0.95, seed: int = 0) -> Coupling:
    """How strongly alignment and test error are coupled over the configurations of ``table``.

    ``table``: one row per independent ensemble, with ``keys`` (a configuration), ``seed``,
    ``alignment`` and ``test_error`` (NaN: a missing ensemble, left out; inf is refused), and the
    ``strata`` columns, each constant within a configuration (e.g. "n_train", "snr"). Estimates,
    each Spearman's rho:

    - ``across``: of the configurations' mean A against their mean E;
    - ``within[s]``: the mean over the values of stratum ``s`` of that rho among the
      configurations sharing the value (does A tell about E once s is known?); a stratum with
      fewer than 3 configurations, or constant A or E, is left out;
    - ``across_seeds``: the mean over configurations of the rho of A against E over the
      configuration's seeds (does a seed that aligns more also generalize better?); a
      configuration with fewer than 3 seeds, or constant values, is left out.

    Each interval is a percentile interval of ``boot`` bootstrap resamples of the *seeds* (from
    ``seed``): every resample draws the seeds with replacement, recomputes each configuration's
    means from the seeds drawn (a seed drawn twice counts twice) and recomputes the estimate
    (``across_seeds`` too resamples the seeds, shared by all configurations); the strata and
    configurations left out are those of the data. Its tails are those of the expanded
    percentile interval at ``level`` (:func:`seed_interval_tail`), which keeps its error rate
    with few seeds; with fewer than MIN_SEEDS seeds there is no interval (NaN). The seed is the
    unit because it is the independent one: a seed gives every configuration the same clean data
    and initialisation (common random numbers), so configurations measured with one seed share
    its luck and are not independent, while different seeds are. A bootstrap over configurations
    would treat them as independent and can be far too narrow. The
    configurations themselves are fixed: the interval is about these configurations' true means,
    not about others that could have been chosen. Means resampled from fewer distinct seeds are
    noisier, which pulls the resampled rho towards 0: the interval leans towards 0 (cautious
    about a coupling), and where configurations lie close together against the seed noise it
    can miss the estimate itself on the side away from 0.
    """
    _check_measurements(table)
    boot = validate.integer("boot", boot, minimum=1)
    level = inference.level("level", level)
    strata = list(strata)
    missing = [c for c in [*keys, *strata] if c not in table.columns]
    if missing:
        raise ValueError(f"table must have the columns keys + strata, missing {missing}")
    if table.empty:
        raise ValueError("table must hold at least one row")
    grouped = table.groupby(list(keys), dropna=False)
    wide = {c: table.groupby([*keys, "seed"], dropna=False)[c].mean().unstack("seed") for c in ("alignment",
                                                                                               "test_error")}
    a, e = (w.to_numpy(float) for w in wide.values())  # (configurations, seeds)
    labels = {}
    for s in strata:
        if (grouped[s].nunique(dropna=False) > 1).any():
            raise ValueError(f"the stratum {s!r} must be constant within each configuration of {list(keys)}")
        values = grouped[s].first().reindex(wide["alignment"].index)
        labels[s] = pd.factorize(values, use_na_sentinel=False)[0]
    configurations, seeds = a.shape
    weights = _seed_weights(seeds, boot, seed)
    point_a, point_e = _means(a, np.ones(seeds)), _means(e, np.ones(seeds))
    boot_a, boot_e = _means(a, weights), _means(e, weights)
    within = {}
    for s, label in labels.items():
        groups = [np.flatnonzero(label == g) for g in range(label.max() + 1)] if configurations else []
        point = np.array([_spearman(point_a[g], point_e[g]) for g in groups], dtype=float)
        draws = np.full((boot, len(groups)), np.nan)
        for size in {len(g) for g in groups}:  # one call per stratum size: (boot, strata, size) at once
            same = [i for i, g in enumerate(groups) if len(g) == size]
            rows = np.stack([groups[i] for i in same])
            draws[:, same] = _spearman(boot_a[:, rows], boot_e[:, rows])
        within[s] = _averaged(point, draws, seeds, level)
    across_seeds = _averaged(_rho_over_seeds(a, e, np.ones((1, seeds)))[0], _rho_over_seeds(a, e, weights), seeds,
                             level)
    return Coupling(across=_across(a, e, weights, level), within=MappingProxyType(within), across_seeds=across_seeds,
                    seeds=seeds, boot=boot, level=level)


MIN_SEEDS = 5  # the fewest seeds with which a seed-bootstrap interval is given (see seed_interval_tail)


def seed_interval_tail(seeds: int, level: float) -> float:
    """The tail probability at each end of the seed-bootstrap intervals of :func:`coupling`: the
    expanded percentile interval (Hesterberg 2015), whose normal quantile is sqrt(R / (R - 1))
    times Student's t quantile at ``level`` with R - 1 degrees of freedom, R the seeds. A plain
    percentile interval of R resampled units is too narrow for small R (it forgets both the
    R / (R - 1) of the resampled variance and the t distribution); simulated under a null of no
    coupling with common random numbers (tests/test_coupling.py) it excludes 0 in 8% of sweeps
    at R = 10 and 11% at R = 5 instead of 5%, the expanded one in 3.5% and 3.75%. NaN below
    MIN_SEEDS seeds, where no interval is given: at 4 seeds even the expanded interval excluded 0
    in 10% of such sweeps, and at 3 in 21%."""
    if seeds < MIN_SEEDS:
        return math.nan
    return float(stats.norm.cdf(-math.sqrt(seeds / (seeds - 1)) * stats.t.ppf(0.5 + level / 2, seeds - 1)))


def _seed_weights(seeds: int, boot: int, seed: int) -> np.ndarray:
    """(boot, seeds): how often each bootstrap resample of the seeds draws each seed."""
    draws = np.random.default_rng(seed).integers(0, seeds, size=(boot, seeds))
    return (draws[:, :, None] == np.arange(seeds)).sum(axis=1, dtype=float)


def _means(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(..., configurations): each configuration's mean over the seeds weighted by ``weights``
    (..., seeds), NaN values left out (NaN where none is drawn)."""
    present = np.isfinite(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (weights @ np.where(present, values, 0.0).T) / (weights @ present.T)


def _interval(rho: float, draws: np.ndarray, n: int, seeds: int, level: float) -> RankCorrelation:
    """``rho`` with the expanded percentile interval of its bootstrap ``draws`` (NaN ones left out)."""
    tail = seed_interval_tail(seeds, level)
    if not (np.isfinite(rho) and np.isfinite(tail) and np.isfinite(draws).any()):
        return RankCorrelation(float(rho), math.nan, math.nan, n)
    low, high = np.nanquantile(draws, [tail, 1 - tail])
    return RankCorrelation(float(rho), float(low), float(high), n)


def _averaged(point: np.ndarray, draws: np.ndarray, seeds: int, level: float) -> RankCorrelation:
    """The mean of the finite estimates of ``point``, each resample (row of ``draws``) averaging
    the same ones (its own NaN left out)."""
    used = np.isfinite(point)
    if not used.any():
        return RankCorrelation(math.nan, math.nan, math.nan, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample whose every estimate is NaN
        mean = np.nanmean(draws[:, used], axis=1)
    return _interval(float(point[used].mean()), mean, int(used.sum()), seeds, level)


def _across(a: np.ndarray, e: np.ndarray, weights: np.ndarray, level: float) -> RankCorrelation:
    point_a, point_e = _means(a, np.ones(a.shape[1])), _means(e, np.ones(a.shape[1]))
    rho = float(_spearman(point_a, point_e))
    return _interval(rho, _spearman(_means(a, weights), _means(e, weights)),
                     int((np.isfinite(point_a) & np.isfinite(point_e)).sum()), a.shape[1], level)


def across_configurations(a, e, *, boot: int = 2000, level: float = 0.95, seed: int = 0) -> RankCorrelation:
    """:func:`coupling`'s ``across`` from arrays: Spearman's rho of the configurations' mean
    alignment against their mean test error, with its seed-bootstrap interval. ``a``, ``e``:
    (configurations, seeds), the same seed in one column (NaN: missing; inf refused)."""
    a, e = measurements("a", a), measurements("e", e)
    if a.ndim != 2 or a.shape != e.shape:
        raise ValueError(f"a and e must be 2-d arrays of one shape (configurations, seeds), got {a.shape}, {e.shape}")
    boot = validate.integer("boot", boot, minimum=1)
    return _across(a, e, _seed_weights(a.shape[1], boot, seed), inference.level("level", level))


def _signed(value: float) -> str:
    """'−0.97', '+0.10' (a minus sign, not a hyphen)."""
    return f"{value:+.2f}".replace("-", "−")


def rho_interval(rho: float, low: float = math.nan, high: float = math.nan) -> str:
    """'−0.97 [−0.99, −0.93]'; without the brackets when there is no interval, '—' without a value."""
    if not math.isfinite(rho):
        return "—"
    return _signed(rho) + (f" [{_signed(low)}, {_signed(high)}]" if math.isfinite(low) else "")


def _with_interval(r: RankCorrelation) -> str:
    return rho_interval(r.rho, r.low, r.high)


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
    return float(p[i, j]), max(repeats_needed(diff[i, j], alpha=level, sides=1) for diff in (da, de))
