"""The chapter runner: parameters checked before any kernel starts, failures named."""

import nbformat
import pytest

from repalign import book


@pytest.mark.parametrize("args, complaint", [
    (["-p", "no_such_param", "1"], "unknown parameter(s) 'no_such_param'"),
    (["-p", "snrs", "abc"], "parameter 'snrs' must be tuple[float, ...], got 'abc'"),
    (["-p", "n_alpha", "2.5"], "parameter 'n_alpha' must be int, got 2.5"),
    (["-p", "preset", "huge"], "preset must be one of"),
    (["-p", "snrs", "[1, -2]"], "snrs must hold at least two distinct positive numbers"),
    (["-p", "snrs", "[4]"], "snrs must hold at least two distinct positive numbers"),
])
def test_bad_parameters_are_refused_before_the_kernel_starts(no_kernel, capsys, args, complaint):
    assert book.main(["run", "question", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert complaint in err and len(err.splitlines()) == 1


def test_an_unknown_parameter_lists_the_parameters_in_one_line(no_kernel, capsys):
    assert book.main(["run", "question", "-p", "no_such_param", "1"]) == 2
    assert "the parameters are: preset, snrs, alpha_min, alpha_max, n_alpha," in capsys.readouterr().err


def test_unknown_chapter_lists_the_chapters(no_kernel, capsys):
    assert book.main(["run", "no_such_chapter"]) == 2
    assert f"the chapters are: {', '.join(sorted(book.chapter_files()))}" in capsys.readouterr().err


def test_list_shows_every_parameter_with_its_type(capsys):
    assert book.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "question" in out and "snrs           tuple[float, ...]" in out


@pytest.mark.parametrize("text, value", [
    ("4", 4), ("0.5", 0.5), ("[1, 4]", [1, 4]), ("inf", float("inf")), ("[1, inf]", [1, float("inf")]),
    ("true", True), ("smoke", "smoke"),
])
def test_values_parse_as_yaml(text, value):
    assert book.parse_value(text) == value


def test_parameters_travel_to_papermill_as_literals():
    params = book.check_parameters("question", [("snrs", "[1, inf]"), ("preset", "smoke")])
    assert params == {"preset": "smoke", "snrs": [1.0, float("inf")]}


def test_run_writes_to_build_runs_and_injects_the_parameters(tmp_path):
    out = book.run_chapter("question", [("preset", "smoke"), ("snrs", "[2, 8]")], output=tmp_path / "q.ipynb")
    nb = nbformat.read(out, as_version=4)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert 'preset = "smoke"' in injected.source and "snrs = [2.0, 8.0]" in injected.source
    assert "hide-cell" in injected.metadata.tags  # collapsed in the HTML, like the chapter's own cell
    assert book.run_output_path("question", {"preset": "smoke"}).parent.name == "runs"


@pytest.mark.parametrize("own, shown", [(["parameters", "remove-cell"], "remove-cell"), (["parameters"], "hide-cell")])
def test_the_injected_parameters_are_shown_as_the_page_shows_its_own(tmp_path, own, shown):
    path = tmp_path / "page.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('preset = "paper"', metadata={"tags": own}),
        nbformat.v4.new_code_cell('preset = "smoke"', metadata={"tags": ["injected-parameters"]})]), path)
    book._hide_injected_parameters(path)
    assert nbformat.read(path, as_version=4).cells[1].metadata.tags == ["injected-parameters", shown]


def test_a_broken_chapter_is_named_with_its_cell(broken_book, tmp_path):
    source = broken_book / "chapters" / "broken.md"
    with pytest.raises(book.ChapterError) as err:
        book.execute_chapter(source, {"preset": "smoke"}, tmp_path / "broken.ipynb")
    message = str(err.value)
    assert "chapter 'broken'" in message and "x = 1" in message
    assert "RuntimeError: broken on purpose" in message


def test_a_run_never_overwrites_its_source(broken_book):
    source = broken_book / "chapters" / "broken.md"
    with pytest.raises(book.UsageError, match="refusing to overwrite"):
        book.execute_chapter(source, {}, source)
