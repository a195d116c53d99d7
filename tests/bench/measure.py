"""Measurements of the inner loop against a running stack: each returns seconds (or %)."""

from __future__ import annotations

import contextlib
import http.client
import json
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.support import dap
from tests.support.harness import Project
from tests.support.waiting import wait_until

VIEWS = "app/src/blog/views.py"
ORIGINAL = "Hello from Docker!"
SETTLE = 1.3  # between edits: longer than a stat reloader's 1 s poll, so edits never merge


def response_of(port: int) -> str | None:
    """GET / on a fresh connection; return the "response" text or None."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/")
        body = json.loads(conn.getresponse().read())
    except (OSError, ValueError, http.client.HTTPException):  # a server restarting mid-answer
        return None
    finally:
        conn.close()
    return body.get("response") if isinstance(body, dict) else None


def served(project: Project) -> bool:
    """Whether the app answers GET / with the original text."""
    return response_of(project.ports["APP_PORT"]) == ORIGINAL


def switch(project: Project, files: list[str]) -> None:
    """Recreate the app with other compose files; wait until it serves."""
    project.compose("up", "--detach", "--wait", "--no-deps", "app", files=files)
    wait_until(lambda: served(project), timeout=60, what="app serving")


def up_runs(project: Project, runs: int) -> dict[str, list[float]]:
    """Warm start (images built, volume present): `invoke up` vs `docker compose up --wait`, alternating."""
    ours: list[float] = []
    plain: list[float] = []
    for _ in range(runs):
        project.invoke("down")
        ours.append(timed(lambda: project.invoke("up"), lambda: served(project)))
        project.invoke("down")
        plain.append(timed(lambda: project.compose("up", "--detach", "--wait"), lambda: served(project)))
    return {"ours": ours, "compose": plain}


def edit_to_served(project: Project, runs: int, timeout: float = 30, path: Path | None = None) -> list[float]:
    """Save a new return value (in views.py, or the file at path), then time until GET / answers with it (content checked)."""
    path = path or project.root / VIEWS
    original = path.read_text()
    port = project.ports["APP_PORT"]
    samples = []
    try:
        for n in range(runs):
            marker = f"Hello, bench {n} {time.time_ns()}"
            text = original.replace(ORIGINAL, marker)
            path.write_text(text)
            saved = time.perf_counter()
            while response_of(port) != marker:
                if time.perf_counter() - saved > timeout:
                    raise RuntimeError(f"edit {n} not served within {timeout}s")
                time.sleep(0.002)
            samples.append(time.perf_counter() - saved)
            time.sleep(SETTLE)
    finally:
        path.write_text(original)
        wait_until(lambda: response_of(port) == ORIGINAL, timeout=timeout, what="original served again")
        time.sleep(SETTLE)
    return samples


FLOOR_SCRIPT = """
import subprocess, sys, time
code = "import sys; sys.path.insert(0, '/code'); from blog import create_app; create_app()"
for _ in range({runs}):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    print(time.perf_counter() - start)
"""


def restart_floor(project: Project, runs: int) -> list[float]:
    """Time, inside the app container, a fresh Python process importing the app: the floor of any
    reloader that restarts the process."""
    container = project.client.containers.get(project.app().container_id)
    code, out = container.exec_run(["python", "-c", FLOOR_SCRIPT.format(runs=runs)], workdir="/code")
    if code != 0:
        raise RuntimeError(out.decode())
    return [float(line) for line in out.decode().split()]


def timed(action: Callable[[], Any], ready: Callable[[], bool], timeout: float = 120) -> float:
    """Time an action until ready() holds."""
    start = time.perf_counter()
    action()
    wait_until(ready, timeout=timeout, interval=0.01, what="ready")
    return time.perf_counter() - start


def idle_cpu_percent(project: Project, seconds: float = 10) -> float:
    """Mean CPU use of the app container over an idle period, in % of one core."""
    container = project.client.containers.get(project.app().container_id)

    def used() -> int:
        return container.stats(stream=False)["cpu_stats"]["cpu_usage"]["total_usage"]

    time.sleep(2)  # let start-up work finish
    start_cpu, start = used(), time.perf_counter()
    time.sleep(seconds)
    return 100 * (used() - start_cpu) / 1e9 / (time.perf_counter() - start)


def attach_like_vscode(project: Project) -> dap.Session:
    """Attach with the launch.json as VS Code resolves it, following every new process (startDebugging)."""
    config = dap.resolve_launch(project.root)
    return dap.Session({**config, "connect": {"host": "127.0.0.1", "port": project.ports["DEBUG_PORT"]}}, {})


@contextlib.contextmanager
def fuse_view(project: Project) -> Iterator[Path]:
    """Make the copy's app/src a bindfs view of a folder beside it (what WSL2's and Docker Desktop's shares are like);
    yield that folder, where an editor would save. The stack is down before and after."""
    source, real = project.root / "app/src", project.root.parent / "real-src"
    project.invoke("down")
    shutil.copytree(source, real)
    (real / ".devloop-source").write_text(secrets.token_hex(8) + "\n")
    subprocess.run(["bindfs", "-o", "nonempty", str(real), str(source)], check=True)
    try:
        yield real
    finally:
        project.invoke("down")
        subprocess.run(["umount", str(source)], check=False)
        shutil.rmtree(real)


def write(project: Project, name: str, text: str) -> str:
    """Write a compose overlay into the bench copy; return its relative path."""
    path = Path(project.root / "bench" / name)
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return f"bench/{name}"
