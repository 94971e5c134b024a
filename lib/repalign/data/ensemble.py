"""The noisy ensemble: K training copies of one data set, each with its own noise, and one clean
probe set common to all members.

Noise models (the book's Methods page defines the SNR): Gaussian label noise of variance
Var(signal) / snr (regression), label flips to a uniformly random *other* class with probability
``flip`` (classification), Gaussian input noise of variance (mean per-feature signal variance) /
snr on every training input feature. Probes stay clean. Which stream of the seed feeds which
draw is set out in :mod:`.seeds`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .checks import as_flip, as_int, as_snr
from .real import RealSplit, real_split
from .registry import is_synthetic, native_shape, task_of
from .seeds import INPUT_NOISE, INPUTS, LABEL_NOISE, PROBE, child, root_sequence, streams
from .teachers import Teacher, make_teacher

NOISE_LOCATIONS = ("labels", "inputs", "both")


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
    - ``seed``: int or SeedSequence; see :mod:`repalign.data.seeds` for how it is split.
    """
    task = task_of(data)
    if noise not in NOISE_LOCATIONS:
        raise ValueError(f"noise must be one of {NOISE_LOCATIONS}, got {noise!r}")
    members = as_int("members", members, 1)
    n_train = as_int("n_train", n_train, 1)
    n_probe = as_int("n_probe", n_probe, 1)
    as_int("teacher_width", teacher_width, 1)
    snr = as_snr(snr)
    classes = native_shape(data, n_classes)[1]   # checks n_classes >= 2 for synthetic classification
    flip = as_flip(flip, classes)
    if not isinstance(shared_inputs, (bool, np.bool_)):
        raise ValueError(f"shared_inputs must be True or False, got {shared_inputs!r}")
    root = root_sequence(seed)
    children = streams(root)

    if is_synthetic(data):
        if d is None:
            raise ValueError(f"d (input dimension, an integer >= 1) is required for {data}")
        teacher = make_teacher(data, d=d, n_classes=n_classes, teacher_width=teacher_width, seed=root)
        x_clean, y_clean = _synthetic_training(teacher, d, members, n_train, shared_inputs,
                                               children[INPUTS])
        x_probe = np.random.default_rng(children[PROBE]).standard_normal((n_probe, d))
        y_probe = teacher(x_probe)
        feature_var = 1.0  # x ~ N(0, I): every feature has variance 1
    else:
        split = real_split(data, d)
        x_clean, y_clean = _real_training(split, members, n_train, shared_inputs, children[INPUTS])
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
            rng = np.random.default_rng(child(children[INPUT_NOISE], k))
            x_train[k] += math.sqrt(input_var) * rng.standard_normal(x_train[k].shape)
        if label_var > 0:
            rng = np.random.default_rng(child(children[LABEL_NOISE], k))
            y_train[k] += math.sqrt(label_var) * rng.standard_normal(n_train)
        if flip > 0:
            rng = np.random.default_rng(child(children[LABEL_NOISE], k))
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
        return np.random.default_rng(child(stream, k)).standard_normal((n_train, d))

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
        return np.random.default_rng(child(stream, k)).choice(pool, size=n_train, replace=False)

    rows = np.stack([pick(0)] * members if shared else [pick(k) for k in range(members)])
    return split.x_pool[rows], split.y_pool[rows]
