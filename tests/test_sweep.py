"""Sweeps (repalign.sweep): validation first, resume, Dask and process pools, several jobs as one table."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from repalign import Experiment
from repalign.cache import ResultCache
from repalign.experiment import budget_stops_expected, run_experiment
from repalign.sweep import (MemberCounts, SweepSpecError, grid_experiments, member_counts, missing_points, results_table,
                            sweep, sweep_many)

BASE = Experiment(d=30, members=3, n_probe=200, metrics=("cka", "procrustes"))
GRID = {"n_train": [10, 50], "snr": [1.0, 4.0]}


@pytest.fixture
def cache(tmp_path):
    return ResultCache(tmp_path / "cache")


def test_a_sweep_is_a_tidy_table_and_a_rerun_computes_nothing(cache, counted):
    first = sweep(BASE, GRID, cache=cache, progress=False)
    assert len(first) == 4 * 2 and set(first.metric) == {"cka", "procrustes"}
    assert not first.cached.any() and len(counted) == 4
    again = sweep(BASE, GRID, cache=cache, progress=False)
    assert again.cached.all() and len(counted) == 4
    columns = ["n_train", "snr", "metric", "alignment", "alignment_stderr", "test_error", "converged_fraction",
               "interpolated_fraction"]
    pd.testing.assert_frame_equal(first[columns], again[columns])


def test_the_table_counts_the_members_at_a_numerically_zero_training_loss():
    res = run_experiment(BASE.replace(n_train=10))
    losses = np.array([0.0, 1e-9, 1e-3])  # two members interpolate, one does not; a NaN (diverged) would not
    row = results_table([(dataclasses.replace(res, train_loss=losses), False)], ["n_train"]).iloc[0]
    assert row.interpolated_fraction == pytest.approx(2 / 3)


@pytest.mark.parametrize("grid, field", [
    ({"n_trian": [10]}, "n_trian"), ({"n_train": []}, "n_train"), ({"n_train": [10, -5]}, "n_train"),
    ({"snr": [1.0, -1.0]}, "snr"), ({"noise": ["labels", "everywhere"]}, "noise"),
])
def test_a_bad_grid_fails_before_any_work(cache, counted, grid, field):
    with pytest.raises(SweepSpecError, match=field):
        sweep(BASE, grid, cache=cache, progress=False)
    assert counted == []


def test_an_empty_grid_is_refused():
    with pytest.raises(SweepSpecError, match="non-empty"):
        grid_experiments(BASE, {})


@pytest.mark.parametrize("values", [{1.0: 2.0}, {1.0, 2.0}, 4.0, "1, 2"])
def test_a_grid_field_needs_a_list_not_a_mapping_set_or_one_value(values):
    with pytest.raises(SweepSpecError, match=r"'snr' needs a non-empty list of values \(a single value belongs"):
        grid_experiments(BASE, {"snr": values})


def test_a_device_this_machine_lacks_is_refused_before_any_work(cache, counted, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(SweepSpecError, match=r"Experiment.device must be one of \('auto', 'cpu'\)"):
        sweep(BASE.replace(device="cuda"), {"seed": [0]}, cache=cache, progress=False)
    assert counted == []


def test_dask_and_the_process_pool_give_the_serial_results(tmp_path):
    from distributed import Client, LocalCluster

    grid = {"n_train": [10, 50], "seed": [0, 1]}
    serial = sweep(BASE, grid, cache=ResultCache(tmp_path / "serial"), progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        dask = sweep(BASE, grid, executor="dask", client=client, cache=ResultCache(tmp_path / "dask"), progress=False)
    pool = sweep(BASE, grid, executor="process", workers=2, cache=ResultCache(tmp_path / "pool"), progress=False)
    columns = ["n_train", "seed", "metric", "alignment", "test_error", "train_error", "steps_mean"]
    pd.testing.assert_frame_equal(serial[columns], dask[columns], rtol=1e-6, atol=1e-9)
    pd.testing.assert_frame_equal(serial[columns], pool[columns], rtol=1e-6, atol=1e-9)


def test_workers_size_the_local_dask_cluster(cache, monkeypatch):
    import distributed

    started = []

    class NoCluster:
        def __init__(self, *args, **kwargs):
            started.append((args, kwargs))
            raise RuntimeError("no cluster in this test")

    monkeypatch.setattr(distributed, "Client", NoCluster)
    with pytest.raises(RuntimeError, match="no cluster"):
        sweep(BASE, {"seed": [0]}, executor="dask", workers=3, cache=cache, progress=False)
    assert started == [((), {"n_workers": 3})]


def test_bad_executor_and_workers_are_refused_before_any_work(cache, counted):
    with pytest.raises(SweepSpecError, match="executor must be one of"):
        sweep(BASE, GRID, executor="threads", cache=cache, progress=False)
    with pytest.raises(SweepSpecError, match="workers must be None"):
        sweep(BASE, GRID, executor="process", workers=0, cache=cache, progress=False)
    assert counted == []


# --- several sweeps as one table --------------------------------------------------------------


def test_jobs_are_tagged_concatenated_and_cached(tmp_path):
    cache = ResultCache(tmp_path)
    base = Experiment(d=6, n_train=4, width=4, members=3, n_probe=20, steps=50, snr=2.0)
    jobs = [({"kind": "a"}, base, {"n_train": [3, 9]}), ({"kind": "b"}, base.replace(width=4), {"seed": [0, 1]})]
    assert missing_points(jobs, cache) == 4
    with budget_stops_expected():  # 50 steps: members stop on the budget
        table = sweep_many(jobs, cache=cache)
    assert list(table.kind) == ["a", "a", "b", "b"]
    assert missing_points(jobs, cache) == 0
    again = sweep_many(jobs, cache=cache, workers=2)  # everything cached: no cluster is started
    assert again.cached.all()
    assert (again.alignment.to_numpy() == table.alignment.to_numpy()).all()


def test_jobs_computed_also_are_cached_and_left_out_of_the_table(tmp_path):
    cache = ResultCache(tmp_path)
    base = Experiment(d=6, n_train=4, width=4, members=3, n_probe=20, steps=50, snr=2.0)
    jobs, later = [({"kind": "a"}, base, {"seed": [0]})], [({"kind": "b"}, base, {"seed": [1, 2]})]
    with budget_stops_expected():
        table = sweep_many(jobs, cache=cache, also=later)
    assert list(table.kind) == ["a"]
    assert missing_points(jobs + later, cache) == 0
    with pytest.raises(ValueError, match="each job"):
        sweep_many(jobs, cache=cache, also=[({}, {"d": 6}, {"seed": [0]})])


def test_bad_jobs_are_named():
    base = Experiment(d=6, n_train=4, members=3)
    with pytest.raises(ValueError, match="workers must be an integer >= 1, got 0"):
        sweep_many([({}, base, {"seed": [0]})], workers=0)
    with pytest.raises(ValueError, match="jobs"):
        sweep_many([])
    with pytest.raises(ValueError, match="each job"):
        sweep_many([({}, {"d": 6}, {"seed": [0]})])


def test_member_counts_sum_how_members_ended_over_rows():
    table = pd.DataFrame({"members": [4, 8], "converged_fraction": [0.5, 1.0], "diverged_fraction": [0.25, 0.0]})
    assert member_counts(table) == MemberCounts(trained=12, on_budget=1, diverged=1)


def test_parallel_sweeps_of_one_process_share_one_local_cluster(tmp_path):
    from repalign import sweep as sweep_module

    base = Experiment(d=10, members=3, n_probe=40, steps=200)
    first = sweep_many([({}, base, {"seed": [0, 1]})], workers=2, cache=ResultCache(tmp_path / "a"))
    client = sweep_module._CLIENTS[2]
    second = sweep_many([({}, base, {"seed": [2, 3]})], workers=2, cache=ResultCache(tmp_path / "b"))
    assert sweep_module._CLIENTS[2] is client and client.status == "running"
    assert not first.cached.any() and not second.cached.any()
