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



# ------------------------------------------------------- information imbalance
#: The information imbalance splits the n inputs into about this many row blocks (see
#: ``_imbalance_rows``): each block's distance rows are formed, used and dropped.
IMBALANCE_ROW_BLOCKS = 8


#: Bytes per member, row and column of a block: its distance and its sorted copy (16), and, in
#: the worst case of every distance tied, one neighbour entry (row, column, weight and member,
#: stored twice while they are gathered: 64).
IMBALANCE_BYTES_PER_ENTRY = 80


def _imbalance_rows(n: int, count: int, max_bytes: int | None) -> int:
    """Rows per block: ~n / IMBALANCE_ROW_BLOCKS, fewer if count x rows x n entries of
    IMBALANCE_BYTES_PER_ENTRY must fit in max_bytes (None: no bound); at least one row."""
    rows = -(-n // IMBALANCE_ROW_BLOCKS)
    if max_bytes is not None:
        rows = min(rows, max_bytes // (IMBALANCE_BYTES_PER_ENTRY * count * n))
    return max(1, rows)


def _coincident_points(x: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """None if all rows of x differ, else (first, label): the first row of each group of equal
    rows, and each row's group.  Rows that share no first coordinate cannot be equal, which
    settles continuous data without sorting whole rows."""
    if len(np.unique(x[:, 0])) == len(x):
        return None
    _, first, label = np.unique(x, axis=0, return_index=True, return_inverse=True)
    return None if len(first) == len(x) else (first, label.ravel())


def _distance_rows(xc: np.ndarray, sq_norms: np.ndarray, start: int, stop: int,
                   coincident: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Squared Euclidean distances from points start:stop to all n points, (stop - start, n);
    each point's distance to itself is set to -inf, so that it sorts first and is never a
    neighbour.  With ``coincident`` (from ``_coincident_points``) equal points are exactly at
    distance 0 from each other and exactly as far from any third point: computed once per
    group, their distances would otherwise differ by rounding and break their ties."""
    others = xc if coincident is None else xc[coincident[0]]
    d = (-2.0 * xc[start:stop]) @ others.T  # scaling by -2 is exact: -2 x_i.x_j to the last bit
    d += sq_norms[start:stop, None]
    d += (sq_norms if coincident is None else sq_norms[coincident[0]])[None, :]
    np.maximum(d, 0.0, out=d)  # rounding can make tiny negatives
    if coincident is not None:
        label = coincident[1]
        d = d[:, label]
        d[label[start:stop, None] == label[None, :]] = 0.0
    local = np.arange(stop - start)
    d[local, start + local] = -np.inf
    return d


def _neighbour_weights(d: np.ndarray, s: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """The k nearest neighbours of each row's point, as flat (row, column, weight) arrays.

    ``d``: distance rows from ``_distance_rows``; ``s``: the same rows sorted (the point itself
    first, at -inf).  Points closer than the k-th nearest distance t get weight 1; the e points
    at distance exactly t share the remaining k - l places (l: points closer than t), weight
    (k - l) / e each: the average over every order in which a neighbour search could break the
    tie.  Without ties these are the k nearest neighbours, weight 1 each.
    """
    t = s[:, k]
    rows, cols = np.nonzero(d <= t[:, None])
    values = d[rows, cols]
    itself = values == -np.inf
    if itself.any():  # drop each point itself
        rows, cols, values = rows[~itself], cols[~itself], values[~itself]
    weights = np.ones(len(rows))
    tied = values == t[rows]
    counts = np.bincount(rows, minlength=len(d))
    if (counts > k).any():  # some boundary ties: share the remaining places
        equal = np.bincount(rows[tied], minlength=len(d))
        share = (k - (counts - equal)) / np.maximum(equal, 1)
        weights[tied] = share[rows[tied]]
    return rows, cols, weights


def _count_sorted(s_flat: np.ndarray, base: np.ndarray, q: np.ndarray, n: int, strict: bool) -> np.ndarray:
    """Vectorised binary search: entries of the sorted row ``s_flat[base:base + n]`` that are
    < q (strict) or <= q, for every (base, q)."""
    lo = np.zeros(len(q), dtype=np.intp)
    hi = np.full(len(q), n, dtype=np.intp)
    for _ in range(int(n).bit_length()):
        mid = (lo + hi) >> 1
        value = s_flat[base + np.minimum(mid, n - 1)]
        right = (value < q) if strict else (value <= q)
        right &= lo < hi
        lo = np.where(right, mid + 1, lo)
        hi = np.where(right, hi, mid)
    return lo


def _mid_ranks(s: np.ndarray, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Rank of distance q among the other points' distances in sorted row ``s[rows]`` (1: the
    nearest other point); tied distances get the average of the ranks they span."""
    n = s.shape[1]
    s_flat = s.ravel()
    base = rows * n
    below = _count_sorted(s_flat, base, q, n, strict=True)  # includes the point itself (-inf)
    # q is an entry of its row, so s[below] == q; the tie run is longer only if s[below + 1] == q
    upto = below + 1
    tied = np.flatnonzero(s_flat[base + np.minimum(upto, n - 1)] == q)
    tied = tied[upto[tied] < n]
    if len(tied):
        upto[tied] = _count_sorted(s_flat, base[tied], q[tied], n, strict=False)
    # ranks (below - 1) + 1 ... (upto - 1): their mean is (below + upto - 1) / 2
    return (below + upto - 1) / 2.0


def _imbalance_totals(mats: list[np.ndarray], k: int, max_bytes: int | None) -> np.ndarray:
    """(K, K) array T with T[a, b] = sum over points i of the (weighted) ranks in b of i's k
    nearest neighbours in a, so that Delta(a -> b) = T[a, b] / (n k) / (n / 2).

    Row blocks of the n points: for each block every member's distance rows are formed and
    sorted once; the neighbours of every member are then looked up in every member's sorted
    rows by binary search, at most rows x n look-ups at a time.  No n x n rank matrix is formed.
    Memory: K x rows x n x IMBALANCE_BYTES_PER_ENTRY bytes at most (see ``_imbalance_rows``),
    2 x K x rows x n floats when there are no massive ties; time: K n^2 (p + log n) for the
    distances and sorts, plus K^2 n k log n for the look-ups.
    """
    n, count, k = mats[0].shape[0], len(mats), int(k)
    # Shifted by the first point rather than the mean: distances do not change, large offsets
    # are removed as well, and data on an integer (or other binary) grid keep exact distances,
    # so their ties stay ties.
    centred = [m - m[0] for m in mats]
    sq_norms = [np.einsum("ij,ij->i", x, x) for x in centred]
    coincident = [_coincident_points(x) for x in centred]
    rows = _imbalance_rows(n, count, max_bytes)
    totals = np.zeros((count, count))
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        dists, sorted_rows, owners, nbr_rows, nbr_cols, nbr_weights = [], [], [], [], [], []
        for a, (x, sq, same) in enumerate(zip(centred, sq_norms, coincident)):
            d = _distance_rows(x, sq, start, stop, same)
            s = np.sort(d, axis=1)
            r, c, w = _neighbour_weights(d, s, k)
            dists.append(d)
            sorted_rows.append(s)
            owners.append(np.full(len(r), a))
            nbr_rows.append(r)
            nbr_cols.append(c)
            nbr_weights.append(w)
        owner, r, c, w = (np.concatenate(v) for v in (owners, nbr_rows, nbr_cols, nbr_weights))
        del owners, nbr_rows, nbr_cols, nbr_weights
        chunk = (stop - start) * n  # look-ups at a time: their work arrays stay within budget
        for b in range(count):
            for lo in range(0, len(r), chunk):
                part = slice(lo, lo + chunk)
                ranks = _mid_ranks(sorted_rows[b], r[part], dists[b][r[part], c[part]])
                totals[:, b] += np.bincount(owner[part], weights=w[part] * ranks, minlength=count)
    return totals


def _deltas(totals: np.ndarray, n: int, k: int) -> np.ndarray:
    """Delta = (2 / n) x mean rank, written as the reference computes it: mean / (n / 2)."""
    return totals / (n * k) / (n / 2.0)


def _imbalance_score(totals: np.ndarray, n: int, k: int) -> np.ndarray:
    """1 - (mean Delta - Delta_min) / (1 - Delta_min), Delta_min = (k + 1) / n, from rank sums:
    (n - rbar_ab - rbar_ba) / (n - k - 1) with rbar the mean rank in each direction."""
    mean_ranks = totals / (n * k)
    return (n - (mean_ranks + mean_ranks.T)) / (n - k - 1)


def _check_imbalance_inputs(x: Any, y: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = _validated_pair(x, y)
    _check_k(k, x.shape[0])
    return x, y


def _check_score_k(k: int, n: int) -> None:
    if k == n - 1:
        raise ValueError(f"k must be at most n - 2 for the alignment score (every other point is a "
                         f"neighbour at k = n - 1, and Delta is 1 whatever the data; n={n}); got k={k!r}")


def information_imbalance(x: Any, y: Any, *, k: int = 1) -> tuple[float, float]:
    """Information imbalance in both directions (Glielmo et al. 2022), (Delta(x -> y), Delta(y -> x)).

    Delta(x -> y) = (2 / n) mean_i mean_{m in N_x(i)} r_y(i, m): N_x(i) are the k nearest
    neighbours of point i in x (Euclidean, the point itself excluded) and r_y(i, m) the rank of
    m among the n - 1 other points ordered by distance from i in y (1 = the nearest).  About 0
    when x predicts the neighbourhoods of y (exactly (k + 1) / n when they agree), about 1 when
    x carries no information on them (the expected value for independent x and y is exactly 1);
    the maximum is 2 - (k + 1) / n.  Values of the reference implementation (DADApy,
    ``MetricComparisons``) are reproduced exactly when no distances tie.

    Ties: the reference ranks by the order of its neighbour search, which breaks ties
    arbitrarily.  Here ties give the average over all tie orders: a rank is the mean of the ranks
    its tied distances span (as in the rank matrix of DADApy's differentiable information
    imbalance, ``rankdata(method="average")``), and points tied at the k-th neighbour distance
    share the remaining places with equal weights.  Coincident points are exactly at distance 0
    and tie exactly.

    Returns
    -------
    (float, float); (NaN, NaN) with RuntimeWarning if either representation is constant to
    round-off (as for every metric, see ``repalign.metrics``).
    """
    x, y = _check_imbalance_inputs(x, y, k)
    if _is_constant(x) or _is_constant(y):
        nan = _nan_with_warning("constant representation (to round-off), nearest neighbours undefined")
        return nan, nan
    n = x.shape[0]
    deltas = _deltas(_imbalance_totals([x, y], k, None), n, k)
    return float(deltas[0, 1]), float(deltas[1, 0])


def information_imbalance_alignment(x: Any, y: Any, *, k: int = 1) -> float:
    """Alignment score from the information imbalance in both directions.

    1 - (Dbar - Dmin) / (1 - Dmin), where Dbar = (Delta(x -> y) + Delta(y -> x)) / 2 and
    Dmin = (k + 1) / n is the imbalance of identical representations: symmetric, exactly 1 for
    identical representations without tied distances (and, but for the rounding of nearly equal
    distances, for two related by a rotation, isotropic scaling or translation), 0 in
    expectation for independent ones (Delta = 1), -1 at the opposite extreme (every neighbour
    ranked last).  For large n it is 1 - Dbar.  Needs 1 <= k <= n - 2.

    Returns
    -------
    float in [-1, 1]; NaN with RuntimeWarning for a representation constant to round-off
    (see ``repalign.metrics``).
    """
    x, y = _check_imbalance_inputs(x, y, k)
    n = x.shape[0]
    _check_score_k(k, n)
    if _is_constant(x) or _is_constant(y):
        return _nan_with_warning("constant representation (to round-off), nearest neighbours undefined")
    return float(_imbalance_score(_imbalance_totals([x, y], k, None), n, k)[0, 1])
