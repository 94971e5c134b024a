"""Hardening of the statistics and metrics: bad input is refused in one line that names the
argument and what it allows; the result never depends on the order of the rows; a numerically
constant representation gives NaN with a warning (repalign.inference.threshold, trends, decoupling,
inference, claims, theory and metrics)."""

import math
import warnings
from functools import partial

import numpy as np
import pandas as pd
import pytest

from repalign import Experiment, theory
from repalign.inference import benjamini_hochberg, holm, one_sided_p, repeats_needed, welch_one_sided_p
from repalign.inference.claims import decoupling_claim, minimum_claim, snr_claim, threshold_neighbours
from repalign.inference.decoupling import (across_configurations, configuration_means, counterexample_test,
                                           nearest_counterexample, regime)
from repalign.inference.extrema import extremum, interpolation_threshold, mean_curve, repeat_matrix
from repalign.inference.threshold import (lower_minimum_test, nearest_to_threshold, rise_test, threshold_test,
                                          threshold_window, window_test)
from repalign.inference.trends import equivalent_snr, paired_steps, rises_with_snr_everywhere, snr_trend
from repalign.metrics import METRICS, alignment_matrix
from repalign.untrained import ridge_ensemble

# --- inputs -----------------------------------------------------------------------------------

GRID = (10.0, 20.0, 40.0, 80.0)
REPEATS = 6


def _sample_size_curve(seed=0):
    """(x, values, groups): a curve with its trough at x = 20, one row per (x, repeat)."""
    rng = np.random.default_rng(seed)
    x = np.tile(GRID, REPEATS)
    groups = np.repeat(np.arange(REPEATS), len(GRID))
    values = np.where(x == 20.0, 0.0, 1.0) + 0.1 * rng.standard_normal(x.size)
    return x, values, groups


X, V, G = _sample_size_curve()
# The row of (x = 20, repeat 0) given twice, the second time far above the trough.
XD, VD, GD = np.append(X, 20.0), np.append(V, 5.0), np.append(G, 0)
DUPLICATE = "x and groups must give each (x, repeat) pair one row, got (20.0, 0) in 2 rows"


def _replaced(array, index, value):
    out = np.array(array, dtype=float)
    out[index] = value
    return out


def _snr_curve():
    """(snr, values, groups): alignment rising with S, five repeats."""
    snr = np.tile([1.0, 2.0, 4.0], 5)
    groups = np.repeat(np.arange(5), 3)
    values = np.log(snr) + 0.01 * np.random.default_rng(1).standard_normal(snr.size)
    return snr, values, groups


S, A, SG = _snr_curve()
S_BELOW_ZERO = np.tile([-2.0, -1.0, 0.0], 5)  # the tester's curve: it "rises monotonically"


def _sweep(seed=0):
    """A tidy sweep over N and S (the claims' input): a trough at N = 20, alignment rising with S."""
    rng = np.random.default_rng(seed)
    rows = [{"n_train": n, "snr": s, "seed": r, "alignment": (0.2 if n == 20 else 0.6) + 0.05 * math.log(s)
             + 0.01 * rng.standard_normal(), "test_error": 1.0 / s + 0.01 * rng.standard_normal()}
            for n in GRID for s in (1.0, 4.0) for r in range(4)]
    return pd.DataFrame(rows)


def _configurations(seed=0):
    """Three configurations: 1 is better aligned than 0 with the higher error (a counterexample);
    2 is the best aligned with the lowest error (none)."""
    rng = np.random.default_rng(seed)
    mean_a, mean_e = {0: 0.5, 1: 0.6, 2: 0.7}, {0: 1.0, 1: 1.1, 2: 0.5}
    return pd.DataFrame([{"config": c, "seed": r, "alignment": mean_a[c] + 0.01 * rng.standard_normal(),
                          "test_error": mean_e[c] + 0.01 * rng.standard_normal()} for c in mean_a for r in range(6)])


def _infinite(table, column, value=math.inf):
    """``table`` with one ensemble of configuration 2 (its last row) given ``value`` in ``column``."""
    out = table.copy()
    out.loc[out.index[-1], column] = value
    return out


def _sweep_with(column, value):
    table = _sweep()
    table.loc[0, column] = value
    return table


ALPHAS = np.geomspace(0.05, 10.0, 41)
NUMERICALLY_ZERO = "numerically zero: the alignment, of order S^2, underflows"
MEASUREMENT = "must be finite numbers or NaN (a missing measurement), got"
SNRS = "must be positive numbers (inf allowed), got"

# (callable, positional inputs, a fragment of the one-line message it must raise)
BAD_STATISTICS = [
    # threshold: one row per (x, repeat); finite grid values; no infinite value; no NaN label
    (window_test, (XD, VD, GD, (15.0, 25.0)), DUPLICATE),
    (extremum, (XD, VD, GD), DUPLICATE),
    (mean_curve, (XD, VD, GD), DUPLICATE),
    (repeat_matrix, (XD, VD, GD), DUPLICATE),
    (rise_test, (XD, VD, GD), DUPLICATE),
    (lower_minimum_test, (XD, VD, VD, GD), DUPLICATE),
    (threshold_test, (XD, VD, GD, 1000.0), DUPLICATE),  # refused even where no window test is made
    (window_test, (_replaced(X, 0, math.nan), V, G, (15.0, 25.0)), "x must be finite numbers (grid values), got nan"),
    (interpolation_threshold, (_replaced(X, 0, math.nan), V < 0.5, G),
     "x must be finite numbers (grid values), got nan"),
    (extremum, (_replaced(X, 3, math.inf), V, G), "x must be finite numbers (grid values), got inf"),
    (window_test, (X, _replaced(V, 5, math.inf), G, (15.0, 25.0)), f"values {MEASUREMENT} inf"),
    (extremum, (X, _replaced(V, 5, -math.inf), G), f"values {MEASUREMENT} -inf"),
    (lower_minimum_test, (X, V, _replaced(V, 5, math.inf), G), f"other {MEASUREMENT} inf"),
    (window_test, (X, V, _replaced(G, 2, math.nan), (15.0, 25.0)), "groups must be repeat labels, not NaN, got nan"),
    (threshold_test, (X, V, G, math.inf), "star must be a positive finite number or NaN (no threshold), got inf"),
    (threshold_test, (X, V, G, -20.0), "star must be a positive finite number or NaN (no threshold), got -20.0"),
    (threshold_window, (math.inf,), "n_star must be a positive finite number or NaN (no threshold), got inf"),
    (threshold_window, (0.0,), "n_star must be a positive finite number or NaN (no threshold), got 0.0"),
    # trends: S positive (inf: no noise); no infinite value
    (snr_trend, (S_BELOW_ZERO, A, SG), f"snr {SNRS} -2.0"),
    (snr_trend, (_replaced(S, 0, 0.0), A, SG), f"snr {SNRS} 0.0"),
    (snr_trend, (_replaced(S, 0, math.nan), A, SG), f"snr {SNRS} nan"),
    (snr_trend, (_replaced(S, 0, -math.inf), A, SG), f"snr {SNRS} -inf"),
    (snr_trend, (S, _replaced(A, 4, math.inf), SG), f"values {MEASUREMENT} inf"),
    (snr_trend, (S, A, _replaced(SG, 4, math.nan)), "groups must be repeat labels, not NaN, got nan"),
    (paired_steps, (S_BELOW_ZERO, A, SG), f"snr {SNRS} -2.0"),
    (equivalent_snr, ([0.0, 0.1], [0.0, math.inf], 3), f"snr {SNRS} 0.0"),
    (equivalent_snr, ([-0.1], [4.0], 3), "flip must be a probability in [0, 1 - 1/C)"),
    # decoupling: no infinite measurement; N / N_ref positive and finite
    (counterexample_test, (_infinite(_configurations(), "test_error"), ["config"]),
     f"table.test_error {MEASUREMENT} inf"),
    (counterexample_test, (_infinite(_configurations(), "alignment", -math.inf), ["config"]),
     f"table.alignment {MEASUREMENT} -inf"),
    (configuration_means, (_infinite(_configurations(), "test_error"), ["config"]), f"table.test_error {MEASUREMENT}"),
    (counterexample_test, (_infinite(_configurations(), "seed", math.nan), ["config"]),
     "table.seed must be repeat labels, not NaN, got nan"),
    (nearest_counterexample, (_infinite(_configurations(), "test_error"), ["config"], 0.01),
     f"table.test_error {MEASUREMENT}"),
    (across_configurations, ([[0.1, math.inf, 0.3]], [[1.0, 2.0, 3.0]]), f"a {MEASUREMENT} inf"),
    (regime, ([0.5, math.nan],), "ratio must be positive finite numbers (N / N_ref), got nan"),
    (ridge_ensemble, (Experiment(), math.inf), "a finite ridge > 0"),
    # inference: no infinite difference; p-values in [0, 1]; standard errors >= 0
    (one_sided_p, ([math.inf, 1.0, 2.0],), f"differences {MEASUREMENT} inf"),
    (welch_one_sided_p, (math.inf, 0.1, 0.0, 0.1, 5, 5), f"mean_a {MEASUREMENT} inf"),
    (welch_one_sided_p, (1.0, -0.1, 0.0, 0.1, 5, 5), "se_a must be finite numbers >= 0 or NaN (missing), got -0.1"),
    (benjamini_hochberg, ([0.01, 1.5],), "p must be p-values in [0, 1] or NaN (untested), got 1.5"),
    (holm, ([-0.01, 0.5],), "p must be p-values in [0, 1] or NaN (untested), got -0.01"),
    (repeats_needed, ([math.inf, 1.0, 2.0],), f"effects {MEASUREMENT} inf"),
    # claims: a sweep's N and S mean something; the S and grids asked for too
    (snr_claim, (_sweep_with("n_train", math.nan),), "table.n_train must be positive finite numbers, got nan"),
    (snr_claim, (_sweep_with("snr", 0.0),), f"table.snr {SNRS} 0.0"),
    (partial(minimum_claim, d=30.0, snrs=(1.0, math.nan)), (_sweep(),), f"snrs {SNRS} nan"),
    (decoupling_claim, (_sweep_with("test_error", math.inf),), f"table.test_error {MEASUREMENT} inf"),
    (threshold_neighbours, ([10.0, math.nan, 40.0], 30.0), "n_grid must hold at least one finite positive number"),
    (nearest_to_threshold, ([0.5, math.inf],), "ratios must be positive finite numbers"),
    (rises_with_snr_everywhere, ([[0.1, math.nan], [0.2, 0.3]],), "curves must be finite numbers, got nan"),
    # theory: an S whose alignment underflows is numerically zero (the question chapter's flat curve)
    (theory.alignment, (ALPHAS, 1e-320), NUMERICALLY_ZERO),
    (theory.alignment, (ALPHAS, 1e-200), NUMERICALLY_ZERO),
    (theory.test_error, (ALPHAS, 1e-320), NUMERICALLY_ZERO),
    (theory.multi_output_alignment, (ALPHAS, 1e-200, [1.0, 2.0]), NUMERICALLY_ZERO),
]


def _name(function) -> str:
    return getattr(function, "__name__", None) or function.func.__name__


@pytest.mark.parametrize(("function", "inputs", "fragment"), BAD_STATISTICS,
                         ids=[f"{i}-{_name(f)}" for i, (f, _, _) in enumerate(BAD_STATISTICS)])
def test_bad_input_is_refused_in_one_line_naming_the_argument(function, inputs, fragment):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the refusal, not a warning on the way, is tested
        with pytest.raises(ValueError) as refused:
            function(*inputs)
    message = str(refused.value)
    assert fragment in message and "\n" not in message


# --- the order of the rows ----------------------------------------------------------------------


def _outcome(function, x, values, groups):
    """The result (its repr: NaN equals NaN there), or the message of the refusal."""
    try:
        return repr(function(x, values, groups))
    except ValueError as refused:
        return f"ValueError: {refused}"


@pytest.mark.parametrize("function", [partial(window_test, window=(15.0, 25.0)), partial(extremum, boot=200)],
                         ids=["window_test", "extremum"])
def test_shuffled_rows_give_the_identical_outcome(function):
    rng = np.random.default_rng(2)
    for x, values, groups in ((X, V, G), (XD, VD, GD)):  # one row per (x, repeat), then a duplicated one
        outcomes = [_outcome(function, x[order], values[order], groups[order])
                    for order in [np.arange(x.size), np.arange(x.size)[::-1], *(rng.permutation(x.size)
                                                                                 for _ in range(4))]]
        assert all(o == outcomes[0] for o in outcomes[1:])
    assert outcomes[0] == f"ValueError: {DUPLICATE}"  # the duplicated row: one refusal, whatever the order


def test_the_tester_reordering_no_longer_flips_inside_to_outside():
    last_first = np.r_[XD.size - 1, : XD.size - 1]
    for order in (np.arange(XD.size), last_first):
        with pytest.raises(ValueError, match=r"\(20\.0, 0\) in 2 rows"):
            window_test(XD[order], VD[order], GD[order], (15.0, 25.0))
    assert window_test(X, V, G, (15.0, 25.0)).decision == "inside"  # without the duplicate


# --- numerically constant representations ------------------------------------------------------


@pytest.mark.parametrize("name", sorted(METRICS))
def test_a_numerically_constant_representation_gives_nan_with_a_warning(name):
    rng = np.random.default_rng(3)
    x, y, z = (rng.standard_normal((50, 3)) for _ in range(3))
    flat = 1.0 + 1e-16 * x  # not exactly constant: entries 1 and 1 +- one ulp
    assert not np.all(flat == flat[0])
    with pytest.warns(RuntimeWarning, match="constant"):
        assert math.isnan(METRICS[name](flat, y))
    with pytest.warns(RuntimeWarning, match="constant"):
        assert math.isnan(METRICS[name](y, flat))
    with pytest.warns(RuntimeWarning, match=r"\[1\]"):
        matrix = alignment_matrix([y, flat, z], name)
    assert np.isnan(matrix[1]).all() and np.isnan(matrix[:, 1]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the other pair is untouched, and equal to the pairwise form
        assert matrix[0, 2] == pytest.approx(METRICS[name](y, z), abs=1e-10)
        # A small but real spread, 1 + 1e-6 x (some 10^10 ulps), is not constant: the metric of x.
        related = x + 0.5 * y
        assert METRICS[name](1.0 + 1e-6 * x, related) == pytest.approx(METRICS[name](x, related), abs=1e-6)


def test_the_smallest_snr_of_the_closed_forms_still_gives_a_curve_with_its_minimum_at_the_threshold():
    curve = theory.alignment(ALPHAS, theory.SMALLEST_SNR)
    assert curve.min() > 0 and np.ptp(curve) > 0
    lowest = ALPHAS[curve == curve.min()]
    assert lowest.size == 1 and lowest[0] in (ALPHAS[ALPHAS < 1].max(), ALPHAS[ALPHAS > 1].min())
