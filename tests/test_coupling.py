"""How strongly alignment and test error go together (repalign.inference.decoupling.coupling), and claim 3's
verdict and sentence built on it (repalign.inference.claims): exact values on constructed tables, missing
and refused values, and the error rate of the seed-bootstrap interval, simulated under a null of
no coupling with common random numbers."""

import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata, spearmanr

from repalign.inference import UNDECIDED
from repalign.inference.claims import HOLDS, PARTLY, DecouplingClaim, decoupling_claim
from repalign.inference.decoupling import (MIN_SEEDS, Coupling, RankCorrelation, _rho_over_seeds, across_configurations,
                                           coupling, seed_interval_tail)
from repalign.inference.phrases import COUPLED, NOT_COUPLED, NOT_MEASURED, coupling_word, decoupling_sentence
from repalign.inference.trends import spearman_rows

MEASUREMENT = "must be finite numbers or NaN (a missing measurement), got"


def grid_table(alignment, error, *, n_grid=(10, 20, 40), snrs=(1.0, 2.0, 4.0), seeds=6, per_seed=None):
    """One row per (N, S, seed): ``alignment(i, j)``, ``error(i, j)`` at the i-th N and j-th S,
    plus ``per_seed(i, j, seed)`` -> (dA, dE) (default: nothing)."""
    rows = []
    for i, n in enumerate(n_grid):
        for j, s in enumerate(snrs):
            for r in range(seeds):
                da, de = per_seed(i, j, r) if per_seed else (0.0, 0.0)
                rows.append({"n_train": n, "snr": s, "seed": r, "alignment": alignment(i, j) + da,
                             "test_error": error(i, j) + de})
    return pd.DataFrame(rows)


# --- exact values ------------------------------------------------------------------------------------


def test_a_perfectly_decreasing_relation_gives_minus_one_everywhere():
    # Alignment rises and error falls along one order of the 9 configurations; each seed adds the
    # same amount to every configuration, and moves A up and E down within a configuration.
    table = grid_table(lambda i, j: 3 * i + j, lambda i, j: -(3 * i + j),
                       per_seed=lambda i, j, r: (0.01 * r, -0.01 * r))
    c = coupling(table, ["n_train", "snr"], strata=["n_train", "snr"], boot=200)
    assert c.across == RankCorrelation(-1.0, -1.0, -1.0, 9)
    assert c.within["n_train"] == RankCorrelation(-1.0, -1.0, -1.0, 3)  # 3 strata of 3 configurations
    assert c.within["snr"] == RankCorrelation(-1.0, -1.0, -1.0, 3)
    assert c.across_seeds == RankCorrelation(-1.0, -1.0, -1.0, 9)
    assert (c.seeds, c.boot, c.level, c.coupled) == (6, 200, 0.95, True)


def test_the_strata_separate_what_n_and_s_explain():
    # Within one N, alignment and error both rise with S (+1); within one S, alignment rises and
    # error falls with N (-1); across all nine, N's order dominates.
    table = grid_table(lambda i, j: i + 0.1 * j, lambda i, j: -i + 0.1 * j,
                       per_seed=lambda i, j, r: (0.001 * r, 0.001 * (r % 2)))
    c = coupling(table, ["n_train", "snr"], strata=["n_train", "snr"], boot=200)
    means = table.groupby(["n_train", "snr"])[["alignment", "test_error"]].mean()
    assert c.across.rho == pytest.approx(spearmanr(means.alignment, means.test_error).statistic)
    assert c.across.rho == pytest.approx(-0.8)  # rank differences 6 (i - 1): 1 - 6 * 216 / (9 * 80)
    assert (c.within["n_train"].rho, c.within["snr"].rho) == (pytest.approx(1.0), pytest.approx(-1.0))
    assert c.across.low == pytest.approx(-0.8) and c.across.high == pytest.approx(-0.8)  # ranks never change
    # A stratum of two configurations says nothing: with two S, the within-N estimates are left out.
    two = coupling(table[table.snr < 4], ["n_train", "snr"], strata=["n_train", "snr"], boot=50)
    assert math.isnan(two.within["n_train"].rho) and two.within["n_train"].n == 0
    assert two.within["snr"] == RankCorrelation(-1.0, -1.0, -1.0, 2)


def test_the_seed_bootstrap_of_ranks_over_seeds_matches_ranking_each_resample():
    rng = np.random.default_rng(3)
    a, e = rng.normal(size=(7, 6)), rng.normal(size=(7, 6))
    a[0, 1], e[2, 4], a[3] = np.nan, np.nan, a[3].round(0)  # missing seeds and ties
    draws = rng.integers(0, 6, size=(40, 6))
    weights = np.zeros((40, 6))
    np.add.at(weights, (np.arange(40)[:, None], draws), 1.0)
    fast = _rho_over_seeds(a, e, weights)
    for b in range(40):
        for c in range(7):
            x, y = a[c, draws[b]], e[c, draws[b]]
            keep = np.isfinite(x) & np.isfinite(y)
            rx, ry = rankdata(x[keep]), rankdata(y[keep])
            slow = np.corrcoef(rx, ry)[0, 1] if keep.sum() >= 3 and rx.std() > 0 and ry.std() > 0 else np.nan
            assert fast[b, c] == pytest.approx(slow, nan_ok=True)


def test_missing_ensembles_are_left_out():
    table = grid_table(lambda i, j: 3 * i + j, lambda i, j: (3 * i + j) % 4 + 0.1 * i, seeds=MIN_SEEDS,
                       per_seed=lambda i, j, r: (0.01 * ((r * 7 + i) % 5), 0.01 * ((r * 3 + j) % 5)))
    table.loc[0, "alignment"] = np.nan  # one ensemble of the first configuration
    table.loc[(table.n_train == 40) & (table.snr == 4.0), "test_error"] = np.nan  # a whole configuration
    c = coupling(table, ["n_train", "snr"], strata=["n_train"], boot=100)
    means = table.groupby(["n_train", "snr"])[["alignment", "test_error"]].mean().dropna()
    assert c.across.n == 8 and c.across.rho == pytest.approx(spearmanr(means.alignment, means.test_error).statistic)
    assert c.within["n_train"].n == 2  # N = 40 keeps two configurations: left out
    assert c.across_seeds.n == 8  # the missing configuration has no seed left
    first = table[(table.n_train == 10) & (table.snr == 1.0)].dropna()
    assert len(first) == MIN_SEEDS - 1  # its other seeds still count


def test_infinite_values_and_bad_strata_are_refused():
    table = grid_table(lambda i, j: i + j, lambda i, j: i - j)
    for column in ("alignment", "test_error"):
        bad = table.copy()
        bad.loc[3, column] = math.inf
        with pytest.raises(ValueError, match=re.escape(f"table.{column} {MEASUREMENT} inf")):
            coupling(bad, ["n_train", "snr"])
    with pytest.raises(ValueError, match="must be constant within each configuration"):
        coupling(table.assign(other=range(len(table))), ["n_train", "snr"], strata=["other"])
    with pytest.raises(ValueError, match=r"missing \['width'\]"):
        coupling(table, ["n_train", "snr"], strata=["width"])
    with pytest.raises(ValueError, match="at least one row"):
        coupling(table.iloc[:0], ["n_train", "snr"])
    with pytest.raises(ValueError, match="2-d arrays of one shape"):
        across_configurations(np.zeros((3, 5)), np.zeros((3, 4)))


def test_too_few_seeds_give_no_interval():
    assert math.isnan(seed_interval_tail(MIN_SEEDS - 1, 0.95))
    # sqrt(10 / 9) t_{0.975, 9} = 2.384: the expanded interval's tails hold 0.86% each
    assert seed_interval_tail(10, 0.95) == pytest.approx(0.00857, abs=2e-5)
    table = grid_table(lambda i, j: 3 * i + j, lambda i, j: -(3 * i + j), seeds=MIN_SEEDS - 1)
    c = coupling(table, ["n_train", "snr"], boot=50)
    assert c.across.rho == -1.0 and math.isnan(c.across.low) and not c.coupled
    assert coupling_word(c.across) == NOT_MEASURED
    assert coupling_word(RankCorrelation(-0.5, -0.7, -0.2, 9)) == COUPLED
    assert coupling_word(RankCorrelation(-0.1, -0.4, 0.2, 9)) == NOT_COUPLED


def test_the_table_and_the_array_forms_agree():
    rng = np.random.default_rng(4)
    a, e = rng.normal(size=(6, 8)), rng.normal(size=(6, 8))
    table = pd.DataFrame({"config": np.repeat(np.arange(6), 8), "seed": np.tile(np.arange(8), 6),
                          "alignment": a.ravel(), "test_error": e.ravel()})
    assert coupling(table, ["config"], boot=300, seed=2).across == across_configurations(a, e, boot=300, seed=2)


# --- the interval's error rate under a null of no coupling ----------------------------------------


def null_sweep(rng, configurations: int, seeds: int, slope: float):
    """(a, e), each (configurations, seeds), with no coupling of the true means: A rises along the
    configurations and E is a V over them (Spearman's rho of the true means exactly 0). Common
    random numbers: each seed shifts every configuration by one offset (the same in A and E),
    and adds a seed slope times a loading fixed per configuration, correlated between A and E,
    so that the configurations of one seed share its luck; then independent noise."""
    x = np.linspace(0.0, 1.0, configurations)
    loading = rng.normal(size=configurations)
    offset = rng.normal(size=seeds)
    u = rng.normal(0, slope, seeds)
    v = 0.8 * u + 0.6 * rng.normal(0, slope, seeds)
    a = x[:, None] + offset + np.outer(loading, u) + rng.normal(0, 0.2, (configurations, seeds))
    e = np.abs(x - 0.5)[:, None] + offset + np.outer(loading, v) + rng.normal(0, 0.2, (configurations, seeds))
    return a, e


def excludes_zero(r: RankCorrelation) -> bool:
    return r.low > 0 or r.high < 0


@pytest.mark.parametrize("seeds", [MIN_SEEDS, 10])
def test_the_seed_interval_keeps_its_error_rate_without_coupling(seeds):
    # 400 sweeps of 20 configurations: the Monte-Carlo standard error of a 5% rate is
    # sqrt(0.05 * 0.95 / 400) = 0.011, so the bound is 0.05 + 3 * 0.011 = 0.083. Measured: 0.0375
    # at 5 seeds and 0.035 at 10 (a plain percentile interval on the same sweeps: 0.11 and 0.08).
    rng = np.random.default_rng(seeds)
    sims = 400
    rate = np.mean([excludes_zero(across_configurations(*null_sweep(rng, 20, seeds, 0.3), boot=500, seed=i))
                    for i in range(sims)])
    assert rate <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / sims)


def over_configurations(a, e, *, boot, seed):
    """The interval the book used to give: a percentile bootstrap over the configurations' means."""
    draws = np.random.default_rng(seed).integers(0, len(a), size=(boot, len(a)))
    low, high = np.nanquantile(spearman_rows(a[draws], e[draws]), [0.025, 0.975])
    return RankCorrelation(math.nan, float(low), float(high), len(a))


def test_a_bootstrap_over_configurations_ignores_what_a_seed_shares():
    # Strong seed slopes: the configurations of one seed move together. The bootstrap over
    # configurations then excludes 0 in 0.43 of the sweeps, the seed bootstrap
    # in 0.015. 200 sweeps of 30 configurations and 10 seeds: Monte-Carlo standard error 0.015 at
    # 5%, bound 0.096.
    rng = np.random.default_rng(11)
    sims, seed_rate, config_rate = 200, 0, 0
    for i in range(sims):
        a, e = null_sweep(rng, 30, 10, 1.0)
        seed_rate += excludes_zero(across_configurations(a, e, boot=500, seed=i))
        config_rate += excludes_zero(over_configurations(a.mean(axis=1), e.mean(axis=1), boot=500, seed=i))
    assert seed_rate / sims <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / sims)
    assert config_rate / sims > 0.25


# --- claim 3: verdict and sentence -----------------------------------------------------------------


def ladder(error_ranks, *, seeds=10, noise=0.01, seed=0):
    """A sweep over five N at one S: alignment rises with N; the error of the i-th N is
    0.1 * error_ranks[i]; Gaussian noise of ``noise`` per ensemble."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame([{"n_train": 10 * (i + 1), "snr": 1.0, "seed": r,
                          "alignment": 0.1 * (i + 1) + rng.normal(0, noise),
                          "test_error": 0.1 * rank + rng.normal(0, noise)}
                         for r in range(seeds) for i, rank in enumerate(error_ranks)])


def test_the_verdict_follows_the_counterexamples_and_the_coupling():
    # Strongly coupled (rho = -0.9) with one counterexample (the 3rd and 4th N): holds partly.
    coupled = decoupling_claim(ladder([5, 4, 2, 3, 1]), boot=300)
    assert (coupled.verdict, coupled.pairs) == (PARTLY, 1)
    assert coupled.correlation.rho == pytest.approx(-0.9) and coupled.correlation.high < 0
    assert coupled.summary == "1 pair; ρ −0.90 [−0.90, −0.90]"
    assert coupled.p == coupled.found.p.min() <= 0.05 / coupled.tests
    assert math.isnan(coupled.repeats_needed)
    # Not coupled (rho exactly 0 over five configurations), with counterexamples: holds.
    free = decoupling_claim(ladder([2, 5, 3, 1, 4]), boot=300)
    assert free.verdict == HOLDS and free.pairs > 0 and free.correlation.low <= 0 <= free.correlation.high
    # Error rising with alignment: coupled, but not the way the claim denies; holds.
    assert decoupling_claim(ladder([1, 2, 3, 4, 5]), boot=300).verdict == HOLDS
    # Anti-ordered, no pair: undecided, and no pair points towards a counterexample.
    none = decoupling_claim(ladder([5, 4, 3, 2, 1]), boot=300)
    assert (none.verdict, none.pairs) == (UNDECIDED, 0) and math.isnan(none.p) and math.isnan(none.repeats_needed)
    # Undecided with a pair pointing the right way, too noisy to be significant: its p and repeats.
    weak = decoupling_claim(ladder([5, 4, 2, 2.2, 1], seeds=6, noise=0.2), boot=300)
    assert weak.verdict == UNDECIDED and 0.05 / weak.tests < weak.p < 1 and weak.repeats_needed > 6


def _claim(pairs: int, across, *, within_n=(-0.5, -0.7, -0.2, 3), within_s=(-0.9, -0.95, -0.8, 4),
           seeds=(-0.1, -0.3, 0.1, 12), verdict=PARTLY) -> DecouplingClaim:
    c = Coupling(across=RankCorrelation(*across), within={"n_train": RankCorrelation(*within_n),
                                                          "snr": RankCorrelation(*within_s)},
                 across_seeds=RankCorrelation(*seeds), seeds=10, boot=2000, level=0.95)
    return DecouplingClaim(verdict=verdict, pairs=pairs, tests=132, alpha=0.05, coupling=c, nearest_p=math.nan,
                           nearest_repeats=math.nan, found=pd.DataFrame({"p": [1e-5] * pairs}),
                           configurations=pd.DataFrame())


def test_the_sentence_states_each_estimate_once():
    assert decoupling_sentence(_claim(1, (-0.97, -0.99, -0.93, 12))) == (
        "A counterexample exists (1 pair of configurations), but across configurations alignment and test error "
        "are strongly coupled, higher alignment going with lower error (ρ = −0.97 [−0.99, −0.93]); with N fixed "
        "ρ = −0.50 [−0.70, −0.20], with S fixed ρ = −0.90 [−0.95, −0.80], and between the seeds of one "
        "configuration ρ = −0.10 [−0.30, +0.10].")
    # No coupling; the within-N estimate could not be measured (left out).
    assert decoupling_sentence(_claim(3, (0.05, -0.3, 0.4, 12), within_n=(math.nan,) * 3 + (0,), verdict=HOLDS)) == (
        "A counterexample exists (3 pairs of configurations), and across configurations alignment and test error "
        "are not significantly coupled (ρ = +0.05 [−0.30, +0.40]); with S fixed ρ = −0.90 [−0.95, −0.80], and "
        "between the seeds of one configuration ρ = −0.10 [−0.30, +0.10].")
    # Undecided, moderately coupled; too few seeds for intervals.
    assert decoupling_sentence(_claim(0, (-0.5, -0.8, -0.2, 12), within_n=(-0.4, math.nan, math.nan, 3),
                                      within_s=(math.nan,) * 3 + (0,), seeds=(math.nan,) * 3 + (0,),
                                      verdict=UNDECIDED)) == (
        "No pair of configurations is a significant counterexample (of 132 ordered pairs), and across "
        "configurations alignment and test error are moderately coupled, higher alignment going with lower error "
        "(ρ = −0.50 [−0.80, −0.20]); with N fixed ρ = −0.40.")
    no_interval = _claim(0, (-0.5, math.nan, math.nan, 12), within_n=(math.nan,) * 3 + (0,),
                         within_s=(math.nan,) * 3 + (0,), seeds=(math.nan,) * 3 + (0,), verdict=UNDECIDED)
    assert decoupling_sentence(no_interval).endswith("is ρ = −0.50, with too few seeds for an interval.")
    assert "too few configurations" in decoupling_sentence(_claim(1, (math.nan, math.nan, math.nan, 2),
                                                                  verdict=HOLDS))


def test_the_verdict_table_carries_the_coupling_and_the_conclusion_reads_it():
    from repalign import verdicts

    rows = []
    for setting, ranks in (("coupled", [5, 4, 2, 3, 1]), ("free", [2, 5, 3, 1, 4])):
        rows += verdicts.claim_record("dec", decoupling_claim(ladder(ranks), boot=200), setting=setting, metric="cka")
    table = verdicts.verdict_table("decoupling", rows)
    across = table[table.case == verdicts.ACROSS]
    assert across.statistic.unique().tolist() == ["rank correlation of A and E across configurations"]
    assert across.verdict.tolist() == [COUPLED, NOT_COUPLED] and across.value.tolist() == pytest.approx([-0.9, 0.0])
    assert table[table.setting == "coupled"].case.tolist() == ["all", "across configurations", "within N", "within S",
                                                               "across seeds"]
    assert verdicts.word(table, claim="dec", setting="coupled") == PARTLY  # the claim's row is still the one
    assert verdicts.coupling_phrase(table, {"decoupling": "Decoupling"}) == (
        "ranges from ρ = −0.90 in coupled (Decoupling) to ρ = +0.00 in free (Decoupling), its interval over seeds "
        "excluding 0 in 1 of 2 settings")
    assert verdicts.coupling_phrase(table, {}, robustness=True) == "was not measured"
