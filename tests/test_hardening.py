"""Faults a new user runs into (the hardening issue), each refused up front with one line that
names the input and the fix, or handled so that equal inputs give equal results. Each test
failed before its fix."""

import numpy as np
import pytest

from repalign import Experiment, book
from repalign.cache import experiment_key
from repalign.sweep import grid_experiments, load_spec


# --- 2. every chapter parameter is checked before a kernel starts ------------------------------

# (chapter, key, value): the value is refused up front, in one line naming the key. The README
# states how many there are.
BAD_PARAMETERS = [
    ("question", "snrs", "[1]"), ("question", "alpha_min", "-1"), ("question", "alpha_max", "0"),
    ("question", "n_alpha", "1000000000"), ("question", "spike_d", "100000"), ("question", "spike_draws", "0"),
    ("question", "snr_example", "-2"), ("question", "alpha_example", "nan"),
    ("linear", "d", "100000"), ("linear", "tol", "-1"), ("linear", "steps", "0"), ("linear", "n_probe", "0"),
    ("linear", "seed", "-1"), ("linear", "members", "1"), ("linear", "alphas", "[1.0]"), ("linear", "snrs", "[0, 1]"),
    ("linear", "d", "abc"), ("linear", "workers", "0"), ("linear", "ridges", "[-1]"), ("linear", "outputs", "0"),
    ("linear", "spreads", "[0.5]"), ("linear", "init_scales", "[0]"),
    ("snr", "networks", "[cnn]"), ("snr", "tasks", "[ranking]"), ("snr", "noises", "[weights]"),
    ("snr", "metric", "cosine"), ("snr", "lr", "0"), ("snr", "n_ratios", "[-1, 2]"), ("snr", "n_classes", "1"),
    ("sample_size", "steps", "1e12"), ("sample_size", "widths", "[0, 2]"), ("sample_size", "depth", "0"),
    ("sample_size", "width_sweep_n", "0"), ("sample_size", "boot", "1"),
    ("dip", "budgets", "[5000]"), ("dip", "gd_lr", "-0.5"), ("dip", "init_scales", "[]"), ("dip", "snr", "-1"),
    ("dip", "repeats", "1"),
    ("real_data", "class_sets", "[cifar]"), ("real_data", "reg_sets", "[digits]"), ("real_data", "class_d", "1000"),
    ("real_data", "snr_ratios", "[]"), ("real_data", "noises", "[everywhere]"),
    ("decoupling", "seed", "-1"), ("decoupling", "large_init", "-1"), ("decoupling", "ridge", "0"),
    ("decoupling", "alphas", "[1.0, 2.0]"),
    ("verdicts", "snrs", "[1, 2]"),
    ("linear", "preset", "huge"),
]


@pytest.mark.parametrize("chapter, key, value", BAD_PARAMETERS)
def test_a_bad_chapter_parameter_is_one_line_before_the_kernel_starts(no_kernel, capsys, chapter, key, value):
    assert book.main(["run", chapter, "-p", key, value]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"error: chapter {chapter!r}") and key in err


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
    base = Experiment(d=10, n_train=5, width=4, members=2, n_probe=8, steps=2)  # more probes than features
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
            cache.store(run_experiment(Experiment(d=8, n_train=4, width=4, members=2, n_probe=8, steps=20, seed=seed)))
    assert main(["cache", "verify"]) == 0
    assert "2 entries and 0 verdict tables checked" in capsys.readouterr().out
    first = sorted(tmp_path.glob("*.json"))[0]
    meta = json.loads(first.read_text())
    meta["wall_time"] += 1
    first.write_text(json.dumps(meta))
    assert main(["cache", "verify"]) == 1
    assert f"1 corrupt ({first.name}" in capsys.readouterr().out


def test_papermill_knows_every_parameter_of_every_chapter():
    """Papermill warns "Passed unknown parameter" for a name it cannot find in the parameters cell;
    it must find each name that `make chapter` accepts, so that no such warning is false."""
    from papermill.execute import _infer_parameters
    from papermill.iorw import load_notebook_node

    for name, path in book.chapter_files().items():
        notebook = load_notebook_node(book.read_chapter(path))
        inferred = {p.name for p in _infer_parameters(notebook, name=book.KERNEL, language="python")}
        accepted = {"preset", *book.chapter_config(name).parameters()}
        assert inferred == accepted, name
