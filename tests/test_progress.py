"""What a long build prints on its terminal (repalign.progress): chapters, elapsed time, the sweeps' state."""

import io
import json
import os
import sys
import time

from repalign import Experiment
from repalign.book import run_stoppable
from repalign.cache import ResultCache
from repalign.experiment import budget_stops_expected
from repalign.progress import PROGRESS_ENV, Progress, clock, report, sweep_line
from repalign.sweep import sweep


def test_clock_and_sweep_line():
    assert clock(5) == "0:05" and clock(245) == "4:05" and clock(3723) == "1:02:03"
    state = {"trained": 120, "to_train": 744, "cached": 60, "seconds": 60.0}
    # 120 in a minute: 624 left take 5.2 minutes
    assert sweep_line(state) == "trained 120 of 744 ensembles (60 more read from the cache), about 5 min left"
    assert sweep_line({**state, "trained": 744, "cached": 0}) == "trained 744 of 744 ensembles"
    assert sweep_line({**state, "trained": 0}).endswith("read from the cache)")  # no rate yet: no estimate


def test_report_writes_the_state_only_where_the_variable_points(tmp_path, monkeypatch):
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    report(1, 2, 0, time.time())  # unset: nothing, anywhere
    target = tmp_path / "sweep.json"
    monkeypatch.setenv(PROGRESS_ENV, str(target))
    report(3, 10, 4, time.time() - 30)
    state = json.loads(target.read_text())
    assert (state["trained"], state["to_train"], state["cached"]) == (3, 10, 4) and 29 < state["seconds"] < 60
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.json"]  # written whole, nothing left over
    monkeypatch.setenv(PROGRESS_ENV, str(tmp_path / "no such folder" / "sweep.json"))
    report(1, 2, 0, time.time())  # an unwritable target never fails a sweep


def test_chapters_are_announced_from_the_build_output_and_counted():
    out = io.StringIO()
    progress = Progress(3, out=out)
    progress.line("/book/chapters/decoupling.md: Executing notebook using local CWD [mystnb]\n")
    progress.line("reading sources... [ 40%] chapters/dip\n")  # not a start
    progress.line("/book/chapters/linear.md: Using cached notebook: ID=3 [mystnb]\n")
    lines = out.getvalue().splitlines()
    assert [line.split("] ", 1)[1] for line in lines] == ["chapter 1 of 3: decoupling",
                                                          "chapter 2 of 3: linear, from the cache"]
    assert all(line.startswith("[0:0") for line in lines)  # the time since the start


def test_the_sweep_state_is_printed_when_it_changes_and_not_more_often_than_asked(tmp_path):
    out = io.StringIO()
    progress = Progress(1, out=out, every=0.0)
    progress.file = str(tmp_path / "sweep.json")
    progress.check()  # no sweep yet: nothing
    state = {"trained": 1, "to_train": 4, "cached": 0, "seconds": 2.0}
    (tmp_path / "sweep.json").write_text(json.dumps(state))
    progress.check()
    progress.check()  # unchanged: printed once
    assert out.getvalue().count("trained 1 of 4 ensembles") == 1
    progress.every = 3600.0
    (tmp_path / "sweep.json").write_text(json.dumps({**state, "trained": 2}))
    progress.check()  # changed, but the last line is not an hour old
    assert "trained 2 of 4" not in out.getvalue()


def test_a_sweep_inside_the_context_reports_its_state_and_the_context_cleans_up(tmp_path):
    base = Experiment(d=6, n_train=4, width=4, members=3, n_probe=20, steps=50)
    before = os.environ.get(PROGRESS_ENV)
    with Progress(1, out=io.StringIO(), every=0.0) as progress:
        assert os.environ[PROGRESS_ENV] == progress.file
        with budget_stops_expected():  # a few steps are enough to be counted
            sweep(base, {"seed": [0, 1]}, cache=ResultCache(tmp_path / "cache"), progress=False)
        state = json.loads(open(progress.file).read())
        folder = os.path.dirname(progress.file)
    assert (state["trained"], state["to_train"], state["cached"]) == (2, 2, 0)
    assert os.environ.get(PROGRESS_ENV) == before and not os.path.exists(folder)


def test_run_stoppable_passes_each_line_on_as_it_comes():
    seen = []
    result = run_stoppable([sys.executable, "-c", "print('a'); print('b')"], seen.append)
    assert seen == ["a\n", "b\n"] and result.stdout == "a\nb\n" and result.returncode == 0
