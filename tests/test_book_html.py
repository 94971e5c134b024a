"""The whole book at the smoke preset, built from the chapter files and opened in Chromium.

Chromium runs headless with every host but 127.0.0.1 unresolvable, so a page that needed a
CDN (MathJax, fonts, scripts) would fail here: math must be typeset by the MathJax that the
book serves itself.
"""

import functools
import html.parser
import http.server
import json
import re
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import nbformat
import pytest
import yaml
from browser import Browser

from repalign import book, paths


def toc_pages() -> list[str]:
    toc = yaml.safe_load((paths.book_root() / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]
    return [f"{f}.html" for f in files]


@pytest.fixture(scope="module")
def site(smoke_html):
    html = smoke_html
    handler = functools.partial(QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def rendered_dom(browser: Browser, url: str) -> str:
    """The page's DOM after its scripts ran, as headless Chromium sees it."""
    browser.open(url)
    return browser.evaluate("document.documentElement.outerHTML")


class VisibleText(html.parser.HTMLParser):
    """The text a reader sees without clicking: no scripts, styles, or collapsed cells."""

    HIDDEN = {"script", "style", "details", "head", "noscript", "template"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__()
        self.depth, self.chunks = 0, []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID and (self.depth or tag in self.HIDDEN):
            self.depth += 1

    def handle_endtag(self, tag):
        if self.depth and tag not in self.VOID:
            self.depth -= 1

    def handle_data(self, data):
        if not self.depth:
            self.chunks.append(data)


def visible_text(dom: str, reading: type = VisibleText) -> str:
    parser = reading()
    parser.feed(dom[dom.index('<article class="bd-article"'):])
    return " ".join(" ".join(parser.chunks).split())


# What a reader must never see on a page: the run's diagnostics, the build machine, raw Python.
UNWANTED = {
    "a warning": re.compile(r"Warning\b|\bWARNING\b"),
    "a traceback": re.compile(r"Traceback \(most recent call last\)|\w+Error: "),
    "a local path": re.compile(r"(?<![\w.])/(?:work|tmp|home|root|usr|var)/|site-packages|\.venv/"),
    "a parameter listing of None": re.compile(r"\b\w+ = None\b"),
    "a dataclass repr": re.compile(r"\b[A-Z]\w*(?:Config|Result|Experiment)\(\w+="),
    "a bare None": re.compile(r"(?<![\w'\"])None(?![\w'\"])"),
}


def reader_problems(text: str, unwanted: dict = UNWANTED) -> list[str]:
    return [f"{what}: ...{text[max(m.start() - 60, 0):m.end() + 60]}..."
            for what, pattern in unwanted.items() for m in [pattern.search(text)] if m]


class ProseText(VisibleText):
    """The visible text less code and mathematics: what is written as prose, tables and captions."""

    HIDDEN = VisibleText.HIDDEN | {"code", "pre", "kbd", "mjx-container", "math"}


def prose_text(dom: str) -> str:
    return visible_text(dom, ProseText)


# What prose never shows: numbers as a program prints them, names as the code spells them.
UNWANTED_IN_PROSE = {
    "e-notation": re.compile(r"(?<![\w.])\d+(?:\.\d+)?e[-+]?\d+\b"),
    "a code identifier": re.compile(r"\bN_ref\b|\b\d+ (?:\w+ )?\w+\(s\)"),  # N_ref, "1 hidden layer(s)"
    "TeX outside mathematics": re.compile(r"\\[a-zA-Z]+"),  # a link to a heading with math: "\partial A"
}


def test_reader_problems_are_found_in_constructed_pages():
    clean = '<article class="bd-article"><p>Alignment rises.</p><details><pre>d = None</pre></details></article>'
    assert reader_problems(visible_text(clean)) == []
    for shown in ("<pre>/work/main/lib/repalign/x.py:3: RuntimeWarning: invalid value</pre>",
                  "<pre>d = None  # input dimension</pre>", "<pre>SNRConfig(d=16, width=8)</pre>",
                  "<pre>Traceback (most recent call last):</pre>", "<td>None</td>"):
        page = f'<article class="bd-article"><p>Text.</p>{shown}</article>'
        assert reader_problems(visible_text(page)), shown
    prose = '<article class="bd-article"><p>p &lt; 0.001 at 1×10⁻¹⁰</p><code>eps=1e-8, n_ref</code></article>'
    assert reader_problems(prose_text(prose), UNWANTED_IN_PROSE) == []
    for shown in ("p = 9.8e-05", "below 1e-06 of it", "N = 0.3 N_ref", "1 hidden layer(s)",
                  "The sign of \\partial A/\\partial S"):
        page = f'<article class="bd-article"><p>{shown}</p></article>'
        assert reader_problems(prose_text(page), UNWANTED_IN_PROSE), shown


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = Browser(tmp_path_factory.mktemp("chromium"))
    yield chromium
    chromium.close()


# Measured in the page once it has loaded and MathJax has typeset it.
LAYOUT = """JSON.stringify({
  math: document.querySelectorAll("article .math").length,
  typeset: document.querySelectorAll("article mjx-container").length,
  images: [...document.querySelectorAll("article img")].map(i => ({
    src: i.getAttribute("src"), loaded: i.complete && i.naturalWidth > 0, opens: !!i.closest("a[href]")})),
  page_width: document.documentElement.scrollWidth,
  clipped_equations: [...document.querySelectorAll("article mjx-container[display=true]")].filter(m =>
    m.getBoundingClientRect().right > document.documentElement.clientWidth + 1 ||
    (m.scrollWidth > m.clientWidth + 1 && !["auto", "scroll"].includes(getComputedStyle(m).overflowX))).length,
  scrolling_equations: [...document.querySelectorAll("article mjx-container[display=true]")].filter(m =>
    m.scrollWidth > m.clientWidth + 1).length,
  wide_tables: [...document.querySelectorAll("article table")].filter(t =>
    t.scrollWidth > document.querySelector("article.bd-article").clientWidth + 1).map(t =>
    (t.querySelector("th") || {}).innerText),
})"""
PHONE, DESKTOP = 400, 1280


@pytest.mark.book
@pytest.mark.parametrize("page", toc_pages())
def test_page_loads_without_errors_with_math_and_figures_at_desktop_and_phone_width(site, browser, page):
    for width in (DESKTOP, PHONE):
        errors = browser.open(site + page, width=width)
        assert errors == [], f"{page} at {width} px logs errors: {errors}"
        layout = json.loads(browser.evaluate(LAYOUT))
        assert layout["typeset"] >= layout["math"], f"{layout['math']} math elements, {layout['typeset']} typeset"
        if page.startswith("chapters/"):
            assert layout["math"] > 0 and layout["images"], "a chapter shows math and at least one figure"
        assert all(i["loaded"] for i in layout["images"]), [i["src"] for i in layout["images"] if not i["loaded"]]
        assert all(i["opens"] for i in layout["images"]), "every figure opens full size on click"
        assert layout["page_width"] <= width, f"{page} scrolls sideways at {width} px"
        assert layout["clipped_equations"] == 0, f"{layout['clipped_equations']} equations clipped at {width} px"
        if width == DESKTOP:  # no table wider than the text column (on a phone, tables scroll sideways)
            assert layout["wide_tables"] == [], f"tables wider than the column (first headers): {layout['wide_tables']}"


@pytest.mark.book
def test_wide_equations_scroll_at_phone_width(site, browser):
    browser.open(site + "chapters/linear.html", width=PHONE)
    assert json.loads(browser.evaluate(LAYOUT))["scrolling_equations"] > 0  # the check above has cases


@pytest.mark.book
@pytest.mark.parametrize("page", toc_pages())
def test_page_shows_no_diagnostics_and_loads_nothing_from_the_network(site, browser, page):
    dom = rendered_dom(browser, site + page)
    assert re.search(r"<h1[^>]*>", dom[dom.index('<article class="bd-article"'):]), "the page has no title"
    assert not reader_problems(visible_text(dom)), reader_problems(visible_text(dom))
    prose_problems = reader_problems(prose_text(dom), UNWANTED_IN_PROSE)
    assert not prose_problems, prose_problems
    external = re.findall(r'<(?:script|link)[^>]*\s(?:src|href)="(https?://(?!127\.0\.0\.1)[^"]+)"', dom)
    assert not external, f"the page loads from the network: {external}"
    assert "thebe" not in dom.lower(), "Thebe is loaded, and nothing uses it"


@pytest.mark.book
@pytest.mark.parametrize("page", [p for p in toc_pages() if p.startswith("chapters/")])
def test_each_chapter_offers_its_executed_notebook(site, page):
    html = fetch(site + page).decode()
    (link,) = re.findall(r'href="([^"]+\.ipynb)"', html)
    notebook = nbformat.reads(fetch(urllib.parse.urljoin(site + page, link)).decode(), as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert any("parameters" in c.metadata.get("tags", []) for c in code)
    assert sum(bool(c.get("outputs")) for c in code) >= len(code) // 2, "the notebook is executed"
    shown = [o for c in code for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert shown, "its figures show in Jupyter (glued outputs under their own MIME type)"


@pytest.mark.book
def test_a_downloaded_notebook_runs_with_the_plain_papermill_command(site, tmp_path):
    """A reader downloads a chapter's notebook and re-runs it with papermill's own CLI."""
    page = "chapters/question.html"
    (link,) = re.findall(r'href="([^"]+\.ipynb)"', fetch(site + page).decode())
    downloaded = tmp_path / "question.ipynb"
    downloaded.write_bytes(fetch(urllib.parse.urljoin(site + page, link)))
    papermill = Path(sys.executable).with_name("papermill")
    result = subprocess.run([str(papermill), str(downloaded), str(tmp_path / "out.ipynb"), "-p", "preset", "smoke",
                             "-p", "n_alpha", "31", "--cwd", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "n_alpha = 31" in (tmp_path / "out.ipynb").read_text()


@pytest.mark.book
def test_the_built_site_publishes_with_every_link_resolved(smoke_html, tmp_path):
    assert book.broken_links(smoke_html) == []
    out = book.publish(smoke_html, tmp_path / "publish")
    assert (out / ".nojekyll").is_file() and (out / "book" / "data.html").is_file()


@pytest.mark.book
def test_mathjax_is_served_by_the_book(site, browser):
    dom = rendered_dom(browser, site + toc_pages()[0])
    (src,) = re.findall(r'<script[^>]*src="([^"]*tex-mml-svg\.js[^"]*)"', dom)
    assert not src.startswith(("http:", "https:", "//"))
    assert b"MathJax" in fetch(urllib.parse.urljoin(site + toc_pages()[0], src))


@pytest.mark.book
def test_index_leads_to_the_front_page(site):
    assert toc_pages()[0] in fetch(site + "index.html").decode()


TALLY = re.compile(r"(?:holds|fails|is undecided|was not tested)[^.;]*? settings[^.;]*")  # verdicts.tally_phrase


@pytest.mark.book
def test_the_front_page_says_what_the_conclusion_finds(smoke_html):
    """The front page is executed after the chapters (it is read last) and reads the same
    verdict tables as the conclusion: its three sentences are the conclusion's."""
    front = visible_text((smoke_html / "book" / "intro.html").read_text())
    conclusion = visible_text((smoke_html / "chapters" / "verdicts.html").read_text())
    found = TALLY.findall(front[front.index("What the book finds"):])
    assert len(found) == 3 and found == TALLY.findall(conclusion)[:3], (found, TALLY.findall(conclusion)[:3])


@pytest.mark.book
def test_an_output_that_fails_to_display_fails_the_paper_build(undisplayable_book):
    shown = r"every cell ran.*\nchapters/undisplayable: KeyError: .*\['b'\]"
    with pytest.raises(book.ChapterError, match=shown):
        book.build_paper(undisplayable_book)


@pytest.mark.book
def test_a_broken_chapter_fails_the_paper_build_naming_chapter_and_cell(broken_book):
    with pytest.raises(book.ChapterError) as err:
        book.build_paper(broken_book)
    message = str(err.value)
    assert "broken.md raised" in message
    assert "x = 1" in message and "RuntimeError: broken on purpose" in message
