"""``python -m repalign`` (repalign.__main__): sweep specs, the cache, and the way to the book."""

import numpy as np
import pandas as pd
import pytest

from repalign.__main__ import main as cli


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


def test_an_output_that_is_neither_csv_nor_parquet_is_refused(tmp_path, capsys, counted):
    spec = tmp_path / "spec.yaml"
    spec.write_text("base: {d: 30}\ngrid: {n_train: [10]}\n")
    assert cli(["sweep", str(spec), "-o", str(tmp_path / "table.xlsx")]) == 2
    assert "--output must end in .csv or .parquet" in capsys.readouterr().err and counted == []


@pytest.mark.parametrize("executor, scheduler, workers", [
    ("serial", None, None), ("process", None, 2), ("dask", None, 2), ("dask", "tcp://host:8786", 4),
])
def test_options_that_act_with_their_executor_are_accepted(executor, scheduler, workers):
    from repalign.__main__ import _executor_problem

    assert _executor_problem(executor, scheduler, workers) is None


def test_book_hands_over_to_the_book_runner(capsys):
    assert cli(["book", "list"]) == 0
    assert "question" in capsys.readouterr().out
