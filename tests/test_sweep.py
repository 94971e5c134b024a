"""Sweeps and the result cache: validation first, resume, corruption, concurrency, Dask."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pandas as pd
import pytest

from repalign import Experiment
from repalign import sweep as sweep_module
from repalign.__main__ import main as cli
from repalign.cache import CorruptEntryWarning, ResultCache
from repalign.sweep import SweepSpecError, grid_experiments, sweep

BASE = Experiment(d=30, members=3, n_probe=200, metrics=("cka", "procrustes"))
GRID = {"n_train": [10, 50], "snr": [1.0, 4.0]}


@pytest.fixture
def cache(tmp_path):
    return ResultCache(tmp_path / "cache")


@pytest.fixture
def counted(monkeypatch):
    """Count the experiments actually computed."""
    calls = []
    real = sweep_module.compute_entry

    def counting(exp, threads=None):
        calls.append(exp)
        return real(exp, threads)

    monkeypatch.setattr(sweep_module, "compute_entry", counting)
    return calls


def test_a_sweep_is_a_tidy_table_and_a_rerun_computes_nothing(cache, counted):
    first = sweep(BASE, GRID, cache=cache, progress=False)
    assert len(first) == 4 * 2 and set(first.metric) == {"cka", "procrustes"}
    assert not first.cached.any() and len(counted) == 4
    again = sweep(BASE, GRID, cache=cache, progress=False)
    assert again.cached.all() and len(counted) == 4
    columns = ["n_train", "snr", "metric", "alignment", "alignment_stderr", "test_error", "converged_fraction"]
    pd.testing.assert_frame_equal(first[columns], again[columns])


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


@pytest.mark.parametrize("damage", ["truncate npz", "flip a byte", "truncate json", "another experiment"])
def test_a_damaged_entry_is_reported_and_recomputed(cache, counted, damage):
    exp = BASE.replace(n_train=10)
    sweep(BASE, {"n_train": [10]}, cache=cache, progress=False)
    npz, meta = cache.paths(exp)
    if damage == "truncate npz":
        npz.write_bytes(npz.read_bytes()[:100])
    elif damage == "flip a byte":
        payload = bytearray(npz.read_bytes())
        payload[len(payload) // 2] ^= 0xFF
        npz.write_bytes(bytes(payload))
    elif damage == "truncate json":
        meta.write_text(meta.read_text()[:50])
    else:
        entry = json.loads(meta.read_text())
        entry["experiment"]["seed"] = 99
        meta.write_text(json.dumps(entry))
    with pytest.warns(CorruptEntryWarning):
        table = sweep(BASE, {"n_train": [10]}, cache=cache, progress=False)
    assert not table.cached.any() and len(counted) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # repaired: read back without complaint
        assert sweep(BASE, {"n_train": [10]}, cache=cache, progress=False).cached.all()


SWEEP_SCRIPT = textwrap.dedent("""
    import sys
    from repalign import Experiment
    from repalign.cache import ResultCache
    from repalign.sweep import sweep
    base = Experiment(d=60, members=3, n_probe=200, steps=20000, tol=1e-10)
    sweep(base, {"n_train": [10, 20, 30, 40, 80, 90, 100, 110], "seed": [0, 1]},
          cache=ResultCache(sys.argv[1]), progress=False)
""")


def entries(folder) -> int:
    return len(list(folder.glob("*.json"))) if folder.exists() else 0


def test_a_killed_sweep_resumes_where_it_stopped(tmp_path, counted):
    folder = tmp_path / "cache"
    process = subprocess.Popen([sys.executable, "-c", SWEEP_SCRIPT, str(folder)])
    deadline = time.time() + 120
    while entries(folder) < 3 and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = entries(folder)
    assert 3 <= done < 16, "the sweep was not stopped midway"
    base = Experiment(d=60, members=3, n_probe=200, steps=20000, tol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the kill left no entry half-written (a stray .tmp at most)
        table = sweep(base, {"n_train": [10, 20, 30, 40, 80, 90, 100, 110], "seed": [0, 1]},
                      cache=ResultCache(folder), progress=False)
    assert len(counted) == 16 - done and table.cached.sum() == done
    assert ResultCache(folder).clear() == 16 and not list(folder.iterdir())  # clear sweeps up .tmp files too


def test_two_concurrent_writers_never_corrupt_an_entry(tmp_path):
    folder = tmp_path / "cache"
    one_thread = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}  # 2 writers, 2 cores
    writers = [subprocess.Popen([sys.executable, "-c", SWEEP_SCRIPT, str(folder)], env=one_thread)
               for _ in range(2)]
    assert [w.wait(timeout=300) for w in writers] == [0, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        base = Experiment(d=60, members=3, n_probe=200, steps=20000, tol=1e-10)
        table = sweep(base, {"n_train": [10, 20, 30, 40, 80, 90, 100, 110], "seed": [0, 1]},
                      cache=ResultCache(folder), progress=False)
    assert table.cached.all() and entries(folder) == 16


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


def test_the_command_line_writes_the_table_and_says_where(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REPALIGN_CACHE", str(tmp_path / "cache"))
    spec = tmp_path / "spec.yaml"
    spec.write_text("base: {d: 30, members: 3, n_probe: 200}\ngrid: {n_train: [10, 50], snr: [1.0, .inf]}\n")
    assert cli(["sweep", str(spec), "-o", str(tmp_path / "table.csv")]) == 0
    assert f"wrote 4 rows (4 computed) to {tmp_path / 'table.csv'}" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "table.csv")
    assert len(table) == 4 and np.isinf(table.snr).sum() == 2
    assert cli(["cache", "info"]) == 0 and "4 entries" in capsys.readouterr().out
    assert cli(["cache", "clear"]) == 0 and "removed 4 entries" in capsys.readouterr().out


@pytest.mark.parametrize("text, complaint", [
    ("base: {d: 30, membrs: 3}\ngrid: {n_train: [10]}\n", "membrs"),
    ("base: {d: 30}\ngrid: {n_train: [10, 0]}\n", "Experiment.n_train must be"),
    ("base: {d: 30}\ngrid: {}\n", "non-empty"),
    ("base: {d: 30}\n", "'grid'"),
    ("base: {d: 30, snr: -2}\ngrid: {n_train: [10]}\n", "Experiment.snr must be"),
])
def test_a_bad_spec_fails_before_any_work_naming_the_field(tmp_path, capsys, counted, text, complaint):
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    assert cli(["sweep", str(spec)]) == 2
    assert complaint in capsys.readouterr().err and counted == []
