"""Information imbalance between two representations of the same inputs (Glielmo et al. 2022):
how well each one's nearest neighbours predict the other's, and the alignment built from it.

The block-wise computation (``_imbalance_totals``) is shared with the all-pairs form in
``repalign.metrics.allpairs``; inputs are validated and converted as in
``repalign.metrics.pairwise``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .pairwise import _check_k, _is_constant, _nan_with_warning, _validated_pair

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
