"""All pairs of an ensemble at once: the fast layer behind ``repalign.metrics.alignment_matrix``.

For K representations the pairwise definitions of ``repalign.metrics.pairwise`` would redo
each member's work K - 1 times. Here every member's share is computed once: linear CKA
through either the upper triangles of the centred Gram matrices or blocks of ``Z^T Z`` for
``Z = [X_1 ... X_K]``, whichever needs fewer operations; RBF CKA through unit-norm centred
Grams; Procrustes through one factor per member; mutual k-NN through one neighbour set per
member. Every form stays within a memory bound ``max_bytes`` and gives the pairwise value
to rounding (the tests compare them at 1e-10).
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from .pairwise import (_as_float64_2d, _centre, _centred_gram, _check_debiased_n, _check_k, _check_kernel,
                       _is_constant, _mean_shared_fraction, _neighbour_sets, _nuclear_norm_of_cross,
                       _procrustes_factor, _to_float64)
from .imbalance import _check_score_k, _deltas, _imbalance_score, _imbalance_totals

#: Default memory bound (bytes) for the stack of Gram matrices in alignment_matrix.
DEFAULT_MAX_BYTES = 512 * 2**20


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



# ------------------------------------------------------------------------ CKA
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



# ------------------------------------------------------- information imbalance
def _imbalance_totals_matrix(mats: list[np.ndarray], k: int, max_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """Rank sums of ``_imbalance_totals`` over the non-constant members (NaN rows and columns
    for constant ones) and the mask of constant members."""
    _check_k(k, mats[0].shape[0])
    constant = np.array([_is_constant(m) for m in mats])
    keep = np.flatnonzero(~constant)
    totals = np.full((len(mats), len(mats)), np.nan)
    if len(keep):
        totals[np.ix_(keep, keep)] = _imbalance_totals([mats[i] for i in keep], k, max_bytes)
    return totals, constant


def information_imbalance_matrix(reps: Any, *, k: int = 1, max_bytes: int = DEFAULT_MAX_BYTES) -> np.ndarray:
    """Information imbalance between all ordered pairs: ``D[a, b] = Delta(reps[a] -> reps[b])``.

    The definition and the treatment of ties are those of
    ``repalign.metrics.imbalance.information_imbalance``, and the values equal it.  The
    diagonal holds each member's imbalance with itself, (k + 1) / n without ties.  Rows and
    columns of members constant to round-off (``repalign.metrics``) are NaN (with one
    RuntimeWarning).

    The n points are taken in row blocks; for each block every member's distance rows are
    formed and sorted once, and every member's k nearest neighbours are ranked in every other
    member's sorted rows by binary search, so no n x n rank matrix is stored.  At most
    2 x K x rows x n floats are held, rows ~n/8 or fewer as ``max_bytes`` demands (at least
    one row).
    """
    mats = _validated_reps(reps)
    n = mats[0].shape[0]
    totals, constant = _imbalance_totals_matrix(mats, k, max_bytes)
    if constant.any():
        warnings.warn(f"information imbalance undefined for constant representations "
                      f"{np.flatnonzero(constant).tolist()}; their rows and columns are NaN",
                      RuntimeWarning, stacklevel=2)
    return _deltas(totals, n, k)


def _information_imbalance_matrix(mats: list[np.ndarray], *, k: int = 1,
                                  max_bytes: int = DEFAULT_MAX_BYTES) -> np.ndarray:
    """All pairs of ``information_imbalance_alignment``: 1 - (Dbar - Dmin) / (1 - Dmin)."""
    n = mats[0].shape[0]
    _check_k(k, n)
    _check_score_k(k, n)
    totals, constant = _imbalance_totals_matrix(mats, k, max_bytes)
    return _finish_matrix(_imbalance_score(totals, n, k), constant, "information imbalance")



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

