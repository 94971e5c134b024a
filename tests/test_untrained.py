"""The alignment floor (repalign.untrained): members measured before any training step."""

import warnings

import numpy as np
import pytest

from repalign import Experiment, metrics, run_experiment
from repalign.experiment import experiment_data
from repalign.untrained import untrained_alignment

MLP = Experiment(data="teacher-linear", d=8, n_train=20, model="mlp", width=6, members=3, optimizer="gd",
                 lr=1e-12, steps=1, tol=0.0, n_probe=80, metrics=("cka", "procrustes"))


def test_untrained_alignment_is_the_alignment_before_training():
    """One step of size 1e-12 leaves the weights where they started (to ~1e-12)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        trained = run_experiment(MLP).alignment
    floor = untrained_alignment(MLP)
    for name in MLP.metrics:
        assert floor[name] == pytest.approx(trained[name], abs=1e-6)


def test_shared_initialisation_gives_identical_members():
    same = untrained_alignment(MLP.replace(shared_init=True))
    assert same["cka"] == pytest.approx(1.0, abs=1e-12) and same["procrustes"] == pytest.approx(1.0, abs=1e-12)


def test_the_floor_does_not_depend_on_the_noise():
    """Nothing is trained, so only the probes and the initialisation count: the training labels do not."""
    noisy = untrained_alignment(MLP.replace(snr=0.5))
    clean = untrained_alignment(MLP)
    assert noisy == clean


def test_linear_members_at_init_are_as_aligned_as_their_random_hidden_layers():
    """The untrained linear network's hidden layer is W1 x: the floor is the alignment of those maps."""
    exp = Experiment(d=10, n_train=5, width=4, members=3, n_probe=50, init_scale=1.0, metrics=("cka",))
    floor = untrained_alignment(exp)["cka"]
    seeds = np.random.SeedSequence(exp.seed).spawn(3)[1].spawn(exp.members)  # run_experiment's init streams
    weights = [np.random.default_rng(s).normal(0.0, 1.0 / np.sqrt(10), size=(4, 10)) for s in seeds]
    probes = experiment_data(exp).x_probe
    hidden = np.stack([probes @ w.T for w in weights])
    assert floor == pytest.approx(metrics.mean_alignment(metrics.alignment_matrix(hidden, "cka"))[0], abs=1e-12)


def test_only_an_experiment_is_accepted():
    with pytest.raises(TypeError, match="Experiment"):
        untrained_alignment({"d": 8})


def test_the_floors_of_a_sweep_are_each_ensembles_own():
    from repalign.untrained import untrained_floors

    bases = {("mlp", 6): MLP, ("mlp", 4): MLP.replace(width=4)}
    floors = untrained_floors(bases, [3, 4], ["model", "width"])
    assert list(floors.columns) == ["model", "width", "seed", "metric", "floor"] and len(floors) == 2 * 2 * 2
    row = floors[(floors.width == 4) & (floors.seed == 4) & (floors.metric == "procrustes")].floor.item()
    assert row == untrained_alignment(MLP.replace(width=4, seed=4))["procrustes"]
