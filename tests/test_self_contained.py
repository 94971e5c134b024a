"""The book stands on its own: no reference outside the repository, every page in the table of
contents exists, every cross-reference resolves, every bibliography entry is cited and
renders with an author and a year."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from pybtex.database import parse_file

ROOT = Path(__file__).resolve().parents[1]
BIB = ROOT / "book" / "references.bib"

# Private notes that live outside the repository. Spelled in pieces, so that this file does
# not match itself.
OUTSIDE_REFERENCES = ("science" + ".md", "book" + "-outline", "engineering" + ".md", ".." + "/shared")

# MyST roles: {cite:p}`a,b`, {doc}`text <target>`, {ref}`label`, {numref}`fig-x`.
ROLE = re.compile(r"\{(?P<role>cite(?::\w+)?|doc|ref|numref)\}`(?P<body>[^`]+)`")
LABEL = re.compile(r"^\((?P<label>[^()\s]+)\)=\s*$", re.M)
NAME_OPTION = re.compile(r"^:name:\s*(?P<label>\S+)\s*$", re.M)
FENCE = re.compile(r"^(?P<ticks>`{3,}|~{3,})(?P<info>.*)$")
PAGE_SUFFIXES = (".md", ".ipynb")


# --- reading the book's sources -------------------------------------------------------------


def toc_files() -> list[str]:
    """Every ``file`` of _toc.yml (root first), without suffix, as written there."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


def page_path(name: str) -> Path | None:
    """The source file of a toc entry or {doc} target (relative to the root), or None."""
    for suffix in ("", *PAGE_SUFFIXES):
        candidate = ROOT / f"{name}{suffix}"
        if candidate.is_file() and (suffix or candidate.suffix in PAGE_SUFFIXES):
            return candidate
    return None


def rendered_text(source: str) -> str:
    """The text whose roles Sphinx renders: code cells and plain code blocks removed, directive
    blocks such as ``{glue:figure}`` kept (their bodies are markdown)."""
    kept, fence = [], None
    for line in source.splitlines():
        match = FENCE.match(line)
        if fence is None and match:
            info = match["info"].strip()
            if not info.startswith("{") or info.startswith("{code-cell}"):
                fence = match["ticks"]
                continue
        elif fence is not None:
            if line.strip().startswith(fence) and set(line.strip()) == {fence[0]}:
                fence = None
            continue
        kept.append(line)
    return "\n".join(kept)


def roles(text: str, *names: str) -> list[str]:
    """The targets of the given roles, one per key or target (``text <target>`` unwrapped)."""
    found = []
    for match in ROLE.finditer(text):
        role = match["role"].split(":")[0] if match["role"].startswith("cite") else match["role"]
        if role not in names:
            continue
        body = match["body"].strip()
        explicit = re.fullmatch(r".*<(?P<target>[^<>]+)>", body, re.S)
        target = explicit["target"] if explicit else body
        if role == "cite":
            found.extend(key.strip() for key in target.split(","))
        else:
            found.append(target)
    return found


def toc_pages() -> dict[str, str]:
    """toc entry -> its rendered text, for every entry whose file exists."""
    pages = {}
    for name in toc_files():
        path = page_path(name)
        if path is not None and path.suffix == ".md":
            pages[name] = rendered_text(path.read_text())
    return pages


def bibliography():
    return parse_file(str(BIB), bib_format="bibtex")


# --- (a) nothing refers to files outside the repository -------------------------------------


def tracked_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in listing.decode().split("\0") if name]


def outside_references(name: str, text: str) -> list[str]:
    """``name:line: reference`` for every mention of a file outside the repository (any case)."""
    return [f"{name}:{number}: {word}" for number, line in enumerate(text.lower().splitlines(), start=1)
            for word in OUTSIDE_REFERENCES if word in line]


def test_no_tracked_file_refers_to_notes_outside_the_repository():
    offences = []
    for path in tracked_files():
        if path.is_file():  # a file deleted in the work tree is not part of it
            offences += outside_references(str(path.relative_to(ROOT)),
                                           path.read_bytes().decode("utf-8", errors="replace"))
    assert not offences, "references to files outside the repository:\n" + "\n".join(offences)


def test_the_outside_reference_check_finds_planted_references():
    text = "\n".join(["clean line", f"as in {OUTSIDE_REFERENCES[0].upper()}, section 3",
                      f"see {OUTSIDE_REFERENCES[3]}/notes"])
    assert outside_references("x.py", text) == [f"x.py:2: {OUTSIDE_REFERENCES[0]}", f"x.py:3: {OUTSIDE_REFERENCES[3]}"]
    assert outside_references("x.py", "science and engineering, shared inputs") == []


# --- (b) the bibliography --------------------------------------------------------------------


def test_every_bibliography_entry_is_cited_in_a_page_of_the_book():
    cited = {key for text in toc_pages().values() for key in roles(text, "cite")}
    uncited = sorted(set(bibliography().entries) - cited)
    assert not uncited, f"entries of {BIB.name} cited on no page of _toc.yml (cite them or remove them): {uncited}"


def test_every_citation_has_a_bibliography_entry():
    keys = set(bibliography().entries)
    missing = sorted({f"{page}: {key}" for page, text in toc_pages().items()
                      for key in roles(text, "cite") if key not in keys})
    assert not missing, f"cited but not in {BIB.name}: {missing}"


def test_citation_labels_are_author_year():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["sphinx"]["config"]["bibtex_reference_style"] == "author_year"
    assert [str(f) for f in config["bibtex_bibfiles"]] == ["book/references.bib"]
    incomplete = [key for key, entry in bibliography().entries.items()
                  if not entry.persons.get("author") or not re.fullmatch(r"\d{4}", entry.fields.get("year", ""))]
    assert not incomplete, f"entries without authors or a four-digit year (no author-year label): {incomplete}"


# --- (c) cross-references ----------------------------------------------------------------------


def labels() -> set[str]:
    """Every target of {ref}/{numref} that the book defines: ``(label)=`` and ``:name:``."""
    found = set()
    for name in toc_files():
        path = page_path(name)
        if path is not None and path.suffix == ".md":
            text = path.read_text()
            found |= {m["label"].lower() for pattern in (LABEL, NAME_OPTION) for m in pattern.finditer(text)}
    return found


def doc_target(page: str, target: str) -> str:
    """A {doc} target as a toc entry: absolute from the root, or relative to the page's folder."""
    base = Path(page).parent
    resolved = Path(target.lstrip("/")) if target.startswith("/") else base / target
    parts = []
    for part in resolved.parts:
        if part == "..":
            if not parts:
                return f"<outside the book>/{target}"
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def test_every_doc_link_points_to_a_page_of_the_book():
    toc = set(toc_files())
    broken = [f"{page}: {{doc}}`{target}`" for page, text in toc_pages().items()
              for target in roles(text, "doc") if doc_target(page, target) not in toc]
    assert not broken, "doc links to pages that are not in _toc.yml:\n" + "\n".join(broken)


def test_every_ref_and_numref_target_is_defined():
    defined = labels()
    broken = [f"{page}: {target}" for page, text in toc_pages().items()
              for target in roles(text, "ref", "numref") if target.lower() not in defined]
    assert not broken, "references to labels that no page defines:\n" + "\n".join(broken)


def test_the_methods_page_is_in_the_book_with_its_label():
    assert "book/methods" in toc_files()
    assert "methods" in labels()


def test_link_checks_recognise_broken_and_working_links():
    # The parsing above must see links and tell good ones from bad ones.
    text = rendered_text("See {doc}`notation`, {doc}`the linear chapter <../chapters/linear>`,\n"
                         "{ref}`methods`, {cite:p}`umar2026snr, kornblith2019similarity`.\n"
                         "```python\n{doc}`inside-code`\n```\n")
    assert roles(text, "doc") == ["notation", "../chapters/linear"]
    assert roles(text, "cite") == ["umar2026snr", "kornblith2019similarity"]
    assert doc_target("book/intro", "../chapters/linear") == "chapters/linear"
    assert doc_target("book/intro", "notation") == "book/notation"
    assert doc_target("book/intro", "../../elsewhere").startswith("<outside")
    assert doc_target("chapters/snr", "missing") not in set(toc_files())


# --- (d) the table of contents ---------------------------------------------------------------


def test_every_page_of_the_table_of_contents_exists():
    missing = [name for name in toc_files() if page_path(name) is None]
    assert not missing, f"_toc.yml lists pages that do not exist: {missing}"
