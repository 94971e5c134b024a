"""The book's figure style: one look for every chapter.

One palette for ordered values (darker means larger, an SNR of inf darkest), one mark for
the interpolation threshold, plain-number log axes for sample ratios, and the matplotlib
settings every chapter applies with ``use_book_style()``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib as mpl
import numpy as np

STYLE = {
    "figure.figsize": (8.0, 3.4),
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "lines.linewidth": 1.8,
}
THRESHOLD_COLOR = "0.35"


def use_book_style() -> None:
    """Apply the book's matplotlib settings (call once per chapter)."""
    mpl.rcParams.update(STYLE)


def sequential_colors(values: Sequence[float], cmap: str = "viridis_r") -> dict[float, tuple]:
    """A colour per value from one sequential palette, by rank: darker means larger."""
    palette = mpl.colormaps[cmap]
    ranks = np.argsort(np.argsort(values)) if len(values) > 1 else np.zeros(1, dtype=int)
    shades = np.linspace(0.15, 0.95, len(values)) if len(values) > 1 else np.array([0.7])
    return {v: palette(shades[r]) for v, r in zip(values, ranks)}


def snr_colors(snrs: Sequence[float]) -> dict[float, tuple]:
    """A colour per SNR: darker means higher SNR, inf darkest."""
    return sequential_colors(snrs)


def snr_label(snr: float) -> str:
    return r"$S=\infty$" if math.isinf(snr) else f"$S={snr:g}$"


def mark_threshold(ax, x: float = 1.0, label: str = "$N = D$") -> None:
    """Draw the interpolation threshold as a labelled vertical line."""
    ax.axvline(x, color=THRESHOLD_COLOR, linestyle="--", linewidth=1.0, zorder=0)
    ax.annotate(label, xy=(x, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12),
                textcoords="offset points", color=THRESHOLD_COLOR, fontsize=8.5)


def log_ratio_axis(ax, ticks=(0.1, 0.2, 0.5, 1, 2, 5, 10), label: str = "$N/D$") -> None:
    """A log x axis for a sample ratio, labelled with plain numbers instead of powers of ten."""
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    ax.xaxis.set_major_locator(FixedLocator([t for t in ticks if lo <= t <= hi]))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(label)
