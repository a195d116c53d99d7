"""The debugger as VS Code drives it: attached with what .vscode/launch.json resolves to, following each new process
through the `startDebugging` reverse request (and, for other editors, the `debugpyAttach` event), and what users
click: breakpoints across hot reloads, an exception in a view, stepping, evaluating, a conditional breakpoint.

Every case asks for the stack in debug mode itself (`invoke debug` unless it is), so any case runs alone.
"""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from devloop import modes
from tests.support import dap
from tests.support.harness import ROOT, Project
from tests.support.waiting import wait_until

VIEWS, DB = "app/src/blog/views.py", "app/src/blog/db.py"
HELLO = '    return jsonify({"response": "Hello from Docker!"})'
LIST = "    titles = db.list_titles()"
RETURN = '    return jsonify({"response": titles})'


def line_of(project: Project, relative: str, text: str) -> int:
    """The 1-based line of a file in the copy that is exactly text."""
    return (project.root / relative).read_text().splitlines().index(text) + 1


class Request:
    """An HTTP request to the app sent in the background (it may stop in the debugger)."""

    def __init__(self, project: Project, path: str) -> None:
        self.answer: dict[str, Any] = {}
        self.error = ""
        self.thread = threading.Thread(target=self._send, args=(project.url(path),), daemon=True)
        self.thread.start()

    def _send(self, url: str) -> None:
        try:
            with urllib.request.urlopen(url, timeout=120) as response:
                self.answer.update(status=response.status, body=json.loads(response.read()))
        except urllib.error.HTTPError as exc:
            self.answer.update(status=exc.code, body=exc.read().decode(errors="replace"))
        except OSError as exc:  # the connection dropped: say so where the case fails, not in a thread's traceback
            self.error = f"{type(exc).__name__}: {exc}"

    def done(self, timeout: float = 30) -> dict[str, Any]:
        """Wait for the answer and return it (status, body)."""
        self.thread.join(timeout)
        assert self.answer, f"the request did not complete ({self.error or f'no answer within {timeout}s'})"
        return self.answer


class VSCode:
    """VS Code attached to the copy's stack with its launch.json, as its Python Debugger extension resolves it."""

    def __init__(self, project: Project, breakpoints: dict[str, list[dict[str, Any]]], start_debugging: bool = True) -> None:
        self.project = project
        self.config = dap.resolve_launch(project.root)
        local = {str(project.root / relative): lines for relative, lines in breakpoints.items()}
        self.session = dap.Session(self.config, local, start_debugging)

    def stop_on(self, path: str, tries: int = 20) -> tuple[dap.Connection, dict[str, Any], Request]:
        """Request path until it stops in the debugger (a process that already serves may still be attaching); return
        the session that stopped, its `stopped` event and the request (still waiting)."""
        for _ in range(tries):
            request = Request(self.project, path)
            try:
                conn, stopped = self.session.stopped(timeout=3)
                return conn, stopped, request
            except dap.DapError:
                request.done(60)
        raise AssertionError(f"{path} never stopped in the debugger (failures: {self.session.failures})")

    def top(self, conn: dap.Connection, stopped: dict[str, Any]) -> dict[str, Any]:
        """The frame the process stopped in."""
        return conn.request("stackTrace", threadId=stopped["threadId"], levels=1)["stackFrames"][0]

    def where(self, conn: dap.Connection, stopped: dict[str, Any]) -> tuple[str, int]:
        """The local file and line it stopped at (mapped back through pathMappings)."""
        frame = self.top(conn, stopped)
        return frame["source"]["path"], frame["line"]

    def close(self) -> None:
        """Disconnect every session, as the stop button does."""
        self.session.close()


@pytest.fixture
def debugging(project: Project) -> Project:
    """The stack in debug mode, its launch.json written by `invoke vscode` (only the port differs from the committed one)."""
    states = project.states()
    if not states or states["app"].mode != modes.DEBUG.name or not all(st.ready for st in states.values()):
        project.invoke("debug")
    project.invoke("vscode")
    config = json.loads((project.root / ".vscode/launch.json").read_text())["configurations"][0]
    committed = json.loads((ROOT / ".vscode/launch.json").read_text())["configurations"][0]
    assert {**config, "connect": committed["connect"]} == committed, "only the port may differ from the committed file"
    assert config["connect"]["port"] == project.ports["DEBUG_PORT"]
    return project


@contextlib.contextmanager
def vscode(project: Project, breakpoints: dict[str, list[dict[str, Any]]], start_debugging: bool = True) -> Iterator[VSCode]:
    """VS Code attached for the length of a case."""
    editor = VSCode(project, breakpoints, start_debugging)
    try:
        yield editor
    finally:
        editor.close()


@contextlib.contextmanager
def edited(project: Project, relative: str, old: str, new: str) -> Iterator[None]:
    """A saved edit for the length of a case, then the file as it was."""
    project.edit(relative, old, new)
    try:
        yield
    finally:
        project.edit(relative, new, old)


@pytest.mark.remote
def test_vscode_stops_at_a_breakpoint_before_and_after_each_of_three_hot_reloads(debugging: Project) -> None:
    project = debugging
    line = line_of(project, VIEWS, RETURN)
    local = str(project.root / VIEWS)
    seen_pids, text = set(), LIST
    with vscode(project, {VIEWS: [{"line": line}]}) as editor:
        for reload in range(4):
            if reload:
                announced = editor.session.announced
                project.edit(VIEWS, text, f'{LIST} + ["reload {reload}"]')
                text = f'{LIST} + ["reload {reload}"]'
                wait_until(lambda a=announced: editor.session.announced > a, timeout=30, what="startDebugging for a new process")
            conn, stopped, request = editor.stop_on("/blogs")
            assert editor.where(conn, stopped) == (local, line)
            titles = dap.frame_variables(conn, editor.top(conn, stopped)["id"])["titles"]
            assert "Blog post #1" in titles and (not reload or f"'reload {reload}'" in titles), titles
            pid = conn.peek("process")["systemProcessId"]
            assert pid not in seen_pids, "the breakpoint was hit by a process from before the reload"
            seen_pids.add(pid)
            conn.request("continue", threadId=stopped["threadId"])
            assert request.done()["status"] == 200
        assert not any(conn.take("debugpyAttach") for conn in editor.session.connections()), "VS Code's path is startDebugging"
    project.edit(VIEWS, text, LIST)


@pytest.mark.remote
def test_other_editors_follow_a_hot_reload_through_the_debugpyattach_event(debugging: Project) -> None:
    project = debugging
    line = line_of(project, VIEWS, RETURN)
    with vscode(project, {VIEWS: [{"line": line}]}, start_debugging=False) as editor:
        conn, stopped, request = editor.stop_on("/blogs")
        first = conn.peek("process")["systemProcessId"]
        conn.request("continue", threadId=stopped["threadId"])
        request.done()
        announced = editor.session.announced
        with edited(project, VIEWS, LIST, f'{LIST} + ["event path"]'):
            wait_until(lambda: editor.session.announced > announced, timeout=30, what="a debugpyAttach event")
            conn, stopped, request = editor.stop_on("/blogs")
            assert conn.peek("process")["systemProcessId"] != first
            assert editor.where(conn, stopped) == (str(project.root / VIEWS), line)
            conn.request("continue", threadId=stopped["threadId"])
            assert request.done()["body"]["response"][-1] == "event path"


@pytest.mark.remote
def test_an_uncaught_exception_in_a_view_stops_the_debugger_and_the_request_then_gets_its_500(debugging: Project) -> None:
    project = debugging
    raising = '    raise RuntimeError("raised by the e2e suite")'
    with vscode(project, {}) as editor, edited(project, VIEWS, HELLO, raising):
        conn, stopped, request = editor.stop_on("/")
        assert stopped["reason"] == "exception"
        info = conn.request("exceptionInfo", threadId=stopped["threadId"])
        assert "RuntimeError" in info["exceptionId"] and "raised by the e2e suite" in info["description"], info
        assert editor.where(conn, stopped) == (str(project.root / VIEWS), line_of(project, VIEWS, raising))
        assert not request.answer, "the request was answered while stopped"
        conn.request("continue", threadId=stopped["threadId"])
        assert request.done()["status"] == 500


@pytest.mark.remote
def test_step_into_the_database_layer_then_out_then_over_to_the_next_line(debugging: Project) -> None:
    project = debugging
    with vscode(project, {VIEWS: [{"line": line_of(project, VIEWS, LIST)}]}) as editor:
        conn, stopped, request = editor.stop_on("/blogs")
        thread = stopped["threadId"]
        conn.request("stepIn", threadId=thread)
        path, _ = editor.where(conn, conn.event("stopped"))
        assert path == str(project.root / DB)
        assert editor.top(conn, {"threadId": thread})["name"] == "list_titles"
        conn.request("stepOut", threadId=thread)
        assert editor.where(conn, conn.event("stopped")) == (str(project.root / VIEWS), line_of(project, VIEWS, LIST))
        conn.request("next", threadId=thread)
        step = conn.event("stopped")
        assert step["reason"] == "step"
        assert editor.where(conn, step) == (str(project.root / VIEWS), line_of(project, VIEWS, RETURN))
        assert "Blog post #1" in dap.frame_variables(conn, editor.top(conn, step)["id"])["titles"]
        conn.request("continue", threadId=thread)
        assert request.done()["status"] == 200


@pytest.mark.remote
def test_an_expression_is_evaluated_in_the_stopped_frame(debugging: Project) -> None:
    project = debugging
    with vscode(project, {VIEWS: [{"line": line_of(project, VIEWS, RETURN)}]}) as editor:
        conn, stopped, request = editor.stop_on("/blogs")
        frame = editor.top(conn, stopped)["id"]
        count = conn.request("evaluate", expression="len(titles)", frameId=frame, context="watch")
        shouted = conn.request("evaluate", expression="' | '.join(t.upper() for t in titles[:2])", frameId=frame, context="repl")
        conn.request("continue", threadId=stopped["threadId"])
        titles = request.done()["body"]["response"]
        assert count["result"] == str(len(titles)), count
        assert shouted["result"] == repr(" | ".join(t.upper() for t in titles[:2])), shouted


@pytest.mark.remote
def test_a_conditional_breakpoint_stops_only_when_its_condition_holds(debugging: Project) -> None:
    project = debugging
    condition = "any(t == 'stop on this title' for t in titles)"
    with vscode(project, {VIEWS: [{"line": line_of(project, VIEWS, RETURN), "condition": condition}]}) as editor:
        for _ in range(3):
            assert Request(project, "/blogs").done()["status"] == 200  # no stop: the condition is false
        assert not any(conn.take("stopped") for conn in editor.session.connections())
        assert project.http("POST", "/blogs", {"title": "stop on this title"})[0] == 201
        conn, stopped, request = editor.stop_on("/blogs")
        assert stopped["reason"] == "breakpoint"
        conn.request("continue", threadId=stopped["threadId"])
        assert "stop on this title" in request.done()["body"]["response"]


@pytest.mark.remote
def test_debug_wait_holds_the_app_until_vscode_attaches_while_web_starts(project: Project) -> None:
    done = project.invoke("debug", "--wait")
    assert "once a debugger attaches" in done.stdout
    states = project.states()
    assert states["web"].ready and states["app"].status == "running"
    assert project.get("/", timeout=2)[0] == 0, "the app answered before a debugger attached"
    project.invoke("vscode")
    with vscode(project, {}):
        wait_until(lambda: project.get("/", timeout=2)[0] == 200, timeout=30, what="the app serving after attach")


def test_up_after_debug_returns_to_normal_mode(debugging: Project) -> None:
    project = debugging
    project.invoke("up")
    app = project.app()
    assert app.mode == "normal"
    assert all(b.host_port != project.ports["DEBUG_PORT"] for b in app.bindings)
    assert project.get("/") == (200, {"response": "Hello from Docker!"})
