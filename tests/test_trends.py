"""Monotonicity statistics and the flip <-> SNR equivalence (repalign.inference.trends)."""

import math

import numpy as np
import pytest
from scipy import stats

from repalign.data import flip_labels
from repalign.inference.trends import (EXACT_REPEATS, flip_for_snr, paired_steps, sign_flip_floor, sign_flip_p,
                                       snr_for_flip, snr_trend, spearman_rows)

SNRS = np.array([0.1, 1.0, 10.0, 100.0, math.inf])


def _curve(shape, repeats=8, noise=0.01, seed=0):
    rng = np.random.default_rng(seed)
    snr = np.tile(SNRS, repeats)
    groups = np.repeat(np.arange(repeats), SNRS.size)
    values = np.tile(shape, repeats) + rng.normal(0, noise, snr.size)
    return snr, values, groups


def test_a_clear_rise_rises_at_every_step_with_rho_near_one():
    t = snr_trend(*_curve(np.arange(5.0)))
    assert t.verdict == "rises at every step" and t.mean_falls == ()
    assert t.rho > 0.85 and t.low > 0 and t.rho_of_means == pytest.approx(1.0)
    assert (t.drops, t.rises, t.steps, t.repeats) == (0, 4, 4, 8)


def test_a_rise_with_a_real_dip_is_flagged_and_located():
    t = snr_trend(*_curve(np.array([0.0, 1.0, 0.5, 2.0, 3.0])))
    assert t.verdict == "rises, with a significant drop" and t.drops == 1
    assert t.mean_falls == ((1.0, 10.0),)


def test_a_rise_with_a_flat_step_rises_overall_only():
    # No step falls significantly, but one does not rise either: the rise is not "at every step".
    t = snr_trend(*_curve(np.array([0.0, 1.0, 1.0, 2.0, 3.0]), noise=0.05))
    assert t.verdict == "rises overall" and t.drops == 0 and t.rises == 3


def test_too_few_repeats_cannot_decide_and_the_floor_says_so():
    # The unit is the repeat: with R repeats the smallest two-sided p-value is 2 / 2^R.
    assert sign_flip_floor(0.05) == 6 and 2 / 2**5 > 0.05 >= 2 / 2**6
    t = snr_trend(*_curve(np.arange(5.0), repeats=5))
    assert t.verdict == "undecided" and t.p == pytest.approx(2 / 2**5) and t.repeats_needed >= 6
    assert snr_trend(*_curve(np.arange(5.0), repeats=6)).p == pytest.approx(2 / 2**6)


def test_sign_flips_are_enumerated_exactly_then_sampled():
    effects = np.array([0.9, 0.8, -0.1, 0.7])
    # Of the 16 patterns, the mean is at least the observed one for the identity and for flipping
    # the -0.1 only: p_rise = 2/16; at most it for all but the mirror images of those two.
    assert sign_flip_p(effects) == (2 / 16, 15 / 16)
    many = np.full(EXACT_REPEATS + 4, 0.5)
    p_rise, p_fall = sign_flip_p(many, permutations=999)
    assert p_rise == pytest.approx(1 / 1000) and p_fall == 1.0


def test_pure_noise_is_no_trend_and_a_fall_is_a_fall():
    # The verdict's interval is 95%: over many noise-only curves it should call a trend rarely.
    verdicts = [snr_trend(*_curve(np.zeros(5), noise=1.0, seed=s), boot=300).verdict for s in range(40)]
    assert verdicts.count("undecided") >= 30
    assert snr_trend(*_curve(-np.arange(5.0))).verdict == "falls"


def test_infinity_ranks_highest_and_vectorised_rho_matches_scipy():
    t = snr_trend(*_curve(np.array([0, 1, 2, 3, 10.0])))
    assert t.rho_of_means == pytest.approx(1.0)
    rng = np.random.default_rng(2)
    x, y = rng.integers(0, 3, (6, 12)).astype(float), rng.normal(size=(6, 12))
    expected = [stats.spearmanr(a, b).statistic for a, b in zip(x, y)]
    np.testing.assert_allclose(spearman_rows(x, y), expected)


def test_paired_steps_use_the_pairing():
    # A shift common to each repeat is removed by pairing: a small but consistent rise is significant.
    snr = np.tile([1.0, 2.0], 3)
    groups = np.repeat([0, 1, 2], 2)
    offsets = np.repeat([0.0, 5.0, -5.0], 2)
    values = offsets + np.tile([0.0, 0.1], 3) + np.array([0, 0.001, 0, -0.001, 0, 0.0])
    assert paired_steps(snr, values, groups) == (0, 1, 1)


def test_trend_errors_name_the_parameter():
    with pytest.raises(ValueError, match="at least two distinct"):
        snr_trend([1.0, 1.0], [0.1, 0.2], [0, 1])
    with pytest.raises(ValueError, match="values must have the same length"):
        snr_trend([1.0, 2.0], [0.1], [0, 1])
    with pytest.raises(ValueError, match="level"):
        snr_trend([1.0, 2.0], [0.1, 0.2], [0, 0], level=1.5)


@pytest.mark.parametrize("classes", [2, 3, 10])
def test_flip_and_snr_are_inverse_and_span_the_range(classes):
    for s in [0.01, 0.1, 1.0, 10.0, 100.0]:
        assert snr_for_flip(flip_for_snr(s, classes), classes) == pytest.approx(s)
    assert flip_for_snr(math.inf, classes) == 0.0 and snr_for_flip(0.0, classes) == math.inf
    assert 0 < flip_for_snr(1e-6, classes) < 1 - 1 / classes
    with pytest.raises(ValueError, match="snr must be"):
        flip_for_snr(0.0, classes)
    with pytest.raises(ValueError, match="flip must be"):
        snr_for_flip(1 - 1 / classes, classes)
    with pytest.raises(ValueError, match="n_classes"):
        flip_for_snr(1.0, 1)


def test_the_equivalent_snr_is_the_snr_of_one_hot_targets():
    """Monte Carlo: Var(E[onehot | y]) / Var(onehot - E[onehot | y]), summed over outputs."""
    classes, s = 3, 2.0
    rng = np.random.default_rng(0)
    clean = rng.integers(0, classes, 400_000)
    noisy = flip_labels(clean, flip_for_snr(s, classes), classes, rng)
    onehot = np.eye(classes)[noisy]
    mean_given_clean = np.stack([onehot[clean == c].mean(axis=0) for c in range(classes)])[clean]
    signal = mean_given_clean.var(axis=0).sum()
    noise = (onehot - mean_given_clean).var(axis=0).sum()
    assert signal / noise == pytest.approx(s, rel=0.02)


def test_family_table_decides_each_family_on_its_own():
    import pandas as pd

    from repalign.inference.trends import family_table

    parts = []
    for metric, shape in (("up", np.arange(5.0)), ("flat", np.zeros(5))):
        for n in (10, 20):
            snr, values, groups = _curve(shape, repeats=6, noise=0.01 if metric == "up" else 1.0, seed=n)
            parts.append(pd.DataFrame({"metric": metric, "n": n, "S": snr, "alignment": values, "seed": groups}))
    found = family_table(pd.concat(parts), ["metric", "n"], "metric", boot=20)
    assert list(found.columns[:2]) == ["metric", "n"] and len(found) == 4
    assert found[found.metric == "up"].verdict.tolist() == ["rises at every step"] * 2
    assert (found.repeats == 6).all() and np.isfinite(found.p).all()
