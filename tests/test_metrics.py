"""Tests for repalign.metrics (pairwise definitions, the all-pairs layer and the registry).

Tolerances: 1e-10 (or tighter) where two computations are mathematically equal
and well conditioned in float64; Monte-Carlo checks use bounds derived from the
stated sampling variance, with fixed seeds so the suite is deterministic.
"""

import dataclasses
import warnings

import numpy as np
import pytest

import repalign.metrics as metrics_module
from repalign.metrics import METRICS, Metric, alignment_matrix, cka, mean_alignment, mutual_knn, procrustes
from repalign.metrics import allpairs
from repalign.metrics.allpairs import (_gram_rows, _linear_form, _linear_hsic_matrix_features,
                                       _linear_hsic_matrix_gram)
from repalign.metrics.pairwise import (_centre, _centred_gram, _linear_hsic_features, _median_distance,
                                      _squared_distances)

NAMES = sorted(METRICS)
EXACT = 1e-10


def related_pair(rng, n=60, p=6, q=9, noise=1.0):
    """Two representations sharing a latent signal, widths p and q."""
    z = rng.standard_normal((n, 4))
    x = z @ rng.standard_normal((4, p)) + noise * rng.standard_normal((n, p))
    y = z @ rng.standard_normal((4, q)) + noise * rng.standard_normal((n, q))
    return x, y


def random_orthogonal(rng, p):
    q, r = np.linalg.qr(rng.standard_normal((p, p)))
    return q * np.sign(np.diag(r))


def pairwise(name, reps):
    return np.array([[METRICS[name](a, b) for b in reps] for a in reps])


# ------------------------------------------------------------ reference values
def test_public_reference_values_of_kornblith_demo():
    np.random.seed(1337)  # legacy seeding, as in the published demo
    x = np.random.randn(100, 10)
    y = np.random.randn(100, 10) + x
    assert cka(x, y) == pytest.approx(0.55761, abs=5e-6)
    assert cka(x, y, debiased=True) == pytest.approx(0.51346, abs=5e-6)
    # Reproduced only with the median over all n^2 squared distances, diagonal included.
    assert cka(x, y, kernel="rbf", threshold=0.5) == pytest.approx(0.65483, abs=5e-6)


# ---------------------------------------------------- identity, symmetry, range
@pytest.mark.parametrize("name", NAMES)
def test_identity_gives_one(name):
    x, _ = related_pair(np.random.default_rng(0))
    assert METRICS[name](x, x) == pytest.approx(1.0, abs=EXACT)


@pytest.mark.parametrize("name", NAMES)
def test_symmetric_and_within_declared_range(name):
    x, y = related_pair(np.random.default_rng(1))
    value = METRICS[name](x, y)
    assert value == pytest.approx(METRICS[name](y, x), abs=EXACT)
    lo, hi = METRICS[name].range
    assert lo <= value <= hi
    assert 0.05 < value < 0.99  # a genuinely intermediate case, not a trivial 0 or 1


# ---------------------------------------------------------------- invariances
TRANSFORMS = {
    "orthogonal": lambda rng, y: y @ random_orthogonal(rng, y.shape[1]),
    "isotropic_scale": lambda rng, y: 3.7 * y,
    "translation": lambda rng, y: y + 100.0 * rng.standard_normal(y.shape[1]),
}


@pytest.mark.parametrize("name,invariance",
                         [(n, inv) for n in NAMES for inv in METRICS[n].invariances])
def test_declared_invariances_hold(name, invariance):
    rng = np.random.default_rng(2)
    x, y = related_pair(rng)
    transformed = TRANSFORMS[invariance](rng, y)
    assert METRICS[name](x, transformed) == pytest.approx(METRICS[name](x, y), abs=EXACT)


@pytest.mark.parametrize("name", ["cka", "cka_debiased", "cka_rbf", "procrustes"])
def test_not_invariant_to_general_invertible_map(name):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((80, 8))
    # Invertible, condition number e^4: stretches some directions 7x, shrinks others.
    stretch = random_orthogonal(rng, 8) @ np.diag(np.exp(np.linspace(-2, 2, 8))) @ random_orthogonal(rng, 8)
    assert METRICS[name](x, x @ stretch) < 0.95
    assert METRICS[name](x, x @ random_orthogonal(rng, 8)) == pytest.approx(1.0, abs=EXACT)


def test_procrustes_pads_narrower_representation():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((50, 5))
    wider = np.hstack([x, np.zeros((50, 3))]) @ random_orthogonal(rng, 8)
    assert procrustes(x, 2.0 * wider) == pytest.approx(1.0, abs=EXACT)


# -------------------------------------------------------- Gram vs feature form
@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("n,p,q", [(60, 5, 8), (20, 30, 45)])
def test_gram_form_equals_feature_form(debiased, n, p, q):
    rng = np.random.default_rng(5)
    xc, yc = _centre(rng.standard_normal((n, p))), _centre(rng.standard_normal((n, q)))
    kx = _centred_gram(xc, "linear", debiased, 1.0)
    ky = _centred_gram(yc, "linear", debiased, 1.0)
    for a, b, ka, kb in [(xc, yc, kx, ky), (xc, xc, kx, kx), (yc, yc, ky, ky)]:
        gram = np.vdot(ka, kb)
        assert _linear_hsic_features(a, b, debiased) == pytest.approx(gram, rel=1e-10, abs=1e-10 * abs(np.vdot(ka, ka)))


# ------------------------------------------------------------ alignment_matrix
def ensemble(rng, widths, n=40):
    z = rng.standard_normal((n, 3))
    return [z @ rng.standard_normal((3, w)) + rng.standard_normal((n, w)) for w in widths]


@pytest.mark.parametrize("max_bytes", [None, 1], ids=["auto", "tiny_max_bytes"])
@pytest.mark.parametrize("layout", ["stacked", "list_of_widths"])
@pytest.mark.parametrize("name", NAMES)
def test_alignment_matrix_equals_scalar_metric(name, layout, max_bytes):
    rng = np.random.default_rng(6)
    if layout == "stacked":
        reps = np.stack(ensemble(rng, [7] * 5))
    else:
        reps = ensemble(rng, [3, 12, 7, 60, 5])  # 60 > n: Gram-form branch of scalar cka
    kwargs = {} if max_bytes is None else {"max_bytes": max_bytes}
    matrix = alignment_matrix(reps, name, **kwargs)
    np.testing.assert_allclose(matrix, pairwise(name, list(reps)), rtol=0, atol=EXACT)
    np.testing.assert_array_equal(matrix, matrix.T)
    np.testing.assert_array_equal(np.diag(matrix), 1.0)


def test_alignment_matrix_options_and_registry_defaults_agree():
    reps = ensemble(np.random.default_rng(7), [4, 6, 8])
    np.testing.assert_array_equal(alignment_matrix(reps, "cka", debiased=True),
                                  alignment_matrix(reps, "cka_debiased"))
    np.testing.assert_allclose(alignment_matrix(reps, "mutual_knn", k=5),
                               pairwise_k(reps, 5), atol=EXACT)
    np.testing.assert_allclose(alignment_matrix(reps, "cka_rbf", threshold=0.5, debiased=True),
                               [[cka(a, b, kernel="rbf", threshold=0.5, debiased=True) for b in reps]
                                for a in reps], atol=EXACT)


def pairwise_k(reps, k):
    return np.array([[mutual_knn(a, b, k=k) for b in reps] for a in reps])


def test_alignment_matrix_constant_member_gives_nan_row_and_column():
    reps = ensemble(np.random.default_rng(8), [4, 6, 5])
    reps.insert(1, np.full((40, 3), 0.1))  # 0.1 is not exact in binary: centring leaves dust
    for name in NAMES:
        with pytest.warns(RuntimeWarning, match=r"\[1\]"):
            matrix = alignment_matrix(reps, name)
        assert np.isnan(matrix[1]).all() and np.isnan(matrix[:, 1]).all()
        rest = np.delete(np.delete(matrix, 1, axis=0), 1, axis=1)
        assert np.isfinite(rest).all() and (np.diag(rest) == 1).all()


# ------------------------------------------- all-pairs linear HSIC: two forms
def full_gram_products(centred, debiased):
    grams = [_centred_gram(x, "linear", debiased, 1.0) for x in centred]
    return np.array([[np.vdot(a, b) for b in grams] for a in grams])


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("rows", [1, 7, 13, 40], ids=lambda r: f"rows{r}")
def test_upper_triangle_row_blocks_equal_full_gram_products(debiased, rows):
    # rows=7, 13 do not divide n=40; rows=40 is a single block (no off-diagonal part).
    centred = [_centre(x) for x in ensemble(np.random.default_rng(13), [3, 12, 7, 60])]
    count, n = len(centred), centred[0].shape[0]
    max_bytes = count * rows * n * 8
    assert _gram_rows(n, count, max_bytes) == min(rows, -(-n // metrics_module.GRAM_ROW_BLOCKS))
    full = full_gram_products(centred, debiased)
    scale = np.abs(np.diag(full)).max()
    np.testing.assert_allclose(_linear_hsic_matrix_gram(centred, debiased, max_bytes), full,
                               rtol=0, atol=EXACT * scale)
    np.testing.assert_allclose(_linear_hsic_matrix_features(centred, debiased, max_bytes), full,
                               rtol=0, atol=EXACT * scale)


def test_gram_rows_respect_max_bytes():
    for n, count, max_bytes in [(1000, 32, 2**20), (5000, 32, 512 * 2**20), (100, 3, 10**9)]:
        rows = _gram_rows(n, count, max_bytes)
        assert 1 <= rows <= n and count * rows * n * 8 <= max_bytes
    assert _gram_rows(100, 3, 1) == 1  # never below one row


def test_linear_form_is_chosen_by_operation_count():
    assert _linear_form([20] * 4, 1000, 2**30) == "features"   # total width 80 << n
    assert _linear_form([200] * 32, 1000, 2**30) == "gram"     # total width 6400 >> n
    assert _linear_form([5, 500], 100, 2**30) == "gram"


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("widths", [[4, 6, 8], [30, 45, 60, 50]], ids=["narrow", "wide"])
def test_chosen_form_gives_the_same_matrix_as_either_form(monkeypatch, debiased, widths):
    reps = ensemble(np.random.default_rng(14), widths)
    chosen = alignment_matrix(reps, "cka", debiased=debiased)
    for form in ("gram", "features"):
        monkeypatch.setattr(allpairs, "_linear_form", lambda *args, form=form: form)
        np.testing.assert_allclose(alignment_matrix(reps, "cka", debiased=debiased), chosen,
                                   rtol=0, atol=EXACT)
    np.testing.assert_allclose(chosen, [[cka(a, b, debiased=debiased) for b in reps] for a in reps],
                               rtol=0, atol=EXACT)


# ------------------------------------------------------------ statistical checks
def test_debiased_cka_of_independent_wide_matrices_is_near_zero():
    rng = np.random.default_rng(9)
    draws = 20
    pairs = [(rng.standard_normal((50, 1000)), rng.standard_normal((50, 1000))) for _ in range(draws)]
    debiased = np.array([cka(x, y, debiased=True) for x, y in pairs])
    biased = np.array([cka(x, y) for x, y in pairs])
    stderr = debiased.std(ddof=1) / np.sqrt(draws)
    # Unbiased HSIC has expectation 0 under independence: mean within 4 standard
    # errors (t with 19 dof: P(|t| > 4) < 1e-3).
    assert abs(debiased.mean()) < 4 * stderr
    # Biased CKA for p >> n sits near 1 even though x and y are independent.
    assert biased.mean() > 0.9
    assert biased.min() > debiased.max() + 0.5


def test_mutual_knn_of_identical_inputs_is_one():
    x = np.random.default_rng(10).standard_normal((100, 5))
    assert mutual_knn(x, x, k=7) == 1.0


def test_mutual_knn_of_independent_inputs_is_chance_level():
    rng = np.random.default_rng(11)
    n, k, draws = 200, 10, 20
    values = [mutual_knn(rng.standard_normal((n, 5)), rng.standard_normal((n, 5)), k=k)
              for _ in range(draws)]
    # For independent y, point i's k y-neighbours are a uniform k-subset of the
    # n - 1 others: shared count ~ Hypergeometric(n-1, k, k), mean k^2/(n-1).
    chance = k / (n - 1)
    count_variance = k * chance * (1 - chance) * (n - 1 - k) / (n - 2)
    stderr = np.sqrt(count_variance / k**2 / (n * draws))  # as if the n points were independent
    # Shared neighbour relations correlate points slightly (measured: ~1.1x the sd),
    # so 5 of these standard errors are ~4.5 true ones.
    assert abs(np.mean(values) - chance) < 5 * stderr


# ------------------------------------------------------------ mean_alignment
def test_mean_alignment_is_mean_of_upper_triangle():
    rng = np.random.default_rng(12)
    a = rng.uniform(size=(6, 6))
    a = (a + a.T) / 2
    np.fill_diagonal(a, 1.0)
    mean, stderr = mean_alignment(a)
    assert mean == pytest.approx(a[np.triu_indices(6, 1)].mean(), abs=1e-15)
    assert stderr > 0


def test_mean_alignment_of_two_members_has_nan_stderr():
    mean, stderr = mean_alignment(np.array([[1.0, 0.3], [0.3, 1.0]]))
    assert mean == 0.3 and np.isnan(stderr)


def jackknife_calibration(rng, draw_matrix, repeats=200):
    """(empirical sd of the mean, RMS jackknife stderr, RMS naive stderr) over ensembles."""
    means, jackknife, naive = [], [], []
    for _ in range(repeats):
        matrix = draw_matrix(rng)
        upper = matrix[np.triu_indices(len(matrix), 1)]
        mean, stderr = mean_alignment(matrix)
        means.append(mean)
        jackknife.append(stderr)
        naive.append(upper.std(ddof=1) / np.sqrt(upper.size))
    rms = lambda v: np.sqrt(np.mean(np.square(v)))  # noqa: E731
    return np.std(means, ddof=1), rms(jackknife), rms(naive)


def additive_member_matrix(rng, members=10):
    # A_ij = a_i + a_j + e_ij: member effects make pairs sharing a member correlated.
    a = rng.standard_normal(members)
    e = np.triu(0.5 * rng.standard_normal((members, members)), 1)
    return a[:, None] + a[None, :] + e + e.T


def cka_ensemble_matrix(rng, members=8, n=60):
    # Members see a shared latent through their own map, plus noise of a member-specific level.
    z = rng.standard_normal((n, 4))
    reps = [z @ rng.standard_normal((4, 8)) + np.exp(rng.normal(0, 0.7)) * rng.standard_normal((n, 8))
            for _ in range(members)]
    return alignment_matrix(reps, "cka")


@pytest.mark.parametrize("draw_matrix", [additive_member_matrix, cka_ensemble_matrix])
def test_jackknife_stderr_matches_spread_over_ensembles(draw_matrix):
    empirical, jackknife, naive = jackknife_calibration(np.random.default_rng(13), draw_matrix)
    # With 200 repeats the empirical sd has relative error ~1/sqrt(2*199) = 5% and the
    # RMS jackknife stderr ~2%; the jackknife for a U-statistic is conservative by
    # O(1/K) (pair-specific part).  [0.7, 1.4] allows > 4 combined SEs plus that bias.
    assert 0.7 < jackknife / empirical < 1.4
    # Treating the pairs as independent would be far too optimistic.
    assert naive / empirical < 0.5


# -------------------------------------------------------------- bad input
def test_different_n_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(10, 3\).*\(12, 3\)"):
        cka(np.ones((10, 3)), np.ones((12, 3)))
    with pytest.raises(ValueError, match=r"\(10, 3\).*\(12, 4\)"):
        alignment_matrix([np.ones((10, 3)), np.ones((12, 4))])


@pytest.mark.parametrize("function", [cka, procrustes, mutual_knn])
def test_non_2d_input_names_shape(function):
    with pytest.raises(ValueError, match=r"x must be .*2-D.*\(10,\)"):
        function(np.ones(10), np.ones((10, 2)))
    with pytest.raises(ValueError, match=r"y must be .*2-D.*\(10, 2, 1\)"):
        function(np.ones((10, 2)), np.ones((10, 2, 1)))


def test_alignment_matrix_rejects_wrong_dimensions():
    with pytest.raises(ValueError, match=r"reps must be a 3-D.*\(10, 2\)"):
        alignment_matrix(np.ones((10, 2)))
    with pytest.raises(ValueError, match=r"reps\[1\] must be .*2-D.*\(10,\)"):
        alignment_matrix([np.ones((10, 2)), np.ones(10)])


def test_debiased_needs_four_points():
    x = np.random.default_rng(14).standard_normal((3, 2))
    with pytest.raises(ValueError, match="n >= 4.*n=3"):
        cka(x, x, debiased=True)
    with pytest.raises(ValueError, match="n >= 4.*n=3"):
        alignment_matrix([x, x], "cka_debiased")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name", NAMES)
def test_non_finite_input_rejected(name, bad):
    x = np.random.default_rng(15).standard_normal((20, 3))
    y = x.copy()
    y[4, 1] = bad
    with pytest.raises(ValueError, match="y contains NaN or inf"):
        METRICS[name](x, y)
    with pytest.raises(ValueError, match=r"reps\[1\] contains NaN or inf"):
        alignment_matrix([x, y], name)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("value", [0.0, 0.1, 1e4])
def test_constant_representation_gives_nan_with_warning(name, value):
    x = np.random.default_rng(16).standard_normal((20, 3))
    with pytest.warns(RuntimeWarning, match="constant"):
        assert np.isnan(METRICS[name](np.full((20, 4), value), x))


def test_rbf_with_zero_median_distance_gives_nan_with_warning():
    x = np.zeros((10, 2))
    x[8:] = [[1.0, 2.0], [3.0, -1.0]]  # not constant, but most pairs coincide
    y = np.random.default_rng(17).standard_normal((10, 2))
    with pytest.warns(RuntimeWarning, match="median"):
        assert np.isnan(cka(x, y, kernel="rbf"))


@pytest.mark.parametrize("n", [1, 2, 3, 10, 11, 40])
def test_rbf_bandwidth_median_from_the_upper_triangle_equals_the_full_matrix_median(n):
    # the full matrix holds n diagonal zeros and each entry above the diagonal twice; half the
    # points coincide, so zero distances also occur off the diagonal
    rng = np.random.default_rng(n)
    x = np.maximum(rng.standard_normal((n, 3)), 0.0)
    x[: n // 2] = 0.0
    d = _squared_distances(_centre(x))
    assert np.array_equal(d, d.T)
    assert _median_distance(d) == np.median(d)


def test_unknown_kernel_lists_allowed_values():
    x = np.ones((5, 2))
    with pytest.raises(ValueError, match="kernel must be one of.*linear.*rbf.*'cosine'"):
        cka(x, x, kernel="cosine")


@pytest.mark.parametrize("k", [0, -1, 20, 25, 2.5])
def test_k_out_of_range(k):
    x = np.random.default_rng(18).standard_normal((20, 3))
    with pytest.raises(ValueError, match=r"1 <= k < n \(n=20\)"):
        mutual_knn(x, x, k=k)
    with pytest.raises(ValueError, match=r"1 <= k < n \(n=20\)"):
        alignment_matrix([x, x], "mutual_knn", k=k)


def test_unknown_metric_name_lists_valid_names():
    with pytest.raises(ValueError, match="unknown metric 'cca'.*cka_debiased.*mutual_knn.*procrustes"):
        alignment_matrix([np.ones((5, 2))], "cca")


# ------------------------------------------------------ precision and torch
@pytest.mark.parametrize("name", NAMES)
def test_float32_with_large_offsets_gives_float64_answer(name):
    rng = np.random.default_rng(19)
    x, y = related_pair(rng)
    x32 = (x + 1e4).astype(np.float32)  # float32 resolution at 1e4 is ~1e-3
    y32 = (y - 3e4).astype(np.float32)
    expected = METRICS[name](x32.astype(np.float64), y32.astype(np.float64))
    assert METRICS[name](x32, y32) == pytest.approx(expected, abs=EXACT)
    np.testing.assert_allclose(alignment_matrix([x32, y32], name)[0, 1], expected, atol=EXACT)


@pytest.mark.parametrize("name", NAMES)
def test_torch_tensors_equal_numpy(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(20)
    reps = np.stack(ensemble(rng, [6] * 3))
    x, y = reps[0], reps[1]
    tx = torch.tensor(x, requires_grad=True)
    assert METRICS[name](tx, torch.tensor(y)) == METRICS[name](x, y)
    expected = alignment_matrix(reps, name)
    np.testing.assert_array_equal(alignment_matrix(torch.tensor(reps), name), expected)
    np.testing.assert_array_equal(alignment_matrix([torch.tensor(r) for r in reps], name), expected)
    mean, _ = mean_alignment(torch.tensor(expected))
    assert mean == mean_alignment(expected)[0]


# ---------------------------------------------------------------- registry
def test_registry_entries():
    assert set(METRICS) == {"cka", "cka_debiased", "cka_rbf", "procrustes", "mutual_knn", "information_imbalance"}
    for name, metric in METRICS.items():
        assert isinstance(metric, Metric) and metric.name == name
        assert metric.label and metric.larger_is_more_similar is True
        assert metric.range[0] < metric.range[1]
        assert set(metric.invariances) <= set(TRANSFORMS)
    assert METRICS["cka_debiased"].options == {"debiased": True}
    assert METRICS["cka_debiased"].range == (-1.0, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        METRICS["cka"].label = "x"
    with pytest.raises(TypeError):
        METRICS["cka_rbf"].options["kernel"] = "linear"


def test_registry_call_applies_options():
    x, y = related_pair(np.random.default_rng(21))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert METRICS["cka_debiased"](x, y) == cka(x, y, debiased=True)
        assert METRICS["cka_rbf"](x, y, threshold=0.5) == cka(x, y, kernel="rbf", threshold=0.5)
