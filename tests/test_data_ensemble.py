"""Tests of repalign.data.ensemble: shapes, dtypes, noise statistics, shared inputs, bad arguments."""

from __future__ import annotations

import math

import numpy as np
import pytest

from data_helpers import SYNTHETIC_ARGS, binomial_se, ensemble
from repalign import data

# --- shapes and dtypes ------------------------------------------------------------------------


@pytest.mark.parametrize("name", data.DATASETS)
def test_shapes_and_dtypes(name):
    classification = data.task_of(name) == "classification"
    e = ensemble(name, members=3, noise="both", snr=2.0, flip=0.2 if classification else 0.0)
    dim, classes = data.native_shape(name, n_classes=4)
    dim = dim or SYNTHETIC_ARGS["d"]
    assert e.x_train.shape == (3, 40, dim) and e.x_train.dtype == np.float64
    assert e.y_train.shape == (3, 40)
    assert e.x_probe.shape[1] == dim and e.x_probe.dtype == np.float64
    assert e.y_probe.shape == (e.x_probe.shape[0],) and 0 < e.x_probe.shape[0] <= 300
    assert (e.task, e.n_classes) == (data.task_of(name), classes)
    label_dtype = np.int64 if classification else np.float64
    assert e.y_train.dtype == label_dtype and e.y_probe.dtype == label_dtype
    if classification:
        assert e.y_train.min() >= 0 and e.y_train.max() < classes
        assert (e.flip, e.label_noise_var) == (0.2, 0.0)
    else:
        assert (e.flip, e.label_noise_var) == (0.0, 0.5)
    assert e.input_noise_var > 0
    assert all(np.isfinite(a).all() for a in (e.x_train, e.y_train, e.x_probe, e.y_probe))


# --- noise ------------------------------------------------------------------------------------

def test_flip_rate_and_flips_go_to_other_classes():
    classes, flip, n, members = 4, 0.3, 50_000, 2
    kwargs = dict(members=members, n_train=n, n_classes=classes, d=10, n_probe=10)
    clean = ensemble("teacher-linear-class", **kwargs).y_train
    e = ensemble("teacher-linear-class", noise="labels", flip=flip, **kwargs)
    np.testing.assert_array_equal(e.x_train, ensemble("teacher-linear-class", **kwargs).x_train)
    changed = e.y_train != clean
    # A flip that could land on the same class would lower the changed share to flip (1 - 1/C).
    for k in range(members):
        assert abs(changed[k].mean() - flip) < 4 * binomial_se(flip, n)
    shift = ((e.y_train - clean) % classes)[changed]               # 1..C-1, uniform
    share = np.bincount(shift, minlength=classes)[1:] / shift.size
    assert np.all(np.abs(share - 1 / (classes - 1)) < 4 * binomial_se(1 / (classes - 1), shift.size))
    # Members flip independently: both flipped at rate flip^2.
    both = np.mean(changed[0] & changed[1])
    assert abs(both - flip**2) < 4 * binomial_se(flip**2, n)


def test_flip_labels_alone_never_keeps_a_moved_label():
    labels = np.arange(30_000) % 3
    rng = np.random.default_rng(0)
    flipped = data.flip_labels(labels, 1.0, 3, rng)                  # every label moves
    assert not np.any(flipped == labels) and set(np.unique(flipped)) == {0, 1, 2}
    np.testing.assert_array_equal(data.flip_labels(labels, 0.0, 3, rng), labels)


def test_label_noise_variance_and_independence():
    snr, n, members = 4.0, 20_000, 3
    kwargs = dict(members=members, n_train=n, n_probe=10, d=10)
    clean = ensemble("teacher-linear", **kwargs)
    e = ensemble("teacher-linear", noise="labels", snr=snr, **kwargs)
    np.testing.assert_array_equal(e.x_train, clean.x_train)         # inputs untouched
    noise = e.y_train - clean.y_train
    assert e.label_noise_var == 1 / snr and e.input_noise_var == 0.0
    assert abs(noise.var() - 1 / snr) < 4 * (1 / snr) * math.sqrt(2 / (noise.size - 1))
    correlation = np.corrcoef(noise)[np.triu_indices(members, 1)]
    assert np.all(np.abs(correlation) < 4 / math.sqrt(n))             # SE of r near 0: 1/sqrt(n)


def test_input_noise_snr_and_clean_labels_and_probes():
    snr, n, d, members = 2.0, 5_000, 20, 2
    kwargs = dict(members=members, n_train=n, d=d, n_probe=50)
    clean = ensemble("teacher-linear", **kwargs)
    e = ensemble("teacher-linear", noise="inputs", snr=snr, **kwargs)
    np.testing.assert_array_equal(e.y_train, clean.y_train)
    np.testing.assert_array_equal(e.x_probe, clean.x_probe)
    noise = e.x_train - clean.x_train
    signal_var, noise_var = clean.x_train[0].var(), noise.var()
    measured = signal_var / noise_var
    # Relative SEs of both sample variances (chi-square), combined as independent.
    relative = math.sqrt(2 / (clean.x_train[0].size - 1) + 2 / (noise.size - 1))
    assert abs(measured / snr - 1) < 4 * relative
    assert e.input_noise_var == 1 / snr and e.label_noise_var == 0.0
    assert not np.allclose(noise[0], noise[1])                         # each member its own noise


def test_real_input_noise_uses_the_mean_feature_variance():
    split = data.real_split("digits")
    constant = np.var(split.x_pool, axis=0) == 0
    assert constant.any()                                             # digits has blank pixels
    assert split.feature_var == pytest.approx(1 - constant.mean(), abs=1e-12)
    snr = 0.5
    kwargs = dict(members=2, n_train=1000, n_probe=10)
    e = ensemble("digits", noise="inputs", snr=snr, **kwargs)
    noise = e.x_train - ensemble("digits", **kwargs).x_train
    expected = split.feature_var / snr
    assert e.input_noise_var == pytest.approx(expected)
    assert abs(noise.var() - expected) < 4 * expected * math.sqrt(2 / (noise.size - 1))


def test_both_noises_together():
    kwargs = dict(members=2, n_train=100, n_probe=10, n_classes=3, flip=0.2, snr=1.0)
    e = ensemble("teacher-mlp-class", noise="both", **kwargs)
    only_inputs = ensemble("teacher-mlp-class", noise="inputs", **kwargs)
    only_labels = ensemble("teacher-mlp-class", noise="labels", **kwargs)
    np.testing.assert_array_equal(e.x_train, only_inputs.x_train)
    np.testing.assert_array_equal(e.y_train, only_labels.y_train)
    assert only_inputs.flip == 0.0 and only_labels.input_noise_var == 0.0


# --- training inputs ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["teacher-linear", "concrete"])
def test_shared_and_independent_inputs(name):
    shared = ensemble(name, members=3, noise="labels", snr=1.0)
    assert all(np.array_equal(shared.x_train[0], shared.x_train[k]) for k in range(3))
    assert not np.array_equal(shared.y_train[0], shared.y_train[1])
    independent = ensemble(name, members=3, noise="labels", snr=1.0, shared_inputs=False)
    assert not np.array_equal(independent.x_train[0], independent.x_train[1])
    np.testing.assert_array_equal(independent.x_train[0], shared.x_train[0])   # same child 0


def test_real_subsample_is_without_replacement():
    e = ensemble("diabetes", members=2, n_train=354, shared_inputs=False)   # the whole pool
    for k in range(2):
        assert len(np.unique(e.x_train[k], axis=0)) == 354
    with pytest.raises(ValueError, match=r"n_train=355.*354"):
        ensemble("diabetes", n_train=355)


# --- bad arguments ----------------------------------------------------------------------------

@pytest.mark.parametrize("name,kwargs,argument", [
    ("mnist-ish", {}, "data"),
    ("teacher-linear", {"noise": "weights"}, "noise"),
    ("teacher-linear", {"members": 0}, "members"),
    ("teacher-linear", {"members": 2.5}, "members"),
    ("teacher-linear", {"n_train": 0}, "n_train"),
    ("teacher-linear", {"snr": 0.0}, "snr"),
    ("teacher-linear", {"snr": -1.0}, "snr"),
    ("teacher-linear", {"snr": float("nan")}, "snr"),
    ("teacher-linear", {"flip": 0.1}, "flip"),                        # regression: flip must be 0
    ("teacher-linear-class", {"flip": -0.1}, "flip"),
    ("teacher-linear-class", {"flip": 0.76}, "flip"),                 # above 1 - 1/4
    ("teacher-linear-class", {"flip": float("nan")}, "flip"),
    ("teacher-linear", {"n_probe": 0}, "n_probe"),
    ("teacher-mlp-class", {"n_classes": 1}, "n_classes"),
    ("teacher-linear-class", {"n_classes": 13}, "n_classes"),         # more classes than d=12
    ("teacher-linear", {"d": None}, "d"),
    ("teacher-linear", {"d": 0}, "d"),
    ("teacher-mlp", {"teacher_width": 0}, "teacher_width"),
    ("teacher-linear", {"shared_inputs": "yes"}, "shared_inputs"),
    ("teacher-linear", {"seed": -1}, "seed"),
    ("digits", {"d": 0}, "d"),
    ("digits", {"n_train": 10_000}, "n_train"),
])
def test_bad_arguments_name_themselves(name, kwargs, argument):
    base = dict(members=2, n_train=10, d=12, n_classes=4)
    if name == "digits":
        base.pop("d")
    base.update(kwargs)
    with pytest.raises(ValueError, match=argument):
        data.make_ensemble_data(name, **base)


def test_flip_at_the_no_signal_bound_is_allowed():
    e = ensemble("teacher-linear-class", noise="labels", flip=0.75)
    assert e.flip == 0.75
