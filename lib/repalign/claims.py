"""The book's conclusions, decided in one place: the verdict rule of each claim, and the words
and marks that report it.

    snr = snr_claim(table, boot=2000, seed=0)                          # claim 1
    low = minimum_claim(table, d=40, n_grid=n_grid, snrs=snrs)         # claim 2
    dec = decoupling_claim(table, z=2.0)                               # claim 3
    snr.verdict, snr.mark, snr.summary                  # "holds", "✓", "3/3 N, median ρ +0.91"
    grid = robustness_grid(table, setups, metrics, d=40, n_grid=n_grid, snrs=snrs, z=2.0)

The three claims, tested on a sweep of the linear network over N and S (the book's Methods page
states the rules; the chapter "Alignment is not generalization" applies them to every setup and
metric):

1. at every N, alignment rises with the SNR S: Spearman's rho between S and the alignment of
   every ensemble, its 95% cluster-bootstrap interval above 0 (``trends.snr_trend``);
2. at every finite S, the minimum of the mean alignment over N falls on one of the two grid
   points next to the threshold N = D (``threshold.extremum``);
3. alignment is not generalization: at least one pair of grid points has the higher alignment
   *and* the higher test error, both by more than ``z`` standard errors
   (``decoupling.counterexamples``).

Claims 1 and 2 hold when every N (every S) passes, hold partly when some do and fail when
none does; claim 3 holds when a pair is found and is otherwise not shown.

Input tables are tidy sweep tables (``repalign.sweep``), one row per independent ensemble,
with the columns

    n_train      sample size N
    snr          SNR S (inf: no noise)
    seed         the independent ensemble (repeat) the row comes from
    alignment    the ensemble's mean pairwise alignment
    test_error   its test error

and, for :func:`robustness_grid`, ``setup`` and ``metric``. Uncertainties come from the
independent ensembles only. Also here: the counts and phrases that chapters glue into their
prose (curves that rise, counterexample pairs described for a reader, intervals).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from . import trends as _trends
from .decoupling import RankCorrelation, configuration_means, counterexamples, spearman_interval
from .threshold import Extremum, extremum

# --- the vocabulary -------------------------------------------------------------------------

HOLDS, PARTLY, FAILS, NOT_SHOWN = "holds", "partly", "fails", "not shown"
VERDICTS = (HOLDS, PARTLY, FAILS, NOT_SHOWN)
MARKS = MappingProxyType({HOLDS: "✓", PARTLY: "~", FAILS: "✗", NOT_SHOWN: "✗"})
CLAIMS = MappingProxyType({"snr": "1. rises with SNR", "min": "2. minimum at N = D",
                           "dec": "3. decoupled from error"})  # key -> the title a reader sees

MONOTONE, WITH_DROP, FLAT, FALLS = _trends.VERDICTS  # the verdicts of one alignment-against-S curve
RISING = (MONOTONE, WITH_DROP)  # a significant rise, with or without a significant step down
TREND_MARKS = MappingProxyType({MONOTONE: "", WITH_DROP: "d", FLAT: "?", FALLS: "x"})  # heat-map cells

SWEEP_COLUMNS = ("n_train", "snr", "seed", "alignment", "test_error")


def share_verdict(passed: int, cases: int) -> str:
    """HOLDS when every case passed, PARTLY when some did, FAILS when none did."""
    if not 0 <= passed <= cases or cases < 1:
        raise ValueError(f"need 0 <= passed <= cases and cases >= 1, got passed={passed!r}, cases={cases!r}")
    return HOLDS if passed == cases else (PARTLY if passed else FAILS)


def _require(table: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"table must have the columns {tuple(columns)}, missing {missing}")
    if table.empty:
        raise ValueError("table must hold at least one row")


@dataclass(frozen=True)
class Claim:
    """A verdict (one of VERDICTS); subclasses add the statistic behind it and its summary."""

    verdict: str

    @property
    def mark(self) -> str:
        return MARKS[self.verdict]

    @property
    def cell(self) -> str:
        """Mark and summary, as in the robustness table."""
        return f"{self.mark} {self.summary}"

    @property
    def summary(self) -> str:
        raise NotImplementedError


# --- claim 1: alignment rises with the SNR ----------------------------------------------------


@dataclass(frozen=True)
class SNRClaim(Claim):
    rising: int  # sample sizes whose alignment rises significantly with S
    sizes: tuple[float, ...]  # the sample sizes N tested, ascending
    trends: tuple[_trends.Trend, ...]  # one per N
    median_rho: float  # median over N of Spearman's rho

    @property
    def summary(self) -> str:
        return f"{self.rising}/{len(self.sizes)} N, median ρ {self.median_rho:+.2f}"


def snr_claim(table: pd.DataFrame, *, boot: int = 2000, seed: int = 0) -> SNRClaim:
    """Claim 1 on a sweep over N and S: at every N, does the alignment rise with S?

    Each N is one curve, tested by ``trends.snr_trend`` (cluster bootstrap over the seeds,
    ``boot`` resamples from ``seed``); it rises when its verdict is one of RISING.
    """
    _require(table, ("n_train", "snr", "seed", "alignment"))
    per_n = [(n, _trends.snr_trend(rows.snr, rows.alignment, rows.seed, boot=boot, seed=seed))
             for n, rows in table.groupby("n_train")]
    rising = sum(t.verdict in RISING for _, t in per_n)
    return SNRClaim(verdict=share_verdict(rising, len(per_n)), rising=rising,
                    sizes=tuple(float(n) for n, _ in per_n), trends=tuple(t for _, t in per_n),
                    median_rho=float(np.median([t.rho for _, t in per_n])))


# --- claim 2: the alignment minimum sits at the threshold -----------------------------------


def threshold_neighbours(n_grid: Sequence[float], d: float) -> tuple[float, float]:
    """The grid values either side of N = D: the largest below and the smallest above."""
    below, above = [n for n in n_grid if n < d], [n for n in n_grid if n > d]
    if not below or not above:
        raise ValueError(f"n_grid must hold values on both sides of d = {d!r}, got {list(n_grid)!r}")
    return max(below), min(above)


@dataclass(frozen=True)
class MinimumClaim(Claim):
    hits: int  # finite S whose alignment minimum is next to N = D
    snrs: tuple[float, ...]  # the finite S tested
    locations: tuple[float, ...]  # N/D of the grid point of the minimum, per S
    extrema: tuple[Extremum, ...]  # per S
    neighbours: tuple[float, float]  # the grid values either side of N = D

    @property
    def summary(self) -> str:
        return f"{self.hits}/{len(self.snrs)} S, N/D " + ", ".join(f"{w:g}" for w in self.locations)


def minimum_claim(table: pd.DataFrame, *, d: float, n_grid: Sequence[float] | None = None,
                  snrs: Sequence[float] | None = None, boot: int = 2000, seed: int = 0) -> MinimumClaim:
    """Claim 2 on a sweep over N and S: at every finite S, is the alignment minimum next to N = D?

    The minimum is the grid point of ``threshold.extremum`` (``kind="min"``, ``boot``
    resamples from ``seed``); it hits when it is one of the two grid values either side of
    ``d`` (:func:`threshold_neighbours`). ``n_grid``, ``snrs``: the sweep's grids, in the
    order reported (default: the table's values, ascending); S = inf is left out.
    """
    _require(table, ("n_train", "snr", "seed", "alignment"))
    n_grid = sorted(table.n_train.unique()) if n_grid is None else list(n_grid)
    snrs = sorted(table.snr.unique()) if snrs is None else list(snrs)
    below, above = threshold_neighbours(n_grid, d)
    finite = [s for s in snrs if math.isfinite(s)]
    if not finite:
        raise ValueError(f"snrs must hold at least one finite S, got {snrs!r}")
    lows = []
    for s in finite:
        rows = table[table.snr == s]
        if rows.empty:
            raise ValueError(f"table has no row at snr = {s!r}")
        lows.append(extremum(rows.n_train, rows.alignment, rows.seed, kind="min", boot=boot, seed=seed))
    hits = sum(below <= low.grid_location <= above for low in lows)
    return MinimumClaim(verdict=share_verdict(hits, len(finite)), hits=hits, snrs=tuple(finite),
                        locations=tuple(low.grid_location / d for low in lows), extrema=tuple(lows),
                        neighbours=(below, above))


# --- claim 3: alignment is not generalization ------------------------------------------------


@dataclass(frozen=True)
class DecouplingClaim(Claim):
    pairs: int  # significant counterexample pairs
    correlation: RankCorrelation  # Spearman's rho between A and E over the configurations
    found: pd.DataFrame = field(compare=False, repr=False)  # decoupling.counterexamples' table
    configurations: pd.DataFrame = field(compare=False, repr=False)  # decoupling.configuration_means

    @property
    def summary(self) -> str:
        r = self.correlation
        return f"{self.pairs} pairs, ρ {r.rho:+.2f} [{r.low:+.2f}, {r.high:+.2f}]"


def decoupling_claim(table: pd.DataFrame, *, z: float = 2.0, boot: int = 2000, seed: int = 0) -> DecouplingClaim:
    """Claim 3 on a sweep over N and S: does some grid point align more and generalize worse?

    Each (N, S) is a configuration, its mean and standard error over the seeds
    (``decoupling.configuration_means``); a counterexample is a pair whose alignment and test
    error differences both exceed ``z`` standard errors (``decoupling.counterexamples``).
    The correlation's interval: a bootstrap over configurations, ``boot`` resamples from ``seed``.
    """
    _require(table, SWEEP_COLUMNS)
    configs = configuration_means(table, ["n_train", "snr"])
    found = counterexamples(configs, z=z)
    r = spearman_interval(configs.A, configs.E, boot=boot, seed=seed)
    return DecouplingClaim(verdict=HOLDS if len(found) else NOT_SHOWN, pairs=int(len(found)), correlation=r,
                           found=found, configurations=configs)


# --- every claim, setup and metric ----------------------------------------------------------


def claim_results(table: pd.DataFrame, *, d: float, n_grid: Sequence[float] | None = None,
                  snrs: Sequence[float] | None = None, z: float = 2.0, boot: int = 2000,
                  seed: int = 0) -> dict[str, Claim]:
    """The three claims on one sweep, keyed as CLAIMS."""
    return {"snr": snr_claim(table, boot=boot, seed=seed),
            "min": minimum_claim(table, d=d, n_grid=n_grid, snrs=snrs, boot=boot, seed=seed),
            "dec": decoupling_claim(table, z=z, boot=boot, seed=seed)}


@dataclass(frozen=True, eq=False)
class RobustnessGrid:
    """The claims' verdicts over setups (rows) and metrics (columns)."""

    results: Mapping[tuple[str, str, str], Claim]  # (setup, claim key, metric) -> result, in grid order
    labels: Mapping[str, str]  # metric -> column title
    table: pd.DataFrame  # rows (setup, claim title), columns metric labels: mark and summary
    counts: pd.DataFrame  # rows claim titles, columns verdict words: how many cells

    def holds(self, key: str) -> int:
        """Cells (setup x metric) in which claim ``key`` holds."""
        return int(self.counts.loc[_claim_title(key)].get(HOLDS, 0))

    def exceptions(self, key: str) -> list[str]:
        """"setup with metric label" for every cell in which claim ``key`` does not hold."""
        _claim_title(key)
        return [f"{setup} with {self.labels[m]}" for (setup, k, m), r in self.results.items()
                if k == key and r.verdict != HOLDS]

    @property
    def cells_per_claim(self) -> int:
        return len({(setup, m) for setup, _, m in self.results})


def _claim_title(key: str) -> str:
    if key not in CLAIMS:
        raise ValueError(f"claim must be one of {tuple(CLAIMS)}, got {key!r}")
    return CLAIMS[key]


def robustness_grid(table: pd.DataFrame, setups: Sequence[str], metrics: Sequence[str], *, d: float,
                    n_grid: Sequence[float] | None = None, snrs: Sequence[float] | None = None, z: float = 2.0,
                    boot: int = 2000, seed: int = 0, labels: Mapping[str, str] | None = None) -> RobustnessGrid:
    """Every claim on the sweep of every setup and metric of ``table`` (columns ``setup``,
    ``metric`` and SWEEP_COLUMNS), with the same ``d``, grids, ``z``, ``boot`` and ``seed``.

    ``labels``: metric -> column title (default: ``repalign.metrics.METRICS`` labels).
    """
    _require(table, ("setup", "metric", *SWEEP_COLUMNS))
    if labels is None:
        from .metrics import METRICS

        labels = {m: METRICS[m].label for m in metrics}
    unknown = [m for m in metrics if m not in labels]
    if unknown:
        raise ValueError(f"labels must name every metric, missing {unknown}")
    per_cell = {}
    for setup in setups:
        for m in metrics:
            part = table[(table.setup == setup) & (table.metric == m)]
            if part.empty:
                raise ValueError(f"table has no row for setup {setup!r} and metric {m!r}")
            per_cell[(setup, m)] = claim_results(part, d=d, n_grid=n_grid, snrs=snrs, z=z, boot=boot, seed=seed)
    results = {(setup, key, m): per_cell[(setup, m)][key] for setup in setups for key in CLAIMS for m in metrics}
    cells = pd.Series({(setup, CLAIMS[key], labels[m]): r.cell for (setup, key, m), r in results.items()})
    grid = cells.unstack()
    grid.index.names = ["setup", "claim"]
    verdicts = pd.Series({(setup, CLAIMS[key], m): r.verdict for (setup, key, m), r in results.items()})
    counts = verdicts.groupby(level=1).value_counts().unstack(fill_value=0)
    return RobustnessGrid(results=MappingProxyType(results), labels=MappingProxyType(dict(labels)), table=grid,
                          counts=counts)


# --- curves of alignment against S, counted ---------------------------------------------------


@dataclass(frozen=True)
class CurveCounts:
    """How many alignment-against-S curves got each ``trends.snr_trend`` verdict."""

    monotone: int
    with_drop: int
    flat: int
    falls: int

    @property
    def total(self) -> int:
        return self.monotone + self.with_drop + self.flat + self.falls

    @property
    def rising(self) -> int:
        return self.monotone + self.with_drop

    @property
    def claim_phrase(self) -> str:
        """Claim 1 over many curves, as prose: every curve rises, most do, or most do not."""
        if self.rising == self.total:
            return "holds without exception"
        return "holds for most curves" if self.rising > self.total / 2 else "fails for most curves"


def curve_counts(verdicts) -> CurveCounts:
    """Count the ``snr_trend`` verdicts of a set of curves (a column of verdict words)."""
    verdicts = list(verdicts)
    unknown = sorted({v for v in verdicts if v not in _trends.VERDICTS})
    if unknown:
        raise ValueError(f"verdicts must be among {_trends.VERDICTS}, got {unknown}")
    return CurveCounts(*(verdicts.count(v) for v in (MONOTONE, WITH_DROP, FLAT, FALLS)))


def verdict_agreement(table: pd.DataFrame, keys: Sequence[str], *, side: str = "source",
                      pair: tuple[str, str] = ("real", "synthetic")) -> tuple[int, int]:
    """(curves whose two sides got the same verdict, curves): e.g. real data against its teacher.

    ``table``: one row per curve, with the ``keys`` that pair curves, ``side`` and ``verdict``.
    """
    _require(table, (*keys, side, "verdict"))
    paired = table.pivot_table(index=list(keys), columns=side, values="verdict", aggfunc="first")
    missing = [p for p in pair if p not in paired.columns]
    if missing:
        raise ValueError(f"{side} must hold both of {pair}, missing {missing}")
    return int((paired[pair[0]] == paired[pair[1]]).sum()), int(len(paired))


def nearest_to_threshold(ratios: Sequence[float]) -> float:
    """The ratio N/N_ref closest to 1 on a log scale: the sweep's "near the threshold" point."""
    ratios = list(ratios)
    if not ratios or any(not r > 0 for r in ratios):
        raise ValueError(f"ratios must be positive numbers, at least one, got {ratios!r}")
    return min(ratios, key=lambda r: abs(math.log(r)))


def rises_with_snr_everywhere(curves) -> bool:
    """True when each curve (rows: S ascending; columns: the x grid) is above the previous one
    at every point: alignment rises strictly with S everywhere on the grid."""
    curves = np.asarray(curves, dtype=float)
    if curves.ndim != 2 or curves.shape[0] < 2:
        raise ValueError(f"curves must be a 2-d array with one row per S, at least two, got shape {curves.shape}")
    return bool(np.all(np.diff(curves, axis=0) > 0))


# --- phrases for the prose --------------------------------------------------------------------


def format_interval(value: float, low: float, high: float, digits: int = 2) -> str:
    """'value [low, high]' with ``digits`` decimals."""
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def describe_configuration(point) -> str:
    """A configuration of the decoupling chapter for a reader: its N/N_ref, S (or no noise) and,
    when not shared, its inputs. ``point``: a row with ``ratio``, ``S`` and ``shared_inputs``."""
    noise = f"S = {point.S:g}" if math.isfinite(point.S) else "no noise"
    return f"N/N_ref = {point.ratio:.2f}, {noise}" + ("" if point.shared_inputs else ", independent inputs")


def describe_pair(points: pd.DataFrame, pair) -> str:
    """'setting, task: <better aligned> against <other>' for a row of ``decoupling.counterexamples``."""
    better, other = points.loc[pair.better_aligned], points.loc[pair.other]
    return f"{better.setting}, {better.task}: {describe_configuration(better)} against {describe_configuration(other)}"


def local_peak_phrase(peak: Extremum | None, rise_from: float | None, n_star: float, n_ref: float) -> str:
    """What ``threshold.local_peak`` found, as the end of a sentence about the test error."""
    if peak is None:
        return "has no local maximum"
    return (f"has a local maximum at N/N* = {peak.location / n_star:.2f} (N/N_ref = {peak.location / n_ref:.2f}), "
            f"where it rises to {peak.value:.3g} from {rise_from:.3g} at smaller N")


def global_extremum_phrase(windowed: Extremum, whole: Extremum) -> str:
    """Where the extremum of the whole grid is, against the one searched for near the threshold."""
    if whole.grid_location == windowed.grid_location:
        return "the same point"
    return f"N = {whole.grid_location:.0f}" + (", the end of the grid" if whole.at_edge else "")
