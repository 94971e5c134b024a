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
    Mean fraction of shared k nearest neighbours (Huh et al. 2024); the
    neighbourhood overlap of DADApy.
information_imbalance
    Information imbalance (Glielmo et al. 2022), both directions:
    ``Delta(A -> B) = (2/n)`` x the mean rank in B of each point's k nearest
    neighbours in A (k = 1).  The registry's score is
    ``1 - (Dbar - Dmin) / (1 - Dmin)``, Dbar the mean of the two directions and
    ``Dmin = (k + 1) / n``: 1 for identical representations, 0 in expectation
    for independent ones.

``alignment_matrix`` computes a metric for all pairs of K representations at
once, ``mean_alignment`` summarises such a matrix with a jackknife standard
error, and ``METRICS`` maps metric names to functions and their properties.

Layout
------
``repalign.metrics.pairwise``
    the definitions above for one pair of representations;
``repalign.metrics.imbalance``
    the information imbalance for one pair, and its block-wise core;
``repalign.metrics.allpairs``
    the same quantities for all pairs of an ensemble at once, each member's
    work done once and memory bounded by ``max_bytes``;
``repalign.metrics.registry``
    ``METRICS``, ``alignment_matrix`` and ``mean_alignment``.
Import everything from ``repalign.metrics``.

Degenerate inputs never give a silent number: a constant representation (or
any other zero denominator) gives NaN with a ``RuntimeWarning``.  No epsilon
is added anywhere.  Constant means constant to round-off: in every column
the largest distance from the column's mean is at most ``n eps`` times the
column's largest absolute value (the worst-case rounding error of the mean
of n numbers), so ``1 + 1e-16 * z`` is as constant as ``1``: centred, it
holds nothing but rounding.  The pairwise functions and ``alignment_matrix``
apply the same test, and give NaN for the same members.

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
Glielmo, Zeni, Cheng, Csanyi, Laio (2022). Ranking the information content of
distance measures. PNAS Nexus 1(2), pgac039.
"""

from __future__ import annotations

from .allpairs import DEFAULT_MAX_BYTES, GRAM_ROW_BLOCKS
from .imbalance import information_imbalance, information_imbalance_alignment
from .pairwise import KERNELS, cka, mutual_knn, procrustes
from .registry import METRICS, Metric, abbreviations, alignment_matrix, mean_alignment

__all__ = ["METRICS", "Metric", "abbreviations", "alignment_matrix", "cka", "information_imbalance",
           "information_imbalance_alignment", "mean_alignment", "mutual_knn", "procrustes"]
