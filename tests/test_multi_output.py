"""The C-output linear network: closed forms (repalign.theory.multi_output_alignment) against
the single-output formula, the SymPy comparison, a Monte Carlo of minimum-norm solutions, and
trained networks (repalign.multi_output).

Tolerances: the Monte Carlo is at finite D, where the proportional limit is off by O(1/D); the
test removes that term by Richardson extrapolation (2 MC(2D) - MC(D)) and allows four standard
errors of the extrapolated mean. Trained networks are compared at D = 600, where the issue's
allowance of 0.03 covers the remaining finite-size bias (measured 0.02-0.03 at N/D = 0.8),
plus three standard errors over the independent draws.
"""

import math

import numpy as np
import pytest
import sympy as sp

from repalign import derivation, theory
from repalign.multi_output import trained_multi_output

ALPHAS = np.array([0.2, 0.5, 0.8, 1.25, 2.0, 5.0])
SNRS = np.array([0.5, 2.0, 8.0])


def test_one_output_is_the_single_output_alignment():
    a, s = np.meshgrid(ALPHAS, SNRS)
    hidden, output = theory.multi_output_alignment(a, s, (1.0,))
    np.testing.assert_allclose(hidden, theory.alignment(a, s), rtol=1e-12)
    np.testing.assert_allclose(output, theory.alignment(a, s), rtol=1e-12)


@pytest.mark.parametrize("outputs", [2, 5])
def test_a_flat_spectrum_gives_the_single_output_alignment_on_both_layers(outputs):
    a, s = np.meshgrid(ALPHAS, SNRS)
    hidden, output = theory.multi_output_alignment(a, s, np.ones(outputs) * 3.0)
    np.testing.assert_allclose(hidden, theory.alignment(a, s), rtol=1e-12)
    np.testing.assert_allclose(output, theory.alignment(a, s), rtol=1e-12)


def test_the_outputs_align_more_than_the_hidden_layer_unless_the_spectrum_is_flat():
    rng = np.random.default_rng(0)
    a, s = np.meshgrid(ALPHAS, SNRS)
    for _ in range(20):
        hidden, output = theory.multi_output_alignment(a, s, rng.uniform(0.1, 3.0, size=rng.integers(2, 6)))
        assert np.all(output > hidden) and np.all(hidden > 0)


def test_limits_threshold_and_no_noise():
    hidden, output = theory.multi_output_alignment([1.0, 0.5, 3.0], [2.0, math.inf, math.inf], (3, 1))
    np.testing.assert_array_equal(hidden, [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(output, [0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="spectrum"):
        theory.multi_output_alignment(0.5, 2.0, (0.0, 0.0))
    with pytest.raises(ValueError, match="spectrum"):
        theory.normalised_spectrum(())


@pytest.mark.parametrize("outputs", [2, 3])
def test_sympy_proves_the_outputs_align_at_least_as_much(outputs):
    gap = derivation.multi_output_gap(outputs)  # raises if the identities do not hold
    a1, a2, v = sp.symbols("a1 a2 v", positive=True)
    assert gap["pair"].free_symbols == {a1, a2, v}
    numerator, denominator = sp.fraction(sp.factor(gap["pair"]))
    # every factor of the pair term is a square, a sum of positive terms or a positive symbol
    assert all(f.is_positive or (f.is_Pow and f.exp % 2 == 0) for f in sp.Mul.make_args(numerator * denominator)
               if not f.is_number)
    with pytest.raises(ValueError, match="outputs"):
        derivation.multi_output_gap(1)


def test_population_cka_of_one_output_is_the_squared_cosine():
    rng = np.random.default_rng(1)
    b1, b2 = rng.standard_normal((2, 30))
    cos2 = (b1 @ b2) ** 2 / (b1 @ b1 * (b2 @ b2))
    assert theory.population_cka(b1[None], b2[None]) == pytest.approx(cos2, rel=1e-12)
    hidden = [theory.balanced_hidden_layer(b[:, None]) for b in (b1, b2)]
    assert theory.population_cka(*hidden) == pytest.approx(cos2, rel=1e-12)


@pytest.mark.parametrize("alpha, snr, spectrum", [(0.3, 1.0, (3, 1, 0.3)), (0.6, 4.0, (2, 1)), (2.0, 1.0, (2, 1)),
                                                  (4.0, 4.0, (3, 1, 0.3))])
def test_closed_form_against_the_monte_carlo_of_minimum_norm_solutions(alpha, snr, spectrum):
    d, draws = 150, 100
    small = theory.monte_carlo_multi_output(round(alpha * d), d, snr, spectrum, draws=draws, seed=1)
    large = theory.monte_carlo_multi_output(round(alpha * 2 * d), 2 * d, snr, spectrum, draws=draws, seed=2)
    extrapolated = 2 * large.mean(axis=0) - small.mean(axis=0)  # removes the O(1/D) term
    se = np.sqrt(4 * large.var(axis=0, ddof=1) / draws + small.var(axis=0, ddof=1) / draws)
    expected = np.array(theory.multi_output_alignment(alpha, snr, spectrum))
    assert np.all(np.abs(extrapolated - expected) <= 4 * se), (extrapolated, expected, se)


@pytest.mark.parametrize("alpha", [0.3, 0.8, 1.25, 4.0])
def test_trained_networks_with_three_outputs_follow_the_closed_form(alpha):
    d, snr, spectrum, draws = 600, 2.0, (3, 1, 0.3), 3
    runs = [trained_multi_output(round(alpha * d), d, snr, spectrum, members=4, seed=s) for s in range(draws)]
    assert all(r.converged == 1.0 for r in runs)
    expected = theory.multi_output_alignment(alpha, snr, spectrum)
    for measured, value in zip(zip(*[(r.hidden, r.output) for r in runs]), expected):
        se = np.std(measured, ddof=1) / np.sqrt(draws)
        assert abs(np.mean(measured) - value) <= 0.03 + 3 * se, (alpha, measured, value)


def test_trained_hidden_and_output_differ_as_the_theory_says():
    res = trained_multi_output(120, 300, 2.0, (3, 1, 0.3), members=3, seed=0)
    assert res.output > res.hidden


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="members"):
        trained_multi_output(10, 20, 2.0, (1, 1), members=1)
    with pytest.raises(ValueError, match="number of outputs"):
        theory.teacher_matrix(2, (1, 1, 1), np.random.default_rng(0))
    with pytest.raises(ValueError, match="draws"):
        theory.monte_carlo_multi_output(10, 20, 2.0, (1, 1), draws=0)
