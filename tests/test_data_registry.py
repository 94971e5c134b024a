"""Tests of repalign.data.registry: the data-set table, and the names, tasks and shapes derived from it."""

from __future__ import annotations

import re
from typing import get_args

import numpy as np
import pytest

from repalign import data, paths
from repalign.data.registry import DataSet
from repalign.presets import RealDataConfig


def test_names_tasks_and_native_shapes():
    assert data.DATASETS == data.SYNTHETIC + data.REAL
    assert {data.task_of(name) for name in data.DATASETS} == {"regression", "classification"}
    assert [data.task_of(n) for n in data.SYNTHETIC] == ["regression", "regression",
                                                         "classification", "classification"]
    assert data.native_shape("teacher-linear") == (None, 1)
    assert data.native_shape("teacher-mlp-class", n_classes=3) == (None, 3)
    assert data.native_shape("digits") == (64, 10)
    assert data.native_shape("diabetes") == (10, 1)
    assert data.is_synthetic("teacher-mlp") and not data.is_synthetic("mnist")
    with pytest.raises(ValueError, match="data must be one of.*teacher-linear.*mnist"):
        data.task_of("cifar")


def test_the_names_are_the_registry_in_its_order():
    assert data.DATASETS == tuple(data.REGISTRY) == data.names()
    assert data.SYNTHETIC == ("teacher-linear", "teacher-mlp", "teacher-linear-class", "teacher-mlp-class")
    assert data.REAL == ("digits", "diabetes", "fashion-mnist", "concrete", "mnist", "diamonds", "mnist-3-5",
                         "fashion-mnist-0-6")
    assert data.SYNTHETIC == data.names(synthetic=True) and data.REAL == data.names(synthetic=False)
    assert data.names(task="regression", synthetic=False) == ("diabetes", "concrete", "diamonds")
    assert data.names(task="classification", synthetic=False) == ("digits", "fashion-mnist", "mnist", "mnist-3-5",
                                                                     "fashion-mnist-0-6")
    for name in data.DATASETS:
        entry = data.dataset(name)
        assert entry.name == name and entry.synthetic == data.is_synthetic(name) == (entry.input_dim is None)
        assert entry.task == data.task_of(name) and entry.task in data.TASKS


@pytest.mark.parametrize("name", data.REAL)
def test_the_table_matches_the_loaded_data(name):
    """Dimension, classes, size and task of every real set, as the files give them."""
    entry, split = data.dataset(name), data.real_split(name)
    assert split.x_pool.shape[1] == split.x_heldout.shape[1] == entry.input_dim
    assert len(split.x_pool) + len(split.x_heldout) == entry.size
    assert (split.task, split.n_classes) == (entry.task, entry.n_classes)
    if entry.task == "classification":
        labels = np.concatenate([split.y_pool, split.y_heldout])
        assert set(np.unique(labels)) == set(range(entry.n_classes))


def test_synthetic_shapes_are_the_callers_choice():
    assert data.dataset("teacher-linear").n_classes == 1            # regression: one output
    assert data.dataset("teacher-mlp-class").n_classes is None       # chosen by n_classes
    assert data.native_shape("teacher-linear-class", 7) == (None, 7)
    assert data.native_shape("teacher-mlp", 7) == (None, 1)          # regression ignores n_classes
    with pytest.raises(ValueError, match="n_classes must be an integer >= 2"):
        data.native_shape("teacher-linear-class", 1)


@pytest.mark.parametrize("bad", ["cifar", "", None, 3, ["digits"]])
def test_unknown_names_are_refused_with_the_list(bad):
    with pytest.raises(ValueError, match=r"data must be one of \('teacher-linear'"):
        data.dataset(bad)


def test_names_refuses_an_unknown_task():
    with pytest.raises(ValueError, match="task must be one of"):
        data.names(task="ranking")


def test_an_entry_must_be_consistent():
    with pytest.raises(ValueError, match="task must be one of"):
        DataSet("x", "ranking", "X", 3, 1, 10, "here", "none")
    with pytest.raises(ValueError, match="regression data set has n_classes=1"):
        DataSet("x", "regression", "X", 3, 10, 10, "here", "none")


def test_labels_are_distinct_and_every_entry_says_where_it_comes_from():
    labels = [data.dataset(n).label for n in data.DATASETS]
    assert len(set(labels)) == len(labels)
    assert data.dataset("fashion-mnist").label == "Fashion-MNIST" and data.dataset("concrete").label == "Concrete"
    assert all(data.dataset(n).source and data.dataset(n).licence for n in data.DATASETS)


def test_citations_are_keys_of_the_bibliography():
    bibliography = (paths.book_root() / "book" / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bibliography))
    cited = {data.dataset(n).citation for n in data.DATASETS} - {""}
    assert cited and cited <= keys


def test_the_real_data_chapter_offers_the_registry_sets():
    params = RealDataConfig.parameters()
    assert get_args(get_args(params["class_sets"])[0]) == data.names(task="classification", synthetic=False)
    assert get_args(get_args(params["reg_sets"])[0]) == data.names(task="regression", synthetic=False)
    for name in get_args(get_args(params["class_sets"])[0]):          # class_d up to the native dimension
        native = data.dataset(name).input_dim
        assert RealDataConfig(class_sets=(name,), class_d=native).class_d == native
        with pytest.raises(ValueError, match=f"class_d must lie in \\[2, {native}\\]"):
            RealDataConfig(class_sets=(name,), class_d=native + 1)
