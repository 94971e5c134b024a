"""repalign.inference.decoupling: regimes, rank correlations, counterexamples and the ridge reference."""

import warnings

import numpy as np
import pandas as pd
import pytest

from repalign import Experiment
from repalign.experiment import experiment_data
from repalign.inference.decoupling import configuration_means, counterexample_test, regime
from repalign.untrained import ridge_ensemble


def test_regime_bounds_are_inclusive_near_the_threshold():
    assert regime([0.5, 0.8, 1.0, 1.25, 1.3]).tolist() == ["below", "near", "near", "near", "above"]


def per_seed(a, e, sd=0.01, groups=None, repeats=6, seed=0):
    """A tidy table: configuration i has alignment a[i] and error e[i] plus noise of ``sd`` per seed."""
    rng = np.random.default_rng(seed)
    rows = [{"config": i, "group": (groups or ["g"] * len(a))[i], "seed": r, "alignment": a[i] + rng.normal(0, sd),
             "test_error": e[i] + rng.normal(0, sd)} for i in range(len(a)) for r in range(repeats)]
    return pd.DataFrame(rows)


def test_counterexamples_need_both_differences_to_be_significant():
    test = counterexample_test(per_seed([0.9, 0.5, 0.89], [2.0, 1.0, 0.5]), ["config", "group"], within=["group"])
    assert list(zip(test.pairs.better_aligned, test.pairs.other)) == [(0, 1)]  # 2 against 0: 0.01 apart in A
    assert test.tests == 6 and test.alpha == 0.05 and test.points.A.tolist() == pytest.approx([0.9, 0.5, 0.89],
                                                                                               abs=0.02)
    assert counterexample_test(per_seed([0.9, 0.5], [2.0, 1.0], sd=2.0), ["config"]).pairs.empty  # within the noise
    # Configurations are only compared within their group.
    assert counterexample_test(per_seed([0.9, 0.5], [2.0, 1.0], groups=["a", "b"]), ["config", "group"],
                               within=["group"]).pairs.empty


def test_counterexamples_pair_by_seed():
    # A shared per-seed shift much larger than the effect: paired by seed, the pair is significant.
    table = per_seed([0.6, 0.5], [1.1, 1.0], sd=0.001, repeats=8)
    shift = np.random.default_rng(1).normal(0, 1.0, 8)
    table["alignment"] += shift[table.seed]
    table["test_error"] += shift[table.seed]
    pairs = counterexample_test(table, ["config"]).pairs
    assert list(zip(pairs.better_aligned, pairs.other)) == [(0, 1)]


def test_configuration_means_average_the_seeds():
    table = pd.DataFrame({"n_train": [10, 10, 20, 20], "seed": [0, 1, 0, 1], "alignment": [0.2, 0.4, 0.6, 0.6],
                          "test_error": [1.0, 3.0, 0.5, 0.5]})
    pts = configuration_means(table, ["n_train"])
    assert pts.A.tolist() == pytest.approx([0.3, 0.6]) and pts.E.tolist() == pytest.approx([2.0, 0.5])
    assert pts.A_se.iloc[0] == pytest.approx(0.1) and pts.repeats.tolist() == [2, 2]


def test_ridge_ensemble_is_cos_squared_of_the_ridge_solutions():
    exp = Experiment(d=20, n_train=15, snr=2.0, members=4, n_probe=3000, metrics=("cka", "procrustes"))
    values, error = ridge_ensemble(exp, 0.1)
    ens = experiment_data(exp)
    b = np.stack([np.linalg.solve(x.T @ x + 15 * 0.1 * np.eye(20), x.T @ y) for x, y in zip(ens.x_train, ens.y_train)])
    cos2 = (b @ b.T) ** 2 / np.outer((b * b).sum(1), (b * b).sum(1))
    # On isotropic probes linear CKA of rank-one layers is cos^2 up to the probes' sampling error.
    assert values["cka"] == pytest.approx(cos2[np.triu_indices(4, 1)].mean(), abs=0.03)
    assert error == pytest.approx(np.mean((ens.x_probe @ b.T - ens.y_probe[:, None]) ** 2))
    with pytest.raises(ValueError, match="ridge"):
        ridge_ensemble(exp, 0.0)
    with pytest.raises(ValueError, match="linear"):
        ridge_ensemble(exp.replace(model="mlp", lr=0.01, optimizer="adam"), 0.1)


def test_rounding_differences_without_spread_are_no_counterexample():
    # Identical members: alignment 1 in every repeat (no spread), one configuration off by rounding.
    table = pd.DataFrame({"config": [0, 0, 0, 1, 1, 1], "seed": [0, 1, 2] * 2,
                          "alignment": [1.0] * 3 + [1.0 - 2.0**-52] * 3,
                          "test_error": [0.5, 0.52, 0.51, 0.1, 0.11, 0.12]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert counterexample_test(table, ["config"]).pairs.empty
