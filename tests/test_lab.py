"""`make lab`: JupyterLab on the project's venv, where every chapter opens as a notebook (jupytext)
and runs on the checkout's repalign. One server, started with `make lab` on a free localhost port
and a token of the test's own, answers over the Jupyter Server REST API, then is stopped; nothing
outlives it. A watchdog kills the server (and so fails what is pending) BUDGET s after `make lab`
starts; the module takes ~10 s here."""

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

import repalign

ROOT = Path(__file__).resolve().parents[1]
START = "lab/start.sh"
BUDGET = 55        # s, from `make lab` to the end of the module's last test
UP_WITHIN = 30     # s, make lab until the server answers (~4 s here)
STOP_WITHIN = 10   # s, /api/shutdown until the process has exited (~2 s here)
CALL_WITHIN = 15   # s, any one request (a kernel's first execution included: ~1 s here)
VIEWER = "Jupytext Notebook"
ROUNDTRIP = "_build/lab-roundtrip"  # gitignored; removed after the test


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_env(tmp: Path) -> dict:
    """The caller's environment, minus what would make the result depend on it: the developer's own
    Jupyter config, data, runtime and lab settings, the global jupytext.toml, an enclosing make."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    for name, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                      ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTERLAB_SETTINGS_DIR", "user-settings"),
                      ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("XDG_CONFIG_HOME", "xdg")]:
        (tmp / sub).mkdir()
        env[name] = str(tmp / sub)
    env.pop("JUPYTER_CONFIG_PATH", None)
    return env


class Lab:
    """A `make lab` server: its process (own process group), URL, token and log."""

    def __init__(self, tmp: Path):
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = (f"--no-browser --ip=127.0.0.1 --port={self.port} --ServerApp.port_retries=0 "
                     f"--IdentityProvider.token={self.token}")
        self.log_path = tmp / "lab.log"
        self.env = make_env(tmp)
        self.kernel_pids: list[int] = []
        self.proc = None
        self.kernel_id = None
        self.expired = False

    def make(self, *flags: str) -> list[str]:
        return ["make", "--no-print-directory", *flags, "lab", f"LAB_ARGS={self.args}"]

    def start(self) -> float:
        """Start `make lab`; the seconds until the server answers."""
        t0 = time.monotonic()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.make(), cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        while time.monotonic() - t0 < UP_WITHIN:
            if self.proc.poll() is not None:
                pytest.fail(f"`make lab` exited with {self.proc.returncode} before answering:\n{self.log()}")
            try:
                if self.call("GET", "/api/status", timeout=2)[0] == 200:
                    return time.monotonic() - t0
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        pytest.fail(f"`make lab` did not answer within {UP_WITHIN} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def call(self, method: str, path: str, body=None, timeout: float = CALL_WITHIN):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"token {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except (urllib.error.URLError, OSError):
            if self.expired:
                pytest.fail(f"over the budget of {BUDGET} s: the watchdog killed the server")
            raise

    def page_config(self) -> dict:
        """The configuration JupyterLab's page hands the browser (jupyter-config-data)."""
        request = urllib.request.Request(self.url + "/lab", headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=CALL_WITHIN) as response:
            html = response.read().decode()
        start = html.index(">", html.index('id="jupyter-config-data"')) + 1
        return json.loads(html[start:html.index("</script>", start)])

    def execute(self, kernel_id: str, code: str) -> str:
        """Run `code` in a kernel over its websocket (as JupyterLab does); its stdout, or a failure."""
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        async def run():
            ws = await websocket_connect(HTTPRequest(
                f"ws://127.0.0.1:{self.port}/api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}",
                headers={"Authorization": f"token {self.token}"}))
            msg_id = uuid.uuid4().hex
            await ws.write_message(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                           "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True}}))
            out = []
            try:
                while True:
                    raw = await ws.read_message()
                    if raw is None:
                        pytest.fail(f"the kernel's websocket closed:\n{self.log()}")
                    msg = json.loads(raw)
                    if msg["parent_header"].get("msg_id") != msg_id:
                        continue
                    if msg["msg_type"] == "stream":
                        out.append(msg["content"]["text"])
                    elif msg["msg_type"] == "error":
                        pytest.fail(f"the kernel raised {msg['content']['ename']}: {msg['content']['evalue']}")
                    elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                        return "".join(out)
            finally:
                ws.close()

        return asyncio.run(asyncio.wait_for(run(), CALL_WITHIN))

    def stop(self) -> int | None:
        """Shut the server down as Jupyter does (/api/shutdown: kernels first); the exit status, or
        None if it had to be killed. Safe to call twice; kills the process group if need be."""
        if self.proc is None:
            return None
        status = self.proc.poll()
        if status is None:
            try:
                self.call("POST", "/api/shutdown", timeout=5)
                status = self.proc.wait(STOP_WITHIN)
            except (OSError, urllib.error.URLError, subprocess.TimeoutExpired):
                status = None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(5)
        return status

    def expire(self):
        self.expired = True
        self.kill()

    def kill(self):
        """Whatever is left: the process group of `make lab`, and the kernels, which run in sessions
        of their own (out of the group's reach)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        for pid in self.kernel_pids:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def start_kernel(self, chapter: str) -> int:
        """Open a chapter as JupyterLab does (a session on its python3 kernel); the kernel's pid."""
        status, session = self.call("POST", "/api/sessions", {
            "path": f"chapters/{chapter}", "type": "notebook", "name": chapter, "kernel": {"name": "python3"}})
        assert status == 201
        self.kernel_id = session["kernel"]["id"]
        pid = int(self.execute(self.kernel_id, "import os; print(os.getpid())"))
        self.kernel_pids.append(pid)
        return pid


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    assert shutil.which("make"), "make is missing"
    server = Lab(tmp_path_factory.mktemp("lab"))
    # make lab runs lab/start.sh with LAB_ARGS and nothing else (its prerequisites are up to date
    # after `make test`'s own; after a change to requirements.txt, `make setup` brings them up).
    plan = subprocess.run(server.make("-n"), cwd=ROOT, env=server.env, capture_output=True, text=True,
                          timeout=10)
    assert plan.returncode == 0, f"`make -n lab` failed:\n{plan.stdout}{plan.stderr}"
    lines = plan.stdout.strip().splitlines()
    assert len(lines) == 1 and START in lines[0] and lines[0].endswith(server.args), (
        f"`make lab` should only run {START} with LAB_ARGS here; it would run:\n{plan.stdout}"
        "(`lab` not in .PHONY? the folder lab/ would stand for it; prerequisites out of date? `make setup`)")
    watchdog = threading.Timer(BUDGET, server.expire)
    watchdog.start()
    try:
        server.startup_s = server.start()
        yield server
    finally:
        watchdog.cancel()
        server.stop()
        server.kill()
        shutil.rmtree(ROOT / ROUNDTRIP, ignore_errors=True)
        with contextlib.suppress(OSError):  # _build too, if the round trip made it (only when empty)
            (ROOT / ROUNDTRIP).parent.rmdir()


@pytest.mark.parametrize("chapter", sorted(p.name for p in (ROOT / "chapters").glob("*.md")))
def test_every_chapter_is_served_as_a_notebook_on_the_python3_kernel(lab, chapter):
    status, model = lab.call("GET", f"/api/contents/chapters/{chapter}?type=notebook&content=1")
    assert status == 200 and model["type"] == "notebook" and model["format"] == "json"
    notebook = model["content"]
    assert any(cell["cell_type"] == "code" for cell in notebook["cells"])
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    assert notebook["metadata"]["jupytext"]["text_representation"]["format_name"] == "myst"


def test_markdown_opens_with_jupytext_by_default_and_lab_stays_offline(lab):
    _, docmanager = lab.call("GET", "/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
    viewers = docmanager["schema"]["properties"]["defaultViewers"]["default"]
    assert viewers["markdown"] == viewers["myst"] == VIEWER
    _, notification = lab.call("GET", "/lab/api/settings/@jupyterlab/apputils-extension:notification")
    defaults = {k: v.get("default") for k, v in notification["schema"]["properties"].items()}
    assert defaults["fetchNews"] == "false" and defaults["checkForUpdates"] is False
    # the viewer named there is jupytext's labextension, which the page loads; the browser opens on chapters/
    page = lab.page_config()
    assert "jupyterlab-jupytext" in {ext["name"] for ext in page["federated_extensions"]}
    assert "jupyterlab-jupytext" not in page.get("disabledExtensions", [])
    assert page["preferredPath"].strip("/") == "chapters"


def test_the_venv_kernel_runs_a_chapter_on_the_checkouts_repalign(lab):
    _, specs = lab.call("GET", "/api/kernelspecs")
    assert "python3" in specs["kernelspecs"]
    lab.start_kernel("question.md")
    out = lab.execute(lab.kernel_id, "import json, sys, os, repalign\n"
                      "print(json.dumps([sys.prefix, os.getcwd(), repalign.__file__]))")
    prefix, cwd, module = json.loads(out)
    assert Path(prefix).resolve() == (ROOT / ".venv").resolve()
    assert Path(cwd).resolve() == (ROOT / "chapters").resolve()
    assert Path(module).resolve() == Path(repalign.__file__).resolve()


def test_saving_a_chapter_from_lab_keeps_its_text(lab):
    """Saving goes through jupytext: the header keeps verdicts.md's mystnb execution mode and gets
    no jupytext_version; the rest of the text is unchanged (YAML comments are jupytext's to drop)."""
    (ROOT / ROUNDTRIP).mkdir(parents=True, exist_ok=True)
    for chapter in sorted((ROOT / "chapters").glob("*.md")):
        _, model = lab.call("GET", f"/api/contents/chapters/{chapter.name}?type=notebook&content=1")
        status, _ = lab.call("PUT", f"/api/contents/{ROUNDTRIP}/{chapter.name}",
                             {"type": "notebook", "format": "json", "content": model["content"]})
        assert status in (200, 201)
        saved = (ROOT / ROUNDTRIP / chapter.name).read_text()
        assert saved == without_header_comments(chapter.read_text()), chapter.name


def without_header_comments(text: str) -> str:
    """The text with the comments at the ends of its YAML header's lines removed."""
    _, header, body = text.split("---\n", 2)
    header = "".join(line.split(" #")[0].rstrip() + "\n" for line in header.splitlines())
    return f"---\n{header}---\n{body}"


def test_the_server_stops_and_leaves_no_process(lab):
    """Last in this module: stops the server the fixture shares, with a chapter's kernel running."""
    lab.start_kernel("verdicts.md")
    assert lab.stop() == 0, lab.log()
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in lab.kernel_pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in lab.kernel_pids), "a kernel outlived the server"
    with pytest.raises(urllib.error.URLError):
        lab.call("GET", "/api/status", timeout=2)
