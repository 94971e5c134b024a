"""Several sweeps as one table, sharing one pool of worker processes.

    table = sweep_many([({"network": "mlp1"}, base, {"n_train": [50, 100], "seed": [0, 1]}), ...],
                       workers=2)

A chapter often needs grids that are not one product (the sample sizes depend on the
network, the noise knob on the task). ``repalign.sweep.sweep`` runs each of them; this module
starts at most one local Dask cluster for all of them, and only when some point is not in the
result cache yet, so that a fully cached chapter starts no process at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence

import pandas as pd

from .cache import ResultCache
from .experiment import Experiment
from .sweep import grid_experiments, sweep

Job = tuple[Mapping[str, object], Experiment, Mapping[str, Sequence]]


def missing_points(jobs: Sequence[Job], cache: ResultCache | None = None) -> int:
    """How many grid points of ``jobs`` are not in the result cache (every point is validated)."""
    cache = cache or ResultCache()
    return sum(not all(p.exists() for p in cache.paths(exp))
               for _, base, grid in jobs for exp in grid_experiments(base, grid))


def sweep_many(jobs: Sequence[Job], *, workers: int = 1, progress: bool = False, quiet: bool = True,
               cache: ResultCache | None = None) -> pd.DataFrame:
    """Concatenated ``sweep`` tables of ``jobs``, each row tagged with its job's labels.

    ``jobs``: ``(labels, base, grid)`` triples; ``labels`` is a mapping of extra columns (for
    example the network's or the task's name). ``workers`` > 1 computes the missing points on a
    local Dask cluster of that many single-threaded processes, started once; serial work runs
    on one torch thread. ``quiet``: the workers drop RuntimeWarnings (unconverged members),
    which the caller reads from the table's ``converged_fraction`` instead.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if not jobs:
        raise ValueError("jobs must hold at least one (labels, base, grid) triple")
    for labels, base, _grid in jobs:
        if not isinstance(labels, Mapping) or not isinstance(base, Experiment):
            raise ValueError("each job must be (labels: mapping, base: Experiment, grid: mapping)")
    cache = cache or ResultCache()
    client = None
    if workers > 1 and missing_points(jobs, cache):
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
        if quiet:
            client.run(_ignore_runtime_warnings)
    try:
        with _one_thread():
            tables = []
            for labels, base, grid in jobs:
                executor = "dask" if client is not None else "serial"
                table = sweep(base, grid, executor=executor, client=client, progress=progress, cache=cache)
                tables.append(table.assign(**dict(labels)))
    finally:
        if client is not None:
            client.close()
            client.cluster.close()
    return pd.concat(tables, ignore_index=True)


def _ignore_runtime_warnings() -> None:
    """Run in each worker: its unconverged-member warnings would flood the notebook's output."""
    import warnings

    warnings.simplefilter("ignore", RuntimeWarning)


@contextlib.contextmanager
def _one_thread():
    """Serial work in this process on one torch thread: small networks gain nothing from more,
    and on a shared machine idle threads spin (measured here: 10-20x slowdowns)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
