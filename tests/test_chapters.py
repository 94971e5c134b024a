"""Every chapter, executed through papermill at the smoke preset."""

import nbformat
import pytest

from repalign import book

CHAPTERS = sorted(book.chapter_files())


@pytest.mark.book
@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_runs_at_the_smoke_preset(name, tmp_path):
    out = book.run_chapter(name, [("preset", "smoke")], output=tmp_path / f"{name}.ipynb")
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    glued = [o for o in outputs if "scrapbook" in o.get("metadata", {})]
    assert any(key.endswith("image/png") for o in glued for key in o.get("data", {})), "no glued figure"
    # Every {glue:...} reference in the text has a value computed by the chapter.
    referenced = {ref for c in nb.cells if c.cell_type == "markdown"
                  for ref in book.glue_references(c.source)}
    names = {o["metadata"]["scrapbook"]["name"] for o in glued}
    assert referenced <= names, f"glued in the text but never computed: {sorted(referenced - names)}"
