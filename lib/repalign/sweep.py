"""Grids of experiments: validated up front, cached point by point, resumable, parallel.

    table = sweep(Experiment(d=100, members=8), {"n_train": [50, 200], "snr": [1.0, 4.0]})
    table = sweep_many([({"network": "mlp1"}, base, {"n_train": [50, 100], "seed": [0, 1]}), ...],
                       workers=2)

Every grid point is an Experiment built (and so validated) before any work starts. Points
already in the result cache are read back; the others are computed serially, on a local
process pool, or on a Dask cluster, and each is stored as soon as it is done, so a sweep that
is stopped resumes where it was. The table has one row per grid point and metric.

A chapter often needs grids that are not one product (the sample sizes depend on the
network, the noise knob on the task): ``sweep_many`` runs several ``Job``s as one table,
starting at most one local Dask cluster for all of them, and only when some point is not in
the result cache yet, so that a fully cached chapter starts no process at all.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from . import validate
from .cache import ResultCache, from_entry, to_entry
from .experiment import Experiment, ExperimentResult, run_experiment

EXECUTORS = ("serial", "process", "dask")
FIELDS = tuple(f.name for f in dataclasses.fields(Experiment))
Job = tuple[Mapping[str, object], Experiment, Mapping[str, Sequence]]  # (labels, base experiment, grid)


class SweepSpecError(ValueError):
    """A grid or base experiment that cannot run; raised before any work."""


def grid_experiments(base: Experiment, grid: Mapping[str, Sequence]) -> list[Experiment]:
    """Every point of the grid (the product of its value lists, in order) as an Experiment."""
    if not isinstance(grid, Mapping) or not grid:
        raise SweepSpecError("grid must be a non-empty mapping from Experiment fields to lists of values")
    columns = {}
    for name, values in grid.items():
        if name not in FIELDS:
            raise SweepSpecError(f"grid field {name!r} is not an Experiment field; the fields are {FIELDS}")
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise SweepSpecError(f"grid field {name!r} needs a non-empty list of values, got {values!r}")
        columns[name] = list(values)  # once: a generator can be read only once
        if not columns[name]:
            raise SweepSpecError(f"grid field {name!r} needs a non-empty list of values, got {values!r}")
    experiments = []
    for combination in itertools.product(*columns.values()):
        point = dict(zip(grid, combination))
        try:
            experiments.append(base.replace(**point))
        except (TypeError, ValueError) as err:
            raise SweepSpecError(f"grid point {point}: {err}") from None
    return experiments


def compute_entry(exp: Experiment, threads: int | None = None) -> tuple[dict, dict]:
    """Run one experiment and return it as plain arrays and metadata (what workers send back).

    ``threads`` caps torch's and BLAS's threads: parallel workers on a small machine must not
    each start one thread per core, or they wait on each other.
    """
    if threads is None:
        return to_entry(run_experiment(exp))
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    with threadpool_limits(threads):
        return to_entry(run_experiment(exp))


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm  # the console bar: tqdm.auto warns inside a kernel without ipywidgets

    quiet = not enabled or os.environ.get("CI") or not sys.stderr.isatty()
    return tqdm(total=total, desc="sweep", unit="point", disable=bool(quiet))


def _computed(missing: list[Experiment], executor: str, client, workers: int | None):
    """Yield (experiment, entry) as points finish."""
    if executor == "serial":
        for exp in missing:
            yield exp, compute_entry(exp)
    elif executor == "process":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        workers = workers or os.cpu_count() or 1
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(compute_entry, exp, 1): exp for exp in missing}
            for future in as_completed(futures):
                yield futures[future], future.result()
    else:
        from distributed import Client, as_completed

        own = not isinstance(client, Client)
        client = Client(client) if own else client  # None: a LocalCluster; a str: a scheduler address
        try:
            futures = client.map(compute_entry, missing, threads=1, pure=False)
            index = {future.key: exp for future, exp in zip(futures, missing)}
            for future in as_completed(futures):
                yield index[future.key], future.result()
        finally:
            if own:
                client.close()


def sweep(base: Experiment, grid: Mapping[str, Sequence], *, executor: str = "serial", client=None,
          workers: int | None = None, progress: bool = True, cache: ResultCache | None = None) -> pd.DataFrame:
    """Run (or read from the cache) every point of ``grid`` around ``base``; return a tidy table.

    ``executor``: "serial", "process" (a local process pool of ``workers``) or "dask"
    (``client``: a distributed.Client, a scheduler address, or None for a LocalCluster).
    """
    try:
        validate.choice("executor", executor, EXECUTORS)
        validate.integer("workers", workers, minimum=1, allow_none="all cores")
    except ValueError as err:
        raise SweepSpecError(str(err)) from None
    experiments = grid_experiments(base, grid)
    cache = cache or ResultCache()
    done: dict[Experiment, tuple[ExperimentResult, bool]] = {}  # result, and whether it was cached
    for exp in experiments:
        hit = cache.load(exp)
        if hit is not None:
            done[exp] = (hit, True)
    missing = list(dict.fromkeys(exp for exp in experiments if exp not in done))
    with _progress_bar(len(done) + len(missing), progress) as bar:
        bar.update(len(done))
        bar.set_postfix(cached=len(done))
        for exp, (arrays, meta) in _computed(missing, executor, client, workers):
            res = from_entry(arrays, meta)
            cache.store(res)
            done[exp] = (res, False)
            bar.update(1)
    return results_table([done[exp] for exp in experiments], list(grid))


def _mean_and_std(values: np.ndarray) -> tuple[float, float]:
    """Over the members that did not diverge (NaN when none is left)."""
    finite = values[~np.isnan(values)]
    return (float(finite.mean()), float(finite.std())) if finite.size else (np.nan, np.nan)


def results_table(results: list[tuple[ExperimentResult, bool]], grid_fields: list[str]) -> pd.DataFrame:
    """One row per experiment and metric: the configuration, then what was measured."""
    rows = []
    for res, cached in results:
        config = {k: v for k, v in res.experiment.to_dict().items() if k != "metrics"}
        (train, train_std), (test, test_std) = _mean_and_std(res.train_error), _mean_and_std(res.test_error)
        summary = {"train_error": train, "train_error_std": train_std, "test_error": test, "test_error_std": test_std,
                   "converged_fraction": float(np.mean(res.converged)),
                   "diverged_fraction": float(np.mean(res.diverged)), "steps_mean": float(np.mean(res.steps)),
                   "n_parameters": res.n_parameters, "wall_time": res.wall_time, "cached": cached}
        for metric in res.experiment.metrics:
            rows.append({**config, "metric": metric, "alignment": res.alignment[metric],
                         "alignment_stderr": res.alignment_stderr[metric], **summary})
    table = pd.DataFrame(rows)
    table.attrs["grid"] = grid_fields
    return table


@dataclasses.dataclass(frozen=True)
class MemberCounts:
    """How the members of a sweep table's ensembles ended (each ensemble counted once per row)."""

    trained: int
    on_budget: int  # stopped by the step budget before reaching the tolerance
    diverged: int


def member_counts(table: pd.DataFrame) -> MemberCounts:
    """Members trained, stopped on the step budget, and diverged, summed over ``table``'s rows."""
    def count(fraction) -> int:
        return int((fraction * table.members).round().sum())

    return MemberCounts(trained=int(table.members.sum()), diverged=count(table.diverged_fraction),
                        on_budget=count(1 - table.converged_fraction - table.diverged_fraction))


# --- several sweeps as one table ------------------------------------------------------------


def missing_points(jobs: Sequence[Job], cache: ResultCache | None = None) -> int:
    """How many grid points of ``jobs`` are not in the result cache (every point is validated)."""
    cache = cache or ResultCache()
    return sum(not all(p.exists() for p in cache.paths(exp))
               for _, base, grid in jobs for exp in grid_experiments(base, grid))


def _check_jobs(jobs: Sequence[Job]) -> None:
    if not jobs:
        raise ValueError("jobs must hold at least one (labels, base, grid) triple")
    for labels, base, _grid in jobs:
        if not isinstance(labels, Mapping) or not isinstance(base, Experiment):
            raise ValueError("each job must be (labels: mapping, base: Experiment, grid: mapping)")


def sweep_many(jobs: Sequence[Job], *, workers: int = 1, progress: bool = False, quiet: bool = True,
               cache: ResultCache | None = None) -> pd.DataFrame:
    """Concatenated ``sweep`` tables of ``jobs``, each row tagged with its job's labels.

    ``jobs``: ``(labels, base, grid)`` triples; ``labels`` is a mapping of extra columns (for
    example the network's or the task's name). ``workers`` > 1 computes the missing points on a
    local Dask cluster of that many single-threaded processes, started once; serial work runs
    on one torch thread. ``quiet``: the workers drop budget-stop warnings (members that did not
    reach the tolerance), which the caller reads from the table (``member_counts``) instead.
    """
    validate.integer("workers", workers, minimum=1)
    _check_jobs(jobs)
    cache = cache or ResultCache()
    client = None
    if workers > 1 and missing_points(jobs, cache):
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
        if quiet:
            client.run(_ignore_budget_stops)
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


def _ignore_budget_stops() -> None:
    """Run in each worker: its budget-stop warnings would flood the notebook's output (the table
    counts them); a divergence still warns."""
    import warnings

    from .experiment import UnfinishedTraining

    warnings.simplefilter("ignore", UnfinishedTraining)


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


# --- sweep specifications (YAML) -------------------------------------------------------------


def _from_yaml(name: str, value):
    """YAML spells infinity ``.inf``; accept ``inf`` too, and lists for tuples."""
    if isinstance(value, str) and value.lower().lstrip("+-") in ("inf", "infinity"):
        return float(value)
    if isinstance(value, list) and name == "metrics":
        return tuple(value)
    return value


def load_spec(path: str | Path) -> tuple[Experiment, dict[str, list]]:
    """Read ``{base: {field: value}, grid: {field: [values]}}`` and validate it completely."""
    import yaml

    spec = yaml.safe_load(Path(path).read_text())
    if not isinstance(spec, dict) or set(spec) - {"base", "grid"} or "grid" not in spec:
        raise SweepSpecError(f"{path}: a sweep spec is a mapping with keys 'base' (optional) and 'grid'")
    base_fields = spec.get("base") or {}
    unknown = sorted(set(base_fields) - set(FIELDS))
    if unknown:
        raise SweepSpecError(f"{path}: base field(s) {unknown} are not Experiment fields; the fields are {FIELDS}")
    try:
        base = Experiment(**{k: _from_yaml(k, v) for k, v in base_fields.items()})
    except (TypeError, ValueError) as err:
        raise SweepSpecError(f"{path}: base: {err}") from None
    grid = spec["grid"]
    if isinstance(grid, dict):
        grid = {k: [_from_yaml(k, v) for v in values] if isinstance(values, list) else values
                for k, values in grid.items()}
    grid_experiments(base, grid)  # every point validated before any work
    return base, grid
