"""repalign.theory against the SymPy derivation, lambdified, at random points."""

import numpy as np
import sympy as sp

from repalign import derivation, theory

RNG = np.random.default_rng(0)
ALPHAS = np.concatenate([RNG.uniform(0.01, 0.99, 50), RNG.uniform(1.01, 20, 50)])
SNRS = np.exp(RNG.uniform(np.log(0.01), np.log(100), 100))


def on_each_side(expressions):
    functions = {side: sp.lambdify((derivation.alpha, derivation.S), e, "numpy") for side, e in expressions.items()}
    return np.where(ALPHAS < 1, functions["below"](ALPHAS, SNRS), functions["above"](ALPHAS, SNRS))


def test_theory_alignment_is_the_derived_squared_cosine():
    assert np.allclose(theory.alignment(ALPHAS, SNRS), on_each_side(derivation.cosines()) ** 2, rtol=1e-12)


def test_theory_test_error_is_the_derived_one():
    assert np.allclose(theory.test_error(ALPHAS, SNRS), on_each_side(derivation.test_errors()), rtol=1e-12)


def test_the_claims_are_proved_not_sampled():
    assert derivation.snr_derivative().is_positive  # claim 1: dA/dS > 0 for every x = |1 - alpha| > 0
    assert derivation.distance_derivative().is_positive  # claim 2: A grows away from alpha = 1 ...
    assert derivation.limits()["alpha -> 1"] == 0  # ... from 0 at the threshold
    assert derivation.limits()["alpha -> oo"] == 1
