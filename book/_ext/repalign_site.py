"""The book's own Sphinx extension (Jupyter Book 1 loads it through ``sphinx: local_extensions``).

- The front page is read last, after the chapters whose verdicts it reads.
- The bibliography's labels are author and year, as the text cites (``author_year_labels``).
- ``{{ version }}``, ``{{ commit }}`` and ``{{ build_date }}`` on the front page: the package
  version, the git commit the book was built from (marked when the tree had local changes) and
  the UTC date of the build.
- Every notebook page offers its executed notebook (``.ipynb``) in the download menu, with every
  output in the cell that made it. myst-nb takes the glued outputs out of the notebook it keeps
  (they show in the prose instead), so the notebook is kept as executed, just before that, and
  its glued outputs are made displayable: a figure glued into the text shows in Jupyter too.
- No Thebe: Jupyter Book always loads sphinx-thebe, whose scripts (added twice, and pointing at
  a CDN) nothing in this book uses.
- The repository button, where the repository's address is known: ``REPALIGN_REPOSITORY_URL``
  (set by the publishing workflow), else the checkout's ``origin`` if it is on GitHub.
"""

from __future__ import annotations

import copy
import datetime
import os
import re
import subprocess
from pathlib import Path

import nbformat
from myst_nb.core.execute import base as myst_nb_execute

import repalign
from author_year_labels import register as register_author_year_labels

EXECUTED: dict[str, nbformat.NotebookNode] = {}  # docname -> the notebook as executed
_reading = {"docname": ""}  # the document Sphinx is reading (documents are read one at a time)


def git(root: Path, *args: str) -> str:
    """What ``git -C root <args>`` prints, or '' where git or the checkout is missing."""
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def git_commit(root: Path) -> str:
    """The short commit of ``root``, '+ local changes' when the tree differs from it."""
    commit = git(root, "rev-parse", "--short", "HEAD")
    if not commit:
        return "unknown (not built from a git checkout)"
    return f"{commit} + local changes" if git(root, "status", "--porcelain", "--untracked-files=no") else commit


def repository_url(root: Path) -> str | None:
    url = os.environ.get("REPALIGN_REPOSITORY_URL", "").strip() or re.sub(
        r"^git@github\.com:", "https://github.com/", git(root, "remote", "get-url", "origin")).removesuffix(".git")
    return url if url.startswith("https://") else None


def add_build_facts(app, config) -> None:
    root = Path(app.srcdir)
    config.myst_substitutions = {
        **config.myst_substitutions, "version": repalign.__version__, "commit": git_commit(root),
        "build_date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    # A set colour mode: without one, the theme logs an error on a reader's first visit.
    config.html_context = {**config.html_context, "default_mode": "light"}
    url = repository_url(root)
    if url:
        config.html_theme_options = {**config.html_theme_options, "repository_url": url,
                                     "use_repository_button": True}


_THEBE_CONFIG = re.compile(r'<script type="text/x-thebe-config">.*?</script>', re.DOTALL)


def drop_thebe(app, pagename, templatename, context, doctree) -> None:
    """Remove sphinx-thebe's scripts, style sheet and configuration block from the page."""
    def thebe(asset) -> bool:
        return "thebe" in (getattr(asset, "filename", None) or "") or \
            "THEBE" in getattr(asset, "attributes", {}).get("body", "")
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not thebe(asset)]
    if "body" in context:
        context["body"] = _THEBE_CONFIG.sub("", context["body"])


def note_docname(app, docname, source) -> None:
    _reading["docname"] = docname


def with_glue_shown(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The glued outputs under their own MIME types (glue files them under a prefix that no
    front end renders), where the cells produced them."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            prefix = output.get("metadata", {}).get("scrapbook", {}).get("mime_prefix", "")
            if prefix:
                output["data"] = {key.removeprefix(prefix): value for key, value in output["data"].items()}
    return notebook


def keep_executed(extract_glue_data):
    def extract_and_keep(notebook, source_map, logger):
        EXECUTED[_reading["docname"]] = with_glue_shown(copy.deepcopy(notebook))
        return extract_glue_data(notebook, source_map, logger)
    return extract_and_keep


def offer_executed_notebook(app, pagename, templatename, context, doctree) -> None:
    """Before the theme builds its download menu (priority 501): name the executed notebook
    (a page whose source is a notebook offers that name already)."""
    if context.get("page_source_suffix") != ".ipynb" and pagename in EXECUTED:
        context["ipynb_source"] = f"{pagename}.ipynb"


def write_executed_notebooks(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for docname, notebook in EXECUTED.items():
        target = Path(app.outdir) / "_sources" / f"{docname}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, target)


def front_page_last(app, env, docnames: list[str]) -> None:
    """Read (and so execute) the front page after every chapter: it reads the verdicts the
    chapters save as they are executed, which happens as Sphinx reads them."""
    if app.config.root_doc in docnames:
        docnames.remove(app.config.root_doc)
        docnames.append(app.config.root_doc)


def setup(app):
    register_author_year_labels()
    app.connect("env-before-read-docs", front_page_last)
    myst_nb_execute.extract_glue_data = keep_executed(myst_nb_execute.extract_glue_data)
    app.connect("config-inited", add_build_facts)
    app.connect("source-read", note_docname)
    app.connect("html-page-context", offer_executed_notebook, priority=500)
    app.connect("html-page-context", drop_thebe, priority=900)
    app.connect("build-finished", write_executed_notebooks)
    return {"parallel_read_safe": False, "parallel_write_safe": True}  # EXECUTED is filled while reading
