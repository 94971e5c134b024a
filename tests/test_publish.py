"""Publishing: a deployable folder for any static host, and the GitHub Pages workflow."""

import pytest
import yaml

from repalign import book, paths

WORKFLOW = paths.book_root() / ".github" / "workflows" / "book.yml"


def site(folder, page='<a href="b.html">b</a><img src="_images/f.png">'):
    (folder / "_images").mkdir(parents=True)
    (folder / "_images" / "f.png").write_bytes(b"png")
    (folder / "b.html").write_text('<a href="index.html#top">back</a><a href="https://example.org/x.html">out</a>')
    (folder / "index.html").write_text(page)
    return folder


def test_publish_copies_the_site_with_nojekyll_and_the_pdf(tmp_path):
    html = site(tmp_path / "html")
    pdf = tmp_path / "book.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    out = book.publish(html, tmp_path / "publish", pdf)
    assert (out / ".nojekyll").is_file() and (out / "index.html").is_file() and (out / "_images" / "f.png").is_file()
    assert (out / "book.pdf").read_bytes() == b"%PDF-1.4"


def test_a_site_with_a_broken_link_is_refused_and_nothing_is_written(tmp_path):
    html = site(tmp_path / "html", page='<img src="_images/missing.png">')
    with pytest.raises(book.UsageError, match=r"1 missing file\(s\), e.g. index.html: _images/missing.png"):
        book.publish(html, tmp_path / "publish")
    assert not (tmp_path / "publish").exists()


def test_publish_without_a_built_book_says_how_to_build_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(paths, "html_dir", lambda root=None: tmp_path / "nothing")
    assert book.main(["publish", "-o", str(tmp_path / "out")]) == 2
    assert "no built book" in capsys.readouterr().err


def test_the_workflow_builds_with_make_publish_keeps_the_caches_and_deploys_to_pages():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as true
    assert "push" in triggers and "workflow_dispatch" in triggers
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    runs = [step.get("run", "") for step in build["steps"]]
    uses = {step.get("uses", "").split("@")[0]: step for step in build["steps"] if "uses" in step}
    assert "make publish" in runs
    assert {"_build/cache", "_build/.jupyter_cache"} <= set(uses["actions/cache"]["with"]["path"].split())
    assert uses["actions/upload-pages-artifact"]["with"]["path"] == "_build/publish"
    assert deploy["needs"] == "build" and deploy["steps"][0]["uses"].startswith("actions/deploy-pages@")


def test_make_publish_runs_the_publish_command():
    makefile = (paths.book_root() / "Makefile").read_text()
    recipe = makefile.split("\npublish:", 1)[1].split("\n\n", 1)[0]
    assert "-m repalign.book publish" in recipe
