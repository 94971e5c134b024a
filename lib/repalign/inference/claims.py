"""The book's conclusions, decided in one place: the test of each claim, and the words and marks
that report it (``repalign.verdicts`` turns the results into the tables the prose is glued from).

    snr = snr_claim(table, boot=2000, seed=0)                          # claim 1
    low = minimum_claim(table, d=40, n_grid=n_grid, snrs=snrs)         # claim 2
    dec = decoupling_claim(table, alpha=0.05)                          # claim 3
    snr.verdict, snr.mark, snr.summary                  # "holds", "✓", "3/3 N rise, median ρ +0.91"
    grid = robustness_grid(table, setups, metrics, d=40, n_grid=n_grid, snrs=snrs)

The three claims, tested on a sweep of the linear network over N and S (the book's Methods page
states the tests and their measured error rates; the chapter "Alignment is not generalization"
applies them to every setup and metric):

1. at every N, alignment rises monotonically with the SNR S: a trend test per N whose units
   are the independent ensembles, with a paired test of every step (``trends.snr_trend``),
   the N of a sweep one family at a false-discovery rate of 5% (``trends.family_verdicts``);
2. at every finite S, the minimum of the mean alignment over the whole grid lies on one of the
   two grid points next to the threshold N = D: an intersection-union test against every other
   grid point (``threshold.window_test``), the S one family at a false-discovery rate of 5%;
3. alignment is not generalization: some pair of grid points has the higher alignment *and*
   the higher test error, paired by seed, at a family-wise error of 5% over every pair
   (``decoupling.counterexample_test``).

Claims 1 and 2 fail when any case of the family refutes them (claim 1: a curve that falls),
hold when every case confirms them (claim 1: a curve that rises at every step), hold partly
when some do and none refutes, and are undecided otherwise (:func:`family_verdict`); claim 3
is undecided without a pair, and with one holds, or holds partly where, across
configurations, higher alignment goes significantly with lower test error
(:func:`decoupling_verdict`).

Input tables are tidy sweep tables (``repalign.sweep``), one row per independent ensemble,
with the columns

    n_train      sample size N
    snr          SNR S (inf: no noise)
    seed         the independent ensemble (repeat) the row comes from
    alignment    the ensemble's mean pairwise alignment
    test_error   its test error

Uncertainties come from the independent ensembles only. Also here: the counts of a family of
curves' verdicts; the sentences are in ``phrases``, the grid of setups and metrics in ``robustness``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from .. import validate
from . import trends as _trends
from .colocation import APART, TOGETHER
from .core import ALPHA, UNDECIDED, benjamini_hochberg, checked
from .decoupling import Coupling, RankCorrelation, _with_interval, counterexample_test, coupling, nearest_counterexample
from .extrema import Extremum, extremum
from .threshold import INSIDE, OUTSIDE, WindowTest, window_p, window_test

# --- the vocabulary -------------------------------------------------------------------------

HOLDS, PARTLY, FAILS = "holds", "holds partly", "fails"
VERDICTS = (HOLDS, PARTLY, FAILS, UNDECIDED)
MARKS = MappingProxyType({HOLDS: "✓", PARTLY: "~", FAILS: "✗", UNDECIDED: "?"})
AS_PREDICATE = MappingProxyType({HOLDS: "holds", PARTLY: "holds partly", FAILS: "fails",
                                 UNDECIDED: "is undecided"})  # "the claim <...>"
CLAIMS = MappingProxyType({"snr": "1. rises with SNR", "min": "2. minimum at N = D",
                           "dec": "3. decoupled from error"})  # key -> the title a reader sees

# The verdicts of one alignment-against-S curve (or UNDECIDED):
EVERY_STEP, OVERALL, WITH_DROP, FALLS, RISING = (_trends.EVERY_STEP, _trends.RISES, _trends.WITH_DROP, _trends.FALLS,
                                                 _trends.RISING)
TREND_MARKS = MappingProxyType({EVERY_STEP: "", OVERALL: "o", WITH_DROP: "d", UNDECIDED: "?",
                                FALLS: "x"})  # heat-map cells

WINDOW_VERDICTS = MappingProxyType({INSIDE: HOLDS, OUTSIDE: FAILS, UNDECIDED: UNDECIDED})  # a window test's decision
COLOCATION_VERDICTS = MappingProxyType({TOGETHER: HOLDS, APART: FAILS, UNDECIDED: UNDECIDED})  # minimum at the peak?

SWEEP_COLUMNS = ("n_train", "snr", "seed", "alignment", "test_error")


def family_p(verdict: str, confirming, refuting, every) -> float:
    """The p-value of a family's verdict (:func:`family_verdict`) from its cases' p-values:
    HOLDS and PARTLY: the largest p of the confirmed cases (each is a discovery at the family's
    control exactly when p is at most its threshold); FAILS: the smallest p of the refuting
    cases; UNDECIDED: the smallest p of ``every`` case (the nearest to a decision)."""
    values = {HOLDS: confirming, PARTLY: confirming, FAILS: refuting, UNDECIDED: every}[verdict]
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return math.nan
    return float(max(values) if verdict in (HOLDS, PARTLY) else min(values))


def curve_family_p(verdict: str, verdicts, ps) -> float:
    """:func:`family_p` of claim 1 over curves: a rise at every step confirms, a fall refutes."""
    found = list(zip(verdicts, ps))
    return family_p(verdict, [p for v, p in found if v == EVERY_STEP], [p for v, p in found if v == FALLS],
                    [p for _, p in found])


def most_needed(values) -> float:
    """The repeats that would decide every undecided case: the largest of theirs (NaN: none)."""
    values = [v for v in values if not math.isnan(v)]
    return float(max(values)) if values else math.nan


def share_verdict(passed: int, cases: int) -> str:
    """An exact check over cases (a theory curve, no noise): HOLDS when every case passed,
    PARTLY when some did, FAILS when none did."""
    if not 0 <= passed <= cases or cases < 1:
        raise ValueError(f"need 0 <= passed <= cases and cases >= 1, got passed={passed!r}, cases={cases!r}")
    return HOLDS if passed == cases else (PARTLY if passed else FAILS)


def family_verdict(confirmed: int, refuted: int, cases: int) -> str:
    """A claim over a family of cases (curves, SNRs), each confirmed, refuted or undecided at
    the family's error control: FAILS when any case refutes it, HOLDS when every case confirms
    it, PARTLY when some do and none refutes it, UNDECIDED when none is decided."""
    if not (0 <= confirmed and 0 <= refuted and confirmed + refuted <= cases) or cases < 1:
        raise ValueError("need confirmed, refuted >= 0, confirmed + refuted <= cases and cases >= 1, got "
                         f"confirmed={confirmed!r}, refuted={refuted!r}, cases={cases!r}")
    if refuted:
        return FAILS
    return HOLDS if confirmed == cases else (PARTLY if confirmed else UNDECIDED)


def _require(table: pd.DataFrame, columns: Sequence[str]) -> None:
    """The columns a claim reads, at least one row, and a sweep's grid that means something:
    N positive and finite, S positive (inf: no noise). A NaN there would drop its rows from a
    group or make a grid point of its own."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"table must have the columns {tuple(columns)}, missing {missing}")
    if table.empty:
        raise ValueError("table must hold at least one row")
    if "n_train" in columns:
        checked("table.n_train", table.n_train, "positive finite numbers", lambda n: (n > 0) & np.isfinite(n))
    if "snr" in columns:
        _trends.positive_snrs("table.snr", table.snr)


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
    rising: int  # sample sizes whose alignment rises significantly with S (false-discovery rate q)
    falling: int  # ... falls significantly
    sizes: tuple[float, ...]  # the sample sizes N tested, ascending
    trends: tuple[_trends.Trend, ...]  # one per N, with its verdict in the family
    median_rho: float  # median over N of the mean within-repeat Spearman's rho
    q: float

    @property
    def p(self) -> float:
        """The p-value of the verdict (:func:`family_p` over the curves' two-sided p-values)."""
        return curve_family_p(self.verdict, [t.verdict for t in self.trends], [t.p for t in self.trends])

    @property
    def repeats_needed(self) -> float:
        """Repeats per point that would decide every undecided curve at its measured rho."""
        return most_needed([t.repeats_needed for t in self.trends if t.verdict == UNDECIDED])

    @property
    def every_step(self) -> int:
        """Curves that rise significantly at every step between neighbouring SNRs."""
        return sum(t.verdict == EVERY_STEP for t in self.trends)

    @property
    def summary(self) -> str:
        return f"{self.rising}/{len(self.sizes)} N rise, median ρ {self.median_rho:+.2f}"


def snr_claim(table: pd.DataFrame, *, boot: int = 2000, seed: int = 0, q: float = ALPHA) -> SNRClaim:
    """Claim 1 on a sweep over N and S: at every N, does the alignment rise with S?

    Each N is one curve, tested by ``trends.snr_trend`` (within-repeat permutations of S,
    ``boot`` resamples for its interval, both from ``seed``); the N of one sweep are one family,
    decided at false-discovery rate ``q`` (``trends.family_verdicts``). The claim is that
    alignment rises monotonically: a curve confirms it when it rises significantly at every step
    and refutes it when it falls (:func:`curve_counts`, :func:`family_verdict`).
    """
    _require(table, ("n_train", "snr", "seed", "alignment"))
    sizes, trends = zip(*[(float(n), _trends.snr_trend(rows.snr, rows.alignment, rows.seed, boot=boot, seed=seed))
                          for n, rows in table.groupby("n_train")])
    trends = _trends.family_verdicts(trends, q)
    counts = curve_counts([t.verdict for t in trends])
    return SNRClaim(verdict=counts.verdict, rising=counts.rising, falling=counts.falls,
                    sizes=sizes, trends=tuple(trends), median_rho=float(np.median([t.rho for t in trends])), q=q)


# --- claim 2: the alignment minimum sits at the threshold -----------------------------------


def threshold_neighbours(n_grid: Sequence[float], d: float) -> tuple[float, float]:
    """The grid values either side of N = D: the largest below and the smallest above."""
    validate.numbers("n_grid", list(n_grid), greater_than=0)  # a NaN would be neither below nor above
    validate.number("d", d, greater_than=0)
    below, above = [n for n in n_grid if n < d], [n for n in n_grid if n > d]
    if not below or not above:
        raise ValueError(f"n_grid must hold values on both sides of d = {d!r}, got {list(n_grid)!r}")
    return max(below), min(above)


@dataclass(frozen=True)
class MinimumClaim(Claim):
    hits: int  # finite S whose alignment minimum is shown to lie next to N = D (false-discovery rate q)
    misses: int  # ... shown to lie elsewhere
    snrs: tuple[float, ...]  # the finite S tested
    locations: tuple[float, ...]  # N/D of the grid point of the mean curve's minimum, per S
    extrema: tuple[Extremum, ...]  # per S, the whole grid searched
    tests: tuple[WindowTest, ...]  # per S: is the minimum inside the window?
    decisions: tuple[str, ...]  # per S, in the family: threshold.INSIDE, OUTSIDE or UNDECIDED
    neighbours: tuple[float, float]  # the grid values either side of N = D: the window
    d: float
    q: float

    @property
    def p(self) -> float:
        """The p-value of the verdict (:func:`window_family_p` over the window tests of the S)."""
        return window_family_p(self.verdict, self.tests, self.decisions)

    @property
    def repeats_needed(self) -> float:
        """Repeats per point that would decide every undecided S at its measured differences."""
        return window_family_needed(self.tests, self.decisions)

    @property
    def summary(self) -> str:
        return f"{self.hits}/{len(self.snrs)} S, N/D " + ", ".join(f"{w:g}" for w in self.locations)


def window_family_p(verdict: str, tests: Sequence[WindowTest], decisions: Sequence[str]) -> float:
    """The p-value of a family's ``verdict`` from its window tests and their ``decisions`` in the
    family (:func:`family_p`: "inside" confirms, "outside" refutes)."""
    found = list(zip(tests, decisions))
    return family_p(verdict, [t.p_inside for t, d in found if d == INSIDE],
                    [t.p_outside for t, d in found if d == OUTSIDE], [window_p(t, d) for t, d in found])


def window_family_needed(tests: Sequence[WindowTest], decisions: Sequence[str]) -> float:
    """Repeats per point that would decide every undecided window test at its measured differences."""
    return most_needed([t.repeats_needed for t, d in zip(tests, decisions) if d == UNDECIDED])


def window_decisions(tests: Sequence[WindowTest], q: float = ALPHA) -> tuple[str, ...]:
    """Each window test's decision in its family: inside or outside where the Benjamini-Hochberg
    step-up over the family's p-values of that side rejects it, undecided otherwise."""
    inside = benjamini_hochberg([t.p_inside for t in tests], q)
    outside = benjamini_hochberg([t.p_outside for t in tests], q)
    return tuple(INSIDE if i else OUTSIDE if o else UNDECIDED for i, o in zip(inside, outside))


def family_decisions(tests: Mapping[Hashable, WindowTest], q: float = ALPHA) -> dict[Hashable, str]:
    """Each test's decision (key -> INSIDE, OUTSIDE or UNDECIDED) in one family made of the tests
    that have a window to test; a test without one (its ``reason`` says why) is undecided and
    left out of the family."""
    tested = [key for key, test in tests.items() if not test.reason]
    decided = dict(zip(tested, window_decisions([tests[key] for key in tested], q))) if tested else {}
    return {key: decided.get(key, UNDECIDED) for key in tests}


def minimum_claim(table: pd.DataFrame, *, d: float, n_grid: Sequence[float] | None = None,
                  snrs: Sequence[float] | None = None, boot: int = 2000, seed: int = 0,
                  q: float = ALPHA) -> MinimumClaim:
    """Claim 2 on a sweep over N and S: at every finite S, is the alignment minimum next to N = D?

    The whole grid is searched. Per S, ``threshold.window_test`` decides whether the minimum
    lies within the two grid values either side of ``d`` (:func:`threshold_neighbours`), the S
    forming one family at false-discovery rate ``q`` (:func:`window_decisions`);
    ``extrema.extremum`` locates it (``boot`` resamples from ``seed``). ``n_grid``, ``snrs``:
    the sweep's grids (default: the table's values, ascending); S = inf is left out.
    """
    _require(table, ("n_train", "snr", "seed", "alignment"))
    n_grid = sorted(table.n_train.unique()) if n_grid is None else list(n_grid)
    snrs = sorted(table.snr.unique()) if snrs is None else list(snrs)
    _trends.positive_snrs("snrs", snrs)  # a NaN would be dropped with inf, as if it were no noise
    window = threshold_neighbours(n_grid, d)
    finite = [s for s in snrs if math.isfinite(s)]
    if not finite:
        raise ValueError(f"snrs must hold at least one finite S, got {snrs!r}")
    lows, tests = [], []
    for s in finite:
        rows = table[table.snr == s]
        if rows.empty:
            raise ValueError(f"table has no row at snr = {s!r}")
        lows.append(extremum(rows.n_train, rows.alignment, rows.seed, kind="min", boot=boot, seed=seed))
        tests.append(window_test(rows.n_train, rows.alignment, rows.seed, window, alpha=q))
    decisions = window_decisions(tests, q)
    hits, misses = decisions.count(INSIDE), decisions.count(OUTSIDE)
    return MinimumClaim(verdict=family_verdict(hits, misses, len(finite)), hits=hits, misses=misses,
                        snrs=tuple(finite), locations=tuple(low.grid_location / d for low in lows),
                        extrema=tuple(lows), tests=tuple(tests), decisions=decisions, neighbours=window,
                        d=float(d), q=q)


# --- claim 3: alignment is not generalization ------------------------------------------------


@dataclass(frozen=True)
class DecouplingClaim(Claim):
    pairs: int  # counterexample pairs at family-wise error alpha
    tests: int  # ordered pairs tested
    alpha: float
    coupling: Coupling  # decoupling.coupling over the configurations (N, S), strata N and S, seeds resampled
    nearest_p: float  # no pair found: the pair nearest to a counterexample (decoupling.nearest_counterexample)
    nearest_repeats: float  # ... and the repeats per configuration that would make it significant; else NaN
    found: pd.DataFrame = field(compare=False, repr=False)  # decoupling.counterexample_test's pairs
    configurations: pd.DataFrame = field(compare=False, repr=False)  # decoupling.configuration_means

    @property
    def correlation(self) -> RankCorrelation:
        """Spearman's rho of the configurations' mean A and E, with its interval over the seeds."""
        return self.coupling.across

    @property
    def p(self) -> float:
        """The p-value of the counterexample verdict, unadjusted (before Holm's correction, as the
        chapters' tables give it): the smallest p-value of a pair found, or, none found, of the
        pair nearest to a counterexample. The first pair is found when p <= alpha / ``tests``
        (Holm's first step). NaN when no pair points towards a counterexample."""
        return float(self.found.p.min()) if len(self.found) else self.nearest_p

    @property
    def repeats_needed(self) -> float:
        """NaN when a pair is found; otherwise the independent ensembles per configuration that
        would make the nearest pair significant at its measured differences (NaN: none points
        towards a counterexample)."""
        return math.nan if self.pairs else self.nearest_repeats

    @property
    def summary(self) -> str:
        return f"{self.pairs} {'pair' if self.pairs == 1 else 'pairs'}; ρ {_with_interval(self.correlation)}"


def aligned_with_generalization(coupling: Coupling) -> bool:
    """Whether the interval of the rank correlation across configurations lies below 0: the
    configurations that align more generalize better, significantly (what claim 3 denies)."""
    return bool(coupling.across.high < 0)


def decoupling_verdict(pairs: int, coupling: Coupling) -> str:
    """Claim 3 from the counterexamples and the coupling across configurations: UNDECIDED
    without a counterexample; with one, PARTLY when the across-configuration interval lies
    below 0 (decoupled in places, coupled overall: stronger alignment goes with better
    generalization), HOLDS otherwise: the interval includes 0 (no evidence of coupling), there
    is none, or it lies above 0 (stronger alignment goes with worse generalization, which the
    claim's "does not imply better generalization" allows)."""
    if not pairs:
        return UNDECIDED
    return PARTLY if aligned_with_generalization(coupling) else HOLDS


COUPLING_STRATA = MappingProxyType({"n_train": "N", "snr": "S"})  # claim 3's strata -> their symbols


def decoupling_claim(table: pd.DataFrame, *, alpha: float = ALPHA, boot: int = 2000,
                     seed: int = 0) -> DecouplingClaim:
    """Claim 3 on a sweep over N and S: does some grid point align more and generalize worse,
    and how strongly do alignment and test error go together?

    Each (N, S) is a configuration; a counterexample is a pair whose alignment and test error
    are both higher, paired by seed, at family-wise error ``alpha`` over every ordered pair
    (``decoupling.counterexample_test``). The coupling (``decoupling.coupling``, strata N and S,
    ``boot`` resamples of the seeds from ``seed``, intervals at 1 - ``alpha``) says how strongly
    they go together; :func:`decoupling_verdict` turns both into the verdict.
    """
    _require(table, SWEEP_COLUMNS)
    keys = ["n_train", "snr"]
    test = counterexample_test(table, keys, alpha=alpha)
    c = coupling(table, keys, strata=list(COUPLING_STRATA), boot=boot, level=1 - alpha, seed=seed)
    nearest = (nearest_counterexample(table, keys, alpha / test.tests) if not len(test.pairs) and test.tests
               else (math.nan, math.nan))
    return DecouplingClaim(verdict=decoupling_verdict(len(test.pairs), c), pairs=int(len(test.pairs)),
                           tests=test.tests, alpha=alpha, coupling=c, nearest_p=nearest[0],
                           nearest_repeats=nearest[1], found=test.pairs, configurations=test.points)


# --- every claim, setup and metric ----------------------------------------------------------


def claim_results(table: pd.DataFrame, *, d: float, n_grid: Sequence[float] | None = None,
                  snrs: Sequence[float] | None = None, alpha: float = ALPHA, boot: int = 2000,
                  seed: int = 0) -> dict[str, Claim]:
    """The three claims on one sweep, keyed as CLAIMS; ``alpha``: each family's error level."""
    return {"snr": snr_claim(table, boot=boot, seed=seed, q=alpha),
            "min": minimum_claim(table, d=d, n_grid=n_grid, snrs=snrs, boot=boot, seed=seed, q=alpha),
            "dec": decoupling_claim(table, alpha=alpha, boot=boot, seed=seed)}


# --- curves of alignment against S, counted ---------------------------------------------------


@dataclass(frozen=True)
class CurveCounts:
    """How many alignment-against-S curves of one family got each ``trends`` verdict."""

    every_step: int
    overall: int
    with_drop: int
    undecided: int
    falls: int

    @property
    def total(self) -> int:
        return self.rising + self.undecided + self.falls

    @property
    def rising(self) -> int:
        return self.every_step + self.overall + self.with_drop

    @property
    def verdict(self) -> str:
        """Claim 1, that alignment rises monotonically, over the family (:func:`family_verdict`):
        a curve confirms it when it rises significantly at every step, refutes it when it falls;
        a rise shown only overall (or with a significant drop) decides neither way."""
        return family_verdict(self.every_step, self.falls, self.total)


def curve_counts(verdicts) -> CurveCounts:
    """Count the verdicts of a family of curves (a column of ``trends.VERDICTS`` words)."""
    verdicts = list(verdicts)
    unknown = sorted({v for v in verdicts if v not in _trends.VERDICTS})
    if unknown:
        raise ValueError(f"verdicts must be among {_trends.VERDICTS}, got {unknown}")
    return CurveCounts(*(verdicts.count(v) for v in (EVERY_STEP, OVERALL, WITH_DROP, UNDECIDED, FALLS)))


