"""The whole book at the smoke preset, built from the chapter files and opened in Chromium.

Chromium runs headless with every host but 127.0.0.1 unresolvable, so a page that needed a
CDN (MathJax, fonts, scripts) would fail here: math must be typeset by the MathJax that the
book serves itself.
"""

import functools
import html.parser
import http.server
import re
import shutil
import subprocess
import threading
import urllib.parse
import urllib.request

import pytest
import yaml

from repalign import book, paths

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--virtual-time-budget=20000",
]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def toc_pages() -> list[str]:
    toc = yaml.safe_load((paths.book_root() / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]
    return [f"{f}.html" for f in files]


@pytest.fixture(scope="module")
def site():
    html = book.build_smoke()
    handler = functools.partial(QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def rendered_dom(url: str, tmp_path) -> str:
    """The page's DOM after its scripts ran, as headless Chromium sees it."""
    assert shutil.which(CHROMIUM), "Chromium is missing: `make test` installs Debian's chromium"
    result = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path}", "--dump-dom", url],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


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


def visible_text(dom: str) -> str:
    parser = VisibleText()
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


def reader_problems(text: str) -> list[str]:
    return [f"{what}: ...{text[max(m.start() - 60, 0):m.end() + 60]}..."
            for what, pattern in UNWANTED.items() for m in [pattern.search(text)] if m]


def test_reader_problems_are_found_in_constructed_pages():
    clean = '<article class="bd-article"><p>Alignment rises.</p><details><pre>d = None</pre></details></article>'
    assert reader_problems(visible_text(clean)) == []
    for shown in ("<pre>/work/main/lib/repalign/x.py:3: RuntimeWarning: invalid value</pre>",
                  "<pre>d = None  # input dimension</pre>", "<pre>SNRConfig(d=16, width=8)</pre>",
                  "<pre>Traceback (most recent call last):</pre>", "<td>None</td>"):
        page = f'<article class="bd-article"><p>Text.</p>{shown}</article>'
        assert reader_problems(visible_text(page)), shown


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


@pytest.mark.book
@pytest.mark.parametrize("page", toc_pages())
def test_page_loads_with_rendered_math_and_figures(site, page, tmp_path):
    dom = rendered_dom(site + page, tmp_path)
    article = dom[dom.index('<article class="bd-article"'):]
    assert re.search(r"<h1[^>]*>", article), "the page has no title"
    math = article.count('class="math notranslate nohighlight"')
    typeset = article.count("<mjx-container")
    assert typeset >= math, f"{math} math elements, {typeset} typeset by MathJax"
    if page.startswith("chapters/"):
        assert math > 0 and "<img" in article, "a chapter shows math and at least one figure"
    for src in re.findall(r'<img[^>]*\ssrc="([^"]+)"', article):
        image = fetch(urllib.parse.urljoin(site + page, src))
        assert image.startswith(PNG_SIGNATURE) and len(image) > 1000, src
    assert not reader_problems(visible_text(dom)), reader_problems(visible_text(dom))
    external = re.findall(r'<(?:script|link)[^>]*\s(?:src|href)="(https?://(?!127\.0\.0\.1)[^"]+)"', dom)
    assert not external, f"the page loads from the network: {external}"


@pytest.mark.book
def test_mathjax_is_served_by_the_book(site, tmp_path):
    dom = rendered_dom(site + toc_pages()[0], tmp_path)
    (src,) = re.findall(r'<script[^>]*src="([^"]*tex-mml-svg\.js[^"]*)"', dom)
    assert not src.startswith(("http:", "https:", "//"))
    assert b"MathJax" in fetch(urllib.parse.urljoin(site + toc_pages()[0], src))


@pytest.mark.book
def test_index_leads_to_the_front_page(site):
    assert toc_pages()[0] in fetch(site + "index.html").decode()


@pytest.mark.book
def test_a_broken_chapter_fails_the_paper_build_naming_chapter_and_cell(broken_book):
    with pytest.raises(book.ChapterError) as err:
        book.build_paper(broken_book)
    message = str(err.value)
    assert "broken.md raised" in message
    assert "x = 1" in message and "RuntimeError: broken on purpose" in message
