"""Similarity metrics between neural representations of the same inputs.

A representation is an ``(n, p)`` matrix: ``n`` inputs (rows) seen through
``p`` features.  Two representations of the same inputs may have different
widths.  Inputs may be numpy arrays or torch tensors; everything is computed
in float64, and the conversion happens *before* centring, so float32 data with
large offsets loses nothing beyond what float32 already lost.

Metrics
-------
cka
    Centred kernel alignment (Kornblith et al. 2019),
    ``HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))`` for Gram matrices ``K, L``
    with linear or RBF kernel.  ``debiased=True`` uses the unbiased HSIC
    estimator of Song et al. (2012), written through U-centred Gram matrices
    (Szekely & Rizzo 2014; Murphy et al. 2024), which removes the strong
    positive bias of CKA when ``p`` is large compared with ``n``.
procrustes
    Orthogonal Procrustes similarity of centred, unit-Frobenius
    representations: the nuclear norm of ``X^T Y``.  ``arccos`` of it is the
    angular Procrustes shape distance of Williams et al. (2021).
mutual_knn
    Mean fraction of shared k nearest neighbours (Huh et al. 2024).

``alignment_matrix`` computes a metric for all pairs of K representations at
once, ``mean_alignment`` summarises such a matrix with a jackknife standard
error, and ``METRICS`` maps metric names to functions and their properties.

Degenerate inputs never give a silent number: a constant representation (or
any other zero denominator) gives NaN with a ``RuntimeWarning``.  No epsilon
is added anywhere.

References
----------
Kornblith, Norouzi, Lee, Hinton (2019). Similarity of neural network
representations revisited. ICML.
Song, Smola, Gretton, Bedo, Borgwardt (2012). Feature selection via dependence
maximization. JMLR 13.
Szekely, Rizzo (2014). Partial distance correlation with methods for
dissimilarities. Ann. Statist. 42.
Williams, Kunz, Kornblith, Linderman (2021). Generalized shape metrics on
neural representations. NeurIPS.
Murphy, Zylberberg, Fyshe (2024). Correcting biased centered kernel alignment
measures in biological and artificial neural networks. ICLR Re-Align workshop.
Huh, Cheung, Wang, Isola (2024). The platonic representation hypothesis. ICML.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy.linalg import svdvals

__all__ = ["METRICS", "Metric", "alignment_matrix", "cka", "mean_alignment",
           "mutual_knn", "procrustes"]

KERNELS = ("linear", "rbf")
#: Default memory bound (bytes) for the stack of Gram matrices in alignment_matrix.
DEFAULT_MAX_BYTES = 512 * 2**20


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


def _validated_reps(reps: Any) -> list[np.ndarray]:
    """A (K, n, p) array/tensor or a sequence of (n, p_k) arrays -> list of arrays."""
    if hasattr(reps, "detach") or isinstance(reps, np.ndarray):
        reps = _to_float64(reps)
    if isinstance(reps, np.ndarray) and reps.ndim != 3:
        raise ValueError(f"reps must be a 3-D array (K, n, p) or a list of 2-D arrays; "
                         f"got shape {reps.shape}")
    mats = [_as_float64_2d(r, f"reps[{k}]") for k, r in enumerate(reps)]
    if not mats:
        raise ValueError("reps must contain at least one representation")
    shapes = [m.shape for m in mats]
    if len({s[0] for s in shapes}) != 1:
        raise ValueError(f"all representations must have the same number of rows; got shapes {shapes}")
    return mats


def _check_kernel(kernel: str, threshold: float) -> None:
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}; got {kernel!r}")
    if not (np.isfinite(threshold) and threshold > 0):
        raise ValueError(f"threshold must be a positive finite number; got {threshold!r}")


def _check_debiased_n(n: int) -> None:
    if n < 4:
        raise ValueError(f"debiased CKA needs n >= 4 inputs; got n={n}")


def _check_k(k: int, n: int) -> None:
    if int(k) != k or not 1 <= k < n:
        raise ValueError(f"k must be an integer with 1 <= k < n (n={n}); got k={k!r}")


def _is_constant(x: np.ndarray) -> bool:
    """All rows identical (exact test; centring would leave rounding dust)."""
    return bool(np.all(x == x[0]))


def _nan_with_warning(reason: str) -> float:
    warnings.warn(f"{reason}; returning NaN", RuntimeWarning, stacklevel=3)
    return float("nan")


def _centre(x: np.ndarray) -> np.ndarray:
    return x - x.mean(axis=0)


# ---------------------------------------------------------------- Gram matrices
def _squared_distances(xc: np.ndarray) -> np.ndarray:
    """D_ij = |x_i - x_j|^2, with exact zeros on the diagonal."""
    sq_norms = np.einsum("ij,ij->i", xc, xc)
    d = sq_norms[:, None] + sq_norms[None, :] - 2.0 * (xc @ xc.T)
    np.maximum(d, 0.0, out=d)  # rounding can make tiny negatives
    np.fill_diagonal(d, 0.0)
    return d


def _rbf_gram(xc: np.ndarray, threshold: float) -> np.ndarray | None:
    """K_ij = exp(-D_ij / (2 sigma^2)), sigma^2 = threshold^2 median(D).

    As in Kornblith et al.'s demo the median runs over the full n x n matrix,
    diagonal zeros included (this reproduces their published values).
    Returns None when the median is zero (bandwidth undefined).
    """
    d = _squared_distances(xc)
    median = np.median(d)
    if median == 0:
        return None
    return np.exp(d / (-2.0 * threshold**2 * median))


def _centre_gram(g: np.ndarray) -> np.ndarray:
    """H G H with H = I - 11^T/n (double centring)."""
    row = g.mean(axis=0)
    return g - row[:, None] - row[None, :] + row.mean()


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
    float in [0, 1] ([-1, 1] if debiased); NaN with RuntimeWarning if undefined.

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
        return _nan_with_warning("constant representation, CKA undefined (0/0)")
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


def _cka_matrix_gram(mats: list[np.ndarray], kernel: str, debiased: bool, threshold: float,
                     max_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """All-pairs CKA as products of unit-norm centred Grams, (c, n^2) @ (n^2, c) per block.

    Used for the RBF kernel (its bandwidth needs each whole Gram matrix).
    Members are processed in blocks so that at most two blocks of Gram matrices
    (or all of them, if they fit) are held at once.
    """
    n, count = mats[0].shape[0], len(mats)
    gram_bytes = n * n * 8
    block = count if count * gram_bytes <= max_bytes else max(1, max_bytes // (2 * gram_bytes))
    starts = range(0, count, block)
    degenerate = np.zeros(count, dtype=bool)

    def unit_grams(start: int) -> np.ndarray:
        stop = min(start + block, count)
        out = np.zeros((stop - start, n * n))
        for row, k in enumerate(range(start, stop)):
            g = _centred_gram(mats[k], kernel, debiased, threshold)
            norm = 0.0 if g is None else np.linalg.norm(g)
            if norm > 0:
                out[row] = g.ravel() / norm
            else:
                degenerate[k] = True
        return out

    result = np.zeros((count, count))  # lower blocks stay unused
    for a in starts:
        ga = unit_grams(a)
        for b in starts:
            if b < a:
                continue
            gb = ga if b == a else unit_grams(b)
            result[a:a + block, b:b + block] = ga @ gb.T
    return result, degenerate


#: The linear Gram form splits the n inputs into about this many row blocks;
#: only blocks on or above the diagonal are formed, (blocks + 1) / (2 blocks) of the work.
GRAM_ROW_BLOCKS = 8


def _gram_rows(n: int, count: int, max_bytes: int) -> int:
    """Rows per block of the linear Gram form: ~n / GRAM_ROW_BLOCKS, fewer if max_bytes demands."""
    return max(1, min(-(-n // GRAM_ROW_BLOCKS), max_bytes // (count * n * 8)))


def _linear_hsic_matrix_gram(mats: list[np.ndarray], debiased: bool, max_bytes: int) -> np.ndarray:
    """(K, K) scaled linear HSIC, <K_i, K_j> of (U-)centred Grams, from their upper triangles.

    Rows start:stop of each Gram are formed only from the diagonal on,
    G[start:stop, start:] = [D | R] with D square.  Over all row blocks
    <G_i, G_j> = sum <D_i, D_j> + 2 <R_i, R_j>: scaling D by sqrt(1/2) turns
    this into 2 <V_i, V_j> for V = [D / sqrt(2) | R], one (K, m) @ (m, K)
    product per block.  At most K * rows * n floats are held (see _gram_rows).
    """
    n, count = mats[0].shape[0], len(mats)
    if debiased:  # U-centring (see _u_centre_gram) needs the row sums r of the zero-diagonal Gram
        sq_norms = [np.einsum("ij,ij->i", x, x) for x in mats]
        row_sums = [x @ x.sum(axis=0) - a for x, a in zip(mats, sq_norms)]
        # u_ab = g_ab - c_a - c_b off the diagonal, u_aa = 0
        shifts = [r / (n - 2) - r.sum() / (2 * (n - 1) * (n - 2)) for r in row_sums]
    rows = _gram_rows(n, count, max_bytes)
    buffer = np.empty(count * rows * n)
    cross = np.zeros((count, count))
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        v = buffer[:count * (stop - start) * (n - start)].reshape(count, stop - start, n - start)
        for k, x in enumerate(mats):
            np.matmul(x[start:stop], x[start:].T, out=v[k])
            if debiased:
                v[k] -= shifts[k][start:stop, None]
                v[k] -= shifts[k][None, start:]
                np.fill_diagonal(v[k], 0.0)  # the diagonal of G lies in column offset 0 of D
        v[:, :, :stop - start] *= np.sqrt(0.5)
        flat = v.reshape(count, -1)
        cross += flat @ flat.T
    return 2.0 * cross


def _linear_hsic_matrix_features(mats: list[np.ndarray], debiased: bool, max_bytes: int) -> np.ndarray:
    """(K, K) scaled linear HSIC from M = Z^T Z, Z = [X_1 ... X_K] (n, P), never forming Grams.

    The squared Frobenius norm of block (i, j) of M is <K_i, K_j>.  Block rows of
    M are computed a few members at a time so that each chunk stays under
    max_bytes; only blocks j >= i are formed (M is symmetric).
    """
    n, count = mats[0].shape[0], len(mats)
    widths = np.array([m.shape[1] for m in mats])
    offsets = np.concatenate([[0], np.cumsum(widths)])
    z = np.hstack(mats)
    cross = np.zeros((count, count))
    i = 0
    while i < count:  # grow the chunk of members while it fits in max_bytes
        stop = i + 1
        while stop < count and (offsets[stop + 1] - offsets[i]) * (offsets[-1] - offsets[i]) * 8 <= max_bytes:
            stop += 1
        m = z[:, offsets[i]:offsets[stop]].T @ z[:, offsets[i]:]
        np.square(m, out=m)  # in place: the chunk is the largest allocation here
        block_sums = np.add.reduceat(np.add.reduceat(m, offsets[i:stop] - offsets[i], axis=0),
                                     offsets[i:-1] - offsets[i], axis=1)
        cross[i:stop, i:] = block_sums
        i = stop
    cross = np.triu(cross) + np.triu(cross, 1).T
    if debiased:  # the Gram-free unbiased HSIC of _linear_hsic_features, for all pairs
        a = np.stack([np.einsum("ij,ij->i", m, m) for m in mats], axis=1)  # (n, K)
        s = [m.sum(axis=0) for m in mats]
        t = np.array([si @ si for si in s]) - a.sum(axis=0)
        u = np.stack([m @ si for m, si in zip(mats, s)], axis=1) - a
        cross = cross - a.T @ a + np.outer(t, t) / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * (u.T @ u)
    return cross


def _linear_form(widths: Sequence[int], n: int, max_bytes: int) -> str:
    """'gram' or 'features', whichever needs fewer multiply-adds for all pairs of linear CKA.

    Gram form: each member's Gram on and above the diagonal blocks,
    n (n + rows) / 2 entries of p_k multiply-adds, then their K x K products.
    Feature form: the upper block triangle of Z^T Z, about n P^2 / 2, P = sum p_k.
    Both respect max_bytes, so only the operation count decides.
    """
    count, total = len(widths), int(np.sum(widths))
    entries = n * (n + _gram_rows(n, count, max_bytes)) / 2
    gram = entries * (total + count * (count + 1) / 2)
    features = n * total * (total + max(widths)) / 2
    return "features" if features < gram else "gram"


def _normalised_matrix(cross: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HSIC matrix -> CKA matrix and the members whose self-term is not positive."""
    self_terms = np.diag(cross).copy()
    degenerate = ~(self_terms > 0)
    scale = np.sqrt(np.where(degenerate, 1.0, self_terms))
    return cross / scale[:, None] / scale[None, :], degenerate


_LINEAR_FORMS = {"gram": _linear_hsic_matrix_gram, "features": _linear_hsic_matrix_features}


def _cka_matrix(mats: list[np.ndarray], *, kernel: str = "linear", debiased: bool = False,
                threshold: float = 1.0, max_bytes: int = DEFAULT_MAX_BYTES) -> np.ndarray:
    _check_kernel(kernel, threshold)
    n = mats[0].shape[0]
    if debiased:
        _check_debiased_n(n)
    constant = np.array([_is_constant(m) for m in mats])
    centred = [_centre(m) for m in mats]
    if kernel == "linear":
        form = _linear_form([m.shape[1] for m in mats], n, max_bytes)
        hsic = _LINEAR_FORMS[form](centred, debiased, max_bytes)
        result, degenerate = _normalised_matrix(hsic)
    else:
        result, degenerate = _cka_matrix_gram(centred, kernel, debiased, threshold, max_bytes)
    result = np.triu(result) + np.triu(result, 1).T  # exact symmetry
    return _finish_matrix(result, constant | degenerate, "CKA")


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
    float in [0, 1]; NaN with RuntimeWarning for a constant representation.
    """
    x, y = _validated_pair(x, y)
    a, b = _procrustes_factor(x), _procrustes_factor(y)
    if a is None or b is None:
        return _nan_with_warning("constant representation, Procrustes similarity undefined")
    return _nuclear_norm_of_cross(a, b)


def _procrustes_matrix(mats: list[np.ndarray]) -> np.ndarray:
    factors = [_procrustes_factor(m) for m in mats]  # shared precomputation
    count = len(mats)
    result = np.ones((count, count))
    for i in range(count):
        for j in range(i + 1, count):
            if factors[i] is not None and factors[j] is not None:
                result[i, j] = result[j, i] = _nuclear_norm_of_cross(factors[i], factors[j])
    return _finish_matrix(result, np.array([f is None for f in factors]), "Procrustes similarity")


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
    float in [0, 1]; NaN with RuntimeWarning for a constant representation.
    """
    x, y = _validated_pair(x, y)
    _check_k(k, x.shape[0])
    if _is_constant(x) or _is_constant(y):
        return _nan_with_warning("constant representation, nearest neighbours undefined")
    return _mean_shared_fraction(_neighbour_sets(x, k), _neighbour_sets(y, k))


def _mutual_knn_matrix(mats: list[np.ndarray], *, k: int = 10) -> np.ndarray:
    _check_k(k, mats[0].shape[0])
    constant = np.array([_is_constant(m) for m in mats])
    sets = [None if c else _neighbour_sets(m, k) for m, c in zip(mats, constant)]  # once each
    count = len(mats)
    result = np.ones((count, count))
    for i in range(count):
        for j in range(i + 1, count):
            if not (constant[i] or constant[j]):
                result[i, j] = result[j, i] = _mean_shared_fraction(sets[i], sets[j])
    return _finish_matrix(result, constant, "mutual k-NN")


# ------------------------------------------------------------------ matrices
def _finish_matrix(result: np.ndarray, degenerate: np.ndarray, what: str) -> np.ndarray:
    """Unit diagonal; NaN rows/columns (with one warning) for degenerate members."""
    np.fill_diagonal(result, 1.0)
    if degenerate.any():
        bad = np.flatnonzero(degenerate).tolist()
        warnings.warn(f"{what} undefined for degenerate (e.g. constant) representations {bad}; "
                      "their rows and columns are NaN", RuntimeWarning, stacklevel=4)
        result[bad, :] = np.nan
        result[:, bad] = np.nan
    return result


def alignment_matrix(reps: Any, metric: str = "cka", *, max_bytes: int = DEFAULT_MAX_BYTES,
                     **options: Any) -> np.ndarray:
    """Symmetric (K, K) matrix of a metric between all pairs of K representations.

    Parameters
    ----------
    reps : (K, n, p) array/tensor, or a sequence of K (n, p_k) arrays/tensors
    metric : str
        A name in ``METRICS``; its default options are applied, then ``options``.
    max_bytes : int
        Memory bound for CKA's largest work array.  Linear kernel: the Gram
        form (upper triangles of the K centred Grams, K x rows x n at a time)
        or the feature form (blocks of Z^T Z, Z = [X_1 ... X_K]), whichever
        needs fewer operations; both stay within the bound (at least one row,
        or one member's block row of Z^T Z, is always held).  RBF: the K n^2
        stack of Gram matrices if it fits, else blocks of members (at least two
        n x n Grams are always held).  Ignored by the other metrics.
    **options
        Keyword options of the metric function (e.g. ``debiased``, ``k``).

    Returns
    -------
    ndarray (K, K) with unit diagonal; rows/columns of degenerate members are
    NaN (with a RuntimeWarning).
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; valid names: {sorted(METRICS)}")
    entry = METRICS[metric]
    options = {**entry.options, **options}
    mats = _validated_reps(reps)
    if entry.function is cka:
        return _cka_matrix(mats, max_bytes=max_bytes, **options)
    return _BATCHED[entry.function](mats, **options)


def mean_alignment(matrix: Any) -> tuple[float, float]:
    """Mean over distinct pairs i < j, with a jackknife-over-members standard error.

    Pairs sharing a member are correlated, so the naive sd/sqrt(pairs) is too
    small.  Leaving member m out gives theta_m (mean over the other pairs);
    stderr = sqrt((K-1)/K sum_m (theta_m - mean(theta))^2).  Needs K >= 3 for
    the stderr (K == 2 returns stderr NaN).  NaN entries propagate.
    """
    a = _to_float64(matrix)
    count = a.shape[0] if a.ndim == 2 else 0
    if a.ndim != 2 or a.shape[1] != count or count < 2:
        raise ValueError(f"matrix must be square (K, K) with K >= 2; got shape {a.shape}")
    upper = a[np.triu_indices(count, 1)]
    mean = float(upper.mean())
    if count < 3:
        return mean, float("nan")
    off = a - np.diag(np.diag(a))
    sym = np.triu(off) + np.triu(off, 1).T  # use the upper triangle only
    loo = (upper.sum() - sym.sum(axis=1)) / ((count - 1) * (count - 2) / 2)
    stderr = float(np.sqrt((count - 1) / count * np.sum((loo - loo.mean()) ** 2)))
    return mean, stderr


# ------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Metric:
    """A named similarity metric and the properties plots and experiments need.

    Calling it, ``metric(x, y, **overrides)``, applies its default ``options``.
    """

    name: str
    function: Callable[..., float]
    label: str
    range: tuple[float, float]
    invariances: tuple[str, ...]
    larger_is_more_similar: bool = True
    options: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def __call__(self, x: Any, y: Any, **overrides: Any) -> float:
        return self.function(x, y, **{**self.options, **overrides})


_SHAPE_INVARIANCES = ("orthogonal", "isotropic_scale", "translation")

METRICS: Mapping[str, Metric] = MappingProxyType({m.name: m for m in (
    Metric("cka", cka, "linear CKA", (0.0, 1.0), _SHAPE_INVARIANCES),
    Metric("cka_debiased", cka, "debiased linear CKA", (-1.0, 1.0), _SHAPE_INVARIANCES,
           options={"debiased": True}),
    Metric("cka_rbf", cka, "RBF CKA", (0.0, 1.0), _SHAPE_INVARIANCES, options={"kernel": "rbf"}),
    Metric("procrustes", procrustes, "Procrustes similarity", (0.0, 1.0), _SHAPE_INVARIANCES),
    Metric("mutual_knn", mutual_knn, "mutual k-NN", (0.0, 1.0), _SHAPE_INVARIANCES),
)})

# Batched all-pairs implementations behind alignment_matrix (CKA is dispatched separately).
_BATCHED: Mapping[Callable[..., float], Callable[..., np.ndarray]] = {
    procrustes: _procrustes_matrix, mutual_knn: _mutual_knn_matrix}
