"""Faults a new user runs into (the hardening issue), each refused up front with one line that
names the input and the fix, or handled so that equal inputs give equal results. Each test
failed before its fix."""

import numpy as np
import pytest

from repalign import Experiment, book
from repalign.cache import experiment_key
from repalign.sweep import grid_experiments, load_spec


@pytest.fixture
def no_kernel(monkeypatch):
    import papermill

    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(papermill, "execute_notebook", refuse)


# --- 1. -o never overwrites a source or a file it did not write -----------------------------------


@pytest.mark.parametrize("target", ["chapters/linear.md", "chapters/new.ipynb", "book/intro.md", "lib/x.ipynb"])
def test_output_inside_the_sources_is_refused_before_the_kernel_starts(no_kernel, capsys, target):
    from repalign import paths
    path = paths.book_root() / target
    before = path.read_bytes() if path.exists() else None
    assert book.main(["run", "question", "-p", "preset", "smoke", "-o", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "refusing to overwrite or add to the book's sources" in err and len(err.splitlines()) == 1
    assert (path.read_bytes() if path.exists() else None) == before


def test_an_existing_file_that_is_not_an_executed_notebook_is_refused(no_kernel, capsys, tmp_path):
    precious = tmp_path / "notes.txt"
    precious.write_text("keep me")
    assert book.main(["run", "question", "-o", str(precious)]) == 2
    assert "it exists and is not a notebook this command wrote" in capsys.readouterr().err
    assert precious.read_text() == "keep me"


def test_an_unwritable_output_folder_is_refused_before_the_kernel_starts(no_kernel, capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert book.main(["run", "question", "-o", str(blocker / "sub" / "out.ipynb")]) == 2
    assert "choose a writable path" in capsys.readouterr().err


# --- 5. numpy scalars and equal numbers ----------------------------------------------------------


def test_numpy_scalars_in_a_grid_and_equal_numbers_share_one_cache_key():
    base = Experiment(d=10, n_train=5, members=2, n_probe=8, steps=2)
    points = grid_experiments(base, {"n_train": np.arange(5, 15, 5), "snr": np.array([3.0], dtype=np.float32)})
    assert [type(p.n_train) for p in points] == [int, int] and all(type(p.snr) is float for p in points)
    assert experiment_key(base.replace(snr=3)) == experiment_key(base.replace(snr=3.0))
    assert experiment_key(base.replace(snr=np.float64(3))) == experiment_key(base.replace(snr=3.0))
    assert base.replace(shared_inputs=np.bool_(False)).shared_inputs is False
    with pytest.raises(ValueError, match="Experiment.n_train must be an integer"):
        base.replace(n_train=5.0)  # a float for an integer field is still refused, not rounded


# --- 7. scientific notation and repeated keys ----------------------------------------------------


@pytest.mark.parametrize("text, value", [("1e-05", 1e-05), ("1E5", 1e5), ("-2.5e-3", -2.5e-3), ("inf", float("inf")),
                                         ("[1e-3, 2]", [1e-3, 2])])
def test_scientific_notation_is_a_number(text, value):
    assert book.parse_value(text) == value


def test_the_default_tol_as_printed_is_accepted(no_kernel):
    assert book.check_parameters("linear", [("tol", "1e-05")])["tol"] == 1e-05


def test_a_repeated_parameter_is_refused(no_kernel, capsys):
    assert book.main(["run", "question", "-p", "n_alpha", "5", "-p", "n_alpha", "7"]) == 2
    assert "'n_alpha' given more than once" in capsys.readouterr().err


def test_sweep_specs_read_scientific_notation(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("base: {d: 10, n_train: 5, tol: 1e-05, members: 2}\ngrid: {snr: [1e1, inf]}\n")
    base, grid = load_spec(spec)
    assert base.tol == 1e-05 and grid["snr"] == [10.0, float("inf")]


# --- 4. every byte of an entry is verified; 8. temporary files are counted ------------------------


def test_an_edited_number_in_an_entrys_json_is_a_corrupt_entry_and_recomputed(tmp_path):
    import json
    import warnings

    from repalign.cache import CorruptEntryWarning, ResultCache
    from repalign.experiment import budget_stops_expected, run_experiment

    cache = ResultCache(tmp_path)
    exp = Experiment(d=8, n_train=4, members=2, n_probe=8, steps=20)
    with budget_stops_expected():  # 20 steps: a budget stop is expected here
        clean = run_experiment(exp)
    _, meta_path = cache.paths(exp)
    cache.store(clean)
    meta = json.loads(meta_path.read_text())
    meta["alignment"]["cka"] += 0.01  # one changed digit
    meta_path.write_text(json.dumps(meta, indent=1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cache.load(exp) is None
    assert any(issubclass(w.category, CorruptEntryWarning) and "json" in str(w.message) for w in caught)
    cache.store(clean)
    assert cache.load(exp).alignment == clean.alignment


def test_cache_info_counts_the_temporary_files_of_a_killed_writer(tmp_path):
    from repalign.cache import ResultCache

    (tmp_path / ".abc.json.x.tmp").write_bytes(b"half")
    info = ResultCache(tmp_path).info()
    assert info["temporary"] == 1 and info["entries"] == 0


# --- 6. one-line errors from python -m repalign sweep -------------------------------------------


@pytest.mark.parametrize("text, complaint", [
    (b"base: {d: 10\ngrid: {snr: [1]}\n", "not valid YAML at line"),
    (b"base: {data: \xff\xfe}\ngrid: {snr: [1]}\n", "not UTF-8 text"),
])
def test_a_broken_spec_is_one_line(tmp_path, capsys, text, complaint):
    from repalign.__main__ import main
    spec = tmp_path / "spec.yaml"
    spec.write_bytes(text)
    assert main(["sweep", str(spec)]) == 2
    err = capsys.readouterr().err.strip()
    assert complaint in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("extra, complaint", [
    (["-o", "missing/folder/t.csv"], "does not exist; create it"),
    (["--workers", "-1"], "--workers must be an integer >= 1"),
    (["--workers", "0"], "--workers must be an integer >= 1"),
])
def test_bad_sweep_options_are_refused_before_any_work(tmp_path, capsys, monkeypatch, extra, complaint):
    from repalign import __main__ as cli
    monkeypatch.setattr("repalign.sweep.sweep", lambda *a, **k: pytest.fail("a sweep started"))
    spec = tmp_path / "spec.yaml"
    spec.write_text("base: {d: 10, n_train: 5, members: 2}\ngrid: {snr: [1, 2]}\n")
    extra = [str(tmp_path / e) if e.endswith(".csv") else e for e in extra]
    assert cli.main(["sweep", str(spec), *extra]) == 2
    assert complaint in capsys.readouterr().err


# --- 3. size limits, stated and enforced before any work ----------------------------------------


@pytest.mark.parametrize("changes, complaint", [
    (dict(n_train=10**12), "GiB of memory"), (dict(members=10**7), "GiB of memory"),
    (dict(steps=10**15), "multiply-adds"), (dict(metrics=("cka", "cka")), "distinct names"),
])
def test_experiments_beyond_the_limits_are_refused(changes, complaint):
    with pytest.raises(ValueError, match=complaint):
        Experiment(**changes)


def test_the_limits_can_be_lifted_on_a_big_machine(monkeypatch):
    monkeypatch.setenv("REPALIGN_LIMITS", "off")
    assert Experiment(n_train=10**12).n_train == 10**12  # built, not run


@pytest.mark.parametrize("args, complaint", [
    (["linear", "-p", "d", "100000"], "GiB of memory"), (["question", "-p", "n_alpha", "1000000000"], "n_alpha"),
    (["question", "-p", "spike_d", "100000"], "spike_d"), (["sample_size", "-p", "steps", "1e12"], "multiply-adds"),
])
def test_chapter_parameters_beyond_the_limits_are_refused_before_the_kernel_starts(no_kernel, capsys, args,
                                                                                    complaint):
    assert book.main(["run", *args]) == 2
    assert complaint in capsys.readouterr().err


def test_cache_verify_checks_every_entry_and_names_the_corrupt_ones(tmp_path, monkeypatch, capsys):
    import json

    from repalign.__main__ import main
    from repalign.cache import ResultCache
    from repalign.experiment import budget_stops_expected, run_experiment

    monkeypatch.setenv("REPALIGN_CACHE", str(tmp_path))
    cache = ResultCache(tmp_path)
    with budget_stops_expected():
        for seed in (0, 1):
            cache.store(run_experiment(Experiment(d=8, n_train=4, members=2, n_probe=8, steps=20, seed=seed)))
    assert main(["cache", "verify"]) == 0
    assert "2 entries checked" in capsys.readouterr().out
    first = sorted(tmp_path.glob("*.json"))[0]
    meta = json.loads(first.read_text())
    meta["wall_time"] += 1
    first.write_text(json.dumps(meta))
    assert main(["cache", "verify"]) == 1
    assert f"1 corrupt ({first.name}" in capsys.readouterr().out


# --- 6. an unusable result cache is one line, before any work ------------------------------------


def _spec(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("base: {d: 8, n_train: 4, members: 2, n_probe: 8, steps: 5}\ngrid: {snr: [1, 2]}\n")
    return spec


def test_a_cache_path_that_is_a_file_is_one_line(tmp_path, monkeypatch, capsys):
    from repalign.__main__ import main
    blocker = tmp_path / "cache-file"
    blocker.write_text("")
    monkeypatch.setenv("REPALIGN_CACHE", str(blocker))
    assert main(["sweep", str(_spec(tmp_path)), "-o", str(tmp_path / "t.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert "is a file, not a folder; point REPALIGN_CACHE at a writable folder" in err
    assert len(err.splitlines()) == 1


@pytest.mark.skipif(__import__("os").geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_cache_with_missing_entries_is_one_line(tmp_path, monkeypatch, capsys):
    from repalign.__main__ import main
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o555)
    monkeypatch.setenv("REPALIGN_CACHE", str(cache))
    try:
        assert main(["sweep", str(_spec(tmp_path)), "-o", str(tmp_path / "t.csv")]) == 2
        assert "read-only and some results are missing" in capsys.readouterr().err
        assert main(["cache", "clear"]) in (0, 2)  # nothing to remove is not an error
    finally:
        cache.chmod(0o755)


def test_the_read_only_check_itself(tmp_path, monkeypatch):
    # as root, os.access ignores permissions: the check is exercised through its own branch
    from repalign.cache import CacheUnavailable, ResultCache
    monkeypatch.setattr("os.access", lambda *a, **k: False)
    with pytest.raises(CacheUnavailable, match="read-only"):
        ResultCache(tmp_path).check_writable()


def test_a_corrupt_entry_is_recomputed_by_the_sweep_and_equals_the_clean_run(tmp_path):
    import json
    import warnings

    from repalign.cache import CorruptEntryWarning, ResultCache
    from repalign.experiment import budget_stops_expected
    from repalign.sweep import run_points

    cache = ResultCache(tmp_path)
    points = [Experiment(d=8, n_train=4, members=2, n_probe=8, steps=20, seed=s) for s in (0, 1)]
    with budget_stops_expected():
        clean = run_points(points, cache=cache, progress=False)
        meta_path = cache.paths(points[0])[1]
        meta = json.loads(meta_path.read_text())
        meta["alignment"]["cka"] = 0.5  # a silently wrong number, unless detected
        meta_path.write_text(json.dumps(meta))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            again = run_points(points, cache=cache, progress=False)
    assert any(issubclass(w.category, CorruptEntryWarning) for w in caught)  # reported
    assert [again[p][1] for p in points] == [False, True]  # the corrupt one recomputed, the other read back
    for p in points:  # nothing lost: the same numbers as the clean run
        assert again[p][0].alignment == clean[p][0].alignment
        np.testing.assert_array_equal(again[p][0].test_error, clean[p][0].test_error)
