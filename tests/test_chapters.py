"""Every chapter, executed through papermill at the smoke preset (by the smoke book's build)."""

import nbformat
import pytest

from repalign import book, paths

CHAPTERS = sorted(book.chapter_files())


@pytest.mark.book
@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_runs_at_the_smoke_preset(name, smoke_html):
    # build_smoke ran every chapter through papermill (book.execute_chapter, preset "smoke") into
    # the staging copy it renders; the executed notebooks stay there.
    nb = nbformat.read(paths.smoke_dir() / "src" / "chapters" / f"{name}.ipynb", as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    glued = [o for o in outputs if "scrapbook" in o.get("metadata", {})]
    assert any(key.endswith("image/png") for o in glued for key in o.get("data", {})), "no glued figure"
    # Every {glue:...} reference in the text has a value computed by the chapter.
    referenced = {ref for c in nb.cells if c.cell_type == "markdown"
                  for ref in book.glue_references(c.source)}
    names = {o["metadata"]["scrapbook"]["name"] for o in glued}
    assert referenced <= names, f"glued in the text but never computed: {sorted(referenced - names)}"
