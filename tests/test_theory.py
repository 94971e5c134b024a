"""repalign.theory against exact finite-size moments and Monte Carlo of minimum-norm solutions.

Finite-size expectations (the Methods page of the book; inverse-Wishart moments, Gaussian design,
shared clean inputs, ||beta*|| = 1):
    N < D - 1:  E b1.b2 = N/D,   E||b||^2 = N/D + sigma^2 N/(D-N-1),  E||b-beta*||^2 = (1-N/D) + sigma^2 N/(D-N-1)
    N > D + 1:  E b1.b2 = 1,     E||b||^2 = 1 + sigma^2 D/(N-D-1),    E||b-beta*||^2 = sigma^2 D/(N-D-1)
Independent clean inputs, N < D: E b1.b2 = (N/D)^2.
"""

import numpy as np
import pytest

from repalign import theory


def finite_moments(n, d, snr, shared_inputs=True):
    """(E b1.b2, E||b||^2, E||b - beta*||^2) of minimum-norm least squares at finite N, D."""
    noise = 1.0 / snr
    if n < d:
        overlap = n / d if shared_inputs else (n / d) ** 2
        return overlap, n / d + noise * n / (d - n - 1), (1 - n / d) + noise * n / (d - n - 1)
    return 1.0, 1.0 + noise * d / (n - d - 1), noise * d / (n - d - 1)


def monte_carlo_moments(n, d, snr, shared_inputs, draws, rng):
    """Samples of b1.b2, ||b1||^2 and ||b1 - beta*||^2 over X, beta* and the label noise."""
    samples = []
    for _ in range(draws):
        beta = rng.standard_normal(d)
        beta /= np.linalg.norm(beta)
        xs = [rng.standard_normal((n, d))] * 2 if shared_inputs else [rng.standard_normal((n, d)) for _ in range(2)]
        b1, b2 = (np.linalg.pinv(x) @ (x @ beta + rng.standard_normal(n) / np.sqrt(snr)) for x in xs)
        samples.append((b1 @ b2, b1 @ b1, (b1 - beta) @ (b1 - beta)))
    return np.array(samples)


@pytest.mark.parametrize("n, d, snr, shared_inputs", [
    (40, 120, 2.0, True), (90, 120, 4.0, True), (200, 100, 1.0, True), (400, 100, 4.0, True),
    (40, 120, 2.0, False), (90, 120, 4.0, False), (200, 100, 1.0, False),
])
def test_finite_moments_match_monte_carlo(n, d, snr, shared_inputs):
    """The moments the theory rests on, within 4 Monte-Carlo standard errors."""
    samples = monte_carlo_moments(n, d, snr, shared_inputs, draws=400, rng=np.random.default_rng(n + d))
    mean = samples.mean(axis=0)
    stderr = samples.std(axis=0, ddof=1) / np.sqrt(len(samples))
    expected = np.array(finite_moments(n, d, snr, shared_inputs))
    assert np.all(np.abs(mean - expected) < 4 * stderr), (mean, expected, stderr)


@pytest.mark.parametrize("shared_inputs", [True, False])
@pytest.mark.parametrize("alpha", [0.1, 0.5, 0.9, 1.1, 2.0, 8.0])
@pytest.mark.parametrize("snr", [0.5, 4.0])
def test_proportional_limit_is_the_limit_of_the_finite_moments(alpha, snr, shared_inputs):
    """cos^2 from the finite moments converges to the closed form as D grows (error O(1/D))."""
    d = 10**7
    overlap, norm2, error = finite_moments(round(alpha * d), d, snr, shared_inputs)
    assert theory.alignment(alpha, snr, shared_inputs=shared_inputs) == pytest.approx((overlap / norm2) ** 2, abs=1e-5)
    assert theory.test_error(alpha, snr) == pytest.approx(error, rel=1e-5)


def test_alignment_rises_with_snr_and_vanishes_at_the_threshold():
    alphas = np.array([0.05, 0.3, 0.7, 0.99, 1.01, 1.5, 3.0, 20.0])
    snrs = np.geomspace(0.01, 100, 30)
    for shared in (True, False):
        a = theory.alignment(alphas[None, :], snrs[:, None], shared_inputs=shared)
        assert np.all(np.diff(a, axis=0) > 0)
        assert np.all((0 < a) & (a < 1))
    assert theory.alignment(1.0, snrs).max() == 0.0
    assert np.all(np.isinf(theory.test_error(1.0, snrs)))


def test_alignment_depends_on_the_distance_to_the_threshold_only():
    alpha = np.linspace(0.05, 0.95, 19)
    assert np.allclose(theory.alignment(alpha, 3.0), theory.alignment(2 - alpha, 3.0), rtol=0, atol=1e-14)
    # ...while the test errors differ, by (1 - alpha) - 1/S: equal alignment, unequal error (claim 3).
    difference = theory.test_error(alpha, 3.0) - theory.test_error(2 - alpha, 3.0)
    assert np.allclose(difference, (1 - alpha) - 1 / 3.0, rtol=0, atol=1e-12)


def test_independent_inputs_lower_alignment_below_the_threshold_only():
    below, above = np.array([0.2, 0.6]), np.array([1.5, 4.0])
    assert np.all(theory.alignment(below, 2.0, shared_inputs=False) < theory.alignment(below, 2.0))
    assert np.array_equal(theory.alignment(above, 2.0, shared_inputs=False), theory.alignment(above, 2.0))


def test_clean_labels():
    alpha = np.array([0.25, 1.0, 2.0])
    assert np.array_equal(theory.alignment(alpha, np.inf), [1.0, 1.0, 1.0])
    assert np.allclose(theory.alignment(alpha, np.inf, shared_inputs=False), [0.25**2, 1.0, 1.0])
    assert np.array_equal(theory.test_error(alpha, np.inf), [0.75, 0.0, 0.0])


def test_broadcasting():
    assert theory.alignment(np.ones((3, 1)) * 0.5, np.array([1.0, 2.0])).shape == (3, 2)


@pytest.mark.parametrize("alpha, snr, name", [(0.0, 1.0, "alpha"), (-1.0, 1.0, "alpha"), (np.nan, 1.0, "alpha"),
                                              (0.5, 0.0, "snr"), (0.5, -2.0, "snr"), (0.5, np.nan, "snr")])
def test_bad_input_names_the_parameter(alpha, snr, name):
    with pytest.raises(ValueError, match=name):
        theory.alignment(alpha, snr)
    with pytest.raises(ValueError, match=name):
        theory.test_error(alpha, snr)


@pytest.mark.parametrize("n, snr", [(40, 1.0), (80, 1.0), (125, 1.0), (125, 4.0), (200, 1.0)])
def test_finite_size_estimate_matches_monte_carlo(n, snr):
    """Within 4 Monte-Carlo standard errors plus the estimate's measured accuracy in this range
    (0.012 at D = 100, theory.py); where it differs clearly from the proportional limit (by
    more than 8 standard errors, near the threshold), it is the closer of the two."""
    values = theory.monte_carlo_alignment(n, 100, snr, draws=800, seed=n)
    mean, stderr = values.mean(), values.std(ddof=1) / np.sqrt(len(values))
    estimate = theory.alignment(n / 100, snr, d=100)
    assert abs(mean - estimate) < 4 * stderr + 0.012
    limit = theory.alignment(n / 100, snr)
    if abs(estimate - limit) > 8 * stderr:
        assert abs(mean - estimate) < abs(mean - limit) - 4 * stderr


def test_finite_size_estimate_tends_to_the_proportional_limit():
    gaps = [abs(theory.alignment(0.5, 2.0, d=d) - theory.alignment(0.5, 2.0)) for d in (100, 1000, 10000)]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 1e-3


@pytest.mark.parametrize("kwargs, match", [
    ({"alpha": 0.5, "snr": 1.0, "d": 100, "shared_inputs": False}, "shared_inputs"),
    ({"alpha": 0.98, "snr": 1.0, "d": 100}, r"\|N - D\| >= 4"),
    ({"alpha": 0.505, "snr": 1.0, "d": 100}, "whole number"),
    ({"alpha": 0.5, "snr": 1.0, "d": 0}, "d must be"),
])
def test_finite_size_estimate_refuses_what_it_does_not_cover(kwargs, match):
    with pytest.raises(ValueError, match=match):
        theory.alignment(**kwargs)


@pytest.mark.parametrize("n, d, snr", [(40, 120, 2.0), (90, 120, 4.0), (200, 100, 1.0), (400, 100, 4.0),
                                       (30, 100, np.inf), (300, 100, np.inf)])
def test_finite_test_error_is_the_exact_mean(n, d, snr):
    """The same finite-size moments that Monte Carlo checks above."""
    expected = 1 - n / d if (np.isinf(snr) and n < d) else (0.0 if np.isinf(snr) else finite_moments(n, d, snr)[2])
    assert theory.test_error(n / d, snr, d=d) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_finite_test_error_is_infinite_next_to_the_threshold_with_noise():
    assert np.all(np.isinf(theory.test_error(np.array([99, 100, 101]) / 100, 2.0, d=100)))
    assert np.allclose(theory.test_error(np.array([99, 100, 101]) / 100, np.inf, d=100), [0.01, 0.0, 0.0])


@pytest.mark.parametrize("alpha, snr, d", [(0.25, 4.0, 400), (0.5, 2.0, 400), (3.0, 2.0, 150)])
def test_independent_inputs_monte_carlo_approaches_the_proportional_limit(alpha, snr, d):
    """The finite-size gap is O(1/(D alpha |1 - alpha|)); tolerance 4 standard errors + 0.02."""
    values = theory.monte_carlo_alignment(int(alpha * d), d, snr, draws=60, seed=1, shared_inputs=False)
    stderr = values.std(ddof=1) / np.sqrt(len(values))
    assert abs(values.mean() - theory.alignment(alpha, snr, shared_inputs=False)) < 4 * stderr + 0.02


def test_a_ridge_removes_the_spike_at_the_threshold():
    """Exactly at N = D the minimum-norm members align strongly (the finite-size spike); a
    ridge makes them agree less, as the proportional limit's dip says they should."""
    spike = theory.monte_carlo_alignment(100, 100, 2.0, draws=100, seed=2)
    ridged = theory.monte_carlo_alignment(100, 100, 2.0, draws=100, seed=2, ridge=0.1)
    se = np.hypot(spike.std(ddof=1), ridged.std(ddof=1)) / 10
    assert spike.mean() - ridged.mean() > 4 * se


# --- ridge ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shared_inputs", [True, False])
def test_a_vanishing_ridge_gives_the_minimum_norm_formulas(shared_inputs):
    """At ridge 1e-7 the O(ridge) change and the rounding of m - ridge m' (m ~ 1/ridge below the
    threshold) are both far below the tolerances."""
    alpha = np.array([0.1, 0.3, 0.8, 1.25, 3.0, 10.0])[:, None]
    snr = np.array([0.5, 4.0, np.inf])
    assert np.allclose(theory.alignment(alpha, snr, shared_inputs=shared_inputs, ridge=1e-7),
                       theory.alignment(alpha, snr, shared_inputs=shared_inputs), atol=1e-5)
    assert np.allclose(theory.test_error(alpha, snr, ridge=1e-7), theory.test_error(alpha, snr), rtol=1e-5, atol=1e-9)


def ridge_moment_samples(n, d, snr, ridge, draws, rng):
    """Samples of b1.b2 (shared X), ||b1||^2, ||b1 - beta*||^2 and b1.b3 (b3 on its own X)."""
    samples = []
    for _ in range(draws):
        beta = rng.standard_normal(d)
        beta /= np.linalg.norm(beta)
        x, x_other = rng.standard_normal((2, n, d))
        b1, b2 = np.linalg.solve(x.T @ x + n * ridge * np.eye(d),
                                 x.T @ (x @ beta[:, None] + rng.standard_normal((n, 2)) / np.sqrt(snr))).T
        b3 = np.linalg.solve(x_other.T @ x_other + n * ridge * np.eye(d),
                             x_other.T @ (x_other @ beta + rng.standard_normal(n) / np.sqrt(snr)))
        samples.append((b1 @ b2, b1 @ b1, (b1 - beta) @ (b1 - beta), b1 @ b3))
    return np.array(samples)


@pytest.mark.parametrize("alpha, snr, ridge", [(0.5, 2.0, 0.1), (1.0, 2.0, 0.05), (2.0, 1.0, 0.5), (1.0, 4.0, 1.0)])
def test_ridge_moments_match_monte_carlo(alpha, snr, ridge):
    """The four moments behind the ridge formulas (theory.py) at D = 400, solved directly
    (not through the SVD the library uses): within 4 standard errors plus 1/D, the order of
    the finite-size correction to Marchenko-Pastur averages."""
    d = 400
    samples = ridge_moment_samples(round(alpha * d), d, snr, ridge, draws=40, rng=np.random.default_rng(7))
    e, a, c, _ = theory._ridge_moments(np.array(alpha), ridge)
    expected = np.array([a, a + c / (alpha * snr), theory.test_error(alpha, snr, ridge=ridge), e * e])
    stderr = samples.std(axis=0, ddof=1) / np.sqrt(len(samples))
    assert np.all(np.abs(samples.mean(axis=0) - expected) < 4 * stderr + 1 / d), (samples.mean(axis=0), expected)


def test_a_ridge_keeps_alignment_finite_at_the_threshold_and_flattens_the_dip():
    ridges = [1e-3, 1e-2, 1e-1, 1.0]
    at_threshold = [float(theory.alignment(1.0, 2.0, ridge=r)) for r in ridges]
    assert 0 < at_threshold[0] and np.all(np.diff(at_threshold) > 0)
    alpha = np.geomspace(0.1, 10, 200)
    depth = [theory.alignment(alpha, 2.0, ridge=r)[0] - theory.alignment(alpha, 2.0, ridge=r).min() for r in ridges]
    assert np.all(np.diff(depth) < 0)  # the drop from N/D = 0.1 to the minimum shrinks as the ridge grows


@pytest.mark.parametrize("kwargs, match", [({"ridge": -0.1}, "ridge"), ({"ridge": np.inf}, "ridge"),
                                           ({"ridge": True}, "ridge"), ({"ridge": 0.1, "d": 100}, "d=None")])
def test_bad_ridge_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        theory.alignment(0.5, 1.0, **kwargs)
    with pytest.raises(ValueError, match=match):
        theory.test_error(0.5, 1.0, **kwargs)


# --- the evaluator conditional on X -------------------------------------------------------------


@pytest.mark.parametrize("n, ridge", [(30, 0.0), (50, 0.0), (80, 0.0), (50, 0.1)])
def test_conditional_alignment_matches_solving_for_each_noise_draw(n, ridge):
    """For one fixed X and beta*: the SVD evaluator against solving each member directly."""
    rng = np.random.default_rng(n)
    d, snr = 50, 2.0
    x, beta = rng.standard_normal((n, d)), rng.standard_normal(d) / np.sqrt(d)
    fast = theory.conditional_alignment(x, beta, snr, draws=2000, seed=1, ridge=ridge)
    solve = (lambda y: np.linalg.pinv(x) @ y) if ridge == 0 else \
        (lambda y: np.linalg.solve(x.T @ x + n * ridge * np.eye(d), x.T @ y))
    direct = []
    for _ in range(400):
        b1, b2 = solve(x @ beta[:, None] + rng.standard_normal((n, 2)) / np.sqrt(snr)).T
        direct.append((b1 @ b2) ** 2 / ((b1 @ b1) * (b2 @ b2)))
    se = np.hypot(fast.std(ddof=1) / np.sqrt(len(fast)), np.std(direct, ddof=1) / np.sqrt(len(direct)))
    assert abs(fast.mean() - np.mean(direct)) < 4 * se


def test_conditional_alignment_explains_the_spike():
    """At N = D the inputs with the smallest least singular value give the highest alignment."""
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((60, 60, 60))
    beta = np.ones(60) / np.sqrt(60)
    values = [theory.conditional_alignment(x, beta, 2.0, draws=100, seed=i).mean() for i, x in enumerate(xs)]
    smallest = np.linalg.svd(xs, compute_uv=False)[:, -1]
    assert np.corrcoef(np.log(smallest), values)[0, 1] < -0.5


def test_conditional_alignment_refuses_bad_shapes():
    with pytest.raises(ValueError, match="beta"):
        theory.conditional_alignment(np.ones((5, 3)), np.ones(4), 1.0, draws=2)
    with pytest.raises(ValueError, match="snr"):
        theory.conditional_alignment(np.ones((5, 3)), np.ones(3), np.inf, draws=2)


@pytest.mark.parametrize("c", [0.0, 0.3, 0.6, 0.8, 0.95])
def test_information_imbalance_of_correlated_gaussians_matches_the_closed_form(c):
    # Eight independent samples of n = 2000 probes: the formula within three standard errors of
    # their mean, plus (k + 1)/n, the imbalance's own finite-n floor, for the limit it is.
    from repalign.metrics.imbalance import information_imbalance

    rng = np.random.default_rng(int(100 * c))
    n = 2000
    values = []
    for _ in range(8):
        z, u = rng.normal(size=n), rng.normal(size=n)
        values.append(np.mean(information_imbalance(z[:, None], (c * z + np.sqrt(1 - c * c) * u)[:, None])))
    tolerance = 3 * np.std(values, ddof=1) / np.sqrt(len(values)) + 2 / n
    assert abs(np.mean(values) - theory.imbalance_of_correlation(c)) <= tolerance


def test_information_imbalance_limits_and_the_linear_networks_score():
    assert theory.imbalance_of_correlation([0.0, 1.0, -1.0]).tolist() == pytest.approx([1.0, 0.0, 0.0], abs=1e-15)
    assert theory.imbalance_of_correlation(-0.7) == theory.imbalance_of_correlation(0.7)
    with pytest.raises(ValueError, match="correlation"):
        theory.imbalance_of_correlation(1.5)
    alpha = np.array([0.5, 0.8, 1.25, 2.0])
    score = theory.imbalance_alignment(alpha, 2.0)
    assert np.all(np.diff(theory.imbalance_alignment(2.0, [0.5, 1.0, 4.0])) > 0)  # rises with S off the threshold
    assert score == pytest.approx(1 - theory.imbalance_of_correlation(theory.cosine(alpha, 2.0)))
    assert theory.imbalance_alignment(1.0, 2.0) == pytest.approx(0.0, abs=1e-15)  # cos = 0 at N = D


# --- the sign of dA/dS at finite size ---------------------------------------------------------


@pytest.mark.parametrize("n, d, snr", [(14, 16, 1.0), (30, 30, 2.0), (20, 40, 1.0)])
def test_snr_slope_samples_the_minimum_norm_solutions(n, d, snr):
    """snr_slope draws only the singular values of X, V^T beta* and U^T eps; solving with the
    pseudo-inverse (monte_carlo_alignment) gives the same mean, within 4 combined standard errors."""
    reference = theory.monte_carlo_alignment(n, d, snr, draws=1500, seed=n)
    table = theory.snr_slope(n, d, [snr, 2 * snr], draws=1500, seed=1)
    se = np.hypot(reference.std(ddof=1) / np.sqrt(len(reference)), table.mean_se[0, 0])
    assert abs(reference.mean() - table.mean[0, 0]) < 4 * se


def test_snr_slope_steps_are_paired_differences():
    """The same draws at every S: each step is the difference of the means, and between close SNRs
    its standard error is far below that of two independent means; a row does not depend on the
    other rows."""
    table = theory.snr_slope([10, 14], 16, [0.1, 1.0, 10.0, np.inf], draws=200, members=4)
    assert table.mean.shape == (2, 4) and table.step.shape == (2, 3)
    assert np.allclose(table.step, np.diff(table.mean, axis=1), rtol=0, atol=1e-12)
    close = theory.snr_slope([10, 14], 16, [1.0, 1.2], draws=200, members=4)
    assert np.all(close.step_se < 0.2 * np.hypot(close.mean_se[:, 1], close.mean_se[:, 0]))
    assert np.array_equal(table.mean[1], theory.snr_slope(14, 16, [0.1, 1.0, 10.0, np.inf], draws=200,
                                                          members=4).mean[0])
    assert np.all(table.mean[:, -1] == pytest.approx(1.0))  # clean labels: every member recovers P beta*
    assert table.alpha.tolist() == [10 / 16, 14 / 16]


def test_alignment_rises_steeply_with_snr_away_from_the_threshold():
    table = theory.snr_slope([50, 200], 100, [0.1, 1.0, 10.0, 100.0], draws=100, members=6)
    assert np.all(table.sign() == 1)
    assert np.all(table.mean[:, -1] - table.mean[:, 0] > 0.8)


def test_alignment_can_fall_with_snr_near_the_threshold():
    """At N = D = 100 it falls from S = 0.1 to 10; at N = 14, D = 16 from S = 0.1 to 1 before it
    rises; the proportional limit rises at both (and is 0 at N = D). Falls beyond 3 standard errors."""
    at_d = theory.snr_slope(100, 100, [0.1, 1.0, 10.0], draws=100, members=6)
    assert np.all(at_d.step < -3 * at_d.step_se)
    near = theory.snr_slope(14, 16, [0.1, 1.0, 10.0], draws=400, members=6)
    assert near.sign()[0].tolist() == [-1, 1]
    assert np.all(np.diff(theory.alignment(14 / 16, [0.1, 1.0, 10.0])) > 0)


@pytest.mark.parametrize("n", [100, 300])
def test_snr_slope_tends_to_the_proportional_limit(n):
    """At D = 200, N/D = 0.5 and 1.5, the steps agree with those of the proportional limit within
    4 standard errors and the finite-size correction (measured below 5% of the step at this D)."""
    snrs = [0.5, 1.0, 2.0, 4.0]
    table = theory.snr_slope(n, 200, snrs, draws=60, members=4)
    limit = np.diff(theory.alignment(n / 200, snrs))
    assert np.all(np.abs(table.step[0] - limit) < 4 * table.step_se[0] + 0.05 * limit)


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 0}, "^n must"), ({"n": []}, "^n must"), ({"n": [10, 2.5]}, "^n must"), ({"n": True}, "^n must"),
    ({"d": 0}, "^d must"), ({"snrs": [1.0]}, "^snrs must"), ({"snrs": [2.0, 1.0]}, "^snrs must"),
    ({"snrs": [0.0, 1.0]}, "^snrs must"), ({"snrs": [1.0, np.nan]}, "^snrs must"),
    ({"draws": 1}, "^draws must"), ({"members": 1}, "^members must"), ({"seed": -1}, "^seed must"),
])
def test_snr_slope_refusals_name_the_parameter(kwargs, match):
    arguments = {"n": 10, "d": 16, "snrs": [1.0, 2.0], "draws": 10, **kwargs}
    with pytest.raises(ValueError, match=match):
        theory.snr_slope(arguments.pop("n"), arguments.pop("d"), arguments.pop("snrs"), **arguments)
