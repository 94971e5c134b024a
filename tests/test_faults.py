"""Fault injection: every fault is injected into a run that completed cleanly, and must be
detected, reported, lose nothing, and leave every result equal to the clean run's.

``ENTRY_FAULTS`` damages one stored entry of a small sweep in each way a disk, an editor or a
killed process can; ``OTHER_FAULTS`` names the tests of the faults around the cache (killed
sweeps, concurrent writers, unusable cache folders, damaged or missing data, thread counts).
The README states how many faults there are; a test holds it to these two tables.
"""

import gzip
import json
import os
import re
import shutil
import signal
import time
import warnings

import numpy as np
import pytest
import torch
from data_helpers import assert_same_result, idx_bytes

from repalign import Experiment, book, data, paths
from repalign.cache import CorruptEntryWarning, ResultCache, _meta_checksum
from repalign.data import files
from repalign.experiment import budget_stops_expected, run_experiment
from repalign.sweep import grid_experiments, plan_stacks, run_points

POINTS = grid_experiments(Experiment(d=8, members=3, n_probe=16, steps=60, snr=2.0),
                          {"n_train": [4, 12], "seed": [0, 1]})
DAMAGED, DONOR = POINTS[0], POINTS[3]  # the entry a fault hits, and another whose files it may borrow


def _run(folder):
    with budget_stops_expected():  # 60 steps: members stop on the budget, as expected here
        return run_points(POINTS, cache=ResultCache(folder), progress=False)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """The sweep run once without faults: its results and its cache folder."""
    folder = tmp_path_factory.mktemp("clean")
    return {exp: res for exp, (res, _) in _run(folder).items()}, folder


def _rewrite_json(meta, change):
    """Change the json and seal it with a valid checksum: only the content checks can catch it."""
    entry = json.loads(meta.read_text())
    change(entry)
    entry["meta_sha256"] = _meta_checksum(entry)
    meta.write_text(json.dumps(entry))


def _flip_middle_byte(path):
    payload = bytearray(path.read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    path.write_bytes(bytes(payload))


def _edit_number(meta):
    entry = json.loads(meta.read_text())
    entry["alignment"]["cka"] += 0.01  # one changed digit, checksum left as it was
    meta.write_text(json.dumps(entry, indent=1))


# name -> (damage(npz, json, donor npz, donor json), whether a CorruptEntryWarning reports it).
# A missing json is no entry at all (the json is written last), so there is nothing to report.
ENTRY_FAULTS = {
    "npz truncated": (lambda npz, meta, *_: npz.write_bytes(npz.read_bytes()[:100]), True),
    "npz byte flipped": (lambda npz, meta, *_: _flip_middle_byte(npz), True),
    "npz emptied": (lambda npz, meta, *_: npz.write_bytes(b""), True),
    "npz deleted": (lambda npz, meta, *_: npz.unlink(), True),
    "npz of another entry": (lambda npz, meta, other_npz, _: shutil.copy(other_npz, npz), True),
    "json truncated": (lambda npz, meta, *_: meta.write_text(meta.read_text()[:50]), True),
    "json not text": (lambda npz, meta, *_: meta.write_bytes(b"\xff\xfe\x00garbage"), True),
    "json number edited": (lambda npz, meta, *_: _edit_number(meta), True),
    "json of another experiment": (lambda npz, meta, *_: _rewrite_json(
        meta, lambda e: e["experiment"].update(seed=99)), True),
    "json of an older schema": (lambda npz, meta, *_: _rewrite_json(meta, lambda e: e.update(schema=1)), True),
    "entry swapped with another": (lambda npz, meta, other_npz, other_meta: (
        shutil.copy(other_npz, npz), shutil.copy(other_meta, meta)), True),
    "json deleted (npz orphaned)": (lambda npz, meta, *_: meta.unlink(), False),
}


@pytest.mark.parametrize("fault", ENTRY_FAULTS)
def test_a_damaged_entry_is_detected_reported_and_recomputed_to_the_clean_result(clean, tmp_path, fault):
    results, clean_folder = clean
    folder = tmp_path / "cache"
    shutil.copytree(clean_folder, folder)
    cache = ResultCache(folder)
    damage, reported = ENTRY_FAULTS[fault]
    damage(*cache.paths(DAMAGED), *cache.paths(DONOR))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = _run(folder)
    corrupt = [w for w in caught if issubclass(w.category, CorruptEntryWarning)]
    assert len(corrupt) == int(reported)  # reported once, by the damaged entry's name
    assert all(cache.paths(DAMAGED)[1].name in str(w.message) for w in corrupt)
    assert {exp: cached for exp, (_, cached) in again.items()} == {p: p != DAMAGED for p in POINTS}  # detected
    for exp in POINTS:  # nothing lost, and the recomputed point is the clean one
        assert_same_result(again[exp][0], results[exp])
    assert cache.verify()["corrupt"] == [] and cache.info()["entries"] == len(POINTS)  # repaired on disk


# --- faults around the cache ------------------------------------------------------------------

OTHER_FAULTS = [
    "test_fault_temporary_files_of_a_killed_writer",
    "test_fault_a_sweep_killed_midway",
    "test_fault_two_concurrent_writers",
    "test_fault_a_cache_path_that_is_a_file",
    "test_fault_a_read_only_cache_with_missing_entries",
    "test_fault_a_truncated_fashion_mnist_file",
    "test_fault_a_truncated_mnist_file",
    "test_fault_a_data_set_missing_when_a_chapter_runs",
    "test_fault_another_thread_count",
]


def test_fault_temporary_files_of_a_killed_writer(clean, tmp_path):
    results, clean_folder = clean
    folder = tmp_path / "cache"
    shutil.copytree(clean_folder, folder)
    npz, meta = ResultCache(folder).paths(DAMAGED)
    (folder / f".{meta.name}.x1.tmp").write_text('{"half": ')  # a writer killed before its rename
    (folder / f".{npz.name}.x2.tmp").write_bytes(npz.read_bytes()[:64])
    cache = ResultCache(folder)
    assert cache.info()["temporary"] == 2 and cache.verify()["temporary"] == 2  # detected and reported
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the stray files are never read as entries
        again = _run(folder)
    assert all(cached for _, cached in again.values())
    for exp in POINTS:
        assert_same_result(again[exp][0], results[exp])
    assert cache.clear() == len(POINTS) and not list(folder.iterdir())  # cleared with the entries


def test_fault_a_sweep_killed_midway(tmp_path, counted, slow_sweep):
    """The sweep trains in stacks of several points; a point is stored when its stack is done,
    so a kill loses only unfinished stacks, and no stored point is computed again."""
    points = grid_experiments(slow_sweep.base, {name: list(values) for name, values in slow_sweep.grid})
    assert all(len(stack) == 2 for stack in plan_stacks(points))  # the two seeds of each N
    folder = tmp_path / "cache"
    process = slow_sweep.start(folder)
    deadline = time.time() + 120
    while slow_sweep.entries(folder) < 3 and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = slow_sweep.entries(folder)
    assert 3 <= done < slow_sweep.points, "the sweep was not stopped midway"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the kill left no entry half-written (a stray .tmp at most)
        table = slow_sweep.run_here(folder)
    assert len(counted) == slow_sweep.points - done and table.cached.sum() == done
    assert ResultCache(folder).verify()["corrupt"] == []
    assert ResultCache(folder).clear() == slow_sweep.points and not list(folder.iterdir())  # .tmp files too


def test_fault_two_concurrent_writers(tmp_path, slow_sweep):
    folder = tmp_path / "cache"
    writers = [slow_sweep.start(folder, one_thread=True) for _ in range(2)]  # 2 writers, 2 cores
    assert [w.wait(timeout=300) for w in writers] == [0, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = slow_sweep.run_here(folder)
    assert table.cached.all() and slow_sweep.entries(folder) == slow_sweep.points
    assert ResultCache(folder).verify()["corrupt"] == []


def _spec(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("base: {d: 8, n_train: 4, members: 2, n_probe: 8, steps: 5}\ngrid: {snr: [1, 2]}\n")
    return spec


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_fault_a_cache_path_that_is_a_file(tmp_path, monkeypatch, capsys, counted):
    from repalign.__main__ import main
    blocker = tmp_path / "cache-file"
    blocker.write_text("keep me")
    monkeypatch.setenv(paths.CACHE_VARIABLE, str(blocker))
    assert main(["sweep", str(_spec(tmp_path)), "-o", str(tmp_path / "t.csv")]) == 2
    assert "is a file, not a folder; point REPALIGN_CACHE at a writable folder" in _one_line(capsys)
    assert counted == [] and blocker.read_text() == "keep me" and not (tmp_path / "t.csv").exists()


def test_fault_a_read_only_cache_with_missing_entries(clean, tmp_path, monkeypatch, capsys, counted):
    from repalign.__main__ import main
    results, clean_folder = clean
    folder = tmp_path / "cache"
    shutil.copytree(clean_folder, folder)
    before = sorted((p.name, p.read_bytes()) for p in folder.iterdir())
    # permissions do not bind root, so the folder is made read-only where the check looks
    monkeypatch.setattr("os.access", lambda path, mode: not (mode & os.W_OK and str(path) == str(folder)))
    monkeypatch.setenv(paths.CACHE_VARIABLE, str(folder))
    assert main(["sweep", str(_spec(tmp_path)), "-o", str(tmp_path / "t.csv")]) == 2
    assert "is read-only and some results are missing" in _one_line(capsys)
    assert counted == [] and sorted((p.name, p.read_bytes()) for p in folder.iterdir()) == before
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stored = _run(folder)  # what is stored is still served
    for exp in POINTS:
        assert stored[exp][1] and stored[exp][0].alignment == results[exp].alignment


@pytest.mark.parametrize("compress", [True, False])
def test_fault_a_truncated_fashion_mnist_file(tmp_path, compress):
    whole = idx_bytes(np.arange(60, dtype=np.uint8).reshape(3, 4, 5))
    name = "t10k-images-idx3-ubyte" + (".gz" if compress else "")
    payload = gzip.compress(whole) if compress else whole
    (tmp_path / name).write_bytes(payload[: len(payload) // 2])
    with pytest.raises(data.CorruptDataFile, match=f"{name} is truncated or damaged .*install the data set again"):
        data.read_idx(tmp_path / name)
    (tmp_path / name).write_bytes(payload)  # reinstalled: read in full
    np.testing.assert_array_equal(data.read_idx(tmp_path / name), np.arange(60).reshape(3, 4, 5))


def test_fault_a_truncated_mnist_file(tmp_path, monkeypatch):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in data.MNIST_FILES:
        (folder / name).write_text('{"data": [' + ", ".join(["0.5"] * 784) + "]}")
    (folder / data.MNIST_FILES[3]).write_text('{"data": [0.1, 0.2')  # cut short
    monkeypatch.setenv("REPALIGN_DATA", str(tmp_path))
    with pytest.raises(data.CorruptDataFile, match=f"{data.MNIST_FILES[3]} is truncated or damaged"):
        files.load_mnist()


def test_fault_a_data_set_missing_when_a_chapter_runs(no_kernel, no_local_data, capsys):
    """The real-data chapter at the paper preset reads Fashion-MNIST: with no copy anywhere, the
    book refuses before a kernel starts, in one line that says how to install it."""
    data.real._cached_real_split.cache_clear()  # forget a copy loaded by an earlier test
    try:
        assert book.main(["run", "real_data"]) == 2
    finally:
        data.real._cached_real_split.cache_clear()
    err = _one_line(capsys)
    assert "chapter 'real_data' cannot read its data: Fashion-MNIST not found" in err and "apt-get install" in err


def test_fault_another_thread_count():
    """A run on one thread and on two gives bit-identical results (reductions do not reorder)."""
    exp = POINTS[1]
    before = torch.get_num_threads()
    try:
        with budget_stops_expected():
            torch.set_num_threads(1)
            one = run_experiment(exp)
            torch.set_num_threads(2)
            two = run_experiment(exp)
    finally:
        torch.set_num_threads(before)
    assert_same_result(one, two)


# --- the counts the README states -------------------------------------------------------------


def fault_count() -> int:
    """Faults injected: each entry fault, and each other fault test (a parametrized one counts once)."""
    return len(ENTRY_FAULTS) + len(OTHER_FAULTS)


def test_the_fault_table_names_every_fault_test_of_this_module():
    tests = {name for name, value in globals().items() if name.startswith("test_fault_") and callable(value)}
    assert tests == set(OTHER_FAULTS)


def test_the_readme_states_the_counts():
    from test_hardening import BAD_PARAMETERS
    readme = (paths.book_root() / "README.md").read_text()
    stated = re.search(r"(\d+) faults are injected", readme)
    assert stated and int(stated.group(1)) == fault_count()
    stated = re.search(r"(\d+) bad chapter parameters", readme)
    assert stated and int(stated.group(1)) == len(BAD_PARAMETERS)
