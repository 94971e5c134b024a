"""Interpolation threshold, extremum locations and reference sizes (repalign.inference.threshold)."""

import math

import numpy as np
import pandas as pd
import pytest

from repalign import Experiment
from repalign.inference.extrema import extremum, interpolated, interpolation_threshold, mean_curve
from repalign.inference.threshold import NEAR_FACTOR, threshold_window
from repalign.sizes import n_parameters, network, network_name, one_hot_reference_size, reference_size, reference_sizes


def test_threshold_is_the_largest_interpolated_size_per_repeat():
    n = np.array([10, 20, 40, 80] * 3)
    groups = np.repeat([0, 1, 2], 4)
    fitted = np.array([1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 1, 0], dtype=bool)  # repeat 2: a gap below its N*
    t = interpolation_threshold(n, fitted, groups)
    assert t.per_repeat == {0: 20.0, 1: 40.0, 2: 40.0}
    assert t.mean == pytest.approx(100 / 3)
    assert t.sd == pytest.approx(np.std([20, 40, 40], ddof=1))
    assert (t.low, t.high, t.next_up) == (20.0, 40.0, 80.0)


def test_an_ensemble_interpolates_when_a_majority_of_its_members_do():
    assert interpolated([0.0, 0.5, 0.75, 1.0]).tolist() == [False, False, True, True]
    with pytest.raises(ValueError, match="fraction must be fractions between 0 and 1"):
        interpolated([0.5, 1.5])


def test_the_majority_threshold_does_not_fall_with_the_ensemble_size():
    """Members that fit with probability 0.7 at one N: a majority of K of them fit in most
    ensembles for K = 4 and for K = 16, where "all K" fits in 24% and in 0.3% of them."""
    rng = np.random.default_rng(0)
    share = {k: interpolated((rng.random((4000, k)) < 0.7).mean(axis=1)).mean() for k in (4, 16)}
    assert share[4] > 0.6 and share[16] > 0.8  # binomial: 0.65 and 0.87 (Monte-Carlo error < 0.01)


def test_smallest_side_for_a_model_wise_sweep():
    p = np.array([50, 100, 200, 400] * 2)
    groups = np.repeat([0, 1], 4)
    fitted = np.array([0, 0, 1, 1, 0, 1, 1, 1], dtype=bool)
    t = interpolation_threshold(p, fitted, groups, side="smallest")
    assert t.per_repeat == {0: 200.0, 1: 100.0}
    assert t.next_up == 50.0


def test_no_interpolation_gives_nan_and_bad_input_is_named():
    t = interpolation_threshold([1, 2], np.array([False, False]), [0, 0])
    assert math.isnan(t.mean) and math.isnan(t.next_up)
    with pytest.raises(ValueError, match="interpolated must be booleans"):
        interpolation_threshold([1, 2], [0, 1], [0, 0])
    with pytest.raises(ValueError, match="same length|one length"):
        interpolation_threshold([1, 2, 3], np.array([True, False]), [0, 0])
    with pytest.raises(ValueError, match="side must be one of"):
        interpolation_threshold([1], np.array([True]), [0], side="middle")


def test_extremum_of_a_parabola_in_log_n_is_found_between_grid_points():
    grid = np.geomspace(10, 1000, 9)
    true_min = 10 ** 2.1
    curve = (np.log10(grid) - np.log10(true_min)) ** 2
    n = np.tile(grid, 4)
    groups = np.repeat(np.arange(4), grid.size)
    rng = np.random.default_rng(0)
    values = np.tile(curve, 4) + rng.normal(0, 1e-3, n.size)
    ext = extremum(n, values, groups, kind="min", boot=200)
    assert ext.location == pytest.approx(true_min, rel=0.03)  # exact vertex for an exact parabola
    assert ext.low <= ext.location <= ext.high
    peak = extremum(n, -values, groups, kind="max", boot=200)
    assert peak.location == pytest.approx(ext.location)


def test_extremum_uncertainty_reflects_disagreeing_repeats():
    grid = np.array([10.0, 20, 40, 80, 160])
    # Repeat 0 has its minimum at 20, repeat 1 at 80: the bootstrap interval must cover both.
    values = np.array([[1, 0, 1, 1, 1], [1, 1, 1, 0, 1]], dtype=float)
    n = np.tile(grid, 2)
    ext = extremum(n, values.ravel(), np.repeat([0, 1], 5), kind="min", boot=400, level=0.9)
    assert ext.low <= 20 * 1.5 and ext.high >= 80 / 1.5
    agree = extremum(n, np.tile(values[0], 2), np.repeat([0, 1], 5), kind="min", boot=100)
    assert agree.log_sd == pytest.approx(0.0) and agree.grid_location == 20


def test_window_finds_a_local_peak_and_edges_are_flagged():
    n = np.array([1.0, 2, 4, 8, 16, 32])
    curve = np.array([9.0, 5, 4, 6, 4, 1])  # highest at the edge, a local peak at 8
    glob = extremum(n, curve, np.zeros(6), kind="max", boot=10)
    assert glob.grid_location == 1.0 and glob.at_edge and np.isnan(glob.below)
    local = extremum(n, curve, np.zeros(6), kind="max", boot=10, window=(3, 20))
    assert local.grid_location == 8.0 and not local.at_edge and (local.below, local.above) == (4.0, 16.0)
    edge = extremum(n, curve, np.zeros(6), kind="max", boot=10, window=(1.5, 5))  # neighbours outside count
    assert edge.grid_location == 2.0 and (edge.below, edge.above) == (1.0, 4.0) and not edge.at_edge
    # 2 is the window's highest point but no local peak (its parabola bends upwards): the
    # location stays on the grid instead of sliding to the parabola's minimum.
    assert edge.location == pytest.approx(2.0)
    with pytest.raises(ValueError, match="window"):
        extremum(n, curve, np.zeros(6), window=(20, 3))


def test_extremum_at_the_edge_and_errors():
    n, groups = np.array([1.0, 2, 4]), np.zeros(3)
    assert extremum(n, [0.0, 1, 2], groups, kind="min", boot=10).location == 1.0
    with pytest.raises(ValueError, match="kind must be one of"):
        extremum(n, [0.0, 1, 2], groups, kind="lowest")
    with pytest.raises(ValueError, match="positive"):
        extremum(np.array([0.0, 1, 2]), [0.0, 1, 2], groups)
    with pytest.raises(ValueError, match="boot"):
        extremum(n, [0.0, 1, 2], groups, boot=3)


def test_mean_curve_ignores_nan():
    grid, means = mean_curve([1, 1, 2, 2], [1.0, np.nan, 2.0, 4.0], [0, 1, 0, 1])
    np.testing.assert_allclose(grid, [1, 2])
    np.testing.assert_allclose(means, [1.0, 3.0])


def test_reference_sizes_follow_the_parameter_count():
    # one hidden layer, biases: H (D + 1) + C (H + 1)
    assert n_parameters("mlp1", d=16, width=8) == 8 * 17 + 9
    assert n_parameters("mlp2", d=16, width=8) == 8 * 17 + 8 * 9 + 9
    assert reference_size("mlp1", d=16, width=8) == 145
    assert reference_size("mlp1", d=16, width=8, n_classes=3) == pytest.approx((8 * 17 + 3 * 9) / 3)
    assert reference_size("linear", d=16, width=8, n_classes=3) == 16  # N = D whatever the width
    with pytest.raises(ValueError, match="network must be one of"):
        reference_size("cnn", d=16, width=8)
    with pytest.raises(ValueError, match="n_classes"):
        reference_size("mlp1", d=16, width=8, n_classes=1)


def test_one_hot_reference_size_counts_the_independent_equations():
    # C one-hot targets sum to one: N (C - 1) equations for P - (H + 1) parameters
    p = n_parameters("mlp1", d=2, width=8, n_outputs=3)
    assert one_hot_reference_size("mlp1", d=2, width=8, n_classes=3) == (p - 9) / 2 == 21
    assert one_hot_reference_size("mlp1", d=2, width=8, n_classes=2) == reference_size("mlp1", d=2, width=8)
    with pytest.raises(ValueError, match="network must be an MLP"):
        one_hot_reference_size("linear", d=2, width=8, n_classes=3)
    with pytest.raises(ValueError, match="n_classes"):
        one_hot_reference_size("mlp1", d=2, width=8, n_classes=1)


def test_network_names_read_both_ways():
    assert network("linear") == ("linear", 1) and network("mlp2") == ("mlp", 2) and network("mlp5") == ("mlp", 5)
    assert network_name("linear", 1) == "linear" and network_name("mlp", 3) == "mlp3"
    for name in ("mlp0", "mlp", "cnn", 3):
        with pytest.raises(ValueError, match="network must be one of"):
            network(name)
    with pytest.raises(ValueError, match="depth must be an integer >= 1"):
        network_name("mlp", 0)


def test_reference_sizes_apply_the_one_formula_to_every_row():
    """A sweep table's rows: linear network, MLPs of depth 1 and 2, classification, real data
    whose ``d`` is None (its native dimension) or a number of principal components, and MLPs
    trained to convergence by Levenberg-Marquardt (classification counted for one-hot targets)."""
    rows = [Experiment(d=50), Experiment(d=16, model="mlp", width=8, lr=0.1, optimizer="adam"),
            Experiment(data="teacher-linear-class", d=16, n_classes=3, model="mlp", depth=2, width=8, lr=0.1),
            Experiment(data="diabetes", d=None, model="mlp", width=4, lr=0.1),
            Experiment(data="digits", d=10, model="mlp", width=8, lr=0.1),
            Experiment(data="teacher-linear-class", d=16, n_classes=3, model="mlp", width=8, activation="tanh", loss="mse",
                       optimizer="lm", dtype="float64"),
            Experiment(d=16, model="mlp", width=8, activation="tanh", optimizer="lm", loss="mse", dtype="float64")]
    table = pd.DataFrame([exp.to_dict() for exp in rows])
    assert reference_sizes(table).tolist() == [
        50.0, 145.0, reference_size("mlp2", d=16, width=8, n_classes=3), reference_size("mlp1", d=10, width=4),
        reference_size("mlp1", d=10, width=8, n_classes=10),
        one_hot_reference_size("mlp1", d=16, width=8, n_classes=3), 145.0]  # trained to convergence: the one-hot count
    assert reference_sizes(table)[2] == pytest.approx((8 * 17 + 8 * 9 + 3 * 9) / 3)
    with pytest.raises(ValueError, match="missing.*'width'"):
        reference_sizes(table.drop(columns="width"))


def test_reference_sizes_equal_the_parameter_count_that_training_reports():
    """N_ref of an MLP row is P / C with P the count of the trained network (``n_parameters``)."""
    from repalign import run_experiment

    exp = Experiment(data="teacher-linear-class", d=6, n_classes=3, n_train=12, model="mlp", width=5,
                     optimizer="adam", lr=0.01, steps=2, members=2, n_probe=20)
    with pytest.warns(RuntimeWarning):
        trained = run_experiment(exp)
    assert reference_sizes(pd.DataFrame([exp.to_dict()]))[0] == trained.n_parameters / 3


@pytest.mark.parametrize("kind", ["min", "max"])
def test_vectorised_locations_equal_one_curve_at_a_time_and_polyfit(kind):
    from repalign.inference.extrema import _location, _locations

    rng = np.random.default_rng(5)
    lx = np.log10(np.array([5.0, 8, 13, 20, 32, 50, 80]))
    curves = rng.normal(size=(300, lx.size))
    curves[::17, 3] = np.nan  # some resamples miss a grid point
    allowed = np.array([False, True, True, True, True, True, False])
    one_by_one = np.array([_location(lx, c, kind, allowed) for c in curves])
    np.testing.assert_array_equal(_locations(lx, curves, kind, allowed), one_by_one)
    # The closed-form vertex is np.polyfit's, where the parabola bends the right way.
    for c in curves[:50]:
        pick = np.nanargmin if kind == "min" else np.nanargmax
        i = int(pick(np.where(allowed, c, np.nan)))
        a, b, _ = np.polyfit(lx[i - 1:i + 2], c[i - 1:i + 2], 2)
        if np.isfinite(c[i - 1:i + 2]).all() and ((a > 0) if kind == "min" else (a < 0)):
            expected = np.clip(-b / (2 * a), lx[i - 1], lx[i + 1])
            assert _location(lx, c, kind, allowed) == pytest.approx(expected, abs=1e-12)


def test_threshold_window():
    assert NEAR_FACTOR == 2.0
    assert threshold_window(40.0) == (20.0, 80.0)
    assert threshold_window(math.nan) is None
    with pytest.raises(ValueError, match="factor"):
        threshold_window(40.0, factor=0.5)
