"""The whole book at the smoke preset, built from the chapter files and opened in Chromium.

Chromium runs headless with every host but 127.0.0.1 unresolvable, so a page that needed a
CDN (MathJax, fonts, scripts) would fail here: math must be typeset by the MathJax that the
book serves itself.
"""

import functools
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
