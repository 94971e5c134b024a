"""The sentences that report the statistics, for the prose the chapters glue: each built from a
result, so that it changes with the numbers, and tested on constructed results (the
undecided and the all-same cases included).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from ..report import format_value
from .claims import (COUPLING_STRATA, FAILS, HOLDS, PARTLY, UNDECIDED, CurveCounts, DecouplingClaim,
                     aligned_with_generalization)
from .colocation import APART, TOGETHER, Colocation
from .core import ALPHA
from .decoupling import RankCorrelation, _with_interval
from .extrema import Extremum
from .threshold import INSIDE, OUTSIDE
from .tracking import DRIFTS, TRACKS


COUPLED, NOT_COUPLED, NOT_MEASURED = "coupled", "not shown coupled", "not measured"  # a coupling estimate's word


def coupling_word(r: RankCorrelation) -> str:
    """COUPLED when the interval of ``r`` excludes 0, NOT_COUPLED when it includes it,
    NOT_MEASURED without one (too few configurations or seeds)."""
    if not (math.isfinite(r.low) and math.isfinite(r.high)):
        return NOT_MEASURED
    return COUPLED if r.low > 0 or r.high < 0 else NOT_COUPLED


def coupling_strength(rho: float) -> str:
    """'strongly' (|rho| >= 0.7), 'moderately' (>= 0.4) or 'weakly' coupled."""
    return "strongly" if abs(rho) >= 0.7 else "moderately" if abs(rho) >= 0.4 else "weakly"


def decoupling_sentence(claim: DecouplingClaim) -> str:
    """Claim 3 for a reader in one sentence: the counterexamples, then how strongly alignment and
    test error go together across configurations, with N fixed, with S fixed and between the
    seeds of one configuration, each rho with its interval (over seeds, at the claim's
    1 - alpha); estimates that could not be measured are left out."""
    c, across = claim.coupling, claim.coupling.across
    if claim.pairs:
        pairs = f"{claim.pairs} {'pair' if claim.pairs == 1 else 'pairs'} of configurations"
        head = f"A counterexample exists ({pairs}), " + ("but" if aligned_with_generalization(c) else "and")
    else:
        head = f"No pair of configurations is a significant counterexample (of {claim.tests} ordered pairs), and"
    word = coupling_word(across)
    if not math.isfinite(across.rho):
        body = "there are too few configurations to measure how alignment and test error go together"
    elif word == COUPLED:
        body = (f"across configurations alignment and test error are {coupling_strength(across.rho)} coupled, "
                f"higher alignment going with {'lower' if across.rho < 0 else 'higher'} error "
                f"(ρ = {_with_interval(across)})")
    elif word == NOT_COUPLED:
        body = ("across configurations alignment and test error are not significantly coupled "
                f"(ρ = {_with_interval(across)})")
    else:
        body = (f"across configurations the rank correlation of alignment and test error is "
                f"ρ = {_with_interval(across)}, with too few seeds for an interval")
    parts = [f"with {COUPLING_STRATA.get(s, s)} fixed ρ = {_with_interval(r)}" for s, r in c.within.items()
             if math.isfinite(r.rho) and not (r.n == 1 and r.rho == across.rho)]  # one stratum of them all: across
    if math.isfinite(c.across_seeds.rho):
        parts.append(f"between the seeds of one configuration ρ = {_with_interval(c.across_seeds)}")
    if len(parts) > 1:
        parts = [", ".join(parts[:-1]) + ", and " + parts[-1]]
    return f"{head} {body}" + (f"; {parts[0]}" if parts else "") + "."


def count_word(n: int) -> str:
    """A count in prose: 'none' for 0, else the number ('1,234')."""
    return "none" if n == 0 else f"{n:,}"


def share_phrase(k: int, n: int, noun: str) -> str:
    """How many of ``n`` things, in prose: 'both SNRs', 'all 3 SNRs', 'none of the 2 SNRs',
    '1 of the 3 SNRs'."""
    if n == 1:
        return f"{k} of 1 {noun}"
    if k == n:
        return f"both {noun}" if n == 2 else f"all {n} {noun}"
    return f"none of the {n} {noun}" if k == 0 else f"{k} of the {n} {noun}"


def placement_counts(inside: int, outside: int, total: int, noun: str, what: str = "the threshold") -> str:
    """How many extrema of ``total`` lie near ``what``, away from it, or neither: 'near the
    threshold in 4 of the 10 regimes, away from it in none and undecided in 6'."""
    return (f"near {what} in {count_word(inside)} of the {total} {noun}, away from it in {count_word(outside)} "
            f"and undecided in {count_word(total - inside - outside)}")


VERDICT_PREDICATES = {HOLDS: ("holds", "hold"), PARTLY: ("holds partly", "hold partly"), FAILS: ("fails", "fail"),
                      UNDECIDED: ("is undecided", "are undecided")}  # a claim's verdict, for one and for several


def verdict_sentence(verdicts: Mapping[str, Mapping[str, str]], *, every: str, preposition: str = "with") -> str:
    """The verdicts of several claims per setting as one sentence, identical verdicts as one
    clause: 'Claim 2 with both input modes holds; claim 1 with both input modes is undecided.'"""
    return outcome_sentence(verdicts, VERDICT_PREDICATES, every=every, preposition=preposition)


def diverged_sentence(largest_fraction: float) -> str:
    """The most diverged members any ensemble had, as a sentence: 'No member diverged.' at 0."""
    if largest_fraction == 0:
        return "No member diverged."
    return f"At most {largest_fraction:.0%} of an ensemble's members diverged."


def listed(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    return " and ".join([", ".join(items[:-1]), items[-1]] if len(items) > 1 else items)


def grouped_phrase(outcomes: Mapping[str, str], *, noun: str, total: int | None = None, preposition: str = "on",
                   joiner: str = "; ") -> str:
    """Names grouped by their outcome, in order, so that identical outcomes read as one clause:
    'with the error peak on A and B; undecided on C', or 'undecided on all 3 data sets' ('on
    both data sets') when every one of ``total`` names (default: all given) has the same outcome."""
    groups: dict[str, list[str]] = {}
    for name, outcome in outcomes.items():
        groups.setdefault(outcome, []).append(name)
    if len(groups) == 1 and len(outcomes) > 1 and len(outcomes) == (total or len(outcomes)):
        return f"{next(iter(groups))} {preposition} {share_phrase(len(outcomes), len(outcomes), noun)}"
    return joiner.join(f"{outcome} {preposition} {listed(names)}" for outcome, names in groups.items())


def outcome_sentence(outcomes: Mapping[str, Mapping[str, str]], predicates: Mapping[str, tuple[str, str]], *,
                     every: str = "both tasks", otherwise: str = "cannot be placed ({})", preposition: str = "in") -> str:
    """One sentence in which identical outcomes read as one clause: 'The outputs' minimum in both
    tasks and the test-error peak in regression lie near the threshold; the hidden layer's
    minimum in regression cannot be placed with 8 ensembles per point.' ``outcomes`` maps each
    quantity to its outcome per setting; ``predicates`` maps an outcome to its predicate for one
    and for several subjects, and an outcome it does not name (why a test was not made) reads
    as ``otherwise``. Clauses follow the order of ``predicates``, then of first appearance."""
    settings_of = {quantity: list(by_setting) for quantity, by_setting in outcomes.items()}
    groups: dict[str, dict[str, list[str]]] = {}
    for quantity, by_setting in outcomes.items():
        for setting, outcome in by_setting.items():
            groups.setdefault(outcome, {}).setdefault(quantity, []).append(setting)
    order = [o for o in predicates if o in groups] + [o for o in groups if o not in predicates]
    clauses = []
    for outcome in order:
        by_where: dict[str, list[str]] = {}  # quantities with the same settings share one 'in ...'
        for quantity, settings in groups[outcome].items():
            where = ("" if len(settings_of[quantity]) == 1 else
                     f" {preposition} {every if settings == settings_of[quantity] else listed(settings)}")
            by_where.setdefault(where, []).append(quantity)
        items = [f"{listed(quantities)}{where}" for where, quantities in by_where.items()]
        one, several = predicates.get(outcome, (otherwise.format(outcome),) * 2)
        clauses.append(f"{listed(items)} {several if len(groups[outcome]) > 1 else one}")
    text = "; ".join(clauses)
    return text[:1].upper() + text[1:] + "." if text else ""


def placement_sentence(placements: Mapping[str, Mapping[str, str]], *, repeats: int, every: str = "both tasks",
                       what: str = "the threshold", preposition: str = "in") -> str:
    """Where each extremum lies relative to ``what``, from the window tests' decisions (INSIDE,
    OUTSIDE, UNDECIDED, or why an extremum was not tested), as one ``outcome_sentence``."""
    undecided = f"cannot be placed with {repeats} ensembles per point"
    return outcome_sentence(placements, {INSIDE: (f"lies near {what}", f"lie near {what}"),
                                         OUTSIDE: (f"lies away from {what}", f"lie away from {what}"),
                                         UNDECIDED: (undecided, undecided)}, every=every, preposition=preposition)


def colocation_outcome(result: Colocation) -> str:
    """A co-location test's outcome for ``colocation_summary``: its decision (TOGETHER, APART,
    UNDECIDED), or why it was not made: too few ensembles, or an extremum at an end of the grid,
    a bound rather than a location."""
    if result.reason:
        return result.reason
    if result.at_edge:
        return ("both the minimum and the peak lie at an end of the grid" if result.min_at_edge and result.peak_at_edge
                else f"the {'minimum' if result.min_at_edge else 'peak'} lies at an end of the grid")
    return result.decision


def colocation_summary(outcomes: Mapping[str, Mapping[str, str]], *, repeats: int, every: str = "both tasks") -> str:
    """Where each alignment minimum sits relative to the test-error peak, from ``colocation_outcome``
    per layer and setting, as one ``outcome_sentence``."""
    undecided = f"cannot be placed relative to the peak with {repeats} ensembles per point"
    return outcome_sentence(outcomes, {TOGETHER: ("sits at the error peak", "sit at the error peak"),
                                       APART: ("lies apart from the error peak", "lie apart from the error peak"),
                                       UNDECIDED: (undecided, undecided)},
                            every=every, otherwise="cannot be compared with the peak ({})")


def undecided_phrase(curves: pd.DataFrame, repeats: int) -> str:
    """How many independent ensembles per point would decide the undecided curves of ``curves``
    (a ``trends.family_table``) at their measured rho, against the ``repeats`` used."""
    open_ = curves[curves.verdict == UNDECIDED]
    if open_.empty:
        return "no curve is undecided"
    needed = open_.repeats_needed.dropna().clip(lower=repeats + 1)  # undecided with ``repeats``: more are needed
    which = "the undecided curve" if len(open_) == 1 else f"the {len(open_)} undecided curves"
    if needed.empty:
        return f"{which} measured ρ = 0, which no number of ensembles would resolve"
    amount = (f"{needed.max():.0f}" if needed.min() == needed.max()
              else f"a median of {needed.median():.0f} (at most {needed.max():.0f})")
    return (f"{which} would need {amount} independent ensembles per point to be decided at their measured "
            f"ρ (80% power in a test at 5%), against the {repeats} used here")


def curve_phrase(counts: CurveCounts, q: float = ALPHA, what: str = "curves") -> str:
    """'m of n curves rise (k at every step, o only overall, d with a significant drop), f fall
    and u are undecided, at a false-discovery rate of 5%'."""
    how = [f"{counts.every_step or 'none'} at every step"]
    how += [f"{counts.overall} only overall"] if counts.overall else []
    how += [f"{counts.with_drop} with a significant drop"] if counts.with_drop else []
    if counts.rising and counts.every_step == counts.rising:
        how_phrase = " at every step"
    else:
        how_phrase = f" ({', '.join(how)})" if counts.rising else ""
    parts = [f"{counts.rising} of {counts.total} {what} rise{how_phrase}"]
    if counts.falls:
        parts.append(f"{counts.falls} {'falls' if counts.falls == 1 else 'fall'}")
    if counts.undecided:
        parts.append(f"{counts.undecided} {'is' if counts.undecided == 1 else 'are'} undecided")
    return f"{listed(parts)}, at a false-discovery rate of {q:.0%}"


# --- phrases for the prose --------------------------------------------------------------------


def format_interval(value: float, low: float, high: float, digits: int = 2, kind: str = "f") -> str:
    """'value [low, high]' with ``digits`` decimals (``kind`` "g": significant digits); the value
    alone when its interval is not finite, and '—' when the value is not."""
    if not math.isfinite(value):
        return "—"

    def number(v: float) -> str:
        return format_value(v, digits) if kind == "g" else f"{v:.{digits}f}"  # never e-notation

    if not (math.isfinite(low) and math.isfinite(high)):
        return number(value)
    return f"{number(value)} [{number(low)}, {number(high)}]"


def describe_configuration(point) -> str:
    """A configuration of the decoupling chapter for a reader: its N/N_ref, S (or no noise) and,
    when not shared, its inputs. ``point``: a row with ``ratio``, ``S`` and ``shared_inputs``."""
    noise = f"S = {point.S:g}" if math.isfinite(point.S) else "no noise"
    return f"N/N_ref = {point.ratio:.2f}, {noise}" + ("" if point.shared_inputs else ", independent inputs")


def describe_pair(points: pd.DataFrame, pair) -> str:
    """'setting, task: <better aligned> against <other>' for a row of ``decoupling.counterexamples``."""
    better, other = points.loc[pair.better_aligned], points.loc[pair.other]
    return f"{better.setting}, {better.task}: {describe_configuration(better)} against {describe_configuration(other)}"


def global_extremum_phrase(windowed: Extremum, whole: Extremum) -> str:
    """Where the extremum of the whole grid is, against the one searched for near the threshold."""
    if whole.grid_location == windowed.grid_location:
        return "the same point"
    return f"N = {whole.grid_location:.0f}" + (", the end of the grid" if whole.at_edge else "")


def tracking_sentence(decisions: Mapping[str, str], what: str, repeats: int) -> str:
    """Whether ``what`` (e.g. "the outputs' alignment minimum") tracks the threshold, from one
    ``tracking_test`` decision per setting (its name in the prose: "the linear teacher"), as one
    ``outcome_sentence``: settings with the same decision read as one clause."""
    undecided = f"is undecided with {repeats} ensembles per point"
    every = "both settings" if len(decisions) == 2 else f"all {len(decisions)} settings"
    return outcome_sentence({what: dict(decisions)}, {TRACKS: ("tracks the threshold",) * 2,
                                                     DRIFTS: ("drifts away from the threshold",) * 2,
                                                     UNDECIDED: (undecided,) * 2},
                            every=every, preposition="for", otherwise="has no slope ({})")
