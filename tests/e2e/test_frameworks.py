"""Your own app: the same loop for Django (WSGI) and FastAPI (ASGI, served by uvicorn) as for the Flask blog, from
the examples under examples/ (APP_DIR, APP_MODULE in .env): the HTTP contracts, three hot reloads in the same
container, a syntax error and its fix, and the debugger as VS Code attaches, in a sync view and an async endpoint,
before and after a reload. The Flask blog is the default app: the other modules prove it.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devloop import envfile
from tests.e2e.test_debugger import Request, edited, vscode
from tests.support import dap
from tests.support.harness import Project, copy_project
from tests.support.waiting import wait_until

HELLO = "Hello from Docker!"


@dataclass(frozen=True)
class Framework:
    """One example app: where it is, what serves it, and where its views are."""

    name: str
    app_dir: str
    module: str
    views: str  # relative to the project
    list_line: str  # a line of the /blogs view a breakpoint goes on (after `titles` is set)


FRAMEWORKS = [
    Framework(
        "django",
        "examples/django",
        "mysite.wsgi:application",
        "examples/django/src/mysite/views.py",
        '        return JsonResponse({"response": titles})',
    ),
    Framework("fastapi", "examples/fastapi", "main:app", "examples/fastapi/src/main.py", '    return {"response": titles}'),
]


@pytest.fixture(scope="module", params=FRAMEWORKS, ids=[f.name for f in FRAMEWORKS])
def example(request: pytest.FixtureRequest) -> Iterator[tuple[Project, Framework]]:
    """A copy of the project running one example app (its own compose project), torn down after its cases."""
    framework: Framework = request.param
    with tempfile.TemporaryDirectory(prefix=f"e2e-{framework.name}-") as work:
        project = copy_project(Path(work) / "blog", prefix=framework.name)
        envfile.update(project.root / ".env", {"APP_DIR": framework.app_dir, "APP_MODULE": framework.module})
        try:
            done = project.invoke("up")
            assert f"serving {framework.module}" in project.compose("logs", "--no-color", "app"), done.stdout
            yield project, framework
        finally:
            project.teardown()


def says(project: Project, text: str) -> bool:
    """Whether GET / answers with that text now."""
    status, body = project.get("/", timeout=5)
    return status == 200 and isinstance(body, dict) and body.get("response") == text


def test_the_example_keeps_the_http_contracts(example: tuple[Project, Framework]) -> None:
    project, _ = example
    assert project.get("/") == (200, {"response": HELLO})
    status, body = project.get("/blogs")
    assert status == 200 and "Blog post #1" in body["response"]
    assert project.http("POST", "/blogs", {"title": "From an example"}) == (201, {"response": "From an example"})
    assert "From an example" in project.get("/blogs")[1]["response"]
    assert project.get("/api/blogs", service="WEB_PORT") == project.get("/blogs")
    assert project.http("POST", "/blogs", {"title": ""})[0] == 400


def test_three_saves_are_served_in_the_same_container(example: tuple[Project, Framework]) -> None:
    project, framework = example
    before, previous = project.app().container_id, HELLO
    try:
        for n in range(1, 4):
            project.edit(framework.views, f'"{previous}"', f'"Hello, edit {n}!"')
            previous = f"Hello, edit {n}!"
            wait_until(lambda n=n: says(project, f"Hello, edit {n}!"), timeout=10, what=f"edit {n} served")
    finally:
        project.edit(framework.views, f'"{previous}"', f'"{HELLO}"')
    wait_until(lambda: says(project, HELLO), timeout=10, what="the original served")
    assert project.app().container_id == before


def test_a_syntax_error_keeps_the_server_up_and_the_fix_is_served(example: tuple[Project, Framework]) -> None:
    project, framework = example
    before = project.app().container_id
    broken = f'"{HELLO}"'
    project.edit(framework.views, broken, f"{broken}(((")
    try:
        wait_until(lambda: project.get("/", timeout=5)[0] == 500, timeout=10, what="the error page")
        assert "SyntaxError" in str(project.get("/", timeout=5)[1])
    finally:
        project.edit(framework.views, f"{broken}(((", '"Hello, fixed!"')
    wait_until(lambda: says(project, "Hello, fixed!"), timeout=10, what="the fix served")
    project.edit(framework.views, '"Hello, fixed!"', broken)
    wait_until(lambda: says(project, HELLO), timeout=10, what="the original served")
    assert project.app().container_id == before


def debug_mode(project: Project) -> None:
    """The example in debug mode, its launch.json written for its folder and ports."""
    if project.app().mode != "debug":
        stale = "does not match your settings (a port, APP_DIR): `invoke vscode` updates it"
        assert stale in project.invoke("debug").stdout  # the copy's launch.json maps app/src
        project.invoke("vscode")
        assert stale not in project.invoke("debug").stdout
    mapping = json.loads((project.root / ".vscode/launch.json").read_text())["configurations"][0]["pathMappings"][0]
    assert mapping["localRoot"].endswith(project.resolved_settings().app_dir + "/src"), mapping


def stop_in(editor: Any, project: Project, path: str) -> tuple[dap.Connection, dict[str, Any], Request, int]:
    """Request path until it stops at the breakpoint; return the session, the event, the request and the process."""
    conn, stopped, request = editor.stop_on(path)
    return conn, stopped, request, conn.peek("process")["systemProcessId"]


def test_the_debugger_stops_in_a_view_before_and_after_a_reload(example: tuple[Project, Framework]) -> None:
    project, framework = example
    debug_mode(project)
    line = (project.root / framework.views).read_text().splitlines().index(framework.list_line) + 1
    with vscode(project, {framework.views: [{"line": line}]}) as editor:
        conn, stopped, request, first = stop_in(editor, project, "/blogs")
        assert editor.where(conn, stopped) == (str(project.root / framework.views), line)
        assert "Blog post #1" in dap.frame_variables(conn, editor.top(conn, stopped)["id"])["titles"]
        conn.request("continue", threadId=stopped["threadId"])
        assert request.done()["status"] == 200
        announced = editor.session.announced
        with edited(project, framework.views, f'"{HELLO}"', '"Hello, reloaded!"'):
            wait_until(lambda: editor.session.announced > announced, timeout=30, what="a new process announced")
            conn, stopped, request, pid = stop_in(editor, project, "/blogs")
            assert pid != first and editor.where(conn, stopped) == (str(project.root / framework.views), line)
            conn.request("continue", threadId=stopped["threadId"])
            assert request.done()["status"] == 200
    project.invoke("up")  # back to normal mode, as the module's other cases expect


WORKER = "app/src/blog/worker.py"
WORKER_ENV = {"COMPOSE_PROFILES": "worker"}


def processed(project: Project) -> dict[str, str]:
    """The worker's table: note by post title."""
    db = project.client.containers.get(project.states()["db"].container_id)
    sql = "SELECT b.title, p.note FROM processed p JOIN blog b ON b.id = p.blog_id"
    out = db.exec_run(["sh", "-c", f'MYSQL_PWD="$(cat /run/secrets/db-password)" mysql -ublog blog -N -e "{sql}"']).output.decode()
    return dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)


def test_the_worker_reloads_on_a_save_and_its_new_code_processes_the_next_post(project: Project) -> None:
    project.invoke("up", env=WORKER_ENV)
    try:
        assert project.states()["worker"].status == "running"
        project.http("POST", "/blogs", {"title": "For the worker"})
        wait_until(lambda: processed(project).get("For the worker") == "processed", timeout=10, what="the post processed")
        before = project.states()["worker"].container_id
        with edited(project, WORKER, 'NOTE = "processed"', 'NOTE = "processed, reloaded"'):
            logs = lambda: project.compose("logs", "--no-color", "worker")  # noqa: E731
            wait_until(lambda: "marking new posts as 'processed, reloaded'" in logs(), timeout=10, what="the new code running")
            project.http("POST", "/blogs", {"title": "After the reload"})
            wait_until(lambda: processed(project).get("After the reload") == "processed, reloaded", timeout=10, what="new code")
        assert project.states()["worker"].container_id == before
        assert re.search(r"reloading for /code/blog/worker.py \(old process retired, spare told to serve in [\d.]+ ms\)", logs())
    finally:
        project.invoke("down", env=WORKER_ENV)


def test_the_worker_has_its_own_debugger_before_and_after_a_reload(project: Project) -> None:
    done = project.invoke("debug", env=WORKER_ENV)
    try:
        port = project.resolved_settings().debug_worker_port
        assert f"debugger  127.0.0.1:{port}  answers a DAP handshake" in done.stdout
        project.invoke("vscode")
        config = dap.resolve_launch(project.root, "Python: Remote Attach (worker)")
        line = (project.root / WORKER).read_text().splitlines().index("        done = process_new(cursor)") + 1
        session = dap.Session(config, {str(project.root / WORKER): [{"line": line}]})
        try:
            conn, stopped = session.stopped(timeout=30)  # the loop passes the line every 0.2 s
            first = conn.peek("process")["systemProcessId"]
            conn.request("continue", threadId=stopped["threadId"])
            announced = session.announced
            with edited(project, WORKER, "POLL = 0.2", "POLL = 0.25"):
                wait_until(lambda: session.announced > announced, timeout=30, what="the reloaded worker announced")
                deadline_pid = first
                while deadline_pid == first:
                    conn, stopped = session.stopped(timeout=30)
                    deadline_pid = conn.peek("process")["systemProcessId"]
                    conn.request("continue", threadId=stopped["threadId"])
            assert deadline_pid != first
        finally:
            session.close()
    finally:
        project.invoke("down", env=WORKER_ENV)
