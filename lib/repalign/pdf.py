"""The whole book as one PDF, built offline: Jupyter Book's ``singlehtml`` builder, printed by headless Chromium.

    python -m repalign.pdf --preset paper   # _build/pdf/book.pdf   (chapters executed or cached, as `make book`)
    python -m repalign.pdf --preset smoke   # _build/smoke/book.pdf (from the smoke build, made if out of date)

Jupyter Book's own ``--builder pdfhtml`` downloads a Chromium through pyppeteer, and its LaTeX
route needs a TeX installation; this module uses the Debian Chromium the tests already need.
The single page is printed from ``file://`` with every host name unresolvable, so nothing comes
from the network: MathJax is the book's own copy (``book/static/mathjax``). The printed copy
carries a banner that the page removes only once MathJax has typeset every formula and every
image has loaded; a PDF whose first page still shows it is refused, with what went wrong.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import book, paths

PRINT_PAGE = "print.html"  # beside the single page's _static/ and _images/, so its relative links resolve
BUDGET_MS = 30_000  # virtual time Chromium lets the page's scripts (MathJax) run before printing
TIMEOUT_S = 600
# Headless Chromium that reaches for nothing on its own (the browser tests use the same).
HEADLESS_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
CHROMIUM_FLAGS = [*HEADLESS_FLAGS, "--host-resolver-rules=MAP * ~NOTFOUND", "--no-pdf-header-footer",
                  "--generate-pdf-document-outline"]

# Added to the printed copy only: A4 pages numbered at the foot, a page break before every
# document of the table of contents, collapsed cells left out (a reader of paper cannot open
# them), code and tables wrapped or broken across pages instead of cut at the right edge (tables in
# a smaller type, so that the widest fits A4's text width).
PRINT_CSS = """<style media="print">
@page { size: A4; margin: 16mm 14mm; @bottom-center { content: counter(page) " / " counter(pages); font: 9pt sans-serif; color: #555; } }
details.hide, .toggle-details, button.toggle-button, .headerlink { display: none !important; }
pre { white-space: pre-wrap !important; overflow-wrap: anywhere; overflow: visible !important; }
div.highlight, .cell_output, .output, div.math, mjx-container, .table-wrapper, .pst-scrollable-table-container { overflow: visible !important; }
.bd-main .bd-content table { break-inside: auto !important; font-size: 0.85em; }
span[id^="document-"] + section { break-before: page; }
img, figure, tr, mjx-container[display="true"] { break-inside: avoid; }
h1, h2, h3, h4 { break-after: avoid; }
figcaption, figcaption * { color: #222 !important; }
</style>
"""

# Put first in the printed page, and removed by the page itself only once MathJax has typeset
# every formula without a TeX error and every image has loaded: if it is still on the PDF's
# first page, the page was printed too early or something failed (the banner says what).
CHECK_MARK = "REPALIGN-PRINT-CHECK"
PRINT_CHECK = f"""<div id="repalign-print-check" style="font: bold 18pt sans-serif; color: #b00">{CHECK_MARK}: \
MathJax did not finish before printing. END-CHECK</div>
<script>
window.addEventListener("load", function () {{
  var banner = document.getElementById("repalign-print-check");
  function check() {{
    var math = document.querySelectorAll(".math"), left = 0;
    math.forEach(function (el) {{ if (!el.querySelector("mjx-container")) left++; }});
    var errors = document.querySelectorAll("mjx-merror, [data-mml-node=merror]").length;
    var images = Array.from(document.images).filter(function (im) {{ return !(im.complete && im.naturalWidth); }}).length;
    if (left || errors || images) {{
      banner.textContent = "{CHECK_MARK}: " + left + " of " + math.length + " formulas not typeset, " +
        errors + " TeX errors, " + images + " images not loaded. END-CHECK";
    }} else {{
      banner.remove();
    }}
  }}
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {{
    MathJax.startup.promise.then(check, function (err) {{ banner.textContent = "{CHECK_MARK}: MathJax failed: " + err + ". END-CHECK"; }});
  }} else {{
    banner.textContent = "{CHECK_MARK}: MathJax did not load. END-CHECK";
  }}
}});
</script>
"""

# MathJax typesets ``\\(...\\)`` and ``\\[...\\]`` (how MyST writes math into the HTML); left over in
# the PDF's text, they are formulas printed before MathJax ran (``raw_tex``; the tests read the
# whole text, which takes seconds, where ``check_printed`` reads the first page).
RAW_TEX = re.compile(r"\\\(|\\\[|\$\$|\\begin\{")


class PdfError(RuntimeError):
    """The PDF cannot be built; the message is one line that names the fix."""


# --- the tools ------------------------------------------------------------------------------


CHROMIUM_CANDIDATES = ("chromium", "/usr/bin/chromium")  # Debian's package installs both


def chromium_path() -> str:
    """Debian's Chromium (``chromium`` on PATH, else /usr/bin/chromium), or PdfError saying how to install it."""
    for candidate in CHROMIUM_CANDIDATES:
        if found := shutil.which(candidate):
            return found
    raise PdfError(f"Chromium is missing (looked for {' and '.join(CHROMIUM_CANDIDATES)}): "
                   "install it with `apt-get install chromium` (or run `make pdf`, which does)")


def _jupyter_book_path() -> Path:
    exe = Path(sys.executable).with_name("jupyter-book")
    if not exe.exists():
        raise PdfError(f"jupyter-book is missing beside {sys.executable}: "
                       "install the pinned requirements with `make setup`")
    return exe


def _pypdf():
    try:
        import pypdf
    except ImportError:
        raise PdfError("pypdf is missing: install the pinned requirements with `make setup`") from None
    return pypdf


# --- building -------------------------------------------------------------------------------


def root_document(source: Path) -> str:
    """The ``root`` of ``source``'s _toc.yml (``book/intro``): the document singlehtml writes."""
    toc = source / "_toc.yml"
    if not toc.exists():
        raise PdfError(f"{source} holds no _toc.yml: give the root of a Jupyter Book")
    return yaml.safe_load(toc.read_text())["root"]


def build_singlehtml(source: Path) -> Path:
    """The book at ``source`` as one HTML page (Jupyter Book's ``singlehtml`` builder, run as
    ``repalign.book`` runs the HTML build); return the page's folder. Execution follows
    ``source``'s _config.yml: the paper book reads ``_build/.jupyter_cache``, the smoke copy holds
    executed notebooks."""
    _jupyter_book_path()
    return book._jupyter_book(source, "singlehtml")


def print_page(folder: Path, root_doc: str) -> Path:
    """A copy of the single page at the top of ``folder``, with the print style sheet.

    Sphinx writes the page at the root document's path (``book/intro.html``) but links its
    ``_static/`` and ``_images/`` as if it sat at the top, so the page is printed from there;
    its links to itself by that path (citations, some references) become links within the page,
    which stay links within the PDF instead of pointing at a file of the build machine.
    """
    page = folder / f"{root_doc}.html"
    if not page.exists():
        log = paths.build_log(folder.parent.parent, "singlehtml")
        raise PdfError(f"the single-page build wrote no {page}: check {log}")
    html = page.read_text(encoding="utf-8")
    _check_mathjax(html, folder)
    html = html.replace(f'href="{root_doc}.html#', 'href="#').replace(f'href="{root_doc}.html"', 'href="#"')
    html = html.replace("</head>", PRINT_CSS + "</head>", 1)
    # book/static/repalign.js makes each figure a link to its file on screen; not on paper
    html = re.sub(r"<html\b", "<html data-repalign-print", html, count=1)
    html = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + PRINT_CHECK, html, count=1)
    target = folder / PRINT_PAGE
    target.write_text(html, encoding="utf-8")
    return target


def _check_mathjax(html: str, folder: Path) -> None:
    for src in re.findall(r'<script[^>]*\ssrc="([^"]*mathjax[^"]*)"', html, flags=re.I):
        if re.match(r"(https?:)?//", src):
            raise PdfError(f"the book loads MathJax from {src}, which an offline print cannot reach: "
                           "set sphinx.config.mathjax_path in _config.yml to the book's own copy")
        if not (folder / src.split("?")[0]).exists():
            raise PdfError(f"MathJax ({src}) is missing from the book: fetch it with "
                           "`make book/static/mathjax/tex-mml-svg.js`, then build again")


def print_pdf(page: Path, output: Path, *, budget_ms: int = BUDGET_MS, timeout_s: int = TIMEOUT_S,
              chromium: str | None = None) -> Path:
    """Print ``page`` to ``output`` with headless Chromium, offline (no host name resolves)."""
    chromium = chromium or chromium_path()
    if not Path(chromium).exists():
        raise PdfError(f"Chromium is missing ({chromium}): install it with `apt-get install chromium`")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="repalign-chromium-") as profile:
        command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={output}",
                   f"--virtual-time-budget={budget_ms}", page.resolve().as_uri()]
        # its own process group, so that a timeout ends the browser's helper processes too
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        try:
            _, stderr = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            output.unlink(missing_ok=True)
            raise PdfError(f"Chromium did not finish printing {page} within {timeout_s} s: "
                           "give it longer with --timeout") from None
    if process.returncode != 0 or not output.exists() or output.read_bytes()[:5] != b"%PDF-":
        output.unlink(missing_ok=True)
        said = [ln for ln in stderr.splitlines() if ("ERROR" in ln or "FATAL" in ln) and "dbus" not in ln]
        raise PdfError(f"Chromium (exit {process.returncode}) printed no PDF of {page}"
                       f"{': ' + said[-1].strip()[:200] if said else ''}; run `{chromium} --headless "
                       "--no-sandbox --print-to-pdf=/tmp/x.pdf <page>` to see why")
    return output


# --- checking -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PdfSummary:
    pages: int
    size_bytes: int
    images: int          # raster images (the figures): image XObjects over all pages
    outline: list[str]   # the bookmarks (Chromium makes them from the headings), in order


def summarize(pdf: Path) -> PdfSummary:
    """What the PDF holds, read with pypdf: pages, figures, bookmarks (a fraction of a second)."""
    reader = _pypdf().PdfReader(str(pdf))
    return PdfSummary(pages=len(reader.pages), size_bytes=pdf.stat().st_size,
                      images=sum(page_images(page) for page in reader.pages),
                      outline=[title for title, _ in outline(reader)])


def pdf_text(pdf: Path) -> list[str]:
    """The text of every page (pypdf; a few seconds for a hundred pages)."""
    return [page.extract_text() or "" for page in _pypdf().PdfReader(str(pdf)).pages]


def raw_tex(pages: list[str]) -> list[tuple[int, str]]:
    """(1-based page, excerpt) of every formula left as TeX source: printed before MathJax ran."""
    return [(number, text[max(m.start() - 20, 0):m.end() + 20].replace("\n", " "))
            for number, text in enumerate(pages, 1) for m in RAW_TEX.finditer(text)]


def page_images(page) -> int:
    """Image XObjects a page draws (in its resources or in form XObjects it draws)."""
    def count(resources, seen) -> int:
        found = 0
        xobjects = resources.get("/XObject") if resources else None
        for ref in (xobjects.get_object().values() if xobjects else ()):
            obj = ref.get_object()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if obj.get("/Subtype") == "/Image":
                found += 1
            elif obj.get("/Subtype") == "/Form":
                found += count(obj.get("/Resources"), seen)
        return found

    return count(page.get("/Resources"), set())


def outline(reader) -> list[tuple[str, int]]:
    """(title, 0-based page) of every bookmark, depth first; Chromium makes them from the headings."""
    found = []

    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                found.append((item.title, reader.get_destination_page_number(item)))

    walk(reader.outline)
    return found


def check_printed(pdf: Path, page: Path | None = None, budget_ms: int = BUDGET_MS) -> None:
    """PdfError if the page was printed before MathJax typeset it all, or with a TeX error or a
    missing image: the page's own check (``PRINT_CHECK``) then left its banner on the first page."""
    first = _pypdf().PdfReader(str(pdf)).pages[0].extract_text() or ""
    if CHECK_MARK not in first:
        return
    said = " ".join(first[first.index(CHECK_MARK) + len(CHECK_MARK) + 1:].split("END-CHECK")[0].split()).strip(". ")
    where = f"open {page} in a browser" if page else "open the printed page in a browser"
    if "did not finish" in said:  # the banner as written: the page's check never ran
        fix = f"give MathJax longer with --budget (now {budget_ms} ms)"
    elif "MathJax" in said:
        fix = f"check that the book's MathJax (book/static/mathjax/tex-mml-svg.js) loads: {where}"
    else:  # counted after MathJax finished: a formula it could not read, an image that is missing
        fix = f"correct the formula or the figure: {where} to find it"
    raise PdfError(f"the book was printed unfinished ({said[:200]}): {fix}")


def build_pdf(source: Path, output: Path, *, budget_ms: int = BUDGET_MS, timeout_s: int = TIMEOUT_S,
              chromium: str | None = None) -> Path:
    """The book at ``source`` (its chapters executed, cached or staged executed) as one PDF at ``output``.

    Chromium is looked for first, so that a missing one fails before the build. The PDF
    replaces ``output`` only once checked (every formula typeset, every image loaded: see
    ``PRINT_CHECK``); a failed build leaves no PDF there.
    """
    chromium = chromium or chromium_path()
    source, output = Path(source), Path(output)
    output.unlink(missing_ok=True)  # never leave an earlier PDF that looks like this build's
    page = print_page(build_singlehtml(source), root_document(source))
    partial = output.with_name(f".{output.name}.partial")
    try:
        print_pdf(page, partial, budget_ms=budget_ms, timeout_s=timeout_s, chromium=chromium)
        check_printed(partial, page, budget_ms)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return partial.replace(output)


# --- the two presets -------------------------------------------------------------------------


def paper_pdf_path(root: Path | None = None) -> Path:
    return paths.build_dir(root) / "pdf" / "book.pdf"


def smoke_pdf_path(root: Path | None = None) -> Path:
    """Beside the smoke build's staging folder (removed, with it, by the next smoke build)."""
    return paths.smoke_dir(root) / "book.pdf"


def _sources(root: Path) -> list[Path]:
    files = [root / "_config.yml", root / "_toc.yml"]
    for folder, pattern in (("chapters", "*"), ("book", "*"), ("lib/repalign", "*.py")):
        files += [p for p in (root / folder).rglob(pattern) if p.is_file()]
    return files


def smoke_is_current(root: Path | None = None) -> bool:
    """Whether the smoke build's HTML exists and is newer than every source of the book."""
    root = root or paths.book_root()
    stage = paths.smoke_dir(root) / "src"
    log, index = paths.build_log(stage), paths.html_dir(stage) / "index.html"
    if not (log.exists() and index.exists()):
        return False
    return log.stat().st_mtime >= max(p.stat().st_mtime for p in _sources(root))


def build_smoke_pdf(root: Path | None = None, **options) -> Path:
    """The smoke-scale book as a PDF, reusing the smoke build (``repalign.book.build_smoke``)
    when it is newer than the sources, running it otherwise."""
    root = root or paths.book_root()
    if options.get("chromium") is None:
        options["chromium"] = chromium_path()  # fail before minutes of building
    if not smoke_is_current(root):
        book.build_smoke(root)
    return build_pdf(paths.smoke_dir(root) / "src", smoke_pdf_path(root), **options)


def build_paper_pdf(root: Path | None = None, **options) -> Path:
    root = root or paths.book_root()
    return build_pdf(root, paper_pdf_path(root), **options)


# --- command line --------------------------------------------------------------------------


@book.command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m repalign.pdf", description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=("paper", "smoke"), default="paper")
    parser.add_argument("--budget", type=int, default=BUDGET_MS, metavar="MS",
                        help=f"virtual milliseconds for MathJax before printing (default {BUDGET_MS})")
    parser.add_argument("--timeout", type=int, default=TIMEOUT_S, metavar="S",
                        help=f"seconds Chromium may take to print (default {TIMEOUT_S})")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        build = build_paper_pdf if args.preset == "paper" else build_smoke_pdf
        pdf = build(budget_ms=args.budget, timeout_s=args.timeout)
        summary = summarize(pdf)
    except (PdfError, book.UsageError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2 if isinstance(err, book.UsageError) else 1
    except book.ChapterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {pdf} ({args.preset} preset): {summary.pages} pages, {summary.images} figures, "
          f"{summary.size_bytes / 1e6:.1f} MB, in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
