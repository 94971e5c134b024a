"""Tests of repalign.data.teachers: normalised regression teachers, balanced class teachers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from data_helpers import SYNTHETIC_ARGS, binomial_se, ensemble, variance_se
from repalign import data


def test_probe_matches_the_teacher():
    e = ensemble("teacher-mlp", seed=3)
    teacher = data.make_teacher("teacher-mlp", seed=3, **SYNTHETIC_ARGS)
    np.testing.assert_allclose(teacher(e.x_probe), e.y_probe, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["teacher-linear", "teacher-mlp"])
def test_regression_teachers_have_unit_variance(name):
    y = ensemble(name, n_probe=200_000, d=30, seed=1).y_probe
    assert abs(y.mean()) < 4 * math.sqrt(y.var() / y.size)       # mean 0 by symmetry
    assert abs(y.var() - 1.0) < 4 * variance_se(y)
    beta = data.make_teacher("teacher-linear", d=30, seed=1).readout
    assert np.linalg.norm(beta) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("name,classes", [("teacher-linear-class", 5), ("teacher-mlp-class", 5),
                                          ("teacher-mlp-class", 2)])
def test_classification_teachers_are_balanced(name, classes):
    n = 200_000
    labels = ensemble(name, n_probe=n, n_classes=classes, d=15, teacher_width=50, seed=2).y_probe
    frequency = np.bincount(labels, minlength=classes) / n
    p = 1 / classes
    tolerance = 4 * binomial_se(p, n)
    if name == "teacher-mlp-class":
        # Offsets are fitted on a 2^18-point sample to within 1e-3: add that tolerance and the
        # fitting sample's own binomial error.
        tolerance = 4 * math.hypot(binomial_se(p, n), binomial_se(p, 2**18)) + 1e-3
    assert np.all(np.abs(frequency - p) < tolerance), frequency


def test_linear_class_teacher_has_orthonormal_rows():
    w = data.make_teacher("teacher-linear-class", d=7, n_classes=4, seed=0).readout
    np.testing.assert_allclose(w @ w.T, np.eye(4), atol=1e-12)


def test_teachers_are_cached_read_only_and_linear_ones_ignore_the_width():
    first = data.make_teacher("teacher-linear", d=9, teacher_width=5, seed=4)
    assert data.make_teacher("teacher-linear", d=9, teacher_width=50, seed=4) is first
    assert data.make_teacher("teacher-linear", d=9, seed=5) is not first
    with pytest.raises(ValueError):
        first.readout[0] = 0.0


@pytest.mark.parametrize("name,kwargs,argument", [
    ("digits", {}, "data"),                                        # real data have no teacher
    ("teacher-linear", {"d": 0}, "d"),
    ("teacher-mlp", {"teacher_width": 0}, "teacher_width"),
    ("teacher-mlp-class", {"n_classes": 1}, "n_classes"),
    ("teacher-linear-class", {"n_classes": 10}, "n_classes"),     # more classes than d=9
])
def test_bad_teacher_arguments_name_themselves(name, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        data.make_teacher(name, **{"d": 9, **kwargs})
