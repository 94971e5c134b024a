"""Run the book's chapters through papermill, list their parameters, and build the book.

    python -m repalign.book list                          # chapters and their parameters
    python -m repalign.book run question -p snrs '[1, 4]' # one chapter, into _build/runs/
    python -m repalign.book build --preset paper          # the book, into _build/html
    python -m repalign.book build --preset smoke          # a smoke-scale copy, for the tests
    python -m repalign.book publish                       # _build/html -> _build/publish, for any host

Chapters are jupytext notebooks (MyST markdown) in ``chapters/``; papermill cannot read
them, so they are converted in memory. Parameters are checked against the chapter's
configuration (``repalign.presets.CHAPTERS``) before any kernel starts: papermill itself only
warns about an unknown name, and a badly typed value would fail deep inside the kernel.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import functools
import hashlib
import json
import os
import logging
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import nbformat
import yaml

from . import paths, validate
from .presets import CHAPTERS, PRESET_NAMES, ChapterConfig
from .progress import Progress

KERNEL = "python3"


class UsageError(ValueError):
    """A chapter name or parameter that cannot be run; the message says what can."""


class ChapterError(RuntimeError):
    """A chapter raised while executing; the message names the chapter and the cell."""


# --- chapters and their parameters -------------------------------------------------------


def chapter_files(root: Path | None = None) -> dict[str, Path]:
    """Chapter name (file stem) -> source file, for every notebook in ``chapters/``."""
    folder = paths.chapters_dir(root)
    return {p.stem: p for p in sorted(folder.glob("*.md")) + sorted(folder.glob("*.py"))}


def chapter_config(name: str, root: Path | None = None) -> type[ChapterConfig]:
    files = chapter_files(root)
    if name not in files:
        raise UsageError(f"no chapter {name!r}; the chapters are: {', '.join(files) or 'none'}")
    if name not in CHAPTERS:
        raise UsageError(f"chapter {name!r} has no configuration in repalign.presets.CHAPTERS")
    return CHAPTERS[name]


def read_chapter(path: Path):
    import jupytext

    return jupytext.read(path)


def parameters_cell_names(notebook) -> list[str]:
    """Names assigned in the notebook's single cell tagged ``parameters``."""
    cells = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise UsageError(f"a chapter needs exactly one cell tagged 'parameters', found {len(cells)}")
    tree = ast.parse(cells[0].source)
    return [t.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(t, ast.Name)]


_GLUE_REFERENCE = re.compile(r"\{glue(?::\w+)?\}`([A-Za-z_]\w*)|```\{glue(?::\w+)?\}\s+([A-Za-z_]\w*)")


def glue_references(markdown: str) -> set[str]:
    """Names a chapter's text takes from ``glue``: ``{glue:text}`name:.2f` `` and figure blocks."""
    return {a or b for a, b in _GLUE_REFERENCE.findall(markdown)}


def parse_value(text: str) -> Any:
    """A command-line value as YAML (``4``, ``0.5``, ``1e-05``, ``[1, 4]``, ``true``); ``inf`` is
    infinity (``validate.yaml_number``: YAML 1.1 reads ``1e-05`` and ``inf`` as strings)."""
    def numbers(v: Any) -> Any:
        return [numbers(x) for x in v] if isinstance(v, list) else validate.yaml_number(v)

    try:
        return numbers(yaml.safe_load(text))
    except yaml.YAMLError:
        return text


def check_parameters(name: str, pairs: list[tuple[str, str]], root: Path | None = None) -> dict[str, Any]:
    """Validate ``-p key value`` pairs for a chapter; return papermill's parameters.

    Raises UsageError, in one line naming the parameter and what it accepts, for an unknown name,
    a wrongly typed value, a value the configuration refuses, an experiment or a chapter beyond the
    size limits, a data set that is not installed, or (the conclusion) a verdict table not yet made.
    """
    from . import book_sweeps
    from .presets import CONCLUSION

    config = chapter_config(name, root)
    repeated = sorted({key for key, _ in pairs if sum(k == key for k, _ in pairs) > 1})
    if repeated:
        raise UsageError(f"chapter {name!r}: parameter(s) {', '.join(map(repr, repeated))} given more than once; "
                         "give each -p key once")
    values = {key: parse_value(text) for key, text in pairs}
    preset = values.pop("preset", "paper")
    try:
        overrides = config.check_overrides(values)
        cfg = config.from_preset(preset, **overrides)  # the configuration's own value checks
        check_experiments(name, cfg)
        if name == CONCLUSION:  # it reads every other chapter's verdict table at its preset
            book_sweeps.check_verdict_tables(preset)
    except (TypeError, ValueError) as err:  # the message names the parameter and its allowed values
        raise UsageError(f"chapter {name!r}: {err}") from None
    except OSError as err:  # a data set the chapter reads is missing or damaged; the message says how to install it
        raise UsageError(f"chapter {name!r} cannot read its data: {err}") from None
    # papermill writes parameters as Python literals: tuples travel as lists.
    return {"preset": preset, **{k: list(v) if isinstance(v, tuple) else v for k, v in overrides.items()}}


def check_experiments(name: str, cfg: ChapterConfig) -> None:
    """Build every Experiment of the chapter's sweeps (``repalign.book_sweeps``), so that each is
    validated, its size limits included, and the chapter's own budget (``book_sweeps.check_ensembles``,
    ``check_work``), before any kernel starts; ValueError names the problem."""
    from . import book_sweeps
    from .sweep import grid_experiments

    jobs = book_sweeps.CHAPTER_JOBS[name](cfg) if name in book_sweeps.CHAPTER_JOBS else []
    book_sweeps.check_ensembles(cfg, jobs)  # counted before any is built: a grid of millions is refused at once
    experiments = [exp for _, base, grid in jobs for exp in grid_experiments(base, grid)]
    book_sweeps.check_work(cfg, experiments)  # the chapter's budget, as each experiment's own limits


def check_cache() -> None:
    """UsageError, in one line naming the folder and the fix, unless the result cache and its
    verdict tables can be written: every chapter stores both, so a read-only checkout is refused
    before the kernel starts, not when the chapter saves its verdicts at the end."""
    from .cache import ResultCache
    from .paths import VERDICT_TABLES

    try:
        results = ResultCache()
        for cache in (results, ResultCache(results.folder / VERDICT_TABLES)):
            cache.check_writable(why="a chapter stores its results and its verdicts there")
    except OSError as err:
        raise UsageError(str(err)) from None


def describe_chapters(root: Path | None = None) -> str:
    blocks = []
    for name, path in chapter_files(root).items():
        config = CHAPTERS.get(name)
        body = config.describe_parameters() if config else "  (no configuration registered)"
        blocks.append(f"{name}  ({path.relative_to(paths.book_root() if root is None else root)})\n{body}")
    return "\n\n".join(blocks)


# --- running ---------------------------------------------------------------------------------


def run_output_path(name: str, parameters: dict[str, Any], root: Path | None = None) -> Path:
    """``_build/runs/<chapter>-<hash of the parameters>.ipynb``: same parameters, same file."""
    digest = hashlib.sha256(json.dumps(parameters, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return paths.runs_dir(root) / f"{name}-{digest}.ipynb"


def check_output(output: Path, root: Path) -> None:
    """Refuse an output path inside the book's sources, an existing file that is not an executed
    notebook (papermill's metadata), or a folder that cannot be created or written; create it."""
    target = output.resolve()
    inside = paths.source_folder(target, root)
    if inside:
        raise UsageError(f"refusing to overwrite or add to the book's sources: {output} is inside {inside}/; "
                         "choose a path elsewhere, e.g. _build/runs/")
    if target.exists():
        try:
            written_by_us = "papermill" in nbformat.read(target, as_version=4).metadata
        except Exception:  # not a notebook at all
            written_by_us = False
        if not written_by_us:
            raise UsageError(f"refusing to overwrite {output}: it exists and is not a notebook this command "
                             "wrote; choose a new path")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create the folder of {output}: {err.strerror}; choose a writable path") from None
    if not os.access(target.parent, os.W_OK):
        raise UsageError(f"cannot write into {target.parent}; choose a writable path")


INTERRUPTED = 130  # the exit code of a command stopped by SIGINT (128 + 2), as shells report it


def partial_path(output: Path) -> Path:
    """Where a chapter executes before it is complete: a hidden file beside ``output``, renamed
    onto it at the end, so an interrupted run leaves nothing that blocks the next one."""
    return output.with_name(f".{output.stem}.partial.ipynb")


def kernel_log_path(output: Path) -> Path:
    """Where the kernel's own messages go (its stderr): a hidden file beside ``output``."""
    return output.with_name(f".{output.stem}.kernel.log")


@contextlib.contextmanager
def _stderr_into(log: Path):
    """Point file descriptor 2 at ``log`` while the kernel runs: the kernel inherits it, so its
    warnings and the log of an interrupted cell go to the file, not between the runner's lines."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(log, "wb") as f:
            os.dup2(f.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def execute_chapter(path: Path, parameters: dict[str, Any], output: Path) -> Path:
    """Execute one chapter file through papermill into ``output`` (never the source).

    ``output`` appears only whole: the executed notebook, or the notebook with the failing cell's
    traceback (ChapterError). A dead kernel or a full disk is a ChapterError in one line and an
    interruption (KeyboardInterrupt) passes through; neither leaves a file behind.
    """
    import papermill
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    check_output(output, path.parents[1])
    partial = partial_path(output)
    log = kernel_log_path(output)
    try:
        with _stderr_into(log):
            papermill.execute_notebook(read_chapter(path), str(partial), parameters=parameters,
                                       kernel_name=KERNEL, cwd=str(path.parent), progress_bar=False)
        _hide_injected_parameters(partial)
        os.replace(partial, output)
    except PapermillExecutionError as err:
        os.replace(partial, output)
        lines = [ln for ln in err.source.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        where = f"cell [{err.exec_count}] ({lines[0].strip()[:60]!r}...)" if lines else f"cell [{err.exec_count}]"
        raise ChapterError(
            f"chapter {path.stem!r} ({path.name}) failed in {where}: {err.ename}: {err.evalue}\n"
            f"the executed notebook, with the traceback, is {output}"
        ) from None
    except DeadKernelError:
        raise ChapterError(f"the kernel of chapter {path.stem!r} died (stopped by the system, perhaps for lack of "
                           f"memory; its log is {log}); the results it stored are kept and the same command "
                           "resumes from them") from None
    except OSError as err:  # papermill writes the notebook after every cell: a full disk shows here
        raise ChapterError(f"cannot write the executed chapter {output} ({err.strerror or err}); free space or "
                           "choose another -o; the results stored so far are kept") from None
    finally:
        partial.unlink(missing_ok=True)
    return output


def _hide_injected_parameters(notebook_path: Path) -> None:
    """Show papermill's injected parameters cell as the notebook's own parameters cell is shown:
    collapsed in a chapter, removed where the page removes its own (the front page)."""
    nb = nbformat.read(notebook_path, as_version=4)
    own = next((cell.metadata.get("tags", []) for cell in nb.cells if "parameters" in cell.metadata.get("tags", [])), [])
    shown_as = next((tag for tag in own if tag in VISIBILITY_TAGS), "hide-cell")
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags and not VISIBILITY_TAGS & set(tags):
            cell.metadata["tags"] = [*tags, shown_as]
    nbformat.write(nb, notebook_path)


VISIBILITY_TAGS = {"remove-cell", "hide-cell", "remove-input", "hide-input"}  # how myst-nb shows a cell


def run_chapter(name: str, pairs: list[tuple[str, str]] = (), root: Path | None = None,
                output: Path | None = None) -> Path:
    """Check the parameters and the result cache, then execute the chapter into ``_build/runs/``
    (or ``output``)."""
    parameters = check_parameters(name, list(pairs), root)
    check_cache()
    path = chapter_files(root)[name]
    with Progress(1) as progress:
        progress.start(name)
        return execute_chapter(path, parameters, output or run_output_path(name, parameters, root))


# --- building ------------------------------------------------------------------------------


def _jupyter_book(source: Path, builder: str = "html", progress: Progress | None = None) -> Path:
    """``jupyter-book build`` of ``source`` with ``builder``; return its output folder or raise
    ChapterError.

    Every page is re-read (a cached page re-emits no warning) and warnings are errors; executed
    notebooks stay cached in ``_build/.jupyter_cache``. The full log goes beside the output
    (``paths.build_log``); ``progress`` announces each chapter as the build executes it.
    """
    exe = Path(sys.executable).with_name("jupyter-book")
    command = [str(exe), "build", str(source), "--builder", builder, "--all", "--warningiserror", "--keep-going"]
    result = run_stoppable(command, progress.line if progress else None)
    log = paths.build_log(source, builder)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(result.stdout)
    if result.returncode != 0:
        raise _build_failure(result, log)
    return paths.build_dir(source) / builder


def run_stoppable(command: list[str], on_line=None) -> subprocess.CompletedProcess:
    """Run ``command`` (output captured, each line also passed to ``on_line`` as it comes) in a
    process group of its own; when this process is interrupted, stop the whole group
    (``stop_group``) before the KeyboardInterrupt goes on."""
    process = subprocess.Popen(command, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})  # lines as they come
    lines = []
    try:
        for text in process.stdout:
            lines.append(text)
            if on_line is not None:
                on_line(text)
        process.wait()
    except KeyboardInterrupt:
        stop_group(process)
        raise
    return subprocess.CompletedProcess(command, process.returncode, "".join(lines))


def stop_group(process: subprocess.Popen, grace: float = 3.0) -> None:
    """SIGINT to ``process``'s group (a build cleans up its kernels), SIGTERM after ``grace``
    seconds without an exit, then SIGKILL; and SIGKILL to whatever of the group outlives it."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(grace)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


_FAILED_NOTEBOOK = re.compile(r"(\S+?\.(?:md|py|ipynb)): WARNING: Executing notebook failed")
_SPHINX_LOG = re.compile(r"/\S*sphinx-err-\S+?\.log")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CELL_ERROR = "An error occurred while executing the following cell:"


def _build_failure(result: subprocess.CompletedProcess, log: Path) -> ChapterError:
    """Name the failing chapters and show the failing cell, from Jupyter Book's output."""
    output = _ANSI.sub("", result.stdout)
    failed = sorted({Path(m).name for m in _FAILED_NOTEBOOK.findall(output)})
    problems = [ln for ln in output.splitlines() if "WARNING" in ln or "ERROR" in ln]
    cell = ""
    for saved in map(Path, _SPHINX_LOG.findall(output)):  # Sphinx saves the full traceback there
        text = _ANSI.sub("", saved.read_text()) if saved.exists() else ""
        if _CELL_ERROR in text:
            cell = text[text.index(_CELL_ERROR):].split("The above exception was the direct cause")[0]
    what = f"chapter(s) {', '.join(failed)} raised" if failed else "Sphinx reported problems"
    lines = [f"the book build failed: {what}", *problems, cell.rstrip(), f"full log: {log}"]
    return ChapterError("\n".join(lines))


def build_paper(root: Path | None = None) -> Path:
    """Build the book at the paper preset; Jupyter Book executes the chapters (cached), and the
    terminal shows which one and how far its sweeps are. A page that shows an error fails it."""
    check_cache()
    root = root or paths.book_root()
    with Progress(len(chapter_files(root))) as progress:
        html = _jupyter_book(root, progress=progress)
    errors = shown_errors(html / "_sources")
    if errors:
        raise ChapterError("the book shows errors although every cell ran (an output failed to display; its "
                           "traceback is on the page):\n" + "\n".join(errors))
    return html


def shown_errors(executed: Path) -> list[str]:
    """'page: ErrorName: message' for each error output of the executed notebooks under
    ``executed``. A cell whose output fails to display (a table's HTML that raises) runs on, and
    IPython prints the traceback into the page, which the build does not count as a failure."""
    return [f"{path.relative_to(executed).with_suffix('')}: {out.ename}: {out.evalue}"
            for path in sorted(executed.rglob("*.ipynb"))
            for cell in nbformat.read(path, as_version=4).cells for out in cell.get("outputs", [])
            if out.get("output_type") == "error"]


def build_smoke(root: Path | None = None) -> Path:
    """Build a smoke-scale copy of the book from the same chapter files.

    Each chapter runs through papermill with ``preset = "smoke"`` into a staging copy of the
    book, which Jupyter Book then renders without executing again.
    """
    root = root or paths.book_root()
    check_cache()
    out = paths.smoke_dir(root)
    stage = out / "src"
    shutil.rmtree(out, ignore_errors=True)
    stage.mkdir(parents=True)
    config = yaml.safe_load((root / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"
    (stage / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    shutil.copy2(root / "_toc.yml", stage / "_toc.yml")
    shutil.copytree(root / "book", stage / "book")
    chapters = chapter_files(root)
    with Progress(len(chapters)) as progress:
        for name, path in chapters.items():
            progress.start(name)
            _executed_once(execute_chapter(path, {"preset": "smoke"}, stage / "chapters" / f"{name}.ipynb"))
    front = yaml.safe_load((root / "_toc.yml").read_text())["root"]  # it reads the verdicts just saved
    _executed_once(execute_chapter(root / f"{front}.md", {"preset": "smoke"}, stage / f"{front}.ipynb"))
    (stage / f"{front}.md").unlink()  # one source per page
    return _jupyter_book(stage)


def _executed_once(notebook_path: Path) -> None:
    """Drop a notebook's own execution mode (the conclusion's "force"): papermill has executed it,
    and executing it again in the staging copy would read another result cache."""
    nb = nbformat.read(notebook_path, as_version=4)
    if nb.metadata.get("mystnb", {}).pop("execution_mode", None) is not None:
        nbformat.write(nb, notebook_path)


# --- publishing ----------------------------------------------------------------------------

_LOCAL_LINK = re.compile(r'(?:href|src)="(?![a-z][a-z0-9+.-]*:|#|//)([^"#?]+)')


def broken_links(site: Path) -> list[str]:
    """Every page's links to files of the site (href, src) that are missing: '<page>: <link>'.
    Pages are the HTML files outside ``_static/`` (which holds the theme's templates)."""
    problems = []
    for page in sorted(p for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts):
        for link in dict.fromkeys(_LOCAL_LINK.findall(page.read_text(errors="replace"))):
            target = (page.parent / link).resolve()
            if not (target.is_file() or (target / "index.html").is_file()):
                problems.append(f"{page.relative_to(site)}: {link}")
    return problems


def publish(html: Path, output: Path, pdf: Path | None = None) -> Path:
    """Copy a built site into ``output``, ready for any static host: ``.nojekyll`` (so GitHub
    Pages serves ``_static/``), the whole-book PDF beside ``index.html`` when one is given, and
    no page linking to a file that is not there (refused, with the links)."""
    if not (html / "index.html").is_file():
        raise UsageError(f"no built book in {html}; build it first (make book)")
    missing = broken_links(html)
    if missing:
        raise UsageError(f"the built book links to {len(missing)} missing file(s), e.g. {missing[0]}; "
                         "rebuild it (make book)")
    if output.resolve().is_relative_to(html.resolve()) or html.resolve().is_relative_to(output.resolve()):
        raise UsageError(f"the output {output} must lie outside the built book {html}")
    shutil.rmtree(output, ignore_errors=True)
    shutil.copytree(html, output)
    (output / ".nojekyll").touch()
    if pdf is not None:
        shutil.copy2(pdf, output / pdf.name)
    return output


# --- command line --------------------------------------------------------------------------


def command(main):
    """A command-line entry point: the path variables made absolute for every process it starts,
    Ctrl-C honoured even where the shell started it with SIGINT ignored (a background job), and
    an interruption reported in one line with exit code 130."""
    @functools.wraps(main)
    def wrapped(argv: list[str] | None = None) -> int:
        paths.absolute_environment()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            return main(argv)
        except KeyboardInterrupt:
            print("error: interrupted; the results stored so far are kept and the same command resumes from them",
                  file=sys.stderr)
            # The interrupted kernel client's tasks end with errors nobody retrieves; asyncio would log each
            # with its traceback when it is collected at exit, after the one line above.
            logging.getLogger("asyncio").setLevel(logging.CRITICAL)
            return INTERRUPTED
    return wrapped


@command

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m repalign.book", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the chapters and their parameters")
    run = sub.add_parser("run", help="execute one chapter through papermill into _build/runs/")
    run.add_argument("chapter")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                     help="override a parameter (repeatable); values are YAML: 4, 0.5, '[1, 4]', inf")
    run.add_argument("-o", "--output", type=Path, help="executed notebook path (default: _build/runs/)")
    build = sub.add_parser("build", help="build the whole book")
    build.add_argument("--preset", choices=PRESET_NAMES, default="paper")
    publish_cmd = sub.add_parser("publish", help="copy the built book into a folder ready for a static host")
    publish_cmd.add_argument("-o", "--output", type=Path, default=None, help="default: _build/publish")
    publish_cmd.add_argument("--pdf", type=Path, default=None, help="a whole-book PDF to publish beside the pages")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            print(describe_chapters())
        elif args.command == "run":
            out = run_chapter(args.chapter, [tuple(p) for p in args.parameter], output=args.output)
            print(f"executed chapter {args.chapter!r} into {out}")
        elif args.command == "publish":
            out = publish(paths.html_dir(), args.output or paths.publish_dir(), args.pdf)
            print(f"the site is ready in {out}: upload the folder's contents to any static host")
        else:
            html = build_paper() if args.preset == "paper" else build_smoke()
            print(f"built the book ({args.preset} preset) into {html}")
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ChapterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
