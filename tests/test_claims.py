"""The claims' verdict rules (repalign.inference.claims): known answers on constructed sweeps, and the phrases
the chapters glue. The tests' error rates under their nulls are measured in test_verdicts.py."""

import math

import numpy as np
import pandas as pd
import pytest

from repalign.inference import UNDECIDED, claims, phrases, threshold, trends
from repalign.inference.claims import (CLAIMS, FAILS, HOLDS, MARKS, PARTLY, curve_counts, decoupling_claim,
                                       family_verdict, minimum_claim, share_verdict, snr_claim)
from repalign.inference.extrema import Extremum
from repalign.inference.robustness import robustness_grid
from repalign.inference.threshold import INSIDE, OUTSIDE
from repalign.inference.trends import VERDICTS

D = 20
N_GRID = (5, 10, 16, 24, 40, 80)  # N/D = 0.25 ... 4; the grid points next to N = D are 16 and 24
SNRS = (0.5, 2.0, 8.0, math.inf)
REPEATS = 8
NOISE = 0.01
BOOT = 200

# Effect sizes of the known-answer tables, against the noise: per-ensemble noise 0.01 with 8
# ensembles gives a mean's standard error 0.0035 and a paired step's 0.005. Planted SNR steps
# are 0.05 (10 standard errors), the trough's neighbours lie 0.2 |ln(10/16)| = 0.094 above it
# (27 standard errors) and planted error differences are at least 0.1 (20 standard errors),
# so no verdict below sits near its decision boundary.
SNR_STEP = 0.05
TROUGH = 0.2


def _rank(s: float) -> int:
    return SNRS.index(s)


def sweep(alignment, test_error=None, *, n_grid=N_GRID, snrs=SNRS, repeats=REPEATS, noise=NOISE, seed=0):
    """A tidy sweep table: mean ``alignment(n, s)`` (and ``test_error(n, s)``) plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    test_error = test_error or (lambda n, s: 1.0)
    rows = [{"n_train": n, "snr": s, "seed": r, "alignment": alignment(n, s) + rng.normal(0, noise),
             "test_error": test_error(n, s) + rng.normal(0, noise)}
            for r in range(repeats) for n in n_grid for s in snrs]
    return pd.DataFrame(rows)


def trough_at(n0, slope=SNR_STEP):
    """Alignment lowest at N = n0 (log-V shaped), changing by ``slope`` per SNR rank."""
    return lambda n, s: 0.1 + TROUGH * abs(math.log(n / n0)) + slope * _rank(s)


# --- the vocabulary --------------------------------------------------------------------------


def test_share_and_family_verdicts_and_marks():
    assert [share_verdict(k, 3) for k in (3, 2, 1, 0)] == [HOLDS, PARTLY, PARTLY, FAILS]
    assert [family_verdict(*c, 3) for c in ((3, 0), (2, 0), (0, 0), (2, 1), (0, 3))] == [HOLDS, PARTLY, UNDECIDED,
                                                                                          FAILS, FAILS]
    assert set(MARKS) == set(claims.VERDICTS) and MARKS[HOLDS] == "✓" and MARKS[UNDECIDED] == "?"
    with pytest.raises(ValueError, match="passed"):
        share_verdict(4, 3)
    with pytest.raises(ValueError, match="cases >= 1"):
        share_verdict(0, 0)
    with pytest.raises(ValueError, match="confirmed \\+ refuted <= cases"):
        family_verdict(2, 2, 3)


# --- claim 1 -------------------------------------------------------------------------------


def test_alignment_rising_with_snr_at_every_n_holds():
    c = snr_claim(sweep(trough_at(16)), boot=BOOT)
    assert (c.verdict, c.rising, c.sizes) == (HOLDS, len(N_GRID), tuple(float(n) for n in N_GRID))
    assert all(t.verdict == "rises at every step" for t in c.trends) and c.every_step == len(N_GRID)
    assert c.median_rho > 0.8 and c.summary.startswith(f"{len(N_GRID)}/{len(N_GRID)} N rise, median ρ +")
    assert c.p <= c.q and c.p == max(t.p for t in c.trends)  # every curve a discovery
    assert math.isnan(c.repeats_needed)  # nothing undecided
    assert c.mark == "✓" and c.cell == f"✓ {c.summary}"


def test_rising_at_some_n_only_is_partly_and_nowhere_fails():
    rises_below_d = lambda n, s: 0.5 + (SNR_STEP if n < D else -SNR_STEP) * _rank(s)  # noqa: E731
    c = snr_claim(sweep(rises_below_d), boot=BOOT)
    assert (c.verdict, c.rising, c.falling) == (FAILS, 3, 3)  # a significant fall refutes "at every N"
    assert [t.verdict for t in c.trends] == ["rises at every step"] * 3 + ["falls"] * 3
    assert c.p == min(t.p for t in c.trends[3:])  # the verdict's p: the strongest refutation
    table = sweep(lambda n, s: 0.5 + SNR_STEP * _rank(s))
    table.loc[table.n_train > D, "alignment"] = 0.5  # no order at all above D (a noisy null could be a discovery)
    c = snr_claim(table, boot=BOOT)
    assert (c.verdict, c.rising, c.falling) == (PARTLY, 3, 0)
    falls = snr_claim(sweep(lambda n, s: 0.5 - SNR_STEP * _rank(s)), boot=BOOT)
    assert (falls.verdict, falls.rising) == (FAILS, 0)
    flat = snr_claim(sweep(lambda n, s: 0.5, noise=0.0), boot=BOOT)  # constant: no order at all
    assert flat.verdict == UNDECIDED and all(t.verdict == "undecided" for t in flat.trends)
    assert flat.p == min(t.p for t in flat.trends)  # the nearest to a decision


# --- claim 2 -------------------------------------------------------------------------------


@pytest.mark.parametrize("n0", [16, 24])
def test_a_minimum_next_to_n_equals_d_holds(n0):
    c = minimum_claim(sweep(trough_at(n0)), d=D, boot=BOOT)
    assert (c.verdict, c.hits, c.snrs, c.neighbours) == (HOLDS, 3, SNRS[:3], (16, 24))
    assert c.locations == (n0 / D,) * 3 and c.decisions == (INSIDE,) * 3
    assert c.summary == f"3/3 S, N/D {n0 / D:g}, {n0 / D:g}, {n0 / D:g}"


def test_a_minimum_elsewhere_fails_and_a_mixture_is_partly():
    c = minimum_claim(sweep(trough_at(80)), d=D, boot=BOOT)
    assert (c.verdict, c.hits, c.misses, c.locations) == (FAILS, 0, 3, (4.0,) * 3)
    assert c.decisions == (OUTSIDE,) * 3
    mixed = lambda n, s: trough_at(16 if s == 0.5 else 5)(n, s)  # noqa: E731
    c = minimum_claim(sweep(mixed), d=D, n_grid=N_GRID, snrs=SNRS, boot=BOOT)
    assert (c.verdict, c.hits, c.misses, c.locations) == (FAILS, 1, 2, (0.8, 0.25, 0.25))
    # Two equally deep troughs, one next to N = D and one far from it: neither side can be shown.
    def twin(n, s):
        return 0.1 + 0.2 * min(abs(math.log(n / 16)), abs(math.log(n / 80))) + SNR_STEP * _rank(s)

    c = minimum_claim(sweep(twin), d=D, boot=BOOT)
    assert c.verdict == UNDECIDED and c.hits == c.misses == 0


def test_minimum_claim_input_is_checked():
    with pytest.raises(ValueError, match="both sides of d"):
        minimum_claim(sweep(trough_at(16)), d=200, boot=BOOT)
    with pytest.raises(ValueError, match="finite S"):
        minimum_claim(sweep(trough_at(16)), d=D, snrs=(math.inf,), boot=BOOT)
    with pytest.raises(ValueError, match="no row at snr"):
        minimum_claim(sweep(trough_at(16)), d=D, snrs=(3.0,), boot=BOOT)
    with pytest.raises(ValueError, match="missing \\['alignment'\\]"):
        minimum_claim(sweep(trough_at(16)).drop(columns="alignment"), d=D)
    with pytest.raises(ValueError, match="at least one row"):
        snr_claim(sweep(trough_at(16)).iloc[:0])


# --- claim 3 -------------------------------------------------------------------------------


def _ladder(planted: bool):
    """One S, four N: alignment rises with N and the error falls, except (if planted) at the
    largest N, whose error jumps above every other: three significant counterexample pairs."""
    index = {n: i for i, n in enumerate(N_GRID[:4])}
    error = lambda n, s: 2.0 if planted and index[n] == 3 else 1.0 - 0.1 * index[n]  # noqa: E731
    return sweep(lambda n, s: 0.2 + 0.1 * index[n], error, n_grid=N_GRID[:4], snrs=(1.0,))


@pytest.mark.filterwarnings("ignore::scipy.stats.ConstantInputWarning")  # resamples of 4 configurations
def test_a_planted_counterexample_holds_and_none_is_undecided():
    c = decoupling_claim(_ladder(planted=True), boot=BOOT)
    # Three anti-ordered configurations and the planted one: rho = +0.2, known to the noise's
    # precision; coupled, but with error rising with alignment, so the claim holds.
    assert (c.verdict, c.pairs) == (HOLDS, 3) and c.correlation.rho == pytest.approx(0.2)
    assert c.correlation.low > 0 and math.isnan(c.repeats_needed) and c.p == c.found.p.min()
    assert set(c.configurations.loc[c.found.better_aligned].n_train) == {24}
    assert set(c.configurations.loc[c.found.other].n_train) == {5, 10, 16}
    assert c.summary == "3 pairs; ρ +0.20 [+0.20, +0.20]"
    assert c.tests == 12  # 4 configurations: 12 ordered pairs, the family Holm controls
    none = decoupling_claim(_ladder(planted=False), boot=BOOT)
    assert (none.verdict, none.pairs, none.mark) == (UNDECIDED, 0, "?")
    assert none.correlation.rho == pytest.approx(-1.0)  # alignment and error exactly anti-ordered


# --- the robustness grid ---------------------------------------------------------------------


def _grid_table():
    good = sweep(trough_at(16), lambda n, s: 2 * trough_at(16)(n, s))  # error rises with A: pairs
    bad = sweep(trough_at(80, slope=-SNR_STEP), lambda n, s: 3 - 2 * trough_at(80, slope=-SNR_STEP)(n, s), seed=1)
    parts = [t.assign(setup=setup, metric=m) for setup, t in (("good", good), ("bad", bad))
             for m in ("cka", "procrustes")]
    return pd.concat(parts, ignore_index=True)


def test_robustness_grid_counts_known_verdicts():
    grid = robustness_grid(_grid_table(), ["good", "bad"], ["cka", "procrustes"], d=D, n_grid=N_GRID, snrs=SNRS,
                           boot=BOOT)
    assert grid.cells_per_claim == 4
    assert [grid.holds(k) for k in CLAIMS] == [2, 2, 2]
    assert grid.exceptions("min") == ["bad with linear CKA", "bad with Procrustes similarity"]
    assert grid.table.shape == (6, 2) and list(grid.table.index.names) == ["setup", "claim"]
    assert grid.table.loc[("good", CLAIMS["snr"]), "linear CKA"].startswith("✓ 6/6 N")
    assert grid.table.loc[("bad", CLAIMS["dec"]), "Procrustes similarity"].startswith("? 0 pairs")
    assert grid.counts.loc[CLAIMS["snr"], FAILS] == 2 and grid.counts.loc[CLAIMS["dec"], UNDECIDED] == 2
    with pytest.raises(ValueError, match="claim must be one of"):
        grid.holds("nope")
    with pytest.raises(ValueError, match="no row for setup 'other'"):
        robustness_grid(_grid_table(), ["other"], ["cka"], d=D, boot=BOOT)


# --- counts and phrases of the other chapters -------------------------------------------------


def test_curve_counts_and_the_family_verdict():
    every, overall, drop, undecided, falls = VERDICTS
    c = curve_counts(pd.Series([every] * 5 + [overall] * 4 + [drop] * 2 + [undecided] * 3 + [falls]))
    assert (c.every_step, c.overall, c.with_drop, c.undecided, c.falls, c.rising, c.total) == (5, 4, 2, 3, 1, 11, 15)
    assert c.verdict == FAILS  # one significant fall
    assert phrases.curve_phrase(c) == ("11 of 15 curves rise (5 at every step, 4 only overall, 2 with a significant "
                                      "drop), 1 falls and 3 are undecided, at a false-discovery rate of 5%")
    assert curve_counts([every] * 2).verdict == HOLDS
    assert phrases.curve_phrase(curve_counts([every] * 2)) == ("2 of 2 curves rise at every step, at a false-discovery "
                                                               "rate of 5%")
    # A monotone rise is confirmed only at every step: rises shown overall decide nothing.
    assert curve_counts([every] + [overall] * 2 + [drop]).verdict == PARTLY
    assert curve_counts([undecided] * 2 + [overall] * 2).verdict == UNDECIDED
    assert phrases.curve_phrase(curve_counts([undecided] + [overall] * 2)) == (
        "2 of 3 curves rise (none at every step, 2 only overall) and 1 is undecided, at a false-discovery rate of 5%")
    assert curve_counts([undecided] * 2).verdict == UNDECIDED
    with pytest.raises(ValueError, match="verdicts must be among"):
        curve_counts(["rises"])


def test_nearest_to_threshold_and_theory_order():
    ratios = (0.3, 0.7, 1.6, 3.0)
    assert threshold.nearest_to_threshold(ratios) == min(ratios, key=lambda r: abs(math.log(r))) == 0.7
    with pytest.raises(ValueError, match="positive"):
        threshold.nearest_to_threshold((0.0, 1.0))
    alphas = np.geomspace(0.1, 10, 9)
    by_snr = np.array([alphas * 0 + s for s in (1.0, 2.0, 4.0)])
    assert trends.rises_with_snr_everywhere(by_snr) == bool(np.all(np.diff(by_snr, axis=0) > 0)) is True
    by_snr[1, 4] = 5.0  # one crossing
    assert not trends.rises_with_snr_everywhere(by_snr)
    with pytest.raises(ValueError, match="one row per S"):
        trends.rises_with_snr_everywhere([1.0, 2.0])


def _extremum(location, grid_location=None, value=1.0, at_edge=False):
    g = location if grid_location is None else grid_location
    return Extremum(location=location, grid_location=g, value=value, low=location, high=location, log_sd=0.0,
                    level=0.68, below=math.nan, above=math.nan, at_edge=at_edge)


def test_phrases_equal_the_chapters():
    points = pd.DataFrame({"setting": ["snr, teacher, mlp (depth 1)"] * 2, "task": ["regression"] * 2,
                           "ratio": [0.5, 1.5], "S": [math.inf, 4.0], "shared_inputs": [True, False]}, index=[7, 9])

    def describe(i) -> str:  # chapters/decoupling.md, verbatim
        p = points.loc[i]
        noise = f"S = {p.S:g}" if math.isfinite(p.S) else "no noise"
        return f"N/N_ref = {p.ratio:.2f}, {noise}" + ("" if p.shared_inputs else ", independent inputs")

    best = pd.Series({"better_aligned": 9, "other": 7})
    old_best = (f"{points.loc[best.better_aligned].setting}, {points.loc[best.better_aligned].task}: "
                f"{describe(best.better_aligned)} against {describe(best.other)}")
    assert [phrases.describe_configuration(points.loc[i]) for i in (7, 9)] == [describe(7), describe(9)]
    assert phrases.describe_pair(points, best) == old_best
    assert describe(9) == "N/N_ref = 1.50, S = 4, independent inputs"

    # the interval format
    assert phrases.format_interval(0.123, -0.5, 1.0) == "0.12 [-0.50, 1.00]"
    assert phrases.format_interval(0.5, 0.25, 0.75, digits=1) == "0.5 [0.2, 0.8]"
    assert phrases.format_interval(101.2, 88.0, 117.4, digits=3, kind="g") == "101 [88, 117]"
    assert phrases.format_interval(8.49, 0.000601, 1.2e5, digits=3, kind="g") == "8.49 [0.000601, 120,000]"
    assert phrases.format_interval(4.0, math.nan, math.nan) == "4.00"
    assert phrases.format_interval(math.nan, 1.0, 2.0) == "—"

    # chapters/sample_size.md: the global extremum against the windowed one
    for ext, glob in ((_extremum(40.0), _extremum(40.0)), (_extremum(40.0), _extremum(10.0, at_edge=True)),
                      (_extremum(40.0), _extremum(80.0))):
        same = glob.grid_location == ext.grid_location
        old = ("the same point" if same else
               f"N = {glob.grid_location:.0f}" + (", the end of the grid" if glob.at_edge else ""))
        assert phrases.global_extremum_phrase(ext, glob) == old
    edge = phrases.global_extremum_phrase(_extremum(40.0), _extremum(10.0, at_edge=True))
    assert edge == "N = 10, the end of the grid"


def test_listed_and_undecided_phrases():
    assert [phrases.listed(x) for x in ([], ["a"], ["a", "b"], ["a", "b", "c"])] == ["", "a", "a and b", "a, b and c"]
    # identical outcomes read as one clause; mixed ones grouped in order of first appearance
    same = {"A": "undecided", "B": "undecided", "C": "undecided"}
    assert phrases.grouped_phrase(same, noun="data sets") == "undecided on all 3 data sets"
    assert phrases.grouped_phrase(same, noun="data sets", total=4) == "undecided on A, B and C"  # not all of them
    assert phrases.grouped_phrase({"A": "near", "B": "near"}, noun="data sets") == "near on both data sets"
    mixed = {"A": "near", "B": "undecided", "C": "near"}
    assert phrases.grouped_phrase(mixed, noun="data sets") == "near on A and C; undecided on B"
    assert phrases.grouped_phrase({"A": "holds"}, noun="settings", preposition="for") == "holds for A"
    assert (phrases.grouped_phrase({"A": "holds", "B": "is undecided"}, noun="settings", preposition="for",
                                   joiner="; it ") == "holds for A; it is undecided for B")
    assert [phrases.count_word(n) for n in (0, 1, 43035)] == ["none", "1", "43,035"]
    assert phrases.diverged_sentence(0.0) == "No member diverged."
    assert phrases.diverged_sentence(0.25) == "At most 25% of an ensemble's members diverged."
    # where the extrema lie: one clause per outcome, each quantity's settings named unless all share it
    same = {"the peak": {"regression": INSIDE, "classification": INSIDE}, "the minimum": {"regression": INSIDE}}
    assert phrases.placement_sentence(same, repeats=8) == (
        "The peak in both tasks and the minimum lie near the threshold.")
    placed = {"the test-error peak": {"regression": INSIDE, "classification": UNDECIDED},
              "the outputs' minimum": {"regression": INSIDE, "classification": INSIDE},
              "the hidden layer's minimum": {"regression": OUTSIDE, "classification": "no threshold on the grid"}}
    assert phrases.placement_sentence(placed, repeats=8) == (
        "The test-error peak in regression and the outputs' minimum in both tasks lie near the threshold; the "
        "hidden layer's minimum in regression lies away from the threshold; the test-error peak in classification "
        "cannot be placed with 8 ensembles per point; the hidden layer's minimum in classification cannot be "
        "placed (no threshold on the grid).")
    undecided = {"the peak": {"a": UNDECIDED, "b": UNDECIDED, "c": UNDECIDED}}
    assert phrases.placement_sentence(undecided, repeats=4, every="all three settings", what="P*") == (
        "The peak in all three settings cannot be placed with 4 ensembles per point.")
    assert phrases.placement_sentence({}, repeats=4) == ""
    claims = {"claim 1": {"shared": HOLDS, "independent": UNDECIDED}, "claim 2": {"shared": HOLDS, "independent": HOLDS},
              "claim 3": {"shared": UNDECIDED, "independent": UNDECIDED}}
    assert phrases.verdict_sentence(claims, every="both input modes") == (  # the same settings: one 'with ...'
        "Claim 1 with shared and claim 2 with both input modes hold; claim 1 with independent and claim 3 with both "
        "input modes are undecided.")
    assert phrases.placement_counts(4, 0, 10, "regimes") == (
        "near the threshold in 4 of the 10 regimes, away from it in none and undecided in 6")
    assert [phrases.share_phrase(k, n, "SNRs") for k, n in ((2, 2), (3, 3), (0, 2), (1, 3), (1, 1))] == [
        "both SNRs", "all 3 SNRs", "none of the 2 SNRs", "1 of the 3 SNRs", "1 of 1 SNRs"]
    curves = pd.DataFrame({"verdict": ["undecided", "undecided", "rises at every step"],
                           "repeats_needed": [12.0, 30.0, 4.0]})
    assert phrases.undecided_phrase(curves, 10) == ("the 2 undecided curves would need a median of 21 (at most 30) "
                                                   "independent ensembles per point to be decided at their measured "
                                                   "ρ (80% power in a test at 5%), against the 10 used here")
    assert phrases.undecided_phrase(curves.iloc[2:], 10) == "no curve is undecided"
    assert "no number of ensembles" in phrases.undecided_phrase(curves.assign(repeats_needed=math.nan), 10)


def test_family_decisions_leave_the_untested_out_of_the_family():
    def window(p_in, p_out, reason=""):
        return threshold.WindowTest(p_inside=p_in, p_outside=p_out, inside=(1.0,), repeats=8, alpha=0.05,
                                    decision=UNDECIDED, reason=reason)

    tests = {"a": window(0.01, 1.0), "b": window(1.0, 0.01), "c": window(math.nan, math.nan, "no threshold"),
             "d": window(0.5, 0.6)}
    decided = claims.family_decisions(tests)
    assert list(decided) == list(tests)  # every key, in order
    # each side's Benjamini-Hochberg over the 3 tested: 0.01 <= 0.05/3 rejects a (inside) and b (outside);
    # c has no window and stays out of the family (three tests, not four)
    assert decided == {"a": INSIDE, "b": OUTSIDE, "c": UNDECIDED, "d": UNDECIDED}
    assert dict(zip(["a", "b", "d"], claims.window_decisions([tests[k] for k in "abd"]))) == {
        k: decided[k] for k in "abd"}
    assert claims.family_decisions({"c": tests["c"]}) == {"c": UNDECIDED}
