"""Synthetic teachers: fixed random functions of Gaussian inputs x ~ N(0, I_D).

``teacher-linear`` and ``teacher-mlp`` give regression targets with Var(y) = 1;
``teacher-linear-class`` and ``teacher-mlp-class`` give balanced class labels. A teacher is
drawn from the experiment seed's teacher stream (``seeds.TEACHER``) and cached in process.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .. import validate
from .checks import as_int, read_only
from .registry import SYNTHETIC, is_synthetic, task_of
from .seeds import TEACHER, child, root_sequence, seed_key, sequence_from_key

# The random two-layer teachers are normalised on the exact Gaussian expectation (regression) or
# balanced on a fixed sample of this many inputs drawn from the teacher's own stream (classes).
_BALANCE_SAMPLE = 2**18
_BALANCE_TOLERANCE = 1e-3
# The most classes teacher-mlp-class balances: its tolerance is 1e-3 of the sample, absolute, which
# is a tenth of the share 1/C of one class at C = 100 and no balance at all beyond.
MAX_BALANCED_CLASSES = 100
BALANCE_WHY = (f"teacher-mlp-class balances its classes to within {_BALANCE_TOLERANCE:g} of 1/C, no balance "
               f"beyond {MAX_BALANCED_CLASSES} classes")
_GAUSS_HERMITE_NODES = 48


@dataclass(frozen=True)
class Teacher:
    """A fixed random teacher; ``teacher(x)`` gives clean targets (float64) or labels (int64).

    Linear: y = x @ beta (readout (D,)) or argmax(x @ W.T) (readout (C, D), orthonormal rows).
    Two-layer: h = tanh(x @ hidden.T / sqrt(D)); y = h @ readout (readout (H,), already scaled to
    Var(y) = 1) or argmax(h @ readout.T + offsets) (readout (C, H), offsets balance the classes).
    """

    kind: str
    readout: np.ndarray
    hidden: np.ndarray | None = None
    offsets: np.ndarray | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        features = x if self.hidden is None else np.tanh(x @ self.hidden.T / math.sqrt(x.shape[-1]))
        if self.readout.ndim == 1:
            return features @ self.readout
        scores = features @ self.readout.T
        if self.offsets is not None:
            scores = scores + self.offsets
        return np.argmax(scores, axis=-1).astype(np.int64)


def make_teacher(data: str, *, d: int, n_classes: int = 10, teacher_width: int = 100,
                 seed: int | np.random.SeedSequence = 0) -> Teacher:
    """The teacher :func:`make_ensemble_data` uses for these arguments (cached, read-only arrays)."""
    if not is_synthetic(data):
        raise ValueError(f"data must be one of the synthetic teachers {SYNTHETIC}, got {data!r}")
    d = as_int("d", d, 1)
    width = as_int("teacher_width", teacher_width, 1)
    classes = as_int("n_classes", n_classes, 2) if task_of(data) == "classification" else 1
    if data == "teacher-mlp-class":
        validate.integer("n_classes", classes, maximum=MAX_BALANCED_CLASSES, why=BALANCE_WHY)
    if data == "teacher-linear-class" and classes > d:
        raise ValueError(f"teacher-linear-class needs n_classes <= d (orthonormal rows), got "
                         f"n_classes={classes}, d={d}")
    if data in ("teacher-linear", "teacher-linear-class"):
        width = 0  # unused: keep one cache entry per linear teacher
    return _cached_teacher(data, d, classes, width, seed_key(child(root_sequence(seed), TEACHER)))


@functools.lru_cache(maxsize=32)
def _cached_teacher(kind: str, d: int, n_classes: int, width: int, key: tuple) -> Teacher:
    rng = np.random.default_rng(sequence_from_key(key))
    if kind == "teacher-linear":
        beta = rng.standard_normal(d)
        return Teacher(kind, read_only(beta / np.linalg.norm(beta)))
    if kind == "teacher-linear-class":
        return Teacher(kind, read_only(_orthonormal_rows(rng, n_classes, d)))
    hidden = rng.standard_normal((width, d))
    if kind == "teacher-mlp":
        readout = rng.standard_normal(width)
        second_moment = readout @ _tanh_second_moments(hidden @ hidden.T / d) @ readout
        return Teacher(kind, read_only(readout / math.sqrt(second_moment)), read_only(hidden))
    readout = rng.standard_normal((n_classes, width))
    scores = _hidden_scores_sample(rng, hidden, readout, _BALANCE_SAMPLE)
    return Teacher(kind, read_only(readout), read_only(hidden), read_only(_balancing_offsets(scores)))


def _orthonormal_rows(rng: np.random.Generator, rows: int, columns: int) -> np.ndarray:
    """A Haar-random (rows, columns) matrix with orthonormal rows (QR with the sign fix)."""
    q, r = np.linalg.qr(rng.standard_normal((columns, rows)))
    return (q * np.where(np.diag(r) < 0, -1.0, 1.0)).T


def _tanh_second_moments(covariance: np.ndarray) -> np.ndarray:
    """M[i, j] = E tanh(z_i) tanh(z_j) for z ~ N(0, covariance), by 2-D Gauss-Hermite quadrature.

    Exact up to quadrature error (about 1e-4 relative with 48 nodes per axis); E tanh(z_i) = 0 by
    symmetry, so a' M a is Var(a . tanh(z)) and the regression teacher has Var(y) = 1 in
    expectation over x, with no Monte Carlo error.
    """
    nodes, weights = np.polynomial.hermite_e.hermegauss(_GAUSS_HERMITE_NODES)
    weights = weights / weights.sum()
    std = np.sqrt(np.diag(covariance))
    moments = np.empty_like(covariance)
    for i in range(len(std)):
        # (z_i, z_j) = (s_i g1, c_j g1 + e_j g2) with g1, g2 independent standard normals.
        along = covariance[i] / std[i]
        across = np.sqrt(np.maximum(np.diag(covariance) - along**2, 0.0))
        first = np.tanh(std[i] * nodes)                                    # (n,) over g1
        second = np.tanh(along[:, None, None] * nodes[None, :, None]
                         + across[:, None, None] * nodes[None, None, :])   # (H, n over g1, n over g2)
        moments[i] = np.einsum("a,jab,b->j", weights * first, second, weights)
    return (moments + moments.T) / 2


def _hidden_scores_sample(rng: np.random.Generator, hidden: np.ndarray, readout: np.ndarray,
                          size: int, chunk: int = 65536) -> np.ndarray:
    """Class scores of the two-layer teacher on ``size`` fresh Gaussian inputs, (size, C).

    The pre-activations z = hidden x / sqrt(D) are drawn directly from their Gaussian law
    N(0, hidden hidden' / D) so the cost does not grow with D.
    """
    width, d = hidden.shape
    eigenvalues, eigenvectors = np.linalg.eigh(hidden @ hidden.T / d)
    factor = eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
    scores = np.empty((size, readout.shape[0]))
    for start in range(0, size, chunk):
        stop = min(start + chunk, size)
        z = rng.standard_normal((stop - start, width)) @ factor.T
        scores[start:stop] = np.tanh(z) @ readout.T
    return scores


def _balancing_offsets(scores: np.ndarray, max_sweeps: int = 100) -> np.ndarray:
    """Offsets b with every class frequency of argmax(scores + b) within 1e-3 of 1/C on the sample.

    Coordinate sweeps on the (convex) semi-discrete transport dual: each class in turn gets the
    offset that gives it exactly n/C of the sample with the other offsets fixed. Typical teachers
    need one to three sweeps; very small d or width with many classes can need many more.
    """
    size, n_classes = scores.shape
    share = size // n_classes
    offsets = np.zeros(n_classes)
    best = _TopTwo(scores, offsets)
    for _ in range(max_sweeps):
        frequency = np.bincount(np.argmax(scores + offsets, axis=1), minlength=n_classes) / size
        if np.max(np.abs(frequency - 1.0 / n_classes)) < _BALANCE_TOLERANCE:
            return offsets - offsets.mean()
        for c in range(n_classes):
            margin = scores[:, c] - best.rivals(c)   # class c wins a point iff margin + b_c > 0
            largest = np.partition(margin, size - share - 1)[size - share - 1:]
            offsets[c] = -(largest[0] + largest[1:].min()) / 2   # between the share-th and next margin
            best.moved(c)
    raise RuntimeError("could not balance the classes of teacher-mlp-class; use a larger d or "
                       "teacher_width, or fewer classes")


class _TopTwo:
    """Each row's two largest shifted scores ``scores + offsets`` (values and classes), kept up to date
    as one class's offset moves: a coordinate sweep then costs O(size C), not O(size C^2) (recomputing
    every rival for every class took minutes at C = 1000). The values are the same sums
    ``scores[i, j] + offsets[j]`` the full maximum takes, so the offsets are the same to the bit."""

    def __init__(self, scores: np.ndarray, offsets: np.ndarray):
        self.scores, self.offsets = scores, offsets  # offsets: the caller's array, read as it changes
        self.first, self.second = np.empty((2, len(scores)), dtype=np.intp)
        self.top, self.runner = np.empty((2, len(scores)))
        self._recompute(np.arange(len(scores)))

    def _recompute(self, rows: np.ndarray) -> None:
        shifted = self.scores[rows] + self.offsets
        pair = np.argpartition(shifted, -2, axis=1)[:, -2:]  # the two largest, in either order
        values = np.take_along_axis(shifted, pair, axis=1)
        larger = np.argmax(values, axis=1)[:, None]
        self.first[rows] = np.take_along_axis(pair, larger, axis=1)[:, 0]
        self.second[rows] = np.take_along_axis(pair, 1 - larger, axis=1)[:, 0]
        self.top[rows] = np.take_along_axis(values, larger, axis=1)[:, 0]
        self.runner[rows] = np.take_along_axis(values, 1 - larger, axis=1)[:, 0]

    def rivals(self, c: int) -> np.ndarray:
        """Per row, the largest shifted score of the classes other than ``c``."""
        return np.where(self.first == c, self.runner, self.top)

    def moved(self, c: int) -> None:
        """Class ``c``'s offset changed: rows where it was one of the two are recomputed, and it
        enters the two of the rows where it now beats the runner-up."""
        was = (self.first == c) | (self.second == c)
        self._recompute(np.flatnonzero(was))
        value = self.scores[:, c] + self.offsets[c]
        above_top = ~was & (value > self.top)
        above_runner = ~was & ~above_top & (value > self.runner)
        self.second[above_top], self.runner[above_top] = self.first[above_top], self.top[above_top]
        self.first[above_top], self.top[above_top] = c, value[above_top]
        self.second[above_runner], self.runner[above_runner] = c, value[above_runner]
