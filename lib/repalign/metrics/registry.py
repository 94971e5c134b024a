"""The metric registry and the ensemble summaries the experiments use.

``METRICS`` names each metric with its function, label, range and invariances;
``alignment_matrix`` computes one for all pairs of K representations (through the fast
layer of ``repalign.metrics.allpairs``); ``mean_alignment`` summarises such a matrix with a
jackknife-over-members standard error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

import numpy as np

from .allpairs import (DEFAULT_MAX_BYTES, _cka_matrix, _information_imbalance_matrix, _mutual_knn_matrix,
                       _procrustes_matrix, _validated_reps)
from .imbalance import information_imbalance_alignment
from .pairwise import _to_float64, cka, mutual_knn, procrustes


# ------------------------------------------------------------------ matrices
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
        n x n Grams are always held).  Information imbalance: row blocks of
        every member's sorted distance rows.  Ignored by the other metrics.
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
    if entry.function is information_imbalance_alignment:
        return _information_imbalance_matrix(mats, max_bytes=max_bytes, **options)
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
    short: str = ""  # a column title for tables of every metric (the label when empty)

    @property
    def abbreviation(self) -> str:
        return self.short or self.label

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def __call__(self, x: Any, y: Any, **overrides: Any) -> float:
        return self.function(x, y, **{**self.options, **overrides})


_SHAPE_INVARIANCES = ("orthogonal", "isotropic_scale", "translation")

METRICS: Mapping[str, Metric] = MappingProxyType({m.name: m for m in (
    Metric("cka", cka, "linear CKA", (0.0, 1.0), _SHAPE_INVARIANCES, short="CKA"),
    Metric("cka_debiased", cka, "debiased linear CKA", (-1.0, 1.0), _SHAPE_INVARIANCES,
           options={"debiased": True}, short="dCKA"),
    Metric("cka_rbf", cka, "RBF CKA", (0.0, 1.0), _SHAPE_INVARIANCES, options={"kernel": "rbf"}, short="RBF"),
    Metric("procrustes", procrustes, "Procrustes similarity", (0.0, 1.0), _SHAPE_INVARIANCES, short="Proc."),
    Metric("mutual_knn", mutual_knn, "mutual k-NN", (0.0, 1.0), _SHAPE_INVARIANCES, short="kNN"),
    Metric("information_imbalance", information_imbalance_alignment, "information imbalance", (-1.0, 1.0),
           _SHAPE_INVARIANCES, short="II"),
)})

# Batched all-pairs implementations behind alignment_matrix (CKA is dispatched separately).
_BATCHED: Mapping[Callable[..., float], Callable[..., np.ndarray]] = {
    procrustes: _procrustes_matrix, mutual_knn: _mutual_knn_matrix,
    information_imbalance_alignment: _information_imbalance_matrix}


def abbreviations(names) -> str:
    """'CKA: linear CKA; II: information imbalance', the key of a table titled by ``Metric.abbreviation``."""
    return "; ".join(f"{METRICS[n].abbreviation}: {METRICS[n].label}" for n in names)
