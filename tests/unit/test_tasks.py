"""The tasks: their help, and their refusals (clear one line, exit 1, nothing started)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from typing import Any, ClassVar

import pytest
from invoke import Exit, MockContext

import tasks
from devloop import engine, modes, settings
from devloop.commands import Result
from devloop.errors import DevloopError
from devloop.places.here import Here
from devloop.runtime import Runtime
from devloop.stack import Stack
from tests.support.harness import ROOT
from tests.support.net import free_port
from tests.support.waiting import wait_until

from .conftest import FakeCli


class RecordingStack:
    """Stands in for Stack and records what a task asked of it."""

    calls: ClassVar[list[str]] = []

    def __init__(self, settings: settings.Settings, mode: modes.Mode = modes.NORMAL) -> None:
        self.settings, self.mode = settings, mode
        RecordingStack.calls.append(f"init {mode.name}")

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> Any:
            RecordingStack.calls.append(name)
            return []

        return record


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    RecordingStack.calls = []
    monkeypatch.setattr(tasks, "Stack", RecordingStack)
    monkeypatch.setattr(tasks, "running_stack", lambda settings: RecordingStack(settings))
    return RecordingStack.calls


def test_list_shows_every_task_with_one_line_help() -> None:
    out = subprocess.run([sys.executable, "-m", "invoke", "--list"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in ("setup", "doctor", "build", "up", "down", "logs", "reload", "debug", "status", "shell", "vscode"):
        assert f"  {name} " in out


def test_help_documents_every_flag_of_up() -> None:
    out = subprocess.run([sys.executable, "-m", "invoke", "--help", "up"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "--build" in out and "--debug" in out


def test_down_volumes_without_tty_refuses_and_stops_nothing(recorded: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    with pytest.raises(Exit, match="pass --yes"):
        tasks.down(MockContext(), volumes=True)
    assert "down" not in recorded


def test_down_volumes_asks_on_a_tty_and_no_keeps_everything(recorded: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    with pytest.raises(Exit, match="nothing done"):
        tasks.down(MockContext(), volumes=True)
    assert "down" not in recorded


def test_down_volumes_yes_deletes_without_asking(recorded: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail("asked"))
    tasks.down(MockContext(), volumes=True, yes=True)
    assert "down" in recorded


def test_plain_down_keeps_data(recorded: list[str]) -> None:
    tasks.down(MockContext())
    assert recorded[-1] == "down"


def test_bad_tail_is_one_line(recorded: list[str]) -> None:
    with pytest.raises(Exit, match=r"--tail must be a number or 'all'"):
        tasks.logs(MockContext(), tail="lots")


def test_bad_target_is_one_line(recorded: list[str]) -> None:
    with pytest.raises(Exit, match="--target must be dev or prod"):
        tasks.build(MockContext(), target="staging")
    assert recorded == []


def test_debug_wait_selects_the_wait_mode(recorded: list[str]) -> None:
    tasks.debug(MockContext(), wait=True)
    assert recorded[:3] == ["init debug-wait", "require_engine", "up"]


class PortStack(Runtime):
    """A stack on this machine's engine (as Docker 20.10 answers), which reports no containers of ours."""

    place = Here("unix:///var/run/docker.sock")

    @property
    def client(self) -> Any:
        return Engine2010()

    def states(self) -> dict[str, engine.ServiceState]:
        return {}


def test_a_taken_port_names_the_port_and_its_setting(project: Any) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        stack = PortStack(settings.load(project, environ={"WEB_PORT": str(port), "APP_PORT": str(free_port())}))
        with pytest.raises(Exception, match=rf"port {port} on 127.0.0.1 is already in use \(WEB_PORT\).*set WEB_PORT"):
            stack.check_ports()


def test_debug_mode_also_checks_the_debug_port(project: Any) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        s = settings.load(project, environ={"DEBUG_PORT": str(port), "APP_PORT": str(free_port()), "WEB_PORT": str(free_port())})
        PortStack(s, mode=modes.NORMAL).check_ports()
        with pytest.raises(DevloopError, match=rf"port {port} on 127.0.0.1 is already in use \(DEBUG_PORT\)"):
            PortStack(s, mode=modes.DEBUG).check_ports()


class BuildFails(FakeCli):
    """Compose whose model has an app to build, and whose build fails at a pip step."""

    def capture(self, argv, env=None, timeout=None, cwd=None):  # type: ignore[no-untyped-def]
        self.calls.append(list(argv))
        return Result(0, json.dumps({"services": {"app": {"build": {"context": "."}}, "db": {}}}))

    def stream(self, argv, env=None):  # type: ignore[no-untyped-def]
        self.calls.append(list(argv))
        output = (
            "#7 [app 4/5] RUN pip install -r requirements.txt\n"
            "#7 ERROR: No matching distribution found for flask==99\n"
            "failed to solve: exit code: 1\n"
        )
        return Result(1, output, output)


class Engine2010:
    """An engine that answers as Docker 20.10 does, and has nothing."""

    def ping(self) -> bool:
        return True

    def version(self) -> dict[str, str]:
        return {"ApiVersion": "1.41"}


class OfflineStack(Runtime):
    """A stack on a stand-in engine, for the decisions made before Compose runs."""

    @property
    def client(self) -> Any:
        return Engine2010()


def test_a_build_failure_names_the_failing_step(project: Any) -> None:
    stack = Stack(settings.load(project, environ={}), runtime=OfflineStack(settings.load(project, environ={}), cli=BuildFails()))
    with pytest.raises(DevloopError, match=r"^build of app failed: failed to solve: exit code: 1$"):
        stack.build()
    with pytest.raises(DevloopError, match=r"unknown service db: choose from app"):
        stack.build(["db"])


def test_a_denied_docker_socket_is_the_same_one_line_from_every_task(project: Any, tmp_path: Any) -> None:
    # A socket this user may not open: as root permissions are not enforced, so run as nobody.
    script = (
        "import socket, os; s = socket.socket(socket.AF_UNIX); s.bind('{sock}'); os.chmod('{sock}', 0); s.listen(); "
        "import time; time.sleep(60)"
    )
    sock = tmp_path / "docker.sock"
    holder = subprocess.Popen([sys.executable, "-c", script.format(sock=sock)])
    try:
        wait_until(sock.exists, timeout=10, what="the socket")
        env = {"DOCKER_HOST": f"unix://{sock}", "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
        for argv in (["status"], ["logs"], ["up"], ["down"], ["build"], ["doctor"]):
            done = subprocess.run(
                ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m", "invoke", *argv],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            out = done.stdout + done.stderr
            assert done.returncode != 0, argv
            assert "permission denied on the Docker socket" in out and "add your user to the docker group (or use sudo)" in out, (argv, out)
            assert "Traceback" not in out and "needs root" not in out, (argv, out)
    finally:
        holder.kill()
