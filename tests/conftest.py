import shutil
import textwrap
from pathlib import Path

import pytest

from repalign import paths

BROKEN_CHAPTER = textwrap.dedent('''\
    ---
    jupytext:
      text_representation: {extension: .md, format_name: myst}
    kernelspec: {display_name: Python 3, language: python, name: python3}
    ---

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


@pytest.fixture
def broken_book(tmp_path) -> Path:
    """A copy of the book whose only chapter raises in its second cell."""
    root = paths.book_root()
    shutil.copy2(root / "_config.yml", tmp_path / "_config.yml")
    shutil.copytree(root / "book", tmp_path / "book")
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "broken.md").write_text(BROKEN_CHAPTER)
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: chapters/broken\n")
    return tmp_path
