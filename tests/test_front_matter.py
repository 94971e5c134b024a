"""The front matter of a publication: licences, a citation file, the data page, one version."""

import re
import tomllib

import yaml

import repalign
from repalign import paths
from repalign.cache import data_identity
from repalign.data import REAL
from repalign.data.registry import REGISTRY

ROOT = paths.book_root()


def test_one_version_everywhere():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert pyproject["project"]["version"] == repalign.__version__ == citation["version"]
    assert f"version = {{{repalign.__version__}}}" in (ROOT / "book" / "intro.md").read_text()  # its BibTeX


def test_the_citation_file_has_what_cff_requires_and_cites_the_source_paper():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["message"] and citation["authors"]
    assert citation["title"] in (ROOT / "_config.yml").read_text()
    assert set(citation["license"]) == {"MIT", "CC-BY-4.0"}
    assert any("2605.26973" in i["value"] for ref in citation["references"] for i in ref["identifiers"])


def test_the_licences_are_in_the_repository():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert "creativecommons.org/licenses/by/4.0" in (ROOT / "LICENSE-TEXT.md").read_text()


def test_the_data_page_lists_every_real_data_set_with_its_source_licence_and_checksum():
    """The checksums are recomputed from the installed files: the page cannot drift from them."""
    page = (ROOT / "book" / "data.md").read_text()
    for name in REAL:
        entry = REGISTRY[name]
        block = re.search(rf"^`{re.escape(name)}`\n: (.*?)(?:\n\n|\Z)", page, re.MULTILINE | re.DOTALL)
        text = " ".join(block.group(1).split()) if block else ""
        assert entry.source in text and entry.licence in text, name
        digest = data_identity(name).split(":")[1]
        assert f"SHA-256: `{digest}`" in text, f"{name}: the page's checksum is not {digest}"
