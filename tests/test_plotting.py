"""The book's figure style (repalign.plotting): colours by rank, labels, the threshold mark, the ratio axis."""

import math

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from repalign import plotting


def luminance(rgba) -> float:
    r, g, b = rgba[:3]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_sequential_colours_darken_with_the_value_whatever_the_order():
    values = [4.0, 0.5, math.inf, 1.0]
    colors = plotting.sequential_colors(values)
    assert set(colors) == set(values)
    by_value = [luminance(colors[v]) for v in sorted(values)]
    assert by_value == sorted(by_value, reverse=True)  # larger: darker; inf darkest
    assert plotting.snr_colors(values) == colors


def test_a_single_value_gets_one_mid_colour():
    (only,) = plotting.sequential_colors([2.0]).values()
    assert only == matplotlib.colormaps["viridis_r"](0.7)


def test_snr_labels():
    assert plotting.snr_label(math.inf) == r"$S=\infty$"
    assert plotting.snr_label(0.5) == "$S=0.5$" and plotting.snr_label(4.0) == "$S=4$"


def test_the_book_style_is_applied():
    plotting.use_book_style()
    assert matplotlib.rcParams["axes.spines.top"] is False
    assert matplotlib.rcParams["figure.figsize"] == list(plotting.STYLE["figure.figsize"])


def test_threshold_mark_and_ratio_axis():
    fig, ax = plt.subplots()
    ax.plot([0.2, 5.0], [0, 1])
    plotting.mark_threshold(ax, 1.0, label="$N = P$")
    plotting.log_ratio_axis(ax, ticks=(0.1, 0.2, 1, 5, 100), label="$N/P$")
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "$N/P$"
    assert [line.get_xdata()[0] for line in ax.get_lines()[1:]] == [1.0]
    assert any(t.get_text() == "$N = P$" for t in ax.texts)
    lo, hi = ax.get_xlim()
    ticks = ax.xaxis.get_major_locator()()
    assert np.all((ticks >= lo) & (ticks <= hi)) and 100 not in ticks  # only the ticks inside the axis
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.2", "1", "5"]  # plain numbers, no padding zeros
    plt.close(fig)


@pytest.mark.parametrize("cmap", ["viridis_r", "magma"])
def test_any_sequential_palette_can_be_used(cmap):
    colors = plotting.sequential_colors([1, 2, 3], cmap=cmap)
    assert colors[1] == matplotlib.colormaps[cmap](0.15) and colors[3] == matplotlib.colormaps[cmap](0.95)
