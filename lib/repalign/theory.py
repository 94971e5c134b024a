r"""Closed-form alignment and test error of the single-hidden-layer linear network.

Setting (the Methods page of the book, and the chapter on the linear network): teacher
``y = beta* . x + eps`` with ``x ~ N(0, I_D)``, ``||beta*||^2 = 1`` and ``eps ~ N(0, sigma^2)``,
so the SNR is ``S = 1 / sigma^2``; ``alpha = N/D``.
Gradient descent from a small initialisation converges to the minimum-norm least-squares
end-to-end vector ``b = X^+ y``, the hidden layer becomes rank one, and the linear CKA of two
members on isotropic probes is ``cos^2`` of the angle between their end-to-end vectors.

In the proportional limit (N, D -> infinity at fixed alpha), label noise:

- shared clean inputs: ``cos = S |1 - alpha| / (1 + S |1 - alpha|)``;
- independent clean inputs: the same for ``alpha > 1``, and
  ``cos = alpha S (1 - alpha) / (1 + S (1 - alpha))`` for ``alpha < 1``;
- excess test error: ``(1 - alpha) + sigma^2 alpha / (1 - alpha)`` below the threshold and
  ``sigma^2 / (alpha - 1)`` above it (Hastie et al. 2019; Advani & Saxe 2017).

At finite size (integer ``d``, shared clean inputs) ``alignment`` uses a second-order
estimate (compared with trained ensembles in the chapter on the linear network), with
``G = (X^T X)^+`` and its inverse-Wishart moments:

    A2 = [m^2 + 2 sigma^2 E beta*^T G beta* + sigma^4 E tr G^2] / (m + sigma^2 E tr G)^2,

``m = min(1, N/D)``. It averages the noise exactly but replaces the remaining ratio of
random quantities by a ratio of expectations. Measured at D = 100 against 2000 Monte-Carlo
draws (S = 1 and 4): within 0.012 for 0.4 <= N/D <= 0.8 and 1.25 <= N/D <= 4, where it
corrects the proportional limit by up to 0.05 near the threshold; below N/D = 0.25 it
overshoots by up to 0.04, more than the proportional limit is off at high SNR.

With a ridge ``lambda > 0`` (the estimator ``b = (X^T X + N lambda I)^{-1} X^T y``, proportional
limit) every quantity is a spectral average over the Marchenko-Pastur law of ``X^T X / N``
(ratio ``gamma = D/N = 1/alpha``), written with its Stieltjes transform ``m = m(-lambda)`` and
its derivative ``m'``: ``e = 1 - lambda m`` (the shrunk projector's mean eigenvalue),
``a = 1 - 2 lambda m + lambda^2 m'`` and ``c = m - lambda m'``. Then ``E b1.b2 = a`` (shared
inputs) or ``e^2`` (independent inputs), ``E||b||^2 = a + sigma^2 gamma c``, and the excess
test error is ``lambda^2 m' + sigma^2 gamma c`` (Hastie et al. 2019, section 5). At
``lambda -> 0`` these reduce to the formulas above.

All functions broadcast over ``alpha`` and ``snr`` and accept ``snr = inf`` (no noise). An
``snr`` below SMALLEST_SNR is refused as numerically zero (see there).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from threadpoolctl import threadpool_limits

from . import validate

# The closed forms run in float64. At small S the alignment is about (S |1 - alpha|)^2, so below
# the square root of the smallest normal number it underflows: to subnormal numbers that have
# lost their digits, and soon to exactly 0 at every N/D, a flat curve on which no claim can be
# checked (for a subnormal S even the noise variance 1/S is inf). Such an S is numerically zero,
# and refused as S = 0 is.
SMALLEST_SNR = math.sqrt(np.finfo(float).tiny)  # about 1.5e-154
_SNR_WHY = "a smaller S is numerically zero: the alignment, of order S^2, underflows"


def _check(alpha: ArrayLike, snr: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    alpha = np.asarray(alpha, dtype=float)
    snr = np.asarray(snr, dtype=float)
    if np.any(~(alpha > 0)) or np.any(~np.isfinite(alpha)):
        raise ValueError("alpha (= N/D) must be finite and positive")
    too_small = ~(snr >= SMALLEST_SNR)  # NaN too
    if too_small.any():
        validate.fail("snr", float(snr[too_small].flat[0]),
                      validate.number_phrase(at_least=SMALLEST_SNR, finite=False, plural=True), why=_SNR_WHY)
    return np.broadcast_arrays(alpha, snr)


def _ratio(x: np.ndarray) -> np.ndarray:
    """``x / (1 + x)``, exact at ``x = inf``."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isinf(x), 1.0, x / (1.0 + x))


def cosine(alpha: ArrayLike, snr: ArrayLike, *, shared_inputs: bool = True, ridge: float = 0.0) -> np.ndarray:
    """Expected cosine between two members' end-to-end vectors, proportional limit.

    Without a ridge, at ``alpha = 1`` with noise it is 0 (the noise part of each member
    diverges); without noise (``snr = inf``) every member recovers ``beta*`` there and it is 1.
    """
    alpha, snr = _check(alpha, snr)
    if _check_ridge(ridge, None) > 0:
        return _ridge_cosine(alpha, snr, ridge, shared_inputs)
    gap = np.abs(1.0 - alpha)
    with np.errstate(invalid="ignore"):
        signal_to_noise_part = np.where(gap == 0, np.where(np.isinf(snr), np.inf, 0.0), snr * gap)
    cos = _ratio(signal_to_noise_part)
    if not shared_inputs:
        # Below the threshold each member sees its own row space: the shared part shrinks by alpha.
        cos = np.where(alpha < 1, alpha * cos, cos)
    return cos


def _check_ridge(ridge: float, d: int | None) -> float:
    if isinstance(ridge, bool) or not isinstance(ridge, (int, float, np.integer, np.floating)) \
            or not (0 <= ridge < np.inf):
        raise ValueError(f"ridge must be a finite number >= 0, got {ridge!r}")
    if ridge > 0 and d is not None:
        raise ValueError("with ridge > 0 only the proportional limit (d=None) is available; "
                         "use monte_carlo_alignment for a finite d")
    return float(ridge)


def _ridge_moments(alpha: np.ndarray, ridge: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(e, a, c, m') of the Marchenko-Pastur law of X^T X / N at ratio gamma = 1/alpha, z = -ridge.

    ``m`` solves ``gamma lambda m^2 + (1 - gamma + lambda) m - 1 = 0`` (its positive root);
    ``m'`` follows by differentiating that equation in z.
    """
    gamma, lam = 1.0 / alpha, ridge
    b = 1.0 - gamma + lam
    root = np.sqrt(b * b + 4.0 * gamma * lam)
    # the positive root, in whichever of its two forms does not cancel (b < 0 below the threshold)
    m = np.where(b > 0, 2.0 / (b + root), (root - b) / (2.0 * gamma * lam))
    dm = (gamma * m * m + m) / (b + 2.0 * gamma * lam * m)
    return 1.0 - lam * m, 1.0 - 2.0 * lam * m + lam * lam * dm, m - lam * dm, dm


def _ridge_cosine(alpha: np.ndarray, snr: np.ndarray, ridge: float, shared_inputs: bool) -> np.ndarray:
    e, a, c, _ = _ridge_moments(alpha, ridge)
    overlap = a if shared_inputs else e * e
    return overlap / (a + c / (alpha * snr))  # sigma^2 gamma c with sigma^2 = 1/S, gamma = 1/alpha


def _inverse_wishart_moments(n: np.ndarray, d: np.ndarray):
    """(E tr G, E tr G^2, E beta*^T G beta*) for G = (X^T X)^+, X (N, D) standard Gaussian."""
    small, large = np.minimum(n, d), np.maximum(n, d)
    gap = large - small
    trace = small / (gap - 1)
    trace_sq = small * (large - 1) / (gap * (gap - 1) * (gap - 3))
    quadratic = np.where(n < d, trace / d, 1.0 / (gap - 1))
    return trace, trace_sq, quadratic


def _finite_alignment(alpha: np.ndarray, snr: np.ndarray, d: int) -> np.ndarray:
    n = np.rint(alpha * d)
    if np.any(np.abs(alpha * d - n) > 1e-9 * d):
        raise ValueError(f"alpha * d must be a whole number of samples (d={d})")
    if np.any(np.abs(n - d) < 4):
        raise ValueError("the finite-size estimate needs |N - D| >= 4 (inverse-Wishart moments)")
    trace, trace_sq, quadratic = _inverse_wishart_moments(n, float(d))
    noise = 1.0 / snr
    m = np.minimum(1.0, n / d)
    return (m**2 + 2 * noise * quadratic + noise**2 * trace_sq) / (m + noise * trace) ** 2


def alignment(alpha: ArrayLike, snr: ArrayLike, *, shared_inputs: bool = True,
              d: int | None = None, ridge: float = 0.0) -> np.ndarray:
    """Linear CKA between two members' hidden layers, ``A = cos^2``.

    Parameters
    ----------
    alpha : array_like
        Sample ratio ``N/D`` (positive).
    snr : array_like
        ``S = ||beta*||^2 / sigma^2`` of the label noise; ``inf`` for clean labels.
    shared_inputs : bool
        Whether all members share the same clean inputs (True) or draw their own.
    d : int or None
        None: the proportional limit. An integer D: the finite-size second-order estimate
        (shared inputs only; N = alpha D must be a whole number with |N - D| >= 4).
    ridge : float
        ``lambda >= 0`` of the estimator ``(X^T X + N lambda I)^{-1} X^T y``; 0 is the
        minimum-norm solution that gradient descent reaches. A positive ridge needs ``d=None``.
    """
    _check_ridge(ridge, d)
    if d is None:
        return cosine(alpha, snr, shared_inputs=shared_inputs, ridge=ridge) ** 2
    if not shared_inputs:
        raise ValueError("the finite-size estimate (d=...) is derived for shared_inputs=True only")
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"d must be None or an integer >= 1, got {d!r}")
    return _finite_alignment(*_check(alpha, snr), int(d))


def test_error(alpha: ArrayLike, snr: ArrayLike, *, d: int | None = None, ridge: float = 0.0) -> np.ndarray:
    """Excess test MSE ``E||b - beta*||^2`` of the minimum-norm (or ridge) solution.

    ``d=None``: the proportional limit, which diverges at ``alpha = 1`` for any finite SNR (the
    double-descent peak). An integer ``d``: the exact mean for Gaussian design at N = alpha d
    (Breiman & Freedman; Belkin, Hsu & Xu 2020), ``(1 - N/D) + sigma^2 N/(D-N-1)`` for
    N <= D - 2 and ``sigma^2 D/(N-D-1)`` for N >= D + 2; with noise it is infinite for
    |N - D| <= 1, where the inverse-Wishart mean does not exist. ``ridge > 0`` (proportional
    limit only): bias ``lambda^2 m'`` plus variance ``sigma^2 c / alpha``, finite everywhere.
    """
    alpha, snr = _check(alpha, snr)
    noise_var = 1.0 / snr
    if _check_ridge(ridge, d) > 0:
        _, _, c, dm = _ridge_moments(alpha, ridge)
        return ridge * ridge * dm + noise_var * c / alpha
    if d is None:
        n, dim, gap = alpha, 1.0, 0.0  # the limit: alpha/(1 - alpha) and 1/(alpha - 1)
    else:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
            raise ValueError(f"d must be None or an integer >= 1, got {d!r}")
        n, dim, gap = np.rint(alpha * d), float(d), 1.0
        if np.any(np.abs(alpha * d - n) > 1e-9 * d):
            raise ValueError(f"alpha * d must be a whole number of samples (d={d})")
    with np.errstate(divide="ignore", invalid="ignore"):
        below = (1.0 - n / dim) + np.where(noise_var == 0, 0.0, noise_var * n / (dim - n - gap))
        above = np.where(noise_var == 0, 0.0, noise_var * dim / (n - dim - gap))
    undefined = np.abs(n - dim) <= gap  # alpha = 1 in the limit; |N - D| <= 1 at finite size
    at_threshold = np.where(noise_var == 0, np.where(n < dim, 1.0 - n / dim, 0.0), np.inf)
    return np.where(undefined, at_threshold, np.where(n < dim, below, above))


test_error.__test__ = False  # a theory function, not a pytest test


def _single_threaded(function):
    """Run with one BLAS thread: the Monte Carlo works on small matrices, where threads only
    wait on each other (and, after torch has run, on its OpenMP threads: several times slower
    on two cores)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with threadpool_limits(1):
            return function(*args, **kwargs)

    return wrapper


@_single_threaded
def monte_carlo_alignment(n: int, d: int, snr: float, *, draws: int, seed: int = 0,
                          shared_inputs: bool = True, ridge: float = 0.0) -> np.ndarray:
    """``cos^2`` between two members' solutions, one value per draw.

    Each draw takes a fresh teacher ``beta*`` (unit norm), clean inputs X (n, d), shared by the
    two members or drawn for each, and two independent label-noise vectors of variance
    ``1/snr``. The solution is the minimum-norm least-squares one (``ridge = 0``, the limit of
    gradient descent from a small initialisation) or ``(X^T X + n ridge I)^{-1} X^T y``. No
    formula is involved, so this is the reference where the closed forms stop being accurate
    (at and near N = D).
    """
    if not (n >= 1 and d >= 1 and draws >= 1 and snr > 0):
        raise ValueError(f"need n, d, draws >= 1 and snr > 0; got n={n}, d={d}, draws={draws}, snr={snr}")
    _check_ridge(ridge, None)
    rng = np.random.default_rng(seed)
    values = np.empty(draws)
    for i in range(draws):
        beta = rng.standard_normal(d)
        beta /= np.linalg.norm(beta)
        xs = [rng.standard_normal((n, d))] if shared_inputs else [rng.standard_normal((n, d)) for _ in range(2)]
        # one solve per distinct X, for the columns (members) that use it
        targets = [x @ beta[:, None] + rng.standard_normal((n, 3 - len(xs))) / np.sqrt(snr) for x in xs]
        b1, b2 = np.hstack([_ridge_solution(x, y, ridge) for x, y in zip(xs, targets)]).T
        values[i] = (b1 @ b2) ** 2 / ((b1 @ b1) * (b2 @ b2))
    return values


def _svd_gain(x: np.ndarray, ridge: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``X = U diag(s) V^T`` and the gain ``g`` with ``b = V diag(g) U^T y``.

    ``g = s / (s^2 + n ridge)``; for ``ridge = 0`` it is ``1/s`` on the singular values that
    numpy.linalg.pinv keeps and 0 on the others, so the solution is ``X^+ y``.
    """
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    kept = s > s.max() * max(x.shape) * np.finfo(float).eps  # numpy.linalg.pinv's cut-off
    with np.errstate(divide="ignore"):
        gain = np.where(kept, s / (s * s + x.shape[0] * ridge), 0.0)
    return u, s, vt, gain


def _ridge_solution(x: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """``(X^T X + n ridge I)^{-1} X^T y``, or ``X^+ y`` at ``ridge = 0``; ``y`` (n, m) -> (d, m)."""
    u, _, vt, gain = _svd_gain(x, ridge)
    return vt.T @ (gain[:, None] * (u.T @ y))


@_single_threaded
def conditional_alignment(x: np.ndarray, beta: np.ndarray, snr: float, *, draws: int, seed: int = 0,
                          ridge: float = 0.0) -> np.ndarray:
    """``cos^2`` between two members that share the clean inputs ``x`` (n, d) and teacher ``beta``.

    One value per draw of the two members' label noise; X and beta* are held fixed, so the mean
    is the alignment exact conditional on X, up to Monte-Carlo error over the noise only. With
    ``X = U diag(s) V^T`` the solution is ``b = V diag(g) U^T y``, ``g = s / (s^2 + n ridge)``
    (``1/s`` for the minimum-norm one), and ``U^T eps`` is exactly ``N(0, sigma^2 I)``: each draw
    costs O(min(n, d)) once the SVD is done.
    """
    x, beta = np.asarray(x, dtype=float), np.asarray(beta, dtype=float)
    if x.ndim != 2 or beta.shape != (x.shape[1],):
        raise ValueError(f"x must be (n, d) and beta (d,); got {x.shape} and {beta.shape}")
    if not (draws >= 1 and snr > 0 and np.isfinite(snr)):
        raise ValueError(f"need draws >= 1 and a finite snr > 0; got draws={draws}, snr={snr}")
    _check_ridge(ridge, None)
    _, s, vt, gain = _svd_gain(x, ridge)
    noise = np.random.default_rng(seed).standard_normal((2, draws, len(s))) / np.sqrt(snr)
    b1, b2 = gain * (s * (vt @ beta) + noise)  # both members' b, in the basis V
    return np.einsum("ij,ij->i", b1, b2) ** 2 / (np.einsum("ij,ij->i", b1, b1) * np.einsum("ij,ij->i", b2, b2))


# --- the sign of dA/dS at finite size ------------------------------------------------------------
#
# In the proportional limit dA/dS > 0 at every N != D (repalign.derivation). At finite D it need
# not be: with shared clean inputs the members' noise parts X^+ eps_k share the directions of X's
# small singular values, so the noise alone aligns them (the spike at N = D), and a weak signal
# first dilutes that alignment before it builds its own: to first order in the signal both norms
# grow while the squared overlap does not (its noise part has either sign). The
# second-order estimate (``alignment(..., d=...)``) has one crossover, A falling for
# S < S* = (E tr G^2 m - q E tr G) / (m (m E tr G - q)) with q = E beta*^T G beta*, but it is a
# ratio of expectations and has no moments within 3 of N = D, where S* is largest; so the sign is
# measured by Monte Carlo instead, with the same draws at every S (common random numbers), which
# makes the differences between neighbouring S far more precise than the alignments themselves.


@dataclass(frozen=True, eq=False)
class SlopeTable:
    """Monte-Carlo alignment of minimum-norm members on shared clean inputs, over N and S.

    Rows are the sample sizes ``n``, columns the SNRs ``snrs`` (increasing). ``mean`` and
    ``mean_se``: the alignment A (mean pairwise ``cos^2`` of the ensemble's end-to-end vectors,
    the hidden layers' linear CKA) and its standard error over draws. ``step`` and ``step_se``
    (one column fewer): ``A(S_{i+1}) - A(S_i)``, averaged over the same draws at both SNRs, and
    the standard error of that paired difference.
    """

    n: tuple[int, ...]
    d: int
    snrs: tuple[float, ...]
    draws: int
    members: int
    mean: np.ndarray
    mean_se: np.ndarray
    step: np.ndarray
    step_se: np.ndarray

    @property
    def alpha(self) -> np.ndarray:
        """N/D of each row."""
        return np.asarray(self.n, dtype=float) / self.d

    def sign(self, z: float = 3.0) -> np.ndarray:
        """Per step: +1 where A rises by more than ``z`` standard errors, -1 where it falls by
        more, 0 where the Monte Carlo cannot tell."""
        return np.where(self.step > z * self.step_se, 1, np.where(self.step < -z * self.step_se, -1, 0))


def _slope_chunk(rng: np.random.Generator, n: int, d: int, draws: int, members: int, coefficients: np.ndarray
                 ) -> np.ndarray:
    """(draws, S): the mean pairwise ``cos^2`` of ``members`` minimum-norm members per draw.

    With ``X = U diag(s) V^T`` the solution is ``b_k = V (V^T beta* + diag(1/s) U^T eps_k)`` on the
    singular values that pinv keeps. For Gaussian X, V is uniformly distributed and independent
    of s, so ``V^T beta*`` is distributed as the first r = min(N, D) coordinates of a uniform unit
    vector, and ``U^T eps_k`` is exactly ``N(0, sigma^2 I_r)``: only the singular values of X
    need a decomposition. Every S reuses the same draw, scaled by ``coefficients`` (see caller).
    """
    r = min(n, d)
    s = np.linalg.svd(rng.standard_normal((draws, n, d)), compute_uv=False)  # (draws, r), decreasing
    kept = s > s[:, :1] * max(n, d) * np.finfo(float).eps  # numpy.linalg.pinv's cut-off
    direction = rng.standard_normal((draws, d))
    signal = np.where(kept, direction[:, :r] / np.linalg.norm(direction, axis=1, keepdims=True), 0.0)
    with np.errstate(divide="ignore"):
        noise = np.where(kept[:, None, :], rng.standard_normal((draws, members, r)) / s[:, None, :], 0.0)
    aa = np.einsum("ir,ir->i", signal, signal)
    aw = np.einsum("ir,ikr->ik", signal, noise)
    ww = np.einsum("ikr,ilr->ikl", noise, noise)
    c_aa, c_aw, c_ww = coefficients  # each (S,)
    dots = (c_aa[None, :, None, None] * aa[:, None, None, None]
            + c_aw[None, :, None, None] * (aw[:, None, :, None] + aw[:, None, None, :])
            + c_ww[None, :, None, None] * ww[:, None, :, :])  # (draws, S, K, K): b_k . b_l, scaled
    norms = np.diagonal(dots, axis1=2, axis2=3)  # (draws, S, K)
    upper = np.triu_indices(members, 1)
    cos2 = dots[..., upper[0], upper[1]] ** 2 / (norms[..., upper[0]] * norms[..., upper[1]])
    return cos2.mean(axis=-1)


@_single_threaded
def snr_slope(n, d: int, snrs, *, draws: int, members: int = 2, seed: int = 0) -> SlopeTable:
    """How the alignment of the linear network changes between neighbouring SNRs at finite size.

    Minimum-norm members (the limit of gradient descent from a small initialisation) on shared
    clean inputs X (N, D), a fresh unit teacher and inputs per draw, each member its own label
    noise of variance 1/S: the model of :func:`monte_carlo_alignment`, with ``members`` members
    per draw (their mean pairwise alignment has the same expectation as one pair's, with less
    spread). Each draw is reused at every S, so the steps ``A(S_{i+1}) - A(S_i)`` are paired
    differences. The sign of ``dA/dS`` on each interval is ``SlopeTable.sign``.

    Parameters
    ----------
    n : int or sequence of int
        Sample sizes N >= 1 (the rows).
    d : int
        Input dimension D >= 1.
    snrs : sequence of float
        At least two SNRs, strictly increasing, each at least ``validate.SNR_MIN``; ``inf`` (clean
        labels) allowed.
    draws : int
        Draws of teacher, inputs and noise per N (>= 2, for a standard error).
    members : int
        Members per draw (>= 2).
    seed : int
        The draws of sample size N come from ``default_rng([seed, N])``: the same N gives the
        same draws whatever the other rows are.

    Cost: one singular-value decomposition of an (N, D) Gaussian matrix per draw and N, about
    0.7 ms at N = D = 100 on one core; the S grid and the members add little.
    """
    ns = (n,) if validate.is_integer(n) else n
    if isinstance(ns, np.ndarray):
        ns = tuple(ns.tolist())
    if not isinstance(ns, (list, tuple)) or not ns or not all(validate.is_integer(v) and v >= 1 for v in ns):
        validate.fail("n", n, "an integer >= 1 or a non-empty sequence of them")
    ns = tuple(int(v) for v in ns)
    d = validate.integer("d", d, minimum=1)
    if isinstance(snrs, np.ndarray):
        snrs = tuple(snrs.tolist())
    snrs = validate.snrs("snrs", snrs, count=2, distinct=True)
    if any(b <= a for a, b in zip(snrs, snrs[1:])):
        validate.fail("snrs", snrs, "strictly increasing")
    draws = validate.integer("draws", draws, minimum=2, why="a standard error needs two draws")
    members = validate.integer("members", members, minimum=2, why="alignment is between two members")
    seed = validate.integer("seed", seed, minimum=0)

    s = np.asarray(snrs)
    # b_k . b_l = |a|^2 + (a.w_k + a.w_l)/sqrt(S) + w_k.w_l/S, scaled by min(S, 1) so that neither a
    # tiny nor an infinite S overflows (cos^2 is unchanged by the scale).
    with np.errstate(divide="ignore", invalid="ignore"):
        coefficients = np.where(s >= 1, [np.ones_like(s), 1 / np.sqrt(s), 1 / s], [s, np.sqrt(s), np.ones_like(s)])
    mean, mean_se, step, step_se = (np.empty((len(ns), len(snrs) - k)) for k in (0, 0, 1, 1))
    for row, n_i in enumerate(ns):
        rng = np.random.default_rng([seed, n_i])
        chunk = max(1, 2_000_000 // (n_i * d))  # Gaussian matrices of at most 16 MB at a time
        values = np.concatenate([_slope_chunk(rng, n_i, d, min(chunk, draws - start), members, coefficients)
                                 for start in range(0, draws, chunk)])
        steps = np.diff(values, axis=1)
        mean[row], mean_se[row] = values.mean(axis=0), values.std(axis=0, ddof=1) / np.sqrt(draws)
        step[row], step_se[row] = steps.mean(axis=0), steps.std(axis=0, ddof=1) / np.sqrt(draws)
    return SlopeTable(n=ns, d=d, snrs=snrs, draws=draws, members=members, mean=mean, mean_se=mean_se,
                      step=step, step_se=step_se)


# --- the information imbalance of rank-one hidden layers --------------------------------------

def imbalance_of_correlation(c: ArrayLike) -> np.ndarray:
    """Information imbalance between two one-dimensional Gaussian representations with
    correlation ``c``, in the limit of many probes (the same in both directions):

        Delta(c) = (2/pi) [arctan(a) + arctan(3a)],  a = sqrt((1 - c^2) / (3 + c^2)).

    Write z' = c z + s u with s^2 = 1 - c^2 and u independent of z. As the number of probes
    grows, the nearest neighbour j of a probe i in z has z_j -> z_i, so d = z'_j - z'_i = s (u_j -
    u_i), and j's rank among i's distances in z' is n P(|Z' - z'_i| < |d|) with Z' ~ N(0, 1):
    Delta = 2 E[Phi(z'_i + |d|) - Phi(z'_i - |d|)]. Given d, z'_i is normal with mean -d/2 and
    variance 1 - s^2/2, and E[Phi(m + t)] = Phi((mu + t) / tau) with tau^2 = 2 - s^2/2; the two
    signs of d average to Phi(x) + Phi(3x) - 1 with x = |d| / (2 tau), and E[Phi(a |G|)] =
    1/2 + arctan(a)/pi for a standard normal G gives the formula, with a = s / sqrt(4 - s^2).
    Delta is 1 at c = 0, 0 at |c| = 1, and depends on |c| only (a sign flip keeps every distance).
    """
    c = np.asarray(c, dtype=float)
    if np.any(~(np.abs(c) <= 1)):
        raise ValueError("c must be a correlation, |c| <= 1")
    a = np.sqrt((1.0 - c**2) / (3.0 + c**2))
    return 2.0 / np.pi * (np.arctan(a) + np.arctan(3.0 * a))


def imbalance_alignment(alpha: ArrayLike, snr: ArrayLike, *, shared_inputs: bool = True,
                        ridge: float = 0.0) -> np.ndarray:
    """The information-imbalance alignment score of two members (``repalign.metrics``, many
    probes: 1 - Delta) in the proportional limit: their rank-one hidden layers are the
    one-dimensional projections b_k . x of isotropic probes, correlated by :func:`cosine`."""
    return 1.0 - imbalance_of_correlation(cosine(alpha, snr, shared_inputs=shared_inputs, ridge=ridge))


# --- beyond rank one: C outputs ---------------------------------------------------------------
#
# Teacher ``Y = X B*`` with ``B*`` (D x C) of singular values ``s_i``, normalised so that the mean
# signal variance per output is 1 (``sum s_i^2 = C``), label noise of variance ``1/S`` on every
# output of every member, shared clean inputs. Gradient descent from a small initialisation
# reaches the minimum-norm end-to-end map ``B_k = X^+ Y_k`` with a balanced factorisation,
# ``W1^T W1 = (B_k B_k^T)^{1/2}``. On isotropic probes the linear CKA of two linear maps
# ``x -> Z_a x`` and ``x -> Z_b x`` is ``||Z_a Z_b^T||_F^2 / (||Z_a Z_a^T||_F ||Z_b Z_b^T||_F)``
# (``population_cka``): for the hidden layers ``tr(M_1 M_2) / (||B_1||_F ||B_2||_F)`` with
# ``M_k = (B_k B_k^T)^{1/2}``, for the outputs ``||B_1^T B_2||_F^2 / (||B_1^T B_1||_F ||B_2^T B_2||_F)``.
#
# Proportional limit (C fixed): ``B_1^T B_2 -> m T`` and ``B_k^T B_k -> m T + v I`` with
# ``T = B*^T B*``, ``m = min(alpha, 1)`` and ``v = sigma^2 tr (X^T X)^+``, i.e. ``alpha / (S (1 - alpha))``
# below the threshold and ``1 / (S (alpha - 1))`` above it. In the eigenbasis of T, with
# ``a_i = m s_i^2`` (signal) and ``d_i = a_i + v`` (signal plus noise variance per direction):
#
#     hidden = sum a_i^2 / d_i / sum d_i,        output = sum a_i^2 / sum d_i^2.
#
# Both equal the single-output ``alignment`` when C = 1 or the spectrum is flat, and
# ``output >= hidden`` always (``repalign.derivation.multi_output_gap``).


def normalised_spectrum(spectrum: ArrayLike) -> np.ndarray:
    """The teacher's squared singular values ``s_i^2``, scaled to sum to C (mean signal 1 per output)."""
    s = np.asarray(spectrum, dtype=float).reshape(-1)
    if s.size < 1 or np.any(~np.isfinite(s)) or np.any(s < 0) or not np.any(s > 0):
        raise ValueError(f"spectrum must hold C >= 1 finite singular values >= 0, not all 0; got {spectrum!r}")
    return s**2 * s.size / np.sum(s**2)


def geometric_spectrum(outputs: int, spread: float) -> np.ndarray:
    """C = ``outputs`` singular values from ``spread`` down to 1, evenly spaced in log (1: flat)."""
    if not (isinstance(outputs, (int, np.integer)) and outputs >= 1) or not spread >= 1:
        raise ValueError(f"need an integer outputs >= 1 and spread >= 1, got {outputs!r} and {spread!r}")
    return float(spread) ** np.linspace(1.0, 0.0, int(outputs)) if outputs > 1 else np.ones(1)


def multi_output_alignment(alpha: ArrayLike, snr: ArrayLike, spectrum: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(hidden-layer, output) linear CKA of two members of the C-output linear network,
    proportional limit, shared clean inputs (see above). Broadcasts over ``alpha`` and ``snr``;
    at ``alpha = 1`` with noise both are 0; with ``snr = inf`` both are 1."""
    alpha, snr = _check(alpha, snr)
    s2 = normalised_spectrum(spectrum)
    below = alpha < 1
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.where(below, alpha / (1.0 - alpha), 1.0 / (alpha - 1.0))  # tr (X^T X)^+ in the limit
        v = np.where(np.isinf(snr), 0.0, spread / snr)[..., None]
        a = np.minimum(alpha, 1.0)[..., None] * s2
        d = a + v
        hidden = np.sum(a**2 / d, axis=-1) / np.sum(d, axis=-1)
        output = np.sum(a**2, axis=-1) / np.sum(d**2, axis=-1)
    at_threshold = np.isinf(v[..., 0])
    return np.where(at_threshold, 0.0, hidden), np.where(at_threshold, 0.0, output)


def population_cka(z_a: np.ndarray, z_b: np.ndarray) -> float:
    """Linear CKA of the representations ``x -> z_a x`` and ``x -> z_b x`` (rows are features)
    on isotropic Gaussian probes, in the limit of many probes: no probe noise."""
    z_a, z_b = np.asarray(z_a, dtype=float), np.asarray(z_b, dtype=float)
    return float(np.sum((z_a @ z_b.T) ** 2) / (np.linalg.norm(z_a @ z_a.T) * np.linalg.norm(z_b @ z_b.T)))


def balanced_hidden_layer(b: np.ndarray) -> np.ndarray:
    """The hidden layer (rank C, up to a rotation the CKA ignores) of a balanced two-layer linear
    network with end-to-end map ``b`` (D x C): ``W1 = Sigma^{1/2} U^T`` from ``b = U Sigma V^T``."""
    u, sigma, _ = np.linalg.svd(np.asarray(b, dtype=float), full_matrices=False)
    return np.sqrt(sigma)[:, None] * u.T


def teacher_matrix(d: int, spectrum: ArrayLike, rng: np.random.Generator) -> np.ndarray:
    """``B*`` (d x C) with random singular vectors and the normalised singular values of ``spectrum``."""
    s = np.sqrt(normalised_spectrum(spectrum))
    c = s.size
    if d < c:
        raise ValueError(f"d must be at least the number of outputs C = {c}, got {d}")
    u, _ = np.linalg.qr(rng.standard_normal((d, c)))
    v, _ = np.linalg.qr(rng.standard_normal((c, c)))
    return (u * s) @ v.T


@_single_threaded
def monte_carlo_multi_output(n: int, d: int, snr: float, spectrum: ArrayLike, *, draws: int,
                             seed: int = 0) -> np.ndarray:
    """(draws, 2): the hidden-layer and output CKA of two balanced minimum-norm members per draw
    (a fresh teacher, shared clean inputs X (n, d), two independent label-noise matrices)."""
    if not (n >= 1 and d >= 1 and draws >= 1 and snr > 0):
        raise ValueError(f"need n, d, draws >= 1 and snr > 0; got n={n}, d={d}, draws={draws}, snr={snr}")
    rng = np.random.default_rng(seed)
    values = np.empty((draws, 2))
    for i in range(draws):
        teacher = teacher_matrix(d, spectrum, rng)
        x = rng.standard_normal((n, d))
        noise = rng.standard_normal((2, n, teacher.shape[1])) / np.sqrt(snr)
        b1, b2 = (np.linalg.pinv(x) @ (x @ teacher + e) for e in noise)
        values[i] = (population_cka(balanced_hidden_layer(b1), balanced_hidden_layer(b2)),
                     population_cka(b1.T, b2.T))
    return values
