"""Is a trained alignment above what the same members had before training?

    found = floor_test(table, ["n_train", "snr"])   # one row per point: above, below or undecided
    floor_phrase(found)                              # the chapter's sentence

Two untrained networks already align (both are functions of the same probe inputs), so a rise
or a dip that stays at the untrained ensemble's alignment says nothing about what training
learned. Each independent ensemble is compared with its own untrained members (the same seed:
the same initialisation and probes), so the test pairs by seed: a two-sided paired t-test of
trained minus untrained alignment at each point, the points one family at a false-discovery
rate of ``q`` (Benjamini-Hochberg), the side of a discovery the sign of its mean difference.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .core import ALPHA, UNDECIDED, benjamini_hochberg, checked, measurements, one_sided_p, repeat_labels, repeats_needed
from .phrases import listed, share_phrase

ABOVE, BELOW = "above the floor", "below the floor"
FLOOR_VERDICTS = (ABOVE, BELOW, UNDECIDED)


def floor_test(table: pd.DataFrame, keys: list[str], *, q: float = ALPHA) -> pd.DataFrame:
    """One row per point (``keys``): the mean trained alignment ``A``, the mean untrained
    ``floor``, their mean paired difference, the verdict (FLOOR_VERDICTS), its two-sided p-value
    and the repeats that would decide an undecided point (80% power, t-test at ``q``).

    ``table``: one row per ensemble, with ``keys``, ``seed``, ``alignment`` and ``floor`` (the
    untrained alignment of that ensemble's members on the same probes, never NaN: a missing
    floor is a mismatch of seeds); a NaN alignment is a missing ensemble, left out of its point.
    """
    missing = [c for c in (*keys, "seed", "alignment", "floor") if c not in table]
    if missing:
        raise ValueError(f"table must have the columns {[*keys, 'seed', 'alignment', 'floor']}, missing {missing}")
    measurements("table.alignment", table.alignment)
    checked("table.floor", table.floor, "finite numbers (every ensemble's untrained alignment)", np.isfinite)
    repeat_labels("table.seed", table.seed)
    rows = []
    for point, part in table.groupby(keys, sort=True):
        difference = (part.alignment - part.floor).to_numpy(float)
        rows.append({**dict(zip(keys, point if isinstance(point, tuple) else (point,))),
                     "A": part.alignment.mean(), "floor": part.floor.mean(), "difference": np.nanmean(difference),
                     "p_above": float(one_sided_p(difference)), "p_below": float(one_sided_p(-difference)),
                     "repeats_needed": repeats_needed(difference, q)})
    found = pd.DataFrame(rows)
    found["p"] = np.fmin(1.0, 2 * np.fmin(found.p_above, found.p_below))  # two-sided: the side is the sign
    rejected = benjamini_hochberg(found.p.to_numpy(), q)
    found["verdict"] = np.where(~rejected, UNDECIDED, np.where(found.p_above < found.p_below, ABOVE, BELOW))
    found.loc[rejected, "repeats_needed"] = math.nan
    return found.drop(columns=["p_above", "p_below"])


def floor_phrase(found: pd.DataFrame, what: str = "points", q: float = ALPHA) -> str:
    """'Trained alignment is above its untrained floor at 30 of 36 points, below it at 2 and
    indistinguishable from it at 4, at a false-discovery rate of 5%' (the same for none or all)."""
    counts = {v: int((found.verdict == v).sum()) for v in FLOOR_VERDICTS}
    total = sum(counts.values())
    if counts[ABOVE] == total:
        return f"Trained alignment is above its untrained floor at all {total} {what}, at a false-discovery rate of {q:.0%}"
    parts = [f"above its untrained floor at {counts[ABOVE] or 'none'} of {'the ' * (not counts[ABOVE])}{total} {what}"]
    if counts[BELOW]:
        parts.append(f"below it at {counts[BELOW]}")
    if counts[UNDECIDED]:
        parts.append(f"indistinguishable from it at {counts[UNDECIDED]}")
    return f"Trained alignment is {listed(parts)}, at a false-discovery rate of {q:.0%}"


def layers_floor_sentence(found: Mapping[str, pd.DataFrame], what: str = "points", q: float = ALPHA) -> str:
    """``floor_phrase`` for several layers (``found`` maps a layer's name to its ``floor_test``):
    one sentence ending 'in both layers' when they read the same, else one sentence per layer."""
    texts = {layer: floor_phrase(rows, what, q) for layer, rows in found.items()}
    if len(set(texts.values())) == 1:
        return f"{next(iter(texts.values()))}, in {share_phrase(len(texts), len(texts), 'layers')}."
    return " ".join(f"{layer[:1].upper()}{layer[1:]}: {text[:1].lower()}{text[1:]}." for layer, text in texts.items())
