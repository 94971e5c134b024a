"""Every claim on every setup and metric of a sweep: the robustness grid of the decoupling
chapter, each cell decided as in ``claims``.

    grid = robustness_grid(table, setups, metrics, d=40, n_grid=n_grid, snrs=snrs)
    grid.table, grid.counts, grid.holds("snr"), grid.exceptions("min")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import pandas as pd

from .claims import CLAIMS, HOLDS, SWEEP_COLUMNS, Claim, _require, claim_results
from .core import ALPHA


@dataclass(frozen=True, eq=False)
class RobustnessGrid:
    """The claims' verdicts over setups (rows) and metrics (columns)."""

    results: Mapping[tuple[str, str, str], Claim]  # (setup, claim key, metric) -> result, in grid order
    labels: Mapping[str, str]  # metric -> column title
    table: pd.DataFrame  # rows (setup, claim title), columns metric labels: mark and summary
    counts: pd.DataFrame  # rows claim titles, columns verdict words: how many cells

    def holds(self, key: str) -> int:
        """Cells (setup x metric) in which claim ``key`` holds."""
        return int(self.counts.loc[_claim_title(key)].get(HOLDS, 0))

    def exceptions(self, key: str) -> list[str]:
        """"setup with metric label" for every cell in which claim ``key`` does not hold."""
        _claim_title(key)
        return [f"{setup} with {self.labels[m]}" for (setup, k, m), r in self.results.items()
                if k == key and r.verdict != HOLDS]

    @property
    def cells_per_claim(self) -> int:
        return len({(setup, m) for setup, _, m in self.results})


def _claim_title(key: str) -> str:
    if key not in CLAIMS:
        raise ValueError(f"claim must be one of {tuple(CLAIMS)}, got {key!r}")
    return CLAIMS[key]


def robustness_grid(table: pd.DataFrame, setups: Sequence[str], metrics: Sequence[str], *, d: float,
                    n_grid: Sequence[float] | None = None, snrs: Sequence[float] | None = None,
                    alpha: float = ALPHA, boot: int = 2000, seed: int = 0,
                    labels: Mapping[str, str] | None = None) -> RobustnessGrid:
    """Every claim on the sweep of every setup and metric of ``table`` (columns ``setup``,
    ``metric`` and SWEEP_COLUMNS), with the same ``d``, grids, ``alpha``, ``boot`` and ``seed``.

    ``labels``: metric -> column title (default: ``repalign.metrics.METRICS`` labels).
    """
    _require(table, ("setup", "metric", *SWEEP_COLUMNS))
    if labels is None:
        from ..metrics import METRICS

        labels = {m: METRICS[m].label for m in metrics}
    unknown = [m for m in metrics if m not in labels]
    if unknown:
        raise ValueError(f"labels must name every metric, missing {unknown}")
    per_cell = {}
    for setup in setups:
        for m in metrics:
            part = table[(table.setup == setup) & (table.metric == m)]
            if part.empty:
                raise ValueError(f"table has no row for setup {setup!r} and metric {m!r}")
            per_cell[(setup, m)] = claim_results(part, d=d, n_grid=n_grid, snrs=snrs, alpha=alpha, boot=boot,
                                                 seed=seed)
    results = {(setup, key, m): per_cell[(setup, m)][key] for setup in setups for key in CLAIMS for m in metrics}
    cells = pd.Series({(setup, CLAIMS[key], labels[m]): r.cell for (setup, key, m), r in results.items()})
    grid = cells.unstack()
    grid.index.names = ["setup", "claim"]
    verdicts = pd.Series({(setup, CLAIMS[key], m): r.verdict for (setup, key, m), r in results.items()})
    counts = verdicts.groupby(level=1).value_counts().unstack(fill_value=0)
    return RobustnessGrid(results=MappingProxyType(results), labels=MappingProxyType(dict(labels)), table=grid,
                          counts=counts)
