"""Error rates of the verdict tests, measured by simulation, and the verdict tables (repalign.verdicts).

Each test below simulates tables under a claim's null (no true trend; a minimum that is not
inside the window; no counterexample) with the structure of a real sweep: a repeat-level effect
shared by every grid point of an independent ensemble, and point-level noise; for claim 1 also
the dependence that common random numbers give a sweep along S (each ensemble drifts smoothly
in a direction of its own, or takes correlated steps, with zero mean). It asserts that the
rate of a positive verdict is at most the nominal level plus three Monte-Carlo standard errors
of a rate at that level (sqrt(level (1 - level) / simulations)): a tolerance from the
statistics, not tuned. The power rows of the Methods page are checked the same way.
"""

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from repalign import verdicts
from repalign.inference import benjamini_hochberg, holm, one_sided_p, repeats_needed, t_power
from repalign.inference.claims import (FAILS, HOLDS, PARTLY, VERDICTS, SNRClaim, decoupling_claim, minimum_claim,
                                       snr_claim)
from repalign.inference.decoupling import counterexample_test
from repalign.inference.threshold import INSIDE, OUTSIDE, window_test
from repalign.inference.trends import FALLS, RISES, RISING, WITH_DROP, family_verdicts, snr_trend
from repalign.presets import SNRConfig

SNRS = np.array([0.25, 1.0, 4.0, 16.0, math.inf])
GRID = np.array([10.0, 14, 20, 28, 40, 56, 80])  # N; the window (14, 28) holds three of them
WINDOW = (14.0, 28.0)
PERMUTATIONS = 999  # enough resolution for levels of 0.025 and above; keeps the simulations fast


def bound(level: float, simulations: int) -> float:
    """The nominal level plus three Monte-Carlo standard errors of a rate at that level."""
    return level + 3 * math.sqrt(level * (1 - level) / simulations)


def curves(shape, repeats, rng, *, x=SNRS, shared=0.5, noise=1.0, heavy=False, drift=0.0):
    """A tidy curve: ``shape`` over ``x`` plus a per-repeat shift and point noise (t with 3
    degrees of freedom when ``heavy``), and with ``drift`` a per-repeat tilt along the grid
    (a standard normal slope of that size from one end to the other: zero mean over repeats)."""
    draw = (lambda size: rng.standard_t(3, size)) if heavy else (lambda size: rng.normal(0, 1, size))
    values = np.asarray(shape, float)[None, :] + shared * draw((repeats, 1)) + noise * draw((repeats, x.size))
    if drift:  # drawn only then, so that the simulations without drift keep their random numbers
        values = values + drift * rng.normal(0, 1, (repeats, 1)) * np.linspace(-1, 1, x.size)[None, :]
    return np.tile(x, repeats), values.reshape(-1), np.repeat(np.arange(repeats), x.size)


# --- claim 1: the trend test ---------------------------------------------------------------


@pytest.mark.parametrize("repeats,heavy", [(3, False), (10, False), (10, True)])
def test_trend_test_false_positive_rate_under_no_trend(repeats, heavy):
    rng = np.random.default_rng(repeats + 10 * heavy)
    sims = 400
    words = [snr_trend(*curves(np.zeros(SNRS.size), repeats, rng, heavy=heavy), boot=10, seed=i,
                       permutations=PERMUTATIONS).verdict for i in range(sims)]
    rises = sum(w in RISING for w in words) / sims
    falls = words.count(FALLS) / sims
    assert rises <= bound(0.025, sims) and falls <= bound(0.025, sims), (rises, falls)


def drifting(repeats, rng, *, kind, noise=0.3):
    """A null curve with the dependence along S of a sweep's common random numbers: each repeat
    drifts smoothly in a random direction (``kind="smooth"``: a slope along the ranks of S with
    a standard normal coefficient) or by correlated steps (``"walk"``: a Gaussian random walk
    along S), with zero mean over repeats, plus independent point noise."""
    k = SNRS.size
    if kind == "smooth":
        drift = rng.normal(0, 1, (repeats, 1)) * np.linspace(-1, 1, k)[None, :]
    else:
        drift = np.cumsum(rng.normal(0, 1, (repeats, k)), axis=1)
    values = drift + rng.normal(0, 1, (repeats, 1)) + noise * rng.normal(0, 1, (repeats, k))
    return np.tile(SNRS, repeats), values.reshape(-1), np.repeat(np.arange(repeats), k)


@pytest.mark.parametrize("kind", ["smooth", "walk"])
def test_trend_test_keeps_its_level_when_each_ensemble_drifts_along_s(kind):
    # Within one ensemble the S labels are not exchangeable here (a permutation of them within
    # each ensemble would call nearly every such curve a trend); the ensembles' own rho are.
    rng = np.random.default_rng(5 + (kind == "walk"))
    sims = 600
    words = [snr_trend(*drifting(10, rng, kind=kind), boot=10, seed=i).verdict for i in range(sims)]
    rises = sum(w in RISING for w in words) / sims
    falls = words.count(FALLS) / sims
    assert rises <= bound(0.025, sims) and falls <= bound(0.025, sims), (rises, falls)


@pytest.mark.parametrize("kind", ["shift", "smooth", "walk"])
def test_families_of_null_curves_have_no_discovery_at_the_nominal_rate(kind):
    # Under the global null the false-discovery rate is the chance of any discovery.
    rng = np.random.default_rng(7)
    sims, family = 300, 12
    draw = ((lambda: curves(np.zeros(SNRS.size), 10, rng)) if kind == "shift"
            else (lambda: drifting(10, rng, kind=kind)))
    any_found = 0
    for i in range(sims):
        trends = [snr_trend(*draw(), boot=10, seed=i, permutations=PERMUTATIONS) for _ in range(family)]
        any_found += any(t.verdict != "undecided" for t in family_verdicts(trends))
    assert any_found / sims <= bound(0.05, sims)


def test_drop_test_false_positive_rate_on_a_flat_step():
    # Curves that rise, with one step exactly flat: "a significant drop" must stay rare there.
    rng = np.random.default_rng(11)
    sims = 300
    shape = np.array([0.0, 1.0, 2.0, 2.0, 3.0]) * 2
    words = [snr_trend(*curves(shape, 10, rng, noise=0.5), boot=10, permutations=PERMUTATIONS).verdict
             for _ in range(sims)]
    assert words.count(WITH_DROP) / sims <= bound(0.05, sims)
    assert words.count(RISES) / sims >= 0.9  # the rise itself is large: found almost always


def trend_power(effect: float, repeats: int, sims: int, seed: int) -> float:
    """Rate of "rises" for a linear rise of ``effect`` noise standard deviations per SNR step."""
    rng = np.random.default_rng(seed)
    shape = effect * np.arange(SNRS.size)
    return sum(snr_trend(*curves(shape, repeats, rng), boot=10, permutations=PERMUTATIONS).verdict in RISING
               for _ in range(sims)) / sims


# --- claim 2: is the minimum inside the window? --------------------------------------------------


def trough(at: float, depth: float = 1.0) -> np.ndarray:
    return depth * np.abs(np.log(GRID / at)) / np.log(2)


@pytest.mark.parametrize("drift", [0.0, 1.0])
def test_window_test_false_positive_rate_with_two_equal_troughs(drift):
    # The least favourable null for "inside": the window's best point ties with an outside one;
    # with drift, each seed tilts its whole curve its own way (which trough is lower then
    # depends on the seed, never on average).
    rng = np.random.default_rng(3)
    sims = 400
    shape = np.minimum(trough(20.0), trough(56.0))
    decisions = [window_test(*curves(shape, 10, rng, x=GRID, noise=0.5, drift=drift), WINDOW).decision
                 for _ in range(sims)]
    assert decisions.count(INSIDE) / sims <= bound(0.05, sims)
    assert decisions.count(OUTSIDE) / sims <= bound(0.05, sims)


def test_window_test_finds_a_clear_minimum_and_its_absence():
    rng = np.random.default_rng(4)
    assert window_test(*curves(trough(20.0), 10, rng, x=GRID, noise=0.1), WINDOW).decision == INSIDE
    assert window_test(*curves(trough(80.0), 10, rng, x=GRID, noise=0.1), WINDOW).decision == OUTSIDE
    with pytest.raises(ValueError, match="some but not all"):
        window_test(*curves(trough(20.0), 10, rng, x=GRID), (1.0, 1000.0))


def window_power(depth: float, sims: int, seed: int) -> float:
    """Rate of "inside" for a trough at N = 20 whose neighbours lie ``depth`` noise sd above it."""
    rng = np.random.default_rng(seed)
    return sum(window_test(*curves(trough(20.0, depth), 10, rng, x=GRID), WINDOW).decision == INSIDE
               for _ in range(sims)) / sims


# --- claim 3: counterexamples --------------------------------------------------------------------


def configurations(configs: int, repeats: int, rng, *, step: float, noise: float = 1.0, shared: float = 0.5,
                   planted: float = 0.0, drift: float = 0.0) -> pd.DataFrame:
    """Configurations whose true alignment rises and true error falls with their index by ``step``
    noise sd (no counterexample when ``planted`` is 0); a seed shares its effect over
    configurations, and with ``drift`` tilts alignment and error along the configurations, each
    by its own standard normal slope of that size (zero mean). With ``planted``, the last
    configuration's alignment and error are both raised by that many noise sd: with ``step`` 0,
    a counterexample against every other one."""
    seed_a, seed_e = shared * rng.normal(size=repeats), shared * rng.normal(size=repeats)
    c = np.arange(configs)[:, None]
    a = step * c + seed_a + noise * rng.normal(size=(configs, repeats))
    e = -step * c + seed_e + noise * rng.normal(size=(configs, repeats)) + planted * (c == configs - 1)
    if drift:  # drawn only then, so that the simulations without drift keep their random numbers
        a, e = (v + drift * rng.normal(size=repeats) * np.linspace(-1, 1, configs)[:, None] for v in (a, e))
    a = a + planted * (c == configs - 1)
    return pd.DataFrame({"config": np.repeat(np.arange(configs), repeats), "seed": np.tile(np.arange(repeats), configs),
                         "alignment": a.reshape(-1), "test_error": e.reshape(-1)})


@pytest.mark.parametrize("step,drift", [(0.0, 0.0), (0.2, 0.0), (0.0, 1.0)])
def test_counterexample_family_wise_error_when_none_exists(step, drift):
    # step 0: every configuration the same (each pair at the edge of its null); 0.2: ordered, as in
    # the issue; drift: each seed tilts alignment and error along the configurations its own way.
    rng = np.random.default_rng(int(step * 10 + drift * 100))
    sims = 200
    found = sum(len(counterexample_test(configurations(24, 10, rng, step=step, drift=drift), ["config"]).pairs) > 0
                for _ in range(sims))
    assert found / sims <= bound(0.05, sims)


def counterexample_power(planted: float, sims: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    return sum(len(counterexample_test(configurations(24, 10, rng, step=0.0, planted=planted), ["config"]).pairs) > 0
               for _ in range(sims)) / sims


# --- the power stated on the Methods page ---------------------------------------------------------

METHODS = Path(__file__).resolve().parents[1] / "book" / "methods.md"
POWER = {"trend": lambda effect, sims: trend_power(effect, 10, sims, seed=21),
         "window": lambda effect, sims: window_power(effect, sims, seed=22),
         "counterexample": lambda effect, sims: counterexample_power(effect, sims, seed=23)}


def stated_power() -> list[tuple[str, float, float]]:
    """(test, effect, power) from the Methods page's rows ``| <test> | <effect> | <power> |``
    between the markers ``<!-- power -->`` and ``<!-- /power -->``."""
    text = METHODS.read_text()
    block = text[text.index("<!-- power -->"):text.index("<!-- /power -->")]
    rows = re.findall(r"^\|\s*`(\w+)`[^|]*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|", block, flags=re.M)
    return [(name, float(effect), float(power)) for name, effect, power in rows]


def test_the_methods_page_states_the_measured_power():
    rows = stated_power()
    assert {name for name, _, _ in rows} == set(POWER)
    sims = 200
    for name, effect, stated in rows:
        measured = POWER[name](effect, sims)
        # Two estimates of one rate (the page's from 1000 simulations): 3 standard errors of their difference.
        tolerance = 3 * math.sqrt(stated * (1 - stated) * (1 / sims + 1 / 1000)) + 1e-9
        assert abs(measured - stated) <= max(tolerance, 3 / sims), (name, effect, measured, stated)


# --- the library pieces --------------------------------------------------------------------------


def test_multiplicity_procedures_on_known_inputs():
    p = np.array([0.001, 0.025, 0.035, 0.5, np.nan])
    assert benjamini_hochberg(p, 0.05).tolist() == [True, False, False, False, False]  # 0.025 > 0.05 * 2/5 (NaN counts in m)
    assert benjamini_hochberg([0.01, 0.02, 0.03], 0.05).tolist() == [True, True, True]
    assert holm([0.01, 0.03, 0.04], 0.05).tolist() == [True, False, False]  # 0.03 > 0.05/2: stop
    assert holm([0.01, 0.024, 0.04], 0.05).tolist() == [True, True, True]
    with pytest.raises(ValueError, match="q"):
        benjamini_hochberg([0.1], q=1.5)


def test_one_sided_p_and_repeats_needed():
    assert one_sided_p([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]]).tolist() == [0.0, 1.0]  # exact: no spread
    assert math.isnan(one_sided_p([1.0, np.nan])) and one_sided_p([0.1, 0.3, 0.2]) < 0.05
    assert repeats_needed([0.0, 1.0, 2.0]) == 10  # d = 1: the textbook two-sided t-test needs 10 for 80%
    assert repeats_needed([0.0, 1.0, 2.0], sides=1) == 8  # one-sided: 8 (the z-test's 6.2 is too few)
    assert math.isnan(repeats_needed([1.0, -1.0]))
    assert repeats_needed([1.0, 1.0, 1.0], floor=6) == 6  # no spread: what the test can use at all
    assert repeats_needed([0.001, -0.5, 0.5, 0.01]) == math.inf  # beyond any study


def test_repeats_needed_is_the_smallest_size_with_the_power():
    rng = np.random.default_rng(4)
    for _ in range(40):
        effects, alpha, sides = rng.normal(rng.uniform(0.3, 2), 1, 6), rng.choice([0.05, 0.001]), int(rng.choice([1, 2]))
        needed = int(repeats_needed(effects, alpha, sides=sides))
        size = abs(effects.mean()) / effects.std(ddof=1)
        assert t_power(needed, size, alpha, sides) >= 0.8 > t_power(needed - 1, size, alpha, sides) or needed == 2


# --- verdict tables ------------------------------------------------------------------------------


def _snr_sweep(rng) -> pd.DataFrame:
    parts = []
    for n in (5.0, 10.0, 40.0, 80.0):
        s, a, g = curves(np.arange(SNRS.size) * 2.0, 10, rng)
        parts.append(pd.DataFrame({"n_train": n, "snr": s, "alignment": a, "seed": g,
                                   "test_error": -a + rng.normal(0, 0.1, a.size)}))
    return pd.concat(parts, ignore_index=True)


def test_verdict_tables_round_trip_and_name_their_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("REPALIGN_CACHE", str(tmp_path / "cache"))
    table = _snr_sweep(np.random.default_rng(5))
    result = snr_claim(table, boot=20)
    assert isinstance(result, SNRClaim) and result.verdict == HOLDS
    rows = (verdicts.claim_record("snr", result, setting="test", metric="cka")
            + verdicts.claim_record("min", minimum_claim(table, d=20, boot=20), setting="test", metric="cka")
            + verdicts.claim_record("dec", decoupling_claim(table, boot=20), setting="test", metric="cka"))
    cfg = SNRConfig.from_preset("smoke", repeats=4)
    out = verdicts.verdict_table("snr", rows, cfg)
    # claim 3: its counterexample row, then the coupling across configurations, within N, within S, across seeds
    assert list(out.columns) == list(verdicts.COLUMNS) and len(out) == 1 + 4 + 1 + 4 + 1 + 4
    assert out.case.tolist()[-4:] == ["across configurations", "within N", "within S", "across seeds"]
    verdicts.save(out, "snr", "smoke")
    path = verdicts.table_path("snr", "smoke")
    assert path.exists() and path.parent == tmp_path / "cache" / "verdicts" and not list(path.parent.glob("*.tmp"))
    back = verdicts.load("snr", "smoke")
    pd.testing.assert_frame_equal(back, out, check_dtype=False)
    assert verdicts.word(back, claim="snr", setting="test") == HOLDS
    assert verdicts.changed_parameters(back, SNRConfig.from_preset("smoke")) == {"repeats": 4}
    with pytest.raises(KeyError, match="0 verdict rows match"):
        verdicts.word(back, claim="snr", setting="other")
    with pytest.raises(FileNotFoundError, match="run the chapter first"):
        verdicts.load("linear", "smoke")
    with pytest.raises(ValueError, match="statistic must be a non-empty string"):
        verdicts.record("snr", setting="s", metric="m", statistic="", value=1, verdict=HOLDS, control="c")


def _chapter_rows(chapter: str, verdict_by_setting: dict[str, str], metrics=("cka",)) -> pd.DataFrame:
    rows = [verdicts.record(claim, setting=setting, metric=m, statistic="s", value=1.0, verdict=v, control="c",
                            summary=f"{claim} {m}")
            for (setting, claim), v in verdict_by_setting.items() for m in metrics]
    return verdicts.verdict_table(chapter, rows)


def test_the_conclusion_follows_the_chapters_tables():
    from repalign.inference import UNDECIDED

    titles = {"snr": "SNR", "decoupling": "Decoupling"}
    snr = _chapter_rows("snr", {("MLP", "snr"): HOLDS, ("linear", "snr"): UNDECIDED}, metrics=("cka", "procrustes"))
    snr.loc[(snr.setting == "linear") & (snr.metric == "procrustes"), "verdict"] = HOLDS  # metrics disagree
    dec = _chapter_rows("decoupling", {("book", "dec"): HOLDS, ("robustness: baseline", "snr"): FAILS})
    table = pd.concat([snr, dec], ignore_index=True)
    counts = verdicts.verdict_counts(table, "snr", titles)
    assert list(counts.index) == ["SNR"] and list(counts.columns) == list(VERDICTS)  # Decoupling's is robustness
    assert counts.loc["SNR"].to_dict() == {HOLDS: 1, PARTLY: 0, FAILS: 0, UNDECIDED: 1}  # the main metric (cka)
    assert list(verdicts.verdict_counts(table, "dec", titles).index) == ["Decoupling"]
    assert verdicts.verdict_counts(table, "min", titles).empty
    assert verdicts.tally_phrase(verdicts.tally(table, "snr")) == "holds in 1 of 2 settings and is undecided in 1"
    assert verdicts.tally_phrase(verdicts.tally(table, "snr", robustness=True), "cells") == "fails in 1 of 1 cells"
    assert verdicts.settings_with(table, "snr", UNDECIDED, titles) == "linear (SNR)"
    # A re-run that changes one verdict changes the conclusion.
    table.loc[(table.setting == "linear") & (table.metric == "cka"), "verdict"] = FAILS
    assert verdicts.verdict_counts(table, "snr", titles).loc["SNR", FAILS] == 1
    assert verdicts.tally_phrase(verdicts.tally(table, "snr")) == "holds in 1 of 2 settings and fails in 1"
    same = {HOLDS: 0, PARTLY: 0, FAILS: 0, UNDECIDED: 36}
    assert verdicts.tally_phrase(same, "cells") == "is undecided in all 36 cells"  # one verdict: one clause


def test_the_conclusion_runs_after_every_chapter_it_reads():
    # Sphinx reads (and myst-nb executes) pages in sorted order of their names, and the smoke build
    # runs chapter_files() in order: the conclusion must come last in both, and never be cached.
    from repalign import book

    names = list(book.chapter_files())
    assert names[-1] == "verdicts" and sorted(names) == names
    docs = sorted(f"chapters/{n}" for n in names) + sorted(f"book/{p.stem}" for p in METHODS.parent.glob("*.md"))
    assert sorted(docs)[-1] == "chapters/verdicts"
    notebook = book.read_chapter(book.chapter_files()["verdicts"])
    assert notebook.metadata["mystnb"]["execution_mode"] == "force"


def _glued_text(notebook_path) -> dict[str, str]:
    """name -> text/plain of every value the executed notebook glued."""
    import nbformat

    nb = nbformat.read(notebook_path, as_version=4)
    return {o["metadata"]["scrapbook"]["name"]: o["data"].get("application/papermill.record/text/plain", "")
            for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if "scrapbook" in o.get("metadata", {})}


@pytest.mark.book
def test_the_conclusion_changes_with_a_chapters_verdicts(tmp_path, monkeypatch):
    # The conclusion page reads the chapters' tables: a re-run of one chapter with another
    # parameter (here written directly, as the chapter would) changes its sentences and tables.
    from repalign import book
    from repalign.inference.claims import FAILS
    from repalign.presets import CHAPTERS

    monkeypatch.setenv("REPALIGN_CACHE", str(tmp_path / "cache"))  # the kernel inherits it
    chapters = [name for name in CHAPTERS if name != "verdicts"]
    for chapter in chapters:
        rows = [verdicts.record(claim, setting=f"{chapter} setting", metric="cka", statistic="s", value=1.0,
                                verdict=HOLDS, control="c") for claim in ("snr", "min", "dec")]
        verdicts.save(verdicts.verdict_table(chapter, rows, CHAPTERS[chapter].from_preset("smoke")), chapter, "smoke")
    before = _glued_text(book.run_chapter("verdicts", [("preset", "smoke")], output=tmp_path / "before.ipynb"))
    n = len(chapters)
    assert before["snr_tally"] == f"'holds in all {n} settings'"

    snr = verdicts.load("snr", "smoke")
    snr["verdict"] = FAILS
    snr["parameters"] = verdicts.parameters_json(CHAPTERS["snr"].from_preset("smoke", repeats=4))
    verdicts.save(snr, "snr", "smoke")
    after = _glued_text(book.run_chapter("verdicts", [("preset", "smoke")], output=tmp_path / "after.ipynb"))
    assert after["snr_tally"] == f"'holds in {n - 1} of {n} settings and fails in 1'"
    assert after["snr_failing"] == "'It fails in snr setting (SNR).'"
    html = (tmp_path / "after.ipynb").read_text()
    assert "repeats = 4" in html and "repeats = 4" not in (tmp_path / "before.ipynb").read_text()


# --- rows that say what their verdict rests on ------------------------------------------------------


def test_a_window_row_carries_the_p_value_of_its_decision():
    from repalign.inference import UNDECIDED
    from repalign.inference.extrema import Extremum
    from repalign.inference.threshold import WindowTest

    ext = Extremum(location=30.0, grid_location=28.0, value=0.1, low=25.0, high=35.0, log_sd=0.1, level=0.68,
                   below=20.0, above=40.0, at_edge=False)
    test = WindowTest(p_inside=0.9, p_outside=1e-4, inside=(28.0,), repeats=10, alpha=0.05, decision=OUTSIDE,
                      repeats_needed=7.0)
    common = dict(scale=20.0, setting="s", metric="cka", statistic="minimum at N/N*", control="c")
    away = verdicts.window_record("min", ext, test, OUTSIDE, **common)
    assert (away["verdict"], away["p"], away["value"], math.isnan(away["repeats_needed"])) == ("fails", 1e-4, 1.5, True)
    assert verdicts.window_record("min", ext, test, INSIDE, **common)["p"] == 0.9
    open_ = verdicts.window_record("min", ext, test, UNDECIDED, **common)
    assert (open_["verdict"], open_["p"], open_["repeats_needed"]) == ("undecided", 1e-4, 7.0)
    untested = verdicts.window_record("min", ext, WindowTest(math.nan, math.nan, (), 0, 0.05, UNDECIDED,
                                                             reason="no threshold"), UNDECIDED, **common)
    assert math.isnan(untested["p"]) and untested["control"] == "no test" and untested["summary"] == "no threshold"


def test_a_family_verdict_carries_the_p_value_that_decides_it():
    from repalign.inference import UNDECIDED
    from repalign.inference.claims import FAILS, PARTLY, family_p

    assert family_p(HOLDS, [0.01, 0.03], [], [0.01, 0.03]) == 0.03  # every case: the largest must pass
    assert family_p(PARTLY, [0.01], [], [0.01, 0.4]) == 0.01
    assert family_p(FAILS, [0.01], [0.002, 0.04], [0.01, 0.002, 0.04]) == 0.002  # the strongest refutation
    assert family_p(UNDECIDED, [], [], [0.3, 0.08, math.nan]) == 0.08  # the nearest to a decision
    curves = pd.DataFrame({"rho": [0.9, 0.2], "low": [0.8, -0.1], "high": [1.0, 0.5], "p": [0.002, 0.3],
                           "repeats_needed": [6.0, 40.0], "mean_falls": [(), ((1.0, 4.0),)],
                           "verdict": ["rises at every step", "undecided"]})
    rows = verdicts.curve_rows("snr", curves, ["N = 10", "N = 20"], setting="s", metric="cka", control="c")
    assert [r["verdict"] for r in rows] == [PARTLY, "rises at every step", "undecided"]
    assert (rows[0]["p"], rows[0]["repeats_needed"]) == (0.002, 40.0)
    assert rows[2]["summary"] == "ρ +0.20; mean falls from S = 1 to 4"
