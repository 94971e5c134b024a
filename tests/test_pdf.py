"""The whole book as one PDF (``python -m repalign.pdf``, ``make pdf``), printed offline by headless
Chromium from Jupyter Book's single-page build, and read back with pypdf.

The smoke-scale PDF is built once for this module from the smoke build (``repalign.book.build_smoke``),
reused when ``tests/test_book_html.py`` has just made it. It must hold every document of _toc.yml,
in order, under the title of its first ``# `` heading; every chapter must carry its figures; and its
math must be typeset: no formula left as TeX source in the text, the formulas drawn as glyph outlines.
"""

import re
import textwrap

import pypdf
import pytest
import yaml

from repalign import book, paths, pdf

PDF_CURVE = re.compile(rb"\sc\s")  # a Bezier segment: MathJax's SVG glyphs are drawn from them


def toc_documents() -> list[tuple[str, str]]:
    """(file, title) of every document of _toc.yml, root first; the title is its first ``# `` heading."""
    root = paths.book_root()
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]
    titles = []
    for name in files:
        lines = (root / f"{name}.md").read_text().splitlines()
        titles.append(next(line[2:].strip() for line in lines if line.startswith("# ")))
    return list(zip(files, titles))


def squeezed(text: str) -> str:
    """Without spaces: the outline and the text join or split a wrapped title's words."""
    return "".join(text.split())


def chapter_pages(reader) -> dict[str, range]:
    """File -> the pages (0-based) of that document, from the bookmark of its title."""
    outline = pdf.outline(reader)
    starts = []
    for name, title in toc_documents():
        pages = [page for heading, page in outline if squeezed(heading) == squeezed(title)]
        assert pages, f"no bookmark titled {title!r} ({name}); the bookmarks are {[h for h, _ in outline]}"
        starts.append((name, pages[0]))
    ends = [page for _, page in starts[1:]] + [len(reader.pages)]
    return {name: range(start, end) for (name, start), end in zip(starts, ends)}


@pytest.fixture(scope="module")
def smoke_pdf(smoke_html):
    return pdf.build_smoke_pdf()


@pytest.fixture(scope="module")
def reader(smoke_pdf):
    return pypdf.PdfReader(str(smoke_pdf))


@pytest.fixture(scope="module")
def page_texts(smoke_pdf):
    return pdf.pdf_text(smoke_pdf)


@pytest.mark.book
def test_the_pdf_is_written_beside_the_smoke_build(smoke_pdf, reader):
    assert smoke_pdf == paths.smoke_dir() / "book.pdf"
    assert smoke_pdf.read_bytes()[:5] == b"%PDF-"
    assert len(reader.pages) >= 2 * len(toc_documents())
    assert not list(smoke_pdf.parent.glob(".*.partial"))


@pytest.mark.book
def test_every_document_of_the_toc_is_there_in_order_under_its_title(reader, page_texts):
    pages = chapter_pages(reader)
    starts = [pages[name].start for name, _ in toc_documents()]
    assert starts == sorted(starts) and len(set(starts)) == len(starts), pages
    for name, title in toc_documents():
        text = squeezed(page_texts[pages[name].start])
        assert squeezed(title) in text, f"{title!r} is not on page {pages[name].start + 1}, where its bookmark points"


@pytest.mark.book
def test_every_chapter_has_its_figures(reader):
    for name, pages in chapter_pages(reader).items():
        if name.startswith("chapters/"):
            assert sum(pdf.page_images(reader.pages[i]) for i in pages) >= 1, f"{name} has no figure in the PDF"


@pytest.mark.book
def test_math_is_typeset_not_tex_source(reader, page_texts):
    assert not pdf.raw_tex(page_texts), pdf.raw_tex(page_texts)[:5]
    assert not any(pdf.CHECK_MARK in text for text in page_texts)
    # Untypeset, the smoke book draws some 4,000 curve segments (rounded corners); typeset, its
    # formulas add hundreds of thousands.
    curves = sum(len(PDF_CURVE.findall(page.get_contents().get_data())) for page in reader.pages)
    assert curves > 50_000, f"only {curves} curve segments: the formulas are not drawn"


@pytest.mark.book
def test_links_stay_in_the_pdf_or_go_to_the_web(reader):
    actions = [annotation.get_object().get("/A") for page in reader.pages for annotation in page.get("/Annots") or []]
    uris = [str(action["/URI"]) for action in actions if action is not None and "/URI" in action]
    local = [uri for uri in uris if not uri.startswith(("https://", "http://", "mailto:"))]
    assert not local, f"links to files of the build machine: {local[:3]}"


# --- the checks and messages, on small constructed pages ---------------------------------------


def test_raw_tex_is_found_in_text_and_typeset_text_passes():
    assert pdf.raw_tex(["an ensemble of networks, each trained", "alignment A = 0.4"]) == []
    found = pdf.raw_tex(["clean", r"an ensemble of \(K\) networks", r"\[A = \binom{K}{2}\]"])
    assert [page for page, _ in found] == [2, 3]


def single_page_folder(tmp_path, mathjax_src="_static/mathjax/tex-mml-svg.js", mathjax_file=True):
    """What the singlehtml builder writes: the page at the root document's path, linked from the top."""
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.html").write_text(textwrap.dedent(f"""\
        <html><head><title>T</title><script defer="defer" src="{mathjax_src}"></script></head>
        <body data-default-mode=""><h1>T</h1><p>Inline \\(K\\), <a href="book/intro.html#id2">2026</a>.</p>
        </body></html>"""))
    if mathjax_file:
        (tmp_path / "_static" / "mathjax").mkdir(parents=True)
        (tmp_path / "_static" / "mathjax" / "tex-mml-svg.js").write_text("/* not MathJax */")
    return tmp_path


def test_the_print_page_sits_at_the_top_with_its_style_and_check(tmp_path):
    page = pdf.print_page(single_page_folder(tmp_path), "book/intro")
    assert page == tmp_path / pdf.PRINT_PAGE
    html = page.read_text()
    assert html.index("@page") < html.index("</head>")
    assert html.index('<body data-default-mode="">') < html.index(pdf.CHECK_MARK) < html.index("<h1>")
    assert '<a href="#id2">2026</a>' in html  # a link to itself by path would leave the PDF


def test_a_missing_mathjax_names_the_make_target(tmp_path):
    with pytest.raises(pdf.PdfError, match=r"make book/static/mathjax/tex-mml-svg\.js") as err:
        pdf.print_page(single_page_folder(tmp_path, mathjax_file=False), "book/intro")
    assert "\n" not in str(err.value)


def test_a_mathjax_from_a_cdn_is_refused(tmp_path):
    folder = single_page_folder(tmp_path, mathjax_src="https://cdn.example.org/mathjax/tex-mml-svg.js")
    with pytest.raises(pdf.PdfError, match="offline"):
        pdf.print_page(folder, "book/intro")


def test_a_missing_chromium_fails_first_naming_the_install_command(monkeypatch, capsys):
    monkeypatch.setattr(pdf, "CHROMIUM_CANDIDATES", ("/nonexistent/chromium",))
    monkeypatch.setattr(book, "build_smoke", lambda *a, **k: pytest.fail("built the book before finding Chromium"))
    assert pdf.main(["--preset", "smoke"]) == 1
    message = capsys.readouterr().err
    assert "apt-get install chromium" in message and message.count("\n") == 1, message


@pytest.mark.book
def test_a_page_printed_without_mathjax_is_refused(tmp_path):
    folder = single_page_folder(tmp_path)  # the script exists but is not MathJax: nothing typesets
    page = pdf.print_page(folder, "book/intro")
    printed = pdf.print_pdf(page, tmp_path / "out.pdf")
    with pytest.raises(pdf.PdfError, match="MathJax did not load") as err:
        pdf.check_printed(printed, page)
    assert "\n" not in str(err.value)


A4_TEXT_WIDTH = round((210 - 2 * 14) / 25.4 * 96)  # CSS px between the print margins of pdf.PRINT_CSS


@pytest.mark.book
def test_no_table_is_wider_than_the_printed_page(smoke_pdf, tmp_path):
    """Printed (print media, A4's text width), every table ends inside the page: one that sticks
    out is cut at the paper's edge (the decoupling chapter's verdict column once was)."""
    from browser import Browser

    page = next(paths.smoke_dir(paths.book_root()).rglob(pdf.PRINT_PAGE))
    chromium = Browser(tmp_path / "chromium")
    try:
        chromium.call("Emulation.setEmulatedMedia", session=True, media="print")
        chromium.open(page.as_uri(), A4_TEXT_WIDTH)
        beyond = chromium.evaluate("""JSON.stringify([...document.querySelectorAll('table')]
            .filter(t => t.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
            .map(t => (t.querySelector('th') || {}).innerText))""")
    finally:
        chromium.close()
    assert beyond == "[]", f"tables wider than the printed page, by their first header: {beyond}"
