"""Sweep specs validated as a schema (the hardening issue): ``python -m repalign sweep`` refuses a
bad spec or a useless option before any work, with exit code 2 and one line naming the key or
option and what it allows. Each row of BAD_SPECS failed before its fix."""

import pytest

from repalign import Experiment
from repalign import sweep as sweep_module
from repalign.__main__ import main as cli
from repalign.sweep import SPEC_BYTES, SweepSpecError, grid_experiments, load_spec

GOOD = "base: {d: 8, n_train: 4, width: 4, members: 2, n_probe: 8, steps: 5}\n"
SPEC = GOOD + "grid: {snr: [1, 2]}\n"
OVERSIZED = SPEC + "#" * (SPEC_BYTES + 1 - len(SPEC))  # a comment makes it one byte over the limit
LONG = "[" + ", ".join(map(str, range(1, 401))) + "]"  # 400 valid values: 400 x 400 grid points

# (spec text, or command-line options for SPEC, with {tmp} for the test's folder, in which the
# folder existing.csv is made; a fragment of the one-line message)
BAD_SPECS = [
    ("base: [{d: 8}]\ngrid: {snr: [1]}\n", "base must be a mapping from Experiment fields to values"),
    ("base: 8\ngrid: {snr: [1]}\n", "base must be a mapping from Experiment fields to values"),
    ("base: {1: 2, dd: 3}\ngrid: {snr: [1]}\n", "base field(s) [1, 'dd'] are not Experiment fields"),
    ("base: {metrics: [[cka]]}\ngrid: {snr: [1]}\n", "base.metrics must be one value"),
    (GOOD + "grid: {snr: {1: 2}}\n", "grid field 'snr' needs a non-empty list of values"),
    (GOOD + "grid: {snr: !!set {1: null, 2: null}}\n", "grid field 'snr' needs a non-empty list of values"),
    (GOOD + "grid: {snr: [1]}\ngrid: {snr: [2]}\n", "key 'grid' repeated, first at line 2"),
    ("base: {d: 8, d: 9}\ngrid: {snr: [1]}\n", "key 'd' repeated"),
    (GOOD + "grid:\n  snr: [1]\n  'snr': [2]\n", "key 'snr' repeated, first at line 3"),
    ("base: {d: 8, n_train: 4, members: 2, device: cuda}\ngrid: {snr: [1]}\n",
     "Experiment.device must be one of ('auto', 'cpu')"),
    (GOOD + "grid: {device: [cpu, cuda]}\n", "Experiment.device must be one of ('auto', 'cpu')"),
    (GOOD + f"grid: {{seed: {LONG}, n_train: {LONG}}}\n", "grid has 160,000 points (400 seed x 400 n_train)"),
    (OVERSIZED, "may hold at most 1 MiB"),
    (["-o", "{tmp}/existing.csv"], "existing.csv is a folder"),
    (["-o", "{tmp}/spec.yaml"], "is the spec itself"),  # as the default table of a spec named x.csv
    (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler needs --executor dask"),
    (["--executor", "process", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler needs --executor dask"),
    (["--workers", "2"], "--workers needs --executor process or dask"),
]


@pytest.mark.parametrize("case, complaint", BAD_SPECS, ids=[complaint for _, complaint in BAD_SPECS])
def test_a_bad_spec_or_option_is_one_line_before_any_work(tmp_path, monkeypatch, capsys, counted, case, complaint):
    monkeypatch.setenv("REPALIGN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)  # the same refusals on a GPU machine
    (tmp_path / "existing.csv").mkdir()
    spec = tmp_path / "spec.yaml"
    spec.write_text(case if isinstance(case, str) else SPEC)
    options = [] if isinstance(case, str) else [option.format(tmp=tmp_path) for option in case]
    assert cli(["sweep", str(spec), *options]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error:") and complaint in err, err
    assert counted == []


def test_a_spec_of_exactly_the_size_limit_is_read(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC + "#" * (SPEC_BYTES - len(SPEC)))
    assert spec.stat().st_size == SPEC_BYTES
    assert load_spec(spec)[1] == {"snr": [1, 2]}


def test_merged_keys_may_be_overridden_and_an_empty_base_is_no_field(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("base:\ngrid: {<<: {snr: [1], d: [8]}, snr: [2, inf]}\n")
    base, grid = load_spec(spec)
    assert grid == {"snr": [2, float("inf")], "d": [8]} and base.d == 50


def test_the_grid_point_limit_is_lifted_with_the_experiment_limits(monkeypatch):
    monkeypatch.setattr(sweep_module, "GRID_POINTS", 3)
    grid = {"seed": [0, 1], "snr": [1.0, 2.0]}
    with pytest.raises(SweepSpecError, match="grid has 4 points .* limit of 3.* REPALIGN_LIMITS=off"):
        grid_experiments(Experiment(d=8), grid)
    monkeypatch.setenv("REPALIGN_LIMITS", "off")
    assert len(grid_experiments(Experiment(d=8), grid)) == 4


def test_metrics_in_a_spec_are_names_or_lists_of_names(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("base: {d: 8, metrics: [cka, procrustes]}\ngrid: {metrics: [cka, [cka, procrustes]]}\n")
    base, grid = load_spec(spec)
    assert base.metrics == ("cka", "procrustes") and grid["metrics"] == ["cka", ("cka", "procrustes")]
