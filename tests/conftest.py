import fcntl
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

# Under pytest-xdist each worker gets its share of the cores, it and the kernels and processes it
# starts: torch's threads, oversubscribed, spin and wait (set before anything imports torch).
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _WORKERS)))

from data_helpers import MYST_HEADER  # noqa: E402

from repalign import Experiment, paths  # noqa: E402

BROKEN_CHAPTER = MYST_HEADER + textwrap.dedent('''\

    # A chapter broken on purpose

    ```{code-cell} ipython3
    :tags: [parameters]

    preset = "paper"
    ```

    ```{code-cell} ipython3
    x = 1
    raise RuntimeError("broken on purpose")
    ```
    ''')


# A chapter whose every cell runs, but a table passed to display() fails to render (a style for a
# column it does not have): IPython prints the traceback into the page and the cell carries on.
UNDISPLAYABLE_CHAPTER = MYST_HEADER + textwrap.dedent('''\

    # A chapter with an output that cannot be displayed

    ```{code-cell} ipython3
    import pandas as pd
    from IPython.display import display

    display(pd.DataFrame({"a": [1]}).style.set_properties(subset=["b"], **{"color": "red"}))
    ```
    ''')


@pytest.fixture(scope="session")
def smoke_html(tmp_path_factory) -> Path:
    """The smoke book, built once per test run: the first xdist worker to ask builds it while the
    others wait on a lock. It has a result cache of its own, because tests on other workers write
    smoke verdict tables to the default cache, which the book's conclusion reads."""
    from repalign import book

    base = tmp_path_factory.getbasetemp()
    run = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # this run's, shared by its workers
    built = run / "smoke-book.built"
    with open(run / "smoke-book.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.exists():
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv(paths.CACHE_VARIABLE, str(run / "smoke-cache"))
                built.write_text(str(book.build_smoke()))
    return Path(built.read_text())


def book_of(folder: Path, name: str, chapter: str) -> Path:
    """A copy of the book in ``folder`` whose only chapter is ``chapters/<name>.md``, ``chapter``."""
    root = paths.book_root()
    shutil.copy2(root / "_config.yml", folder / "_config.yml")
    shutil.copytree(root / "book", folder / "book")
    (folder / "chapters").mkdir()
    (folder / "chapters" / f"{name}.md").write_text(chapter)
    (folder / "_toc.yml").write_text(f"format: jb-book\nroot: chapters/{name}\n")
    return folder


@pytest.fixture
def broken_book(tmp_path) -> Path:
    """A copy of the book whose only chapter raises in its second cell."""
    return book_of(tmp_path, "broken", BROKEN_CHAPTER)


@pytest.fixture
def undisplayable_book(tmp_path) -> Path:
    """A copy of the book whose only chapter runs, but one of its outputs fails to display."""
    return book_of(tmp_path, "undisplayable", UNDISPLAYABLE_CHAPTER)


@pytest.fixture
def no_kernel(monkeypatch):
    """Fail the test if papermill is asked to execute anything."""
    import papermill

    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(papermill, "execute_notebook", refuse)


@pytest.fixture
def no_local_data(tmp_path, monkeypatch):
    """No copy anywhere: empty REPALIGN_DATA and cache, no Debian folder, no book data folder."""
    monkeypatch.setenv("REPALIGN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("REPALIGN_DOWNLOAD", raising=False)
    monkeypatch.setattr(paths, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian")
    monkeypatch.setattr(paths, "book_data_dir", lambda: tmp_path / "no-book")
    (tmp_path / "data").mkdir()
    return tmp_path


@pytest.fixture
def counted(monkeypatch):
    """The experiments a sweep actually computes (not read from the cache), in order."""
    from repalign import sweep as sweep_module

    calls = []
    real = sweep_module.compute_entries

    def counting(experiments, threads=None):
        calls.extend(experiments)
        return real(experiments, threads)

    monkeypatch.setattr(sweep_module, "compute_entries", counting)
    return calls


@dataclass(frozen=True)
class SlowSweep:
    """A sweep of 16 points that takes seconds, for the resume and concurrent-writer tests."""

    fields: tuple = (("d", 60), ("members", 3), ("n_probe", 200), ("steps", 20000), ("tol", 1e-10))
    grid: tuple = (("n_train", (10, 20, 30, 40, 80, 90, 100, 110)), ("seed", (0, 1)))
    points: int = 16

    @property
    def base(self) -> Experiment:
        return Experiment(**dict(self.fields))

    def script(self) -> str:
        grid = {name: list(values) for name, values in self.grid}
        return textwrap.dedent(f"""
            import sys
            from repalign import Experiment
            from repalign.cache import ResultCache
            from repalign.sweep import sweep
            sweep(Experiment(**{dict(self.fields)!r}), {grid!r}, cache=ResultCache(sys.argv[1]), progress=False)
        """)

    def start(self, folder: Path, *, one_thread: bool = False) -> subprocess.Popen:
        """The sweep in another process, writing into the cache ``folder``."""
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"} if one_thread else None
        return subprocess.Popen([sys.executable, "-c", self.script(), str(folder)], env=env)

    @staticmethod
    def entries(folder: Path) -> int:
        """Complete entries in a cache folder (the json is written last)."""
        return len(list(folder.glob("*.json"))) if folder.exists() else 0

    def run_here(self, folder: Path):
        from repalign.cache import ResultCache
        from repalign.sweep import sweep

        grid = {name: list(values) for name, values in self.grid}
        return sweep(self.base, grid, cache=ResultCache(folder), progress=False)


@pytest.fixture
def slow_sweep() -> SlowSweep:
    return SlowSweep()
