"""Alignment between two representations of the same inputs: CKA, Procrustes, mutual k-NN.

A representation is an ``(n, p)`` matrix: ``n`` inputs (rows) seen through ``p`` features;
two representations of the same inputs may have different widths. Inputs may be numpy
arrays or torch tensors; everything is computed in float64, converted *before* centring.
A degenerate input (a representation constant to round-off, see ``_is_constant``, or a zero
denominator) gives NaN with a ``RuntimeWarning``, never a silent number; no epsilon is added
anywhere. The definitions and references are in the docstring of ``repalign.metrics`` and on
the book's Methods page.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np
from scipy.linalg import svdvals

from .. import validate

KERNELS = ("linear", "rbf")


# ----------------------------------------------------------------- validation
def _to_float64(x: Any) -> np.ndarray:
    """numpy array or torch tensor (without importing torch) -> float64 ndarray."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def _as_float64_2d(x: Any, name: str) -> np.ndarray:
    """Convert an array or tensor to a finite float64 (n, p) array."""
    x = _to_float64(x)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (n, p); got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf")
    return x


def _validated_pair(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = _as_float64_2d(x, "x"), _as_float64_2d(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ValueError("x and y must have the same number of rows (inputs); "
                         f"got shapes {x.shape} and {y.shape}")
    return x, y



def _check_kernel(kernel: str, threshold: float) -> None:
    validate.choice("kernel", kernel, KERNELS)
    validate.number("threshold", threshold, greater_than=0)


def _check_debiased_n(n: int) -> None:
    if n < 4:
        raise ValueError(f"debiased CKA needs n >= 4 inputs; got n={n}")


def _check_k(k: int, n: int) -> None:
    if int(k) != k or not 1 <= k < n:
        raise ValueError(f"k must be an integer with 1 <= k < n (n={n}); got k={k!r}")


def _is_constant(x: np.ndarray) -> bool:
    """All rows identical to round-off: in every column, the centred values within the worst-case
    rounding error of the column's mean, n eps max|x| (a sum of n terms; numpy sums down a column
    one row at a time). Centred, such a column holds nothing but rounding (an exactly constant one
    leaves dust, ``1 + 1e-16 z`` little more), so every metric of it would be a number made of
    rounding errors. Exact for identical rows, whose spread is 0."""
    spread = np.max(np.abs(x - x.mean(axis=0)), axis=0)
    return bool(np.all(spread <= x.shape[0] * np.finfo(np.float64).eps * np.max(np.abs(x), axis=0)))


def _nan_with_warning(reason: str) -> float:
    warnings.warn(f"{reason}; returning NaN", RuntimeWarning, stacklevel=3)
    return float("nan")


def _centre(x: np.ndarray) -> np.ndarray:
    return x - x.mean(axis=0)



# ---------------------------------------------------------------- Gram matrices
def _squared_distances(xc: np.ndarray) -> np.ndarray:
    """D_ij = |x_i - x_j|^2, with exact zeros on the diagonal (in place where it can: these
    n x n matrices are the metrics' largest cost)."""
    sq_norms = np.einsum("ij,ij->i", xc, xc)
    d = sq_norms[:, None] + sq_norms[None, :]
    gram = xc @ xc.T  # exactly symmetric: numpy takes x x^T as one symmetric product
    gram *= 2.0
    d -= gram
    np.maximum(d, 0.0, out=d)  # rounding can make tiny negatives
    np.fill_diagonal(d, 0.0)
    return d


@functools.lru_cache(maxsize=4)
def _upper_triangle(n: int) -> np.ndarray:
    """Flat indices of the entries above the diagonal of an n x n matrix."""
    return np.ravel_multi_index(np.triu_indices(n, 1), (n, n))


def _median_distance(d: np.ndarray) -> float:
    """``np.median(d)`` of a symmetric distance matrix (zero diagonal, entries >= 0), from its
    upper triangle: sorted, the n^2 entries are the n diagonal zeros, then every entry above
    the diagonal twice. Half the partition work of the full matrix's median."""
    n = len(d)
    upper = d.take(_upper_triangle(n))
    middle = [n * n // 2] if n % 2 else [n * n // 2 - 1, n * n // 2]  # np.median's positions
    wanted = [(i - n) // 2 for i in middle if i >= n]
    part = np.partition(upper, wanted) if wanted else upper
    values = [part[(i - n) // 2] if i >= n else 0.0 for i in middle]
    return float(values[0] if len(values) == 1 else (values[0] + values[1]) / 2)


def _rbf_gram(xc: np.ndarray, threshold: float) -> np.ndarray | None:
    """K_ij = exp(-D_ij / (2 sigma^2)), sigma^2 = threshold^2 median(D).

    As in Kornblith et al.'s demo the median runs over the full n x n matrix,
    diagonal zeros included (this reproduces their published values).
    Returns None when the median is zero (bandwidth undefined).
    """
    d = _squared_distances(xc)
    median = _median_distance(d)
    if median == 0:
        return None
    d /= -2.0 * threshold**2 * median
    return np.exp(d, out=d)


def _centre_gram(g: np.ndarray) -> np.ndarray:
    """H G H with H = I - 11^T/n (double centring), in place."""
    row = g.mean(axis=0)
    g -= row[:, None]
    g -= row[None, :]
    g += row.mean()
    return g


def _u_centre_gram(g: np.ndarray) -> np.ndarray:
    """U-centring: zero diagonal, then subtract row/column sums / (n-2), add total / ((n-1)(n-2)).

    With this, <K_u, L_u> = n (n-3) HSIC_u(K, L) (Song et al. 2012 estimator).
    """
    n = g.shape[0]
    g = g.copy()
    np.fill_diagonal(g, 0.0)
    row = g.sum(axis=0)
    u = g - row[:, None] / (n - 2) - row[None, :] / (n - 2) + row.sum() / ((n - 1) * (n - 2))
    np.fill_diagonal(u, 0.0)
    return u


def _centred_gram(xc: np.ndarray, kernel: str, debiased: bool, threshold: float) -> np.ndarray | None:
    """Centred (or U-centred) Gram matrix of column-centred data; None if undefined."""
    g = xc @ xc.T if kernel == "linear" else _rbf_gram(xc, threshold)
    if g is None:
        return None
    # xc @ xc.T is already double-centred; U-centring is still needed for debiased.
    if debiased:
        return _u_centre_gram(g)
    return g if kernel == "linear" else _centre_gram(g)


# ------------------------------------------------------------------------ CKA
def _linear_hsic_features(xc: np.ndarray, yc: np.ndarray, debiased: bool) -> float:
    """Scaled HSIC of linear kernels without forming n x n Gram matrices.

    Biased: ||Y^T X||_F^2 = <Kc, Lc>.  Unbiased (x n(n-3)), with a_i = |x_i|^2,
    s = X^T 1 and u = X s - a = K~ 1 (K~: Gram with zero diagonal):
    tr(K~L~) + (1^T K~ 1)(1^T L~ 1)/((n-1)(n-2)) - 2/(n-2) u_x^T u_y, where
    tr(K~L~) = ||Y^T X||^2 - a_x^T a_y and 1^T K~ 1 = |s|^2 - sum(a).
    """
    cross = float(np.sum((yc.T @ xc) ** 2))
    if not debiased:
        return cross
    n = xc.shape[0]
    parts = []
    for z in (xc, yc):
        a = np.einsum("ij,ij->i", z, z)
        s = z.sum(axis=0)
        parts.append((a, s @ s - a.sum(), z @ s - a))
    (ax, tx, ux), (ay, ty, uy) = parts
    return cross - ax @ ay + tx * ty / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * (ux @ uy)


def _normalised(hxy: float, hxx: float, hyy: float) -> float:
    """hxy / sqrt(hxx hyy); NaN + warning when a self-term is not positive."""
    if not (hxx > 0 and hyy > 0):
        return _nan_with_warning("HSIC of a representation with itself is not positive "
                                 "(degenerate representation), CKA undefined")
    return float(hxy / (np.sqrt(hxx) * np.sqrt(hyy)))


def cka(x: Any, y: Any, *, kernel: str = "linear", debiased: bool = False,
        threshold: float = 1.0) -> float:
    """Centred kernel alignment, CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)).

    Parameters
    ----------
    x, y : array_like or torch.Tensor, shapes (n, p) and (n, q)
    kernel : {"linear", "rbf"}
        RBF: K_ij = exp(-|x_i - x_j|^2 / (2 sigma^2)), sigma = threshold *
        sqrt(median squared distance), median over all n^2 entries.
    debiased : bool
        Use the unbiased HSIC estimator (needs n >= 4); the result may be negative.
    threshold : float
        RBF bandwidth as a multiple of the median distance.

    Returns
    -------
    float in [0, 1] ([-1, 1] if debiased); NaN with RuntimeWarning if undefined: a
    representation constant to round-off (see ``repalign.metrics``) or a zero denominator.

    Notes
    -----
    The linear kernel uses the feature form ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)
    when p + q < n (cheaper: O(n (p+q)^2) against O(n^2 (p+q))), else the Gram form.
    """
    x, y = _validated_pair(x, y)
    _check_kernel(kernel, threshold)
    if debiased:
        _check_debiased_n(x.shape[0])
    if _is_constant(x) or _is_constant(y):
        return _nan_with_warning("constant representation (to round-off), CKA undefined (0/0)")
    xc, yc = _centre(x), _centre(y)
    if kernel == "linear" and xc.shape[1] + yc.shape[1] < xc.shape[0]:
        return _normalised(_linear_hsic_features(xc, yc, debiased),
                           _linear_hsic_features(xc, xc, debiased),
                           _linear_hsic_features(yc, yc, debiased))
    kx = _centred_gram(xc, kernel, debiased, threshold)
    ky = _centred_gram(yc, kernel, debiased, threshold)
    if kx is None or ky is None:
        return _nan_with_warning("median pairwise distance is zero, RBF bandwidth undefined")
    return _normalised(np.vdot(kx, ky), np.vdot(kx, kx), np.vdot(ky, ky))


# ----------------------------------------------------------------- Procrustes
def _procrustes_factor(x: np.ndarray) -> np.ndarray | None:
    """Centred, unit-Frobenius x, reduced to min(n, p) columns; None if constant.

    Only X X^T matters for the nuclear norm of X^T Y, so when p > n we replace
    X = U S V^T by U S (same Gram, fewer columns).
    """
    xc = _centre(x)
    norm = np.linalg.norm(xc)
    if _is_constant(x) or norm == 0:
        return None
    xc /= norm
    if xc.shape[1] > xc.shape[0]:
        u, s, _ = np.linalg.svd(xc, full_matrices=False)
        xc = u * s
    return xc


def _nuclear_norm_of_cross(a: np.ndarray, b: np.ndarray) -> float:
    # Zero-padding the narrower matrix would add only zero singular values.
    return float(svdvals(a.T @ b).sum())


def procrustes(x: Any, y: Any) -> float:
    """Orthogonal Procrustes similarity, max_Q <X, Y Q> = ||X^T Y||_* for centred, unit-norm X, Y.

    1 means equal up to translation, rotation/reflection and isotropic scale;
    arccos of it is the angular Procrustes distance (Williams et al. 2021).
    p and q may differ (the narrower one is implicitly zero-padded).

    Returns
    -------
    float in [0, 1]; NaN with RuntimeWarning for a representation constant to round-off
    (see ``repalign.metrics``).
    """
    x, y = _validated_pair(x, y)
    a, b = _procrustes_factor(x), _procrustes_factor(y)
    if a is None or b is None:
        return _nan_with_warning("constant representation (to round-off), Procrustes similarity undefined")
    return _nuclear_norm_of_cross(a, b)



# ----------------------------------------------------------- mutual k-NN
def _neighbour_sets(x: np.ndarray, k: int) -> np.ndarray:
    """(n, k) indices of each point's k nearest neighbours (Euclidean), self excluded."""
    d = _squared_distances(_centre(x))
    np.fill_diagonal(d, np.inf)
    return np.argpartition(d, k - 1, axis=1)[:, :k]


def _mean_shared_fraction(nx: np.ndarray, ny: np.ndarray) -> float:
    # Each row of nx / ny has k distinct indices, so after sorting the
    # concatenation every repeated index is exactly one shared neighbour.
    both = np.sort(np.concatenate([nx, ny], axis=1), axis=1)
    shared = np.count_nonzero(both[:, 1:] == both[:, :-1], axis=1)
    return float(shared.mean() / nx.shape[1])


def mutual_knn(x: Any, y: Any, *, k: int = 10) -> float:
    """Mutual k-nearest-neighbour alignment (Huh et al. 2024).

    mean_i |N_x(i) & N_y(i)| / k, with N_x(i) the k nearest neighbours of
    point i under Euclidean distance in x, the point itself excluded.
    (Huh et al. l2-normalise features first; do so before calling to match them.)
    For independent x and y the expected value is k / (n - 1).

    Returns
    -------
    float in [0, 1]; NaN with RuntimeWarning for a representation constant to round-off
    (see ``repalign.metrics``).
    """
    x, y = _validated_pair(x, y)
    _check_k(k, x.shape[0])
    if _is_constant(x) or _is_constant(y):
        return _nan_with_warning("constant representation (to round-off), nearest neighbours undefined")
    return _mean_shared_fraction(_neighbour_sets(x, k), _neighbour_sets(y, k))
