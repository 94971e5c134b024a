"""Every path the project uses, decided in one place."""

from __future__ import annotations

import os
from pathlib import Path

_MARKER = "_toc.yml"


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
