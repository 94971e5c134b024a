"""Real data as experiments use them: a fixed split, standardised, optionally PCA-projected.

Each data set is split once into a training pool and a held-out split that never depends on the
experiment seed (Fashion-MNIST keeps its official split, the others keep a fixed 80% as pool).
Features (and regression targets) are standardised with the training pool's statistics; an int
``d`` below the native dimension projects on the pool's first ``d`` principal components.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np

from . import files
from .checks import as_int, read_only
from .registry import REAL, dataset, native_shape, task_of

# Share of each real data set kept as the training pool when it has no official split.
_POOL_FRACTION = 0.8


@dataclass(frozen=True)
class RealSplit:
    """A real data set split into training pool and held-out set (read-only arrays)."""

    x_pool: np.ndarray
    y_pool: np.ndarray
    x_heldout: np.ndarray
    y_heldout: np.ndarray
    task: str
    n_classes: int
    feature_var: float   # mean per-feature variance of x_pool: share of non-constant features


def _fixed_permutation(name: str, size: int) -> np.ndarray:
    """A permutation that depends on the data set's name only, never on the experiment seed."""
    seed = int.from_bytes(hashlib.sha256(f"repalign-split:{name}".encode()).digest()[:8], "big")
    return np.random.default_rng(seed).permutation(size)


def _split_fixed(name: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    order = _fixed_permutation(name, len(x))
    cut = int(round(_POOL_FRACTION * len(x)))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def raw_split(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unstandardised (x_pool, y_pool, x_heldout, y_heldout); image pixels in [0, 1].

    The held-out set is permuted too (fixed), so its first n points are a random subset. A
    subset of classes (``DataSet.subset_of``) keeps its parent's split.
    """
    entry = dataset(name)
    if entry.subset_of:
        x_pool, y_pool, x_held, y_held = raw_split(entry.subset_of)
        return (*_keep_classes(x_pool, y_pool, entry.classes), *_keep_classes(x_held, y_held, entry.classes))
    if name == "fashion-mnist":  # the official split
        x_pool, y_pool, x_held, y_held = files.load_fashion_mnist()
        order = _fixed_permutation(name, len(x_held))
        return (x_pool.reshape(len(x_pool), -1).astype(np.float64) / 255.0, y_pool,
                x_held.reshape(len(x_held), -1)[order].astype(np.float64) / 255.0, y_held[order])
    return _split_fixed(name, *_raw_table(name))


def _keep_classes(x: np.ndarray, y: np.ndarray, classes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The points of ``classes``, relabelled by their position in it."""
    keep = np.isin(y, classes)
    relabel = np.zeros(int(max(classes)) + 1, dtype=np.int64)
    relabel[list(classes)] = np.arange(len(classes))
    return x[keep], relabel[y[keep]]


def _raw_table(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(features, target) of a real data set without an official split; image pixels in [0, 1]."""
    if name == "digits":
        x, y = files.load_sklearn(name)
        return x / 16.0, y  # digits' pixels are 0..16
    if name == "diabetes":
        return files.load_sklearn(name)
    if name == "concrete":
        return files.load_concrete()
    if name == "diamonds":
        return files.load_diamonds()
    if name == "mnist":
        return files.load_mnist()  # already in [0, 1]
    raise ValueError(f"data must be one of the real data sets {REAL}, got {name!r}")


# --- standardisation and PCA ---------------------------------------------------

def _fit_standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale per column; scale 1 for constant columns, which thus stay at 0 on the pool."""
    mean = x.mean(axis=0)
    centred = x - mean
    variance = np.einsum("ij,ij->j", centred, centred) / len(x)  # much faster than x.std on 60k x 784
    return mean, np.where(variance > 0, np.sqrt(variance), 1.0)


def _principal_axes(z: np.ndarray, d: int) -> np.ndarray:
    """The first d principal axes (D, d) of the centred pool z, from the exact eigendecomposition.

    Deterministic (no randomised solver); eigh of z'z (D x D) instead of an SVD of z takes seconds,
    not tens of seconds, on Fashion-MNIST. Signs: each axis's largest loading is positive.
    """
    eigenvalues, eigenvectors = np.linalg.eigh(z.T @ z)
    axes = eigenvectors[:, np.argsort(eigenvalues)[::-1][:d]]
    return axes * np.sign(axes[np.argmax(np.abs(axes), axis=0), np.arange(d)])


def real_split(data: str, d: int | None = None) -> RealSplit:
    """The standardised (and, for d below the native dimension, PCA-projected) fixed split.

    Everything is fitted on the training pool only: feature standardisation, PCA to d axes,
    standardisation of the projections, target standardisation (regression). Cached in process
    (``real_split.cache_clear()`` forgets it); the arrays are read-only, so callers copy what
    they change.
    """
    native = native_shape(data)[0]
    if native is None:
        raise ValueError(f"data must be one of the real data sets {REAL}, got {data!r}")
    if d is not None:
        d = as_int("d", d, 1)
        if d > native:
            raise ValueError(f"d must be at most {data}'s native dimension {native} (or None), got {d}")
    return _cached_real_split(data, None if d == native else d)


@functools.lru_cache(maxsize=8)
def _cached_real_split(data: str, d: int | None) -> RealSplit:
    n_classes = native_shape(data)[1]
    if d is not None:
        base = _cached_real_split(data, None)   # standardised features and targets, cached
        axes = _principal_axes(base.x_pool, d)
        x_pool, x_held = base.x_pool @ axes, base.x_heldout @ axes
        mean, scale = _fit_standardiser(x_pool)
        return _frozen_split(data, (x_pool - mean) / scale, base.y_pool,
                             (x_held - mean) / scale, base.y_heldout)
    x_pool, y_pool, x_held, y_held = raw_split(data)
    mean, scale = _fit_standardiser(x_pool)
    x_pool, x_held = (x_pool - mean) / scale, (x_held - mean) / scale
    if n_classes == 1:
        y_mean, y_scale = _fit_standardiser(y_pool.astype(np.float64)[:, None])
        y_pool = (y_pool - y_mean[0]) / y_scale[0]
        y_held = (y_held - y_mean[0]) / y_scale[0]
    else:
        y_pool, y_held = y_pool.astype(np.int64), y_held.astype(np.int64)
    return _frozen_split(data, x_pool, y_pool, x_held, y_held)


def _frozen_split(data: str, x_pool, y_pool, x_held, y_held) -> RealSplit:
    arrays = [read_only(np.ascontiguousarray(a)) for a in (x_pool, y_pool, x_held, y_held)]
    # x_pool is centred, so this is its mean per-feature variance (share of non-constant features).
    feature_var = float(np.einsum("ij,ij->", arrays[0], arrays[0]) / arrays[0].size)
    return RealSplit(*arrays, task_of(data), native_shape(data)[1], feature_var)


real_split.cache_clear = _cached_real_split.cache_clear

