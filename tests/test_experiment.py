"""The experiment contract: validation, determinism, and trained ensembles against theory."""

import math
import warnings

import numpy as np
import pytest

from repalign import Experiment, run_experiment, theory
from repalign.experiment import UnfinishedTraining, budget_stops_expected

SMALL = dict(data="teacher-linear", d=30, n_train=15, snr=4.0, members=4, n_probe=300, steps=5000)


def test_the_contract_of_the_issue():
    exp = Experiment(data="teacher-linear", d=50, n_train=25, snr=4.0, noise="labels", shared_inputs=True,
                     shared_init=False, model="linear", width=20, members=8, init_scale=1e-3, optimizer="gd",
                     lr=0.05, steps=20000, tol=1e-8, n_probe=2000, metrics=("cka", "cka_debiased"), seed=0,
                     device="auto")
    res = run_experiment(exp)
    assert set(res.alignment) == {"cka", "cka_debiased"} and 0 < res.alignment["cka"] < 1
    assert res.alignment_matrix["cka"].shape == (8, 8)
    assert res.train_error.shape == res.test_error.shape == res.converged.shape == (8,)
    assert res.converged.all() and (res.train_error < 1e-6).all()  # N < D: members interpolate
    assert res.n_parameters == 20 * 50 + 20


@pytest.mark.parametrize("field, value", [
    ("snr", -1.0), ("snr", 0.0), ("n_train", 0), ("noise", "everywhere"), ("model", "transformer"),
    ("data", "imagenet"), ("width", 0), ("members", 1), ("flip", 1.5), ("metrics", ("nope",)),
    ("lr", -0.1), ("optimizer", "lbfgs"), ("device", "tpu"), ("dtype", "float16"), ("d", None),
    ("tol", math.nan), ("init_scale", 0.0), ("batch_size", 0), ("depth", 2), ("n_train", 2.5),
    ("flip", 0.1),  # label flips on a regression data set
    ("batch_size", 5),  # minibatches need sgd or adam
    ("shared_init", "no"), ("shared_inputs", "yes"), ("snr", "4"), ("snr", True), ("tol", True),
    ("weight_decay", "0"), ("metrics", ("cka", 3)), ("loss", "cross_entropy"),
])
def test_bad_values_name_the_field(field, value):
    with pytest.raises(ValueError, match=rf"Experiment\.{field} must be"):
        Experiment(**{**SMALL, field: value})


def test_flip_is_bounded_by_the_number_of_classes():
    Experiment(data="teacher-linear-class", n_classes=4, flip=0.75, model="mlp", lr=0.1)
    with pytest.raises(ValueError, match=r"Experiment\.flip must be a probability in \[0, 1 - 1/C\]"):
        Experiment(data="teacher-linear-class", n_classes=4, flip=0.8, model="mlp", lr=0.1)


@pytest.mark.parametrize("changes, field", [
    (dict(data="digits", d=100), "d"),  # digits have 64 features
    (dict(data="teacher-linear-class", d=3, n_classes=5), "n_classes"),
    (dict(data="teacher-linear-class", noise="inputs", flip=0.2), "flip"),  # flips that would not happen
    (dict(data="teacher-linear-class", noise="labels", snr=2.0), "snr"),  # noise that would not happen
])
def test_settings_that_would_be_ignored_are_refused(changes, field):
    with pytest.raises(ValueError, match=rf"Experiment\.{field} must be"):
        Experiment(**{**SMALL, "model": "mlp", "lr": 0.1, **changes})


def test_auto_learning_rate_is_for_the_linear_network_with_gd_only():
    with pytest.raises(ValueError, match="Experiment.lr must be"):
        Experiment(model="mlp")
    Experiment(model="mlp", lr=1e-2, optimizer="adam")


def test_the_same_experiment_gives_the_same_numbers():
    exp = Experiment(**SMALL, model="mlp", optimizer="adam", lr=1e-2, width=16, batch_size=5)
    a, b = run_experiment(exp), run_experiment(exp)
    assert np.array_equal(a.alignment_matrix["cka"], b.alignment_matrix["cka"])
    assert np.array_equal(a.test_error, b.test_error) and np.array_equal(a.steps, b.steps)
    c = run_experiment(exp.replace(seed=1))
    assert not np.array_equal(a.test_error, c.test_error)


def test_identical_members_align_perfectly():
    """Shared inputs, shared init and no noise: every member takes the same path."""
    res = run_experiment(Experiment(**{**SMALL, "snr": math.inf}, shared_init=True))
    assert np.allclose(res.alignment_matrix["cka"], 1.0, atol=1e-9)


@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_mean_alignment_of_trained_linear_networks_matches_the_finite_size_theory(alpha):
    """D = 100, K = 8, six independent ensembles. Tolerance: 4 standard errors over the
    ensembles, plus 0.01 for the theory's stated accuracy at D = 100 (repalign.theory)."""
    base = Experiment(data="teacher-linear", d=100, n_train=int(alpha * 100), snr=2.0, members=8, width=20,
                      n_probe=2000, tol=1e-8)
    values = np.array([run_experiment(base.replace(seed=s)).alignment["cka"] for s in range(6)])
    stderr = values.std(ddof=1) / np.sqrt(len(values))
    assert abs(values.mean() - theory.alignment(alpha, 2.0, d=100)) < 4 * stderr + 0.01


def test_classification_ensemble():
    res = run_experiment(Experiment(data="teacher-linear-class", d=10, n_classes=3, n_train=60, flip=0.1,
                                    model="mlp", width=32, optimizer="adam", lr=1e-2, steps=3000, tol=1e-4,
                                    members=3, n_probe=500, metrics=("cka", "mutual_knn")))
    assert ((0 <= res.test_error) & (res.test_error <= 1)).all()
    assert res.test_error.mean() < 0.35  # chance is 2/3 on the clean probe labels
    assert res.n_parameters == 10 * 32 + 32 + 32 * 3 + 3


def test_divergence_is_reported():
    exp = Experiment(**SMALL, model="mlp", optimizer="gd", lr=1e4, width=8)
    with pytest.warns(RuntimeWarning, match="diverged"):
        res = run_experiment(exp)
    assert res.diverged.all() and not res.converged.any()
    assert np.isnan(res.alignment["cka"]) and np.isnan(res.test_error).all()


def test_members_that_do_not_reach_the_tolerance_are_reported():
    with pytest.warns(RuntimeWarning, match="did not reach tol"):
        res = run_experiment(Experiment(**{**SMALL, "steps": 3}))
    assert not res.converged.any() and (res.steps == 3).all()


def test_budget_stops_are_silent_only_where_expected_and_divergence_still_warns():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning left would fail here
        with budget_stops_expected():
            res = run_experiment(Experiment(**{**SMALL, "steps": 3}))
    assert not res.converged.any()
    with pytest.warns(UnfinishedTraining):
        run_experiment(Experiment(**{**SMALL, "steps": 3}))
    with budget_stops_expected(), pytest.warns(RuntimeWarning, match="diverged"):
        run_experiment(Experiment(**SMALL, model="mlp", optimizer="gd", lr=1e4, width=8))
