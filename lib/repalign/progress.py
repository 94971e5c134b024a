"""Progress on the terminal of a long build: which chapter of how many, the time since the start,
and how far the running sweep is, in few enough lines for a CI log.

A sweep runs in a chapter's kernel, whose output goes into the notebook rather than to the
terminal that started the build. So the sweep writes its state to the file that the environment
variable PROGRESS_ENV names (``report``), and the build prints it from there (``Progress``).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

PROGRESS_ENV = "REPALIGN_PROGRESS"
EVERY = 60.0  # seconds between two lines about the sweeps: about 45 lines for the paper book
_STARTS = re.compile(r"chapters/(\w+)\.md: (Executing notebook|Using cached notebook)")  # Jupyter Book's lines


def report(trained: int, to_train: int, cached: int, started: float) -> None:
    """Write a sweep's state (``started``: its ``time.time()`` at the start) where PROGRESS_ENV
    points, whole or not at all; nothing when the variable is unset."""
    target = os.environ.get(PROGRESS_ENV)
    if not target:
        return
    state = {"trained": trained, "to_train": to_train, "cached": cached, "seconds": time.time() - started}
    part = f"{target}.{os.getpid()}"
    with contextlib.suppress(OSError):  # progress is a courtesy: never the reason a sweep fails
        Path(part).write_text(json.dumps(state))
        os.replace(part, target)


def clock(seconds: float) -> str:
    """'4:05', '1:02:03'."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def sweep_line(state: dict) -> str:
    """'trained 120 of 744 ensembles (60 more read from the cache), about 6 min left': the time
    left at the rate so far."""
    trained, total = state["trained"], state["to_train"]
    line = f"trained {trained} of {total} ensembles"
    if state.get("cached"):
        line += f" ({state['cached']} more read from the cache)"
    if 0 < trained < total:
        left = state["seconds"] / trained * (total - trained)
        line += f", about {max(1, round(left / 60))} min left"
    return line


class Progress:
    """While in use, prints a line when one of ``chapters`` chapters starts (``line`` reads the
    build's output, ``start`` is called directly) and the running sweep's state when it changed,
    at most every ``every`` seconds. Each line starts with the time since the start."""

    def __init__(self, chapters: int, *, out=None, every: float = EVERY, poll: float = 5.0):
        self.chapters, self.out, self.every, self.poll = chapters, out or sys.stdout, every, poll
        self.started, self.seen = time.monotonic(), 0
        self.last_line, self.last_state = -math.inf, None
        self.file = ""
        self._stop = threading.Event()

    def say(self, text: str) -> None:
        print(f"[{clock(time.monotonic() - self.started)}] {text}", file=self.out, flush=True)

    def start(self, chapter: str, cached: bool = False) -> None:
        self.seen += 1
        self.say(f"chapter {self.seen} of {self.chapters}: {chapter}" + (", from the cache" if cached else ""))

    def line(self, text: str) -> None:
        """One line of Jupyter Book's output: announce a chapter that starts."""
        found = _STARTS.search(text)
        if found:
            self.start(found.group(1), cached=found.group(2).startswith("Using"))

    def check(self) -> None:
        """Print the sweep's state when it changed and the last such line is ``every`` seconds old."""
        try:
            state = json.loads(Path(self.file).read_text())
        except (OSError, ValueError):
            return
        now = time.monotonic()
        if state != self.last_state and now - self.last_line >= self.every:
            self.say("  " + sweep_line(state))
            self.last_state, self.last_line = state, now

    def _watch(self) -> None:
        while not self._stop.wait(self.poll):
            self.check()

    def __enter__(self) -> "Progress":
        self.folder = tempfile.mkdtemp(prefix="repalign-progress-")
        self.file = os.path.join(self.folder, "sweep.json")
        self.saved = os.environ.get(PROGRESS_ENV)
        os.environ[PROGRESS_ENV] = self.file  # inherited by the build, its kernels and their sweeps
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.thread.join()
        if self.saved is None:
            os.environ.pop(PROGRESS_ENV, None)
        else:
            os.environ[PROGRESS_ENV] = self.saved
        shutil.rmtree(self.folder, ignore_errors=True)
