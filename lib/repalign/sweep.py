"""Grids of experiments: validated up front, cached point by point, resumable, parallel.

    table = sweep(Experiment(d=100, members=8), {"n_train": [50, 200], "snr": [1.0, 4.0]})
    table = sweep_many([({"network": "mlp1"}, base, {"n_train": [50, 100], "seed": [0, 1]}), ...],
                       workers=2)

Every grid point is an Experiment built (and so validated) before any work starts. Points
already in the result cache are read back; the others are computed serially, on a local
process pool, or on a Dask cluster, and each is stored as soon as its stack is done, so a
sweep that is stopped resumes where it was. The table has one row per grid point and metric.

Stacks: the pending points whose training has the same shapes (``experiment.stack_key``)
train as one stack of all their members (``experiment.run_stack``), cut by ``plan_stacks``
into pieces bounded in memory and sized for the workers; executors distribute stacks.
Tiny networks spend a step on per-call overhead, not arithmetic, so a stack of fifty points
costs little more than one (benchmarks/stacking.py). ``stack=False`` trains point by point.

A chapter often needs grids that are not one product (the sample sizes depend on the
network, the noise knob on the task): ``sweep_many`` runs several ``Job``s as one table,
starting at most one local Dask cluster for all of them, and only when some point is not in
the result cache yet, so that a fully cached chapter starts no process at all.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import itertools
import math
import os
import reprlib
import sys
import time
from collections.abc import Iterable, Mapping, Sequence, Set
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from . import validate
from .cache import ResultCache, from_entry, to_entry
from .data import native_shape
from .experiment import DEVICES, LIMITS_VARIABLE, Experiment, ExperimentResult, limits_lifted, run_stack, stack_key
from .inference.extrema import INTERPOLATED_LOSS
from .progress import report as report_progress

EXECUTORS = ("serial", "process", "dask")
FIELDS = tuple(f.name for f in dataclasses.fields(Experiment))
Job = tuple[Mapping[str, object], Experiment, Mapping[str, Sequence]]  # (labels, base experiment, grid)


GRID_POINTS = 100_000  # points of one grid (the book's largest has 800), refused above before any is built


class SweepSpecError(ValueError):
    """A grid or base experiment that cannot run; raised before any work."""


def available_devices() -> tuple[str, ...]:
    """The values of Experiment.device that this machine can run."""
    import torch

    return tuple(device for device in DEVICES if device != "cuda" or torch.cuda.is_available())


def _grid_column(name, values) -> list:
    """A grid field's values as a list: an ordered, non-empty collection (a mapping's keys or a set's
    arbitrary order would be swept silently); one value belongs in the base experiment."""
    if name not in FIELDS:
        raise SweepSpecError(f"grid field {name!r} is not an Experiment field; the fields are {FIELDS}")
    ordered = isinstance(values, Iterable) and not isinstance(values, (str, bytes, Mapping, Set))
    column = list(values) if ordered else []  # once: a generator can be read only once
    if not column:
        raise SweepSpecError(f"grid field {name!r} needs a non-empty list of values (a single value belongs in "
                             f"base), got {reprlib.repr(values)}")
    return column


def _check_grid_size(columns: Mapping[str, list]) -> None:
    """From the lists' lengths, before any point is built: a few short lists can multiply to more
    points than memory holds."""
    points = math.prod(map(len, columns.values()))
    if points > GRID_POINTS and not limits_lifted():
        lengths = " x ".join(f"{len(values)} {name}" for name, values in columns.items())
        raise SweepSpecError(f"grid has {points:,} points ({lengths}), more than the limit of {GRID_POINTS:,}: "
                             f"shorten its lists, or set {LIMITS_VARIABLE}=off on a machine that can run them")


def _check_devices(experiments: Iterable[Experiment]) -> None:
    # Refused even for a remote Dask cluster whose workers may have the device: the result cache's
    # keys and the stack plan resolve each point's device in this process (experiment.resolve_device).
    available = available_devices()
    for device in dict.fromkeys(exp.device for exp in experiments):
        if device not in available:
            raise SweepSpecError(f"Experiment.device must be one of {available} (the devices this machine has), "
                                 f"got {device!r}")


def grid_experiments(base: Experiment, grid: Mapping[str, Sequence]) -> list[Experiment]:
    """Every point of the grid (the product of its value lists, in order) as an Experiment that can
    run here: at most ``GRID_POINTS`` of them, each validated, on a device this machine has."""
    if not isinstance(grid, Mapping) or not grid:
        raise SweepSpecError("grid must be a non-empty mapping from Experiment fields to lists of values")
    columns = {name: _grid_column(name, values) for name, values in grid.items()}
    _check_grid_size(columns)
    experiments = []
    for combination in itertools.product(*columns.values()):
        point = dict(zip(grid, combination))
        try:
            experiments.append(base.replace(**point))
        except (TypeError, ValueError) as err:
            raise SweepSpecError(f"grid point {point}: {err}") from None
    _check_devices(experiments)
    return experiments


STACK_BYTES = 256 * 2**20  # memory bound of one stack's training tensors
MIN_STACK_MEMBERS = 64  # below this, per-step overhead dominates: a parallel sweep splits no further


def _member_bytes(exp: Experiment) -> int:
    """What one member holds while it trains: inputs, targets, and the activations kept for the
    backward pass (a bound on their order, used to chunk stacks)."""
    native_d, classes = native_shape(exp.data, exp.n_classes)
    d_in = exp.d or native_d
    return exp.n_train * (d_in + 2 * exp.width * exp.depth + 2 * classes) * (8 if exp.dtype == "float64" else 4)


def _pieces(group: list[Experiment], count: int) -> list[list[Experiment]]:
    """``group`` cut into ``count`` consecutive pieces of about equal member counts."""
    total = sum(exp.members for exp in group)
    pieces, current, filled = [], [], 0
    for exp in group:
        current.append(exp)
        filled += exp.members
        if filled >= total * (len(pieces) + 1) / count and len(pieces) < count - 1:
            pieces.append(current)
            current = []
    return pieces + [current] if current else pieces


def _work(stack: list[Experiment]) -> int:
    """A stack's cost in member-steps times samples (a step costs about N per member)."""
    return sum(exp.members * exp.steps * exp.n_train for exp in stack)


def plan_stacks(experiments: Sequence[Experiment], *, workers: int = 1,
                max_bytes: int = STACK_BYTES) -> list[list[Experiment]]:
    """Experiments grouped into stacks that train together, the most work first.

    Points with the same ``stack_key`` share a stack, cut into pieces when its training
    tensors would exceed ``max_bytes``. For ``workers`` > 1, the stack with the most work is
    halved while it holds more than a ``2 workers``-th of all the work (and at least twice
    ``MIN_STACK_MEMBERS`` members), so that no worker waits long for another at the end.
    """
    groups: dict[tuple, list[Experiment]] = {}
    for exp in experiments:
        groups.setdefault(stack_key(exp), []).append(exp)
    stacks = []
    for group in groups.values():
        members = sum(exp.members for exp in group)
        stacks += _pieces(group, min(len(group), math.ceil(members * _member_bytes(group[0]) / max_bytes)))
    stacks.sort(key=_work, reverse=True)
    share = sum(map(_work, stacks)) / (2 * workers)
    while workers > 1 and stacks and _work(stacks[0]) > share:
        largest = stacks[0]
        if len(largest) < 2 or sum(exp.members for exp in largest) < 2 * MIN_STACK_MEMBERS:
            break
        stacks = sorted(stacks[1:] + _pieces(largest, 2), key=_work, reverse=True)
    return stacks


def compute_entries(experiments: list[Experiment], threads: int | None = None) -> list[tuple[dict, dict]]:
    """Run one stack of experiments and return each as plain arrays and metadata (what workers
    send back).

    ``threads`` caps torch's and BLAS's threads: parallel workers on a small machine must not
    each start one thread per core, or they wait on each other.
    """
    limits = contextlib.nullcontext()
    if threads is not None:
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(threads)
        limits = threadpool_limits(threads)
    with limits:
        return [to_entry(res) for res in run_stack(experiments)]


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm  # the console bar: tqdm.auto warns inside a kernel without ipywidgets

    quiet = not enabled or os.environ.get("CI") or not sys.stderr.isatty()
    return tqdm(total=total, desc="sweep", unit="point", disable=bool(quiet))


def _computed(stacks: list[list[Experiment]], executor: str, client, workers: int | None):
    """Yield (experiments, entries) as stacks finish."""
    if executor == "serial":
        for stack in stacks:
            yield stack, compute_entries(stack)
    elif executor == "process":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(compute_entries, stack, 1): stack for stack in stacks}
            for future in as_completed(futures):
                yield futures[future], future.result()
    else:
        from distributed import Client, as_completed

        own = not isinstance(client, Client)
        if client is None:  # a LocalCluster of ``workers`` processes (None: Dask's default, one per core)
            client = Client(**({"n_workers": workers} if workers else {}))
        elif own:  # a scheduler address
            client = Client(client)
        try:
            futures = client.map(compute_entries, stacks, threads=1, pure=False)
            index = {future.key: stack for future, stack in zip(futures, stacks)}
            for future in as_completed(futures):
                yield index[future.key], future.result()
        finally:
            if own:
                client.close()


def _parallelism(executor: str, client, workers: int | None) -> int:
    """How many stacks can train at once."""
    if executor == "serial":
        return 1
    if executor == "process" or client is None:
        return workers or os.cpu_count() or 1
    try:
        return max(1, len(client.scheduler_info()["workers"]))
    except (AttributeError, KeyError, TypeError):
        return workers or 1


def run_points(experiments: Sequence[Experiment], *, executor: str = "serial", client=None,
               workers: int | None = None, stack: bool = True, progress: bool = True,
               cache: ResultCache | None = None) -> dict[Experiment, tuple[ExperimentResult, bool]]:
    """Every experiment's result, and whether it came from the cache; the missing ones are
    computed in stacks (``plan_stacks``), or one by one with ``stack=False``, and each is
    stored as soon as its stack is done."""
    cache = cache or ResultCache()
    done: dict[Experiment, tuple[ExperimentResult, bool]] = {}
    for exp in experiments:
        if exp not in done:
            hit = cache.load(exp)
            if hit is not None:
                done[exp] = (hit, True)
    missing = list(dict.fromkeys(exp for exp in experiments if exp not in done))
    if missing:
        cache.check_writable()  # before any training whose results could not be kept
    stacks = (plan_stacks(missing, workers=_parallelism(executor, client, workers)) if stack
              else [[exp] for exp in missing])
    cached, started = len(done), time.time()
    with _progress_bar(len(done) + len(missing), progress) as bar:
        bar.update(len(done))
        bar.set_postfix(cached=len(done))
        for points, entries in _computed(stacks, executor, client, workers):
            for exp, (arrays, meta) in zip(points, entries):
                res = from_entry(arrays, meta)
                cache.store(res)
                done[exp] = (res, False)
            bar.update(len(points))
            report_progress(len(done) - cached, len(missing), cached, started)  # for a build's terminal
    return done


def _check_executor(executor: str, workers) -> None:
    try:
        validate.choice("executor", executor, EXECUTORS)
        validate.integer("workers", workers, minimum=1, allow_none="all cores")
    except ValueError as err:
        raise SweepSpecError(str(err)) from None


def sweep(base: Experiment, grid: Mapping[str, Sequence], *, executor: str = "serial", client=None,
          workers: int | None = None, stack: bool = True, progress: bool = True,
          cache: ResultCache | None = None) -> pd.DataFrame:
    """Run (or read from the cache) every point of ``grid`` around ``base``; return a tidy table.

    ``executor``: "serial", "process" (a local process pool of ``workers``) or "dask"
    (``client``: a distributed.Client, a scheduler address, or None for a LocalCluster).
    ``stack``: train the points that share their shapes as one stack (``plan_stacks``; the
    executors distribute stacks), or each point alone (the per-point path, for comparison).
    """
    _check_executor(executor, workers)
    experiments = grid_experiments(base, grid)
    done = run_points(experiments, executor=executor, client=client, workers=workers, stack=stack,
                      progress=progress, cache=cache)
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
                   "train_loss": _mean_and_std(res.train_loss)[0],
                   "interpolated_fraction": float(np.mean(res.train_loss <= INTERPOLATED_LOSS)),
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


def stopped_on_budget(table: pd.DataFrame) -> pd.Series:
    """Per row of a sweep table, the members stopped by the step budget before they converged."""
    return ((1 - table.converged_fraction - table.diverged_fraction) * table.members).round().astype(int)


def member_counts(table: pd.DataFrame) -> MemberCounts:
    """Members trained, stopped on the step budget, and diverged, summed over ``table``'s rows."""
    return MemberCounts(trained=int(table.members.sum()),
                        diverged=int((table.diverged_fraction * table.members).round().sum()),
                        on_budget=int(stopped_on_budget(table).sum()))


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


def sweep_many(jobs: Sequence[Job], *, workers: int = 1, stack: bool = True, progress: bool = False,
               quiet: bool = True, cache: ResultCache | None = None, also: Sequence[Job] = ()) -> pd.DataFrame:
    """Concatenated ``sweep`` tables of ``jobs``, each row tagged with its job's labels.

    ``also``: jobs computed into the cache with these, in the same pool, but left out of the
    table (another reader takes them back from the cache): one pool packs both workers' work
    better than two pools one after the other.

    ``jobs``: ``(labels, base, grid)`` triples; ``labels`` is a mapping of extra columns (for
    example the network's or the task's name). The missing points of all jobs are computed
    together, so points of different jobs that share their shapes share a stack. ``workers``
    > 1 computes them on a local Dask cluster of that many single-threaded processes, started
    only when some point is missing and kept for the process's later sweeps; serial work runs
    on one torch and one BLAS thread. ``quiet``: the workers drop budget-stop warnings (members
    that did not reach the tolerance), which the caller reads from the table (``member_counts``)
    instead.
    """
    validate.integer("workers", workers, minimum=1)
    _check_jobs(jobs)
    if also:
        _check_jobs(also)
    cache = cache or ResultCache()
    grids = [grid_experiments(base, grid) for _, base, grid in jobs]
    everything = [exp for points in grids for exp in points]
    everything += [exp for _, base, grid in also for exp in grid_experiments(base, grid)]
    client = _local_client(workers) if workers > 1 and missing_points([*jobs, *also], cache) else None
    if client is not None:
        client.run(_announce_budget_stops, not quiet)
    with _one_thread():
        done = run_points(everything, executor="dask" if client is not None else "serial", client=client,
                          stack=stack, progress=progress, cache=cache)
    tables = [results_table([done[exp] for exp in points], list(grid)).assign(**dict(labels))
              for (labels, _, grid), points in zip(jobs, grids)]
    return pd.concat(tables, ignore_index=True)


_CLIENTS: dict = {}  # workers -> the Client of this process's local Dask cluster


def _local_client(workers: int):
    """This process's local Dask cluster of ``workers`` single-threaded processes, started on
    first need and reused by later sweeps (a start costs about 10 s: the processes, and torch
    imported in each); it is closed when the process exits."""
    client = _CLIENTS.get(workers)
    if client is None or client.status != "running":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = _CLIENTS[workers] = Client(cluster)
    return client


@atexit.register
def _close_clients() -> None:
    for client in _CLIENTS.values():
        client.close()
        client.cluster.close()
    _CLIENTS.clear()


def _announce_budget_stops(announce: bool) -> None:
    """Run in each worker: whether its budget-stop warnings show (a sweep of many points would
    flood the notebook's output; the table counts them). A divergence always warns."""
    import warnings

    from .experiment import UnfinishedTraining

    warnings.filterwarnings("default" if announce else "ignore", category=UnfinishedTraining)


@contextlib.contextmanager
def _one_thread():
    """Serial work in this process on one torch thread and one BLAS thread: small networks and
    the metrics' n x n products gain nothing from more, and on a shared machine idle threads
    spin (measured here: 10-20x slowdowns in training, 2x in the metrics)."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(before)


# --- sweep specifications (YAML) -------------------------------------------------------------

SPEC_BYTES = 2**20  # the most a spec file may hold: a real one is ~100 bytes; huge grids are products or Python
_SCALARS = (str, int, float, bool, type(None))


class _SpecLoader(yaml.SafeLoader):
    """YAML's safe loader that refuses a key repeated in one mapping (PyYAML keeps the last one
    silently, so a second ``grid:`` would replace the first). Checked on the composed nodes,
    before ``<<`` merges, whose keys a mapping may override."""

    def compose_mapping_node(self, anchor):
        node = super().compose_mapping_node(anchor)
        first: dict[tuple, yaml.Node] = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                earlier = first.setdefault((key.tag, key.value), key)
                if earlier is not key:
                    raise yaml.composer.ComposerError(
                        None, None, f"key {key.value!r} repeated, first at line {earlier.start_mark.line + 1}; "
                        "a key may appear once in each mapping", key.start_mark)
        return node


def _read_spec(path: str | Path):
    """The spec parsed, reading no more than ``SPEC_BYTES`` (a huge file, or a device that never
    ends, is refused before YAML builds it in memory)."""
    with open(path, "rb") as file:
        data = file.read(SPEC_BYTES + 1)
    if len(data) > SPEC_BYTES:
        raise SweepSpecError(f"{path}: a sweep spec may hold at most {SPEC_BYTES // 2**20} MiB, this one holds more; "
                             "write long grids as products of short lists, or call repalign.sweep.sweep from Python")
    try:
        return yaml.load(data.decode("utf-8"), Loader=_SpecLoader)
    except UnicodeDecodeError as err:
        raise SweepSpecError(f"{path}: not UTF-8 text (byte {err.start}); save the spec as UTF-8") from None
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        raise SweepSpecError(f"{path}: not valid YAML{line} ({getattr(err, 'problem', None) or err}); "
                             "fix the spec") from None


def _spec_value(where: str, name: str, value):
    """One value of the spec as Experiment takes it: a scalar, numbers as ``validate.yaml_number``
    reads them (YAML 1.1 reads ``1e-05`` and ``inf`` as strings), or a list of names for metrics."""
    if name == "metrics" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    if not isinstance(value, _SCALARS):
        names = " or a list of metric names" if name == "metrics" else ""
        raise SweepSpecError(f"{where} must be one value (a number, a string, true/false or null){names}, "
                             f"got {reprlib.repr(value)}")
    return validate.yaml_number(value)


def _spec_section(path, spec: dict, key: str) -> dict:
    """``base`` or ``grid``: a mapping keyed by Experiment fields (``base:`` left empty is no field)."""
    section = spec.get(key)
    if section is None and key == "base":
        return {}
    if not isinstance(section, dict):
        values = "lists of values" if key == "grid" else "values"
        raise SweepSpecError(f"{path}: {key} must be a mapping from Experiment fields to {values}, "
                             f"got {reprlib.repr(section)}")
    return section


def load_spec(path: str | Path) -> tuple[Experiment, dict[str, list]]:
    """Read ``{base: {field: value}, grid: {field: [values]}}`` and validate it completely: the file's
    size, repeated keys, each section's type and fields, every value, and every grid point."""
    spec = _read_spec(path)
    if not isinstance(spec, dict) or "grid" not in spec or set(spec) - {"base", "grid"}:
        extra = [key for key in spec if key not in ("base", "grid")] if isinstance(spec, dict) else []
        raise SweepSpecError(f"{path}: a sweep spec is a mapping with keys 'base' (optional) and 'grid'"
                             + (f", not {extra}" if extra else ""))
    base_fields = _spec_section(path, spec, "base")
    unknown = [name for name in base_fields if name not in FIELDS]
    if unknown:
        raise SweepSpecError(f"{path}: base field(s) {unknown} are not Experiment fields; the fields are {FIELDS}")
    values = {name: _spec_value(f"{path}: base.{name}", name, value) for name, value in base_fields.items()}
    try:
        base = Experiment(**values)
    except (TypeError, ValueError) as err:
        raise SweepSpecError(f"{path}: base: {err}") from None
    grid = {name: [_spec_value(f"{path}: grid.{name}[{i}]", name, v) for i, v in enumerate(column)]
            if isinstance(column, list) else column
            for name, column in _spec_section(path, spec, "grid").items()}
    grid_experiments(base, grid)  # every point validated before any work
    return base, grid
