"""Helpers shared by the tests of repalign.data (tests/test_data_*.py), the cache and the faults.

Statistical tolerances are 4 standard errors of the estimator under test (a false alarm for a
correct implementation has probability ~6e-5 per check; the seeds are fixed, so each check is
deterministic anyway):
- a frequency p from n draws: SE = sqrt(p (1 - p) / n) (binomial);
- a variance s^2 of M independent Gaussian draws: SE = sigma^2 sqrt(2 / (M - 1)) (chi-square);
  for non-Gaussian draws SE = sqrt((m4 - m2^2) / M) with the sample moments.
"""

from __future__ import annotations

import math

import numpy as np

from repalign import data

SYNTHETIC_ARGS = {"d": 12, "n_classes": 4, "teacher_width": 30}

# The first lines of a chapter in MyST markdown, as jupytext reads it: a test's own chapters start so.
MYST_HEADER = """\
---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {display_name: Python 3, language: python, name: python3}
---
"""


def ensemble(name, **kwargs):
    """make_ensemble_data with small defaults (synthetic: d=12, 4 classes, width 30)."""
    base = dict(members=2, n_train=40, n_probe=300)
    if data.is_synthetic(name):
        base.update(SYNTHETIC_ARGS)
    base.update(kwargs)
    return data.make_ensemble_data(name, **base)


def binomial_se(p, n):
    return math.sqrt(p * (1 - p) / n)


def variance_se(values):
    """Standard error of the sample variance from the sample's own second and fourth moments."""
    centred = values - values.mean()
    m2, m4 = np.mean(centred**2), np.mean(centred**4)
    return math.sqrt((m4 - m2**2) / values.size)


def assert_same_result(a, b) -> None:
    """Two ExperimentResults hold the same experiment and bit-identical numbers."""
    assert a.experiment == b.experiment and a.alignment == b.alignment
    assert a.alignment_stderr == b.alignment_stderr and a.n_parameters == b.n_parameters
    for name in ("train_error", "test_error", "train_loss", "steps", "converged", "diverged", "end_to_end"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    for metric in a.experiment.metrics:
        np.testing.assert_array_equal(a.alignment_matrix[metric], b.alignment_matrix[metric])


def idx_bytes(array: np.ndarray) -> bytes:
    """An unsigned-byte IDX file of ``array``, as Fashion-MNIST publishes them."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()
