"""The dev server (app/devserver): its watchers, and a real run of it on this host (no Docker)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from devserver import fresh, gate, parent, watchers

from tests.support.harness import ROOT
from tests.support.http import get as http_get
from tests.support.net import free_port
from tests.support.waiting import wait_until

MOUNTINFO = """\
22 1 0:21 / / rw,relatime - overlay overlay rw
35 22 8:1 /work/app/src /code rw,relatime - ext4 /dev/vda rw
36 22 0:50 / /code-win rw - 9p drvfs rw
37 22 0:51 / /codebase rw - fakeowner fakeowner rw
38 22 0:52 /blog /code-fuse rw - fuse /home/me/real rw,user_id=0,group_id=0,allow_other
39 22 0:53 / /code-new rw - someday-fs whatever rw
"""


@pytest.mark.parametrize(
    ("name", "relevant"),
    [("views.py", True), ("pkg.py", True), (".#views.py", False), (".views.py.swp", False), ("views.py~", False), ("notes.txt", False)],
)
def test_only_python_sources_count_as_changes(name: str, relevant: bool) -> None:
    assert watchers.relevant(name) is relevant


def test_only_local_filesystems_are_trusted_to_raise_events_others_are_polled_too() -> None:
    def mode(path: str, environ: dict[str, str] | None = None) -> str:
        return watchers.choose(Path(path), environ or {}, MOUNTINFO).mode

    assert mode("/code") == mode("/code/blog") == "inotify"
    assert mode("/codebase") == mode("/code-win/x") == mode("/code-fuse") == mode("/code-new") == "both"
    assert mode("/code", {"DEVSERVER_WATCH": "poll"}) == "poll"
    fuse = watchers.choose(Path("/code-fuse/blog"), {}, MOUNTINFO)
    assert fuse.mount == watchers.Mount("/code-fuse", "fuse", "/home/me/real", "/blog")
    assert fuse.describe() == (
        "inotify and polling every 0.25 s: /code-fuse/blog is a fuse mount (of /home/me/real), where a save made beyond it "
        "raises no event in the container"
    )
    assert watchers.choose(Path("/code"), {}, MOUNTINFO).describe().startswith("inotify: /code is on ext4, a local filesystem")
    with pytest.raises(SystemExit, match="DEVSERVER_WATCH must be"):
        watchers.choose(Path("/code"), {"DEVSERVER_WATCH": "sometimes"}, MOUNTINFO)


def test_the_choice_is_recorded_for_status_and_doctor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watchers, "WATCH_RECORD", tmp_path / "watch.json")
    monkeypatch.setattr(watchers, "PROBE_SEEN", tmp_path / "seen")
    watchers.watchers(tmp_path, watchers.choose(tmp_path, {}, MOUNTINFO.replace("/code-fuse", str(tmp_path))))
    recorded = json.loads((tmp_path / "watch.json").read_text())
    assert recorded["mode"] == "both" and recorded["mount"]["source"] == "/home/me/real" and recorded["interval"] == 0.25


def test_inotify_sees_saves_new_packages_and_ignores_editor_droppings(tmp_path: Path) -> None:
    watcher = watchers.Inotify(tmp_path)
    (tmp_path / "views.py").write_text("x = 1\n")
    (tmp_path / ".views.py.swp").write_text("")
    time.sleep(0.05)
    assert set(watcher.changes()) == {str(tmp_path / "views.py")}
    (tmp_path / "pkg").mkdir()
    time.sleep(0.05)
    assert set(watcher.changes()) == {"pkg/"}
    (tmp_path / "pkg" / "mod.py").write_text("")
    time.sleep(0.05)
    assert str(tmp_path / "pkg" / "mod.py") in watcher.changes()
    assert watcher.changes() == []


def test_poller_sees_added_changed_and_removed_files(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("1")
    poller = watchers.Poller(tmp_path)
    assert poller.changes() == []
    (tmp_path / "a.py").write_text("22")
    (tmp_path / "b.py").write_text("")
    assert sorted(poller.changes()) == [str(tmp_path / "a.py"), str(tmp_path / "b.py")]
    (tmp_path / "b.py").unlink()
    assert poller.changes() == [str(tmp_path / "b.py")]


def test_a_forced_stat_reads_what_os_stat_reads_and_fails_as_it_does(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("12345")
    assert fresh.works()
    assert fresh.forced(str(tmp_path / "a.py")) == fresh.cached(str(tmp_path / "a.py")) == (os.stat(tmp_path / "a.py").st_mtime_ns, 5)
    with pytest.raises(FileNotFoundError):
        fresh.forced(str(tmp_path / "gone.py"))


def test_polls_that_stay_costly_fall_back_to_cached_attributes_and_still_see_saves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.py").write_text("1")
    poller = watchers.Poller(tmp_path)
    assert poller.stat is fresh.forced
    monkeypatch.setattr(watchers, "COSTLY_POLL", 0.0)
    for _ in range(watchers.COSTLY_TIMES - 1):
        assert poller.changes() == [] and poller.stat is fresh.forced
    assert poller.changes() == [] and poller.stat is fresh.cached  # the same values: no change reported by the switch
    (tmp_path / "a.py").write_text("22")
    assert poller.changes() == [str(tmp_path / "a.py")]


def test_the_doctors_probe_is_answered_by_either_watcher_and_never_reloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, seen = tmp_path / "src", tmp_path / "seen"
    source.mkdir()
    monkeypatch.setattr(watchers, "PROBE_SEEN", seen)
    monkeypatch.setattr(watchers, "WATCH_RECORD", tmp_path / "watch.json")
    watchers.watchers(source, watchers.Choice("inotify", "a test"))
    assert seen.read_text() == "- watching\n"  # a dev server that answers probes says so at once
    inotify, poller = watchers.Inotify(source), watchers.Poller(source)
    (source / watchers.PROBE).write_text("token-1\n")
    time.sleep(0.05)
    assert inotify.changes() == [] and seen.read_text() == "token-1 inotify\n"
    (source / watchers.PROBE).write_text("token-22\n")  # another size: a new mtime alone can share a tick
    assert poller.changes() == [] and seen.read_text() == "token-22 polling\n"
    assert poller.changes() == [] and seen.read_text() == "token-22 polling\n"


APP = """\
import os

from flask import Flask

def create_app():
    app = Flask(__name__)

    @app.get("/")
    def hello():
        return {"response": "one"}

    @app.get("/pid")
    def pid():
        return {"response": os.getpid()}

    return app
"""


def get(port: int, path: str = "/") -> tuple[int, Any]:
    return http_get(f"http://127.0.0.1:{port}{path}", timeout=5)


def eventually(check: Any, timeout: float = 10) -> Any:
    return wait_until(check, timeout, interval=0.02)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, int]]:
    source = tmp_path / "src"
    (source / "hello").mkdir(parents=True)
    (source / "hello" / "__init__.py").write_text(APP)
    port = free_port()
    env = {**os.environ, "DEVSERVER_SOURCE": str(source), "APP_MODULE": "hello", "PYTHONPATH": str(ROOT / "app")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "devserver", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        eventually(lambda: get(port) == (200, {"response": "one"}))
        yield proc, source, port
    finally:
        proc.kill()
        proc.wait(10)


def test_a_save_is_served_by_a_new_process_and_a_syntax_error_is_survived(server: tuple[subprocess.Popen[str], Path, int]) -> None:
    proc, source, port = server
    app = source / "hello" / "__init__.py"
    app.write_text(APP.replace('"one"', '"two"'))
    eventually(lambda: get(port) == (200, {"response": "two"}))
    app.write_text(APP.replace("def hello():", "def hello(:"))
    _, body = eventually(lambda: (r := get(port))[0] == 500 and r)
    assert "SyntaxError" in body
    app.write_text(APP.replace('"one"', '"three"'))
    eventually(lambda: get(port) == (200, {"response": "three"}))
    assert proc.poll() is None


def test_sighup_reloads_and_sigterm_stops_every_process(server: tuple[subprocess.Popen[str], Path, int]) -> None:
    proc, _, port = server
    before = get(port, "/pid")[1]["response"]
    proc.send_signal(signal.SIGHUP)
    eventually(lambda: get(port, "/pid")[1]["response"] != before)
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert len(children) == 2, "a serving child and a spare"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    time.sleep(0.2)
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_a_folder_inotify_cannot_watch_is_reported_and_polled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    (tmp_path / "pkg").mkdir()

    def full(self: Any, path: Path, mask: int) -> int:
        raise OSError(28, "No space left on device")  # ENOSPC: the watch limit

    monkeypatch.setattr(watchers.INotify, "add_watch", full)
    monkeypatch.setattr(watchers, "WATCH_RECORD", tmp_path / "watch.json")
    found = watchers.watchers(tmp_path, watchers.Choice("inotify", "a test"))
    assert [type(w).__name__ for w in found] == ["Inotify", "Poller"]
    assert "fs.inotify.max_user_watches" in capsys.readouterr().err


def test_an_app_that_exits_while_loading_gets_a_503_not_a_hang(server: tuple[subprocess.Popen[str], Path, int]) -> None:
    _, source, port = server
    app = source / "hello" / "__init__.py"
    app.write_text("import os\nos._exit(3)\n")
    _, body = eventually(lambda: (r := get(port))[0] == 503 and r)
    assert "the app process exited (3)" in body
    app.write_text(APP.replace('"one"', '"back"'))
    eventually(lambda: get(port) == (200, {"response": "back"}))


def test_a_safe_write_rename_away_pause_rename_in_serves_no_error(server: tuple[subprocess.Popen[str], Path, int]) -> None:
    _, source, port = server
    app = source / "hello" / "__init__.py"
    seen: list[int] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            seen.append(get(port)[0])
            time.sleep(0.005)

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        for n in range(5):
            temp = app.with_name("__init__.py___jb_tmp___")
            temp.write_text(APP.replace('"one"', f'"safe {n}"'))
            app.rename(app.with_name("__init__.py___jb_old___"))
            time.sleep(0.02)
            temp.rename(app)
            app.with_name("__init__.py___jb_old___").unlink()
            eventually(lambda n=n: get(port) == (200, {"response": f"safe {n}"}))
    finally:
        stop.set()
        thread.join(10)
    assert seen and set(seen) == {200}, sorted(set(seen))


def test_a_replaced_source_directory_is_said_plainly(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    held = os.open(source, os.O_RDONLY)  # as a bind mount holds it
    try:
        assert not parent.source_replaced(source)
        source.rmdir()
        source.mkdir()  # `git checkout -- app/src`: a new directory, the container keeps the old
        assert parent.source_replaced(Path(f"/proc/self/fd/{held}"))
    finally:
        os.close(held)


ROUTE = """\
Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth0	00000000	0100A8C0	0003	0	0	0	00000000	0	0	0
eth0	0000A8C0	00000000	0001	0	0	0	00F0FFFF	0	0	0
"""


def test_the_debugger_gate_lets_in_loopback_and_the_gateway_only(monkeypatch: pytest.MonkeyPatch) -> None:
    assert gate.gateways(ROUTE) == {"192.168.0.1"}
    assert gate.allowed_peers({"DEBUGPY_ALLOW": "any"}) is None
    monkeypatch.setattr(gate, "Path", lambda _: type("P", (), {"read_text": lambda self: ROUTE})())
    assert gate.allowed_peers({}) == {"127.0.0.1", "192.168.0.1"}


ASGI = """\
import asyncio

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    task = asyncio.current_task() is not None  # None after a reload once meant an asyncio made twice
    body = ('{"response": "one", "task": %s}' % str(task).lower()).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
"""

WORKER = """\
import time

def main():
    print("worker: version one", flush=True)
    while True:
        time.sleep(0.05)
"""


def run_devserver(tmp_path: Path, files: dict[str, str], *args: str, **env: str) -> tuple[subprocess.Popen[str], Path, int]:
    """The dev server on this host, serving (or running) the given source files; its output is kept in a file."""
    source = tmp_path / "src"
    for name, text in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    port = free_port()
    environ = {**os.environ, "DEVSERVER_SOURCE": str(source), "PYTHONPATH": str(ROOT / "app"), **env}
    environ |= {"DEVSERVER_WATCH_RECORD": str(tmp_path / "watch.json"), "DEVSERVER_PROBE_SEEN": str(tmp_path / "seen")}
    with (tmp_path / "out.log").open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "devserver", "--host", "127.0.0.1", "--port", str(port), *args],
            env=environ,
            stdout=out,
            stderr=out,
            text=True,
        )
    return proc, source, port


@pytest.mark.parametrize(
    ("spec", "asgi"),
    [("blog:create_app()", False), ("hello", False), ("main:app", True)],
)
def test_app_module_names_an_app_in_the_forms_users_know_and_what_it_speaks_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: str, asgi: bool
) -> None:
    (tmp_path / "hello").mkdir()
    (tmp_path / "hello" / "__init__.py").write_text(APP)
    (tmp_path / "main.py").write_text(ASGI)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(ROOT / "app" / "src"))
    from devserver import apps

    assert apps.is_asgi(apps.load(spec)) is asgi
    with pytest.raises(ImportError, match=r"main has no nothing \(APP_MODULE='main:nothing'\)"):
        apps.load("main:nothing")


def test_an_asgi_app_is_served_by_uvicorn_and_reloads_with_asyncio_intact(tmp_path: Path) -> None:
    proc, source, port = run_devserver(tmp_path, {"main.py": ASGI}, APP_MODULE="main:app")
    try:
        eventually(lambda: get(port) == (200, {"response": "one", "task": True}))
        for n in ("two", "three"):  # children forked after the parent preloaded asyncio's modules
            (source / "main.py").write_text(ASGI.replace('"one"', f'"{n}"'))
            eventually(lambda n=n: get(port) == (200, {"response": n, "task": True}))
        (source / "main.py").write_text(ASGI.replace("async def app(", "async def app(("))
        _, body = eventually(lambda: (r := get(port))[0] == 500 and r)
        assert "SyntaxError" in body  # a broken ASGI app is shown by the WSGI error page, and the server stays
        (source / "main.py").write_text(ASGI)
        eventually(lambda: get(port) == (200, {"response": "one", "task": True}))
    finally:
        proc.kill()
        proc.wait(10)


def test_a_process_is_stopped_and_its_pre_imported_spare_runs_the_saved_code(tmp_path: Path) -> None:
    proc, source, _ = run_devserver(tmp_path, {"work.py": WORKER}, "--process", "work:main")
    log = tmp_path / "out.log"
    try:
        eventually(lambda: "worker: version one" in log.read_text())
        (source / "work.py").write_text(WORKER.replace("version one", "version two"))
        eventually(lambda: "worker: version two" in log.read_text())
        assert re.search(r"reloading for .*work.py \(old process retired", log.read_text())
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait(10)


def test_the_dev_image_installs_the_dev_servers_pinned_tools() -> None:
    pins = [line for line in (ROOT / "app/devserver/requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    install = next(line for line in (ROOT / "app/Dockerfile").read_text().splitlines() if "pip install debugpy" in line)
    assert install.split("pip install ", 1)[1].split() == pins
