"""The book's own Sphinx extension (Jupyter Book 1 loads it through ``sphinx: local_extensions``).

- ``{{ version }}``, ``{{ commit }}`` and ``{{ build_date }}`` on the front page: the package
  version, the git commit the book was built from (marked when the tree had local changes) and
  the UTC date of the build.
- Every notebook page offers its executed notebook (``.ipynb``, with outputs) in the download
  menu: myst-nb writes it to ``jupyter_execute/``; it is copied next to the page's source.
- No Thebe: Jupyter Book always loads sphinx-thebe, whose scripts (added twice, and pointing at
  a CDN) nothing in this book uses.
- The repository button, where the repository's address is known: ``REPALIGN_REPOSITORY_URL``
  (set by the publishing workflow), else the checkout's ``origin`` if it is on GitHub.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess
from pathlib import Path

import repalign

NOTEBOOK_FOLDER = "jupyter_execute"  # where myst-nb writes each page's final notebook, beside html/


def git_commit(root: Path) -> str:
    """The short commit of ``root``, '+ local changes' when the tree differs from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=30).stdout.strip()
    try:
        commit = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        commit, changed = "", ""
    if not commit:
        return "unknown (not built from a git checkout)"
    return f"{commit} + local changes" if changed else commit


def repository_url(root: Path) -> str | None:
    url = os.environ.get("REPALIGN_REPOSITORY_URL", "").strip()
    if not url:
        try:
            url = subprocess.run(["git", "-C", str(root), "remote", "get-url", "origin"], capture_output=True,
                                 text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None
        url = re.sub(r"^git@github\.com:", "https://github.com/", url).removesuffix(".git")
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


def _executed_notebook(app, pagename: str) -> Path:
    return Path(app.outdir).parent / NOTEBOOK_FOLDER / f"{pagename}.ipynb"


def offer_executed_notebook(app, pagename, templatename, context, doctree) -> None:
    """Before the theme builds its download menu (priority 501): name the executed notebook."""
    if context.get("page_source_suffix") != ".ipynb" and _executed_notebook(app, pagename).is_file():
        context["ipynb_source"] = f"{pagename}.ipynb"


def copy_executed_notebooks(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for docname in app.env.found_docs:
        source = _executed_notebook(app, docname)
        if source.is_file() and Path(app.env.doc2path(docname)).suffix != ".ipynb":  # an .ipynb source is itself
            target = Path(app.outdir) / "_sources" / f"{docname}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def setup(app):
    app.connect("config-inited", add_build_facts)
    app.connect("html-page-context", offer_executed_notebook, priority=500)
    app.connect("html-page-context", drop_thebe, priority=900)
    app.connect("build-finished", copy_executed_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
