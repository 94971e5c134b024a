"""The SNR axis with S = inf on it (repalign.plotting: inf_position, snr_positions, snr_axis),
against the helpers the SNR and real-data chapters each defined."""

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from repalign.plotting import INF_OFFSET, inf_position, snr_axis, snr_positions  # noqa: E402

SNRS = (0.1, 1.0, 10.0, 100.0, math.inf)


def _axes():
    return Figure().add_subplot()


def _state(ax):
    spans = [(p.get_x(), p.get_x() + p.get_width(), p.get_facecolor(), p.get_zorder()) for p in ax.patches]
    return (ax.get_xscale(), list(ax.get_xticks()), [t.get_text() for t in ax.get_xticklabels()],
            len(ax.xaxis.get_minorticklocs()), spans)


def test_inf_sits_to_the_right_of_the_largest_finite_snr():
    assert inf_position(SNRS) == 100.0 * INF_OFFSET > 100.0
    x = snr_positions([0.1, math.inf, 10.0], SNRS)
    assert x[1] == inf_position(SNRS) and x[1] > max(s for s in SNRS if math.isfinite(s))
    np.testing.assert_array_equal(x[[0, 2]], [0.1, 10.0])  # finite values stay where they are
    assert snr_positions([2.0, math.inf])[1] == 2.0 * INF_OFFSET  # the grid defaults to the values
    assert inf_position([math.inf]) == INF_OFFSET  # no finite S: inf sits at 10^1.2


@pytest.mark.parametrize("snrs", [SNRS, (0.1, 1.0, 10.0, 100.0, 1000.0, math.inf), (2.0, 3.0), (math.inf,)])
def test_axis_equals_the_snr_chapter(snrs):
    # chapters/snr.md, verbatim
    finite = [s for s in snrs if math.isfinite(s)]
    top = max(finite) if finite else 1.0
    INF_AT = top * 10 ** 1.2  # where S = inf sits on the log axis

    def position(s):
        return np.where(np.isinf(s), INF_AT, s)

    def old_snr_axis(ax):
        ax.set_xscale("log")
        ticks = [s for s in finite if math.log10(s).is_integer()] or finite
        ax.set_xticks(ticks + [INF_AT], [f"{s:g}" for s in ticks] + [r"$\infty$"])
        ax.minorticks_off()
        if finite:
            ax.axvspan(top * 10 ** 0.45, top * 10 ** 0.75, color="white", zorder=3)  # the axis break before inf

    values = np.array(snrs * 2)
    np.testing.assert_array_equal(snr_positions(values, snrs), position(values))
    old, new = _axes(), _axes()
    old_snr_axis(old)
    snr_axis(new, snrs)
    assert _state(new) == _state(old)
    assert _state(new)[2][-1] == r"$\infty$" and new.get_xticks()[-1] == inf_position(snrs)


def test_axis_without_break_equals_the_real_data_chapter():
    snrs = (0.25, 1.0, 10.0, 100.0, 1000.0, math.inf)  # five finite values: powers of ten only
    # the real-data chapter's code before snr_axis took it over, verbatim
    finite = [s for s in snrs if math.isfinite(s)]
    top = max(finite) if finite else 1.0
    INF_AT = top * 10 ** 1.2
    old = _axes()
    ax = old
    ax.set_xscale("log")
    ticks = [s for s in finite if math.log10(s) == round(math.log10(s))] or finite
    ax.set_xticks(ticks + [INF_AT], [f"{s:g}" for s in ticks] + [r"$\infty$"])
    ax.minorticks_off()
    new = _axes()
    snr_axis(new, snrs, axis_break=False)
    assert _state(new) == _state(old)
    assert _state(new)[1:3] == ([1.0, 10.0, 100.0, 1000.0, INF_AT], ["1", "10", "100", "1000", r"$\infty$"])


def test_a_short_grid_labels_every_value():
    snrs = (0.25, 1.0, 4.0, math.inf)  # the real-data chapter's paper grid
    ax = _axes()
    snr_axis(ax, snrs, axis_break=False)
    assert _state(ax)[1:3] == ([0.25, 1.0, 4.0, inf_position(snrs)], ["0.25", "1", "4", r"$\infty$"])
