"""The book's figure style: one look for every chapter.

A colour-blind-safe cycle for categories, one palette for ordered values (darker means larger,
an SNR of inf darkest), one mark for the interpolation threshold, plain-number log axes for
sample ratios, and the matplotlib settings every chapter applies with ``use_book_style()``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib as mpl
import numpy as np

from .inference import UNDECIDED
from .inference.claims import CLAIMS, FAILS, HOLDS, MARKS, PARTLY

# The page shows a figure about 720 px wide, whatever its size in inches: a font of f points in a
# figure W inches wide reads as about 10 f / W pixels. Figures are at most PAGE_WIDTH inches wide
# and no text is smaller than 9 points, so that nothing reads below 11 px.
PAGE_WIDTH = 8.0
STYLE = {
    "figure.figsize": (PAGE_WIDTH, 3.4),
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 10.5,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10.5,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "lines.linewidth": 1.8,
    # Okabe and Ito's colour-blind-safe palette as the colour cycle: "C0", "C1", ... in every
    # chapter are blue, orange, bluish green, vermillion, reddish purple, sky blue, yellow, black.
    "axes.prop_cycle": mpl.cycler(color=["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9",
                                         "#F0E442", "#000000"]),
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
                textcoords="offset points", color=THRESHOLD_COLOR, fontsize=9)


def log_ratio_axis(ax, ticks=(0.1, 0.2, 0.5, 1, 2, 5, 10), label: str = "$N/D$") -> None:
    """A log x axis for a sample ratio, labelled with plain numbers (0.25, 0.5, 1, 2) instead of
    powers of ten."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    ax.xaxis.set_major_locator(FixedLocator([t for t in ticks if lo <= t <= hi]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(label)


# --- an SNR axis with S = inf on it ---------------------------------------------------------

INF_OFFSET = 10**1.2  # S = inf is drawn this factor beyond the largest finite S
BREAK = (10**0.45, 10**0.75)  # the white band that breaks the axis before inf, as factors of the largest finite S


def _finite(snrs) -> list[float]:
    return [float(s) for s in np.asarray(snrs, dtype=float).reshape(-1) if math.isfinite(s)]


def inf_position(snrs) -> float:
    """Where S = inf sits on a log axis: INF_OFFSET times the largest finite S of the grid (1 if none)."""
    finite = _finite(snrs)
    return (max(finite) if finite else 1.0) * INF_OFFSET


def snr_positions(values, snrs=None) -> np.ndarray:
    """x positions of SNR values on a log axis: finite S at itself, inf at :func:`inf_position`.

    ``snrs``: the sweep's grid, which sets where inf goes; the values themselves by default.
    """
    values = np.asarray(values, dtype=float)
    return np.where(np.isinf(values), inf_position(values if snrs is None else snrs), values)


MAX_LABELLED_SNRS = 4  # beyond this many finite SNRs, only powers of ten are labelled


def snr_axis(ax, snrs, *, axis_break: bool = True) -> None:
    """A log x axis for the SNR grid ``snrs``: ticks at every finite value of a short grid (up to
    MAX_LABELLED_SNRS, so a reader sees where each curve point lies), else at its powers of ten,
    and at inf, labelled "∞"; no minor ticks. ``axis_break`` draws a white band between the
    largest finite S and inf, so that the distance to inf is not read as data."""
    finite = _finite(snrs)
    ax.set_xscale("log")
    decades = [s for s in finite if math.log10(s).is_integer()]
    ticks = finite if len(finite) <= MAX_LABELLED_SNRS or not decades else decades
    ax.set_xticks(ticks + [inf_position(snrs)], [f"{s:g}" for s in ticks] + [r"$\infty$"])
    ax.minorticks_off()
    if finite and axis_break:
        ax.axvspan(max(finite) * BREAK[0], max(finite) * BREAK[1], color="white", zorder=3)


# The verdicts' colours, told apart without red against green (Okabe and Ito's palette), and the
# mark's colour on each, for contrast.
VERDICT_COLOURS = {HOLDS: "#0072B2", PARTLY: "#9CCBEB", FAILS: "#D55E00", UNDECIDED: "#DDDDDD"}
_MARK_ON = {HOLDS: "white", FAILS: "white"}


def verdicts_figure(rows, titles: dict[str, str]):
    """The book's verdicts at a glance: one column per claim and one row per setting, under a
    heading row for its chapter; each cell coloured by its verdict and carrying its mark, a dash
    where a setting does not test a claim. ``rows``: the verdict table's main-metric rows
    (``verdicts.main_metric_rows``); ``titles``: chapter -> its short title."""
    import textwrap

    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    settings = list(dict.fromkeys(zip(rows.chapter, rows.setting)))
    lines: list[tuple[str, str | None]] = []  # (chapter, setting), a chapter's heading with setting None
    for chapter, setting in settings:
        if not lines or lines[-1][0] != chapter:
            lines.append((chapter, None))
        lines.append((chapter, setting))
    fig, ax = plt.subplots(figsize=(PAGE_WIDTH, 0.26 * len(lines) + 1.3), layout="constrained")
    for i, (chapter, setting) in enumerate(lines):
        if setting is None:
            ax.text(-0.05, i + 0.6, titles.get(chapter, chapter), ha="right", va="center", fontweight="bold",
                    transform=ax.get_yaxis_transform())
            continue
        for j, key in enumerate(CLAIMS):
            cell = rows[(rows.chapter == chapter) & (rows.setting == setting) & (rows.claim == key)]
            verdict = cell.verdict.iloc[0] if len(cell) else None
            ax.add_patch(plt.Rectangle((j, i), 0.96, 0.92, color=VERDICT_COLOURS.get(verdict, "white"), ec="0.85"))
            ax.text(j + 0.48, i + 0.46, MARKS[verdict] if verdict else "—", ha="center", va="center",
                    color=_MARK_ON.get(verdict, "black"))
    ax.set_xlim(0, len(CLAIMS))
    ax.set_ylim(len(lines), 0)
    ax.set_xticks([j + 0.48 for j in range(len(CLAIMS))], [textwrap.fill(t, 14) for t in CLAIMS.values()])
    ax.xaxis.tick_top()
    shown = [i for i, (_, setting) in enumerate(lines) if setting is not None]
    ax.set_yticks([i + 0.46 for i in shown], [lines[i][1] for i in shown], fontsize=9)
    ax.tick_params(length=0)
    ax.grid(False)
    for side in ax.spines.values():
        side.set_visible(False)
    fig.legend(handles=[Patch(color=colour, label=f"{MARKS[v]} {v}") for v, colour in VERDICT_COLOURS.items()],
               loc="outside lower center", ncol=4, frameon=False)
    return fig
