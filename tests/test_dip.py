"""The nonlinear-regimes chapter's pieces: per-layer measurements of an Experiment, the two curve
tests it adds (``lower_minimum_test``, ``rise_test``) with their false-positive rates measured by
simulation, and its sweeps (``book_sweeps.dip_jobs``).

Error rates are asserted at most the nominal level plus three Monte-Carlo standard errors of a
rate at that level, under the least favourable null of each test.
"""

import math
import warnings

import numpy as np
import pytest

from repalign import Experiment, book_sweeps, run_experiment
from repalign.experiment import layers_of, split_measurement
from repalign.inference.threshold import lower_minimum_test, rise_test
from repalign.metrics import METRICS
from repalign.presets import DipConfig
from repalign.untrained import untrained_alignment

GRID = np.array([10.0, 14, 20, 28, 40, 56, 80])


def bound(level: float, simulations: int) -> float:
    return level + 3 * math.sqrt(level * (1 - level) / simulations)


def curves(shape, repeats, rng, *, shared=0.5, noise=1.0):
    values = np.asarray(shape, float)[None, :] + shared * rng.normal(size=(repeats, 1)) \
        + noise * rng.normal(size=(repeats, GRID.size))
    return np.tile(GRID, repeats), values.reshape(-1), np.repeat(np.arange(repeats), GRID.size)


# --- per-layer measurements ------------------------------------------------------------------------


def small_mlp(**changes) -> Experiment:
    settings = dict(data="teacher-linear", d=6, n_train=20, snr=2.0, model="mlp", width=5, depth=2, members=3,
                    optimizer="adam", lr=0.01, steps=30, n_probe=40)
    return Experiment(**{**settings, **changes})


def test_measurement_names_split_into_metric_and_layer():
    assert split_measurement("cka") == ("cka", None)
    assert split_measurement("cka@output") == ("cka", "output")
    assert layers_of("mlp", 2) == ("hidden1", "hidden2", "output")
    assert layers_of("linear", 1) == ("hidden1", "output")


def test_each_layer_is_measured_and_the_unsuffixed_name_is_the_last_hidden_layer():
    exp = small_mlp(metrics=("cka", "cka@hidden1", "cka@hidden2", "cka@output", "procrustes@output"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run_experiment(exp)
    assert res.alignment["cka"] == res.alignment["cka@hidden2"]
    assert res.alignment["cka@hidden1"] != res.alignment["cka"]
    assert set(res.alignment_matrix) == set(exp.metrics)
    untrained = untrained_alignment(exp)
    assert untrained["cka"] == untrained["cka@hidden2"] and set(untrained) == set(exp.metrics)


def test_output_cka_of_one_output_is_the_squared_correlation_of_the_predictions():
    import torch
    from repalign.experiment import experiment_data
    from repalign.models import Architecture, forward, init_params
    exp = small_mlp(depth=1, metrics=("cka@output",))
    ens = experiment_data(exp)
    init_seed = np.random.SeedSequence(exp.seed).spawn(3)[1]  # as run_experiment and untrained_alignment
    arch = Architecture.of("mlp", d_in=exp.d, width=exp.width, depth=1, n_out=1, activation="relu")
    params = init_params(arch, init_seed.spawn(exp.members), 1.0, dtype=torch.float64, device=torch.device("cpu"))
    out, _ = forward(arch, params, torch.as_tensor(ens.x_probe, dtype=torch.float64))
    r = np.corrcoef(out[..., 0].numpy())
    expected = np.mean(r[np.triu_indices(exp.members, 1)] ** 2)
    assert untrained_alignment(exp)["cka@output"] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("metrics", [("cka@hidden3",), ("cka@",), ("nope@output",), ("cka@input",), ()])
def test_unknown_layers_and_metrics_are_refused_naming_the_allowed_ones(metrics):
    with pytest.raises(ValueError, match=r"Experiment.metrics must be .*layer from \('hidden1', 'hidden2', 'output'\)"):
        small_mlp(metrics=metrics)


def test_a_layer_measurement_enters_the_cache_key():
    from repalign.cache import experiment_key
    assert experiment_key(small_mlp(metrics=("cka",))) != experiment_key(small_mlp(metrics=("cka@output",)))


# --- is one curve's minimum lower than another's? --------------------------------------------------


def test_lower_minimum_false_positive_rate_for_curves_of_one_distribution():
    rng = np.random.default_rng(11)
    sims, shape = 600, -np.exp(-np.log(GRID / 28.0) ** 2)
    hits = 0
    for _ in range(sims):
        x, a, groups = curves(shape, 10, rng)
        _, b, _ = curves(shape, 10, rng)
        hits += lower_minimum_test(x, a, b, groups).significant
    assert hits / sims <= bound(0.05, sims)


def test_lower_minimum_finds_a_deeper_trough_and_checks_its_inputs():
    rng = np.random.default_rng(12)
    x, a, groups = curves(-3 * (GRID == 28), 10, rng, noise=0.3)
    _, b, _ = curves(np.zeros(GRID.size), 10, rng, noise=0.3)
    test = lower_minimum_test(x, a, b, groups)
    assert test.significant and test.effect > 2 and test.repeats == 10
    assert not lower_minimum_test(x, b, a, groups).significant
    gap = b.copy()
    gap[3] = np.nan  # one repeat of the other curve has a gap: the repeats no longer pair
    with pytest.raises(ValueError, match="same grid and repeats"):
        lower_minimum_test(x, a, gap, groups)


# --- does a curve rise somewhere? ------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["flat", "falling"])
def test_rise_test_false_positive_rate_when_the_curve_never_rises(shape):
    rng = np.random.default_rng(13)
    sims = 600
    mean = np.zeros(GRID.size) if shape == "flat" else -np.log(GRID)  # flat: the least favourable null
    rate = sum(rise_test(*curves(mean, 10, rng)).significant for _ in range(sims)) / sims
    assert rate <= bound(0.05, sims)


def test_rise_test_finds_a_peak():
    rng = np.random.default_rng(14)
    peak = -np.log(GRID) + 3 * (GRID == 28)
    test = rise_test(*curves(peak, 10, rng, noise=0.3))
    assert test.significant and test.effect > 0 and test.p <= 0.05


# --- the chapter's sweeps --------------------------------------------------------------------------


def test_dip_jobs_change_one_thing_of_the_reference_each():
    cfg = DipConfig.from_preset("smoke")
    jobs = book_sweeps.dip_jobs(cfg)
    reference = book_sweeps.dip_base(cfg, book_sweeps.DIP_REFERENCE).to_dict()
    regimes = [labels["regime"] for labels, _, _ in jobs]
    assert regimes == list(book_sweeps.dip_regimes(cfg)) and len(set(regimes)) == len(regimes)
    for labels, base, grid in jobs:
        changed = {k for k, v in base.to_dict().items() if reference[k] != v}
        allowed = set(book_sweeps.dip_regimes(cfg)[labels["regime"]]) | {"metrics", "data", "flip", "snr", "loss"}
        assert changed <= allowed, labels["regime"]
        assert base.metrics[0] == cfg.metric and base.metrics[-1] == f"{cfg.metric}@output"
        assert grid["seed"] == list(range(cfg.seed, cfg.seed + cfg.repeats))
    steps = dict((labels["regime"], grid.get("steps")) for labels, _, grid in jobs)
    assert steps[book_sweeps.DIP_REFERENCE] == [*cfg.budgets, cfg.steps]


@pytest.mark.parametrize("kwargs, name", [({"budgets": (4000,)}, "budgets"), ({"budgets": (10, 10)}, "budgets"),
                                          ({"init_scales": (0.0,)}, "init_scales"), ({"gd_lr": -1.0}, "gd_lr"),
                                          ({"n_ratios": (1.0, 2.0)}, "n_ratios"), ({"gd_steps": 0}, "gd_steps")])
def test_dip_config_refuses_bad_values_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        DipConfig.from_preset("paper", **kwargs)


def test_every_metric_can_be_measured_on_the_outputs():
    cfg = DipConfig.from_preset("smoke")
    for metric in METRICS:
        base = book_sweeps.dip_base(DipConfig.from_preset("smoke", metric=metric), "two hidden layers")
        assert base.metrics == (metric, f"{metric}@hidden1", f"{metric}@output")
    assert cfg.metric == "cka"
