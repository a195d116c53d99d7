"""Sync mode (devloop/edits/sync.py, devloop/syncer.py): app/src copied into the app through the Engine API. On the remote
engine (ssh://) and the current one it is chosen by itself, for a checkout that engine does not
see; on this machine's engine DEVLOOP_EDITS=sync forces it. Each kind of change is served without
a restart, and nothing is lost in a burst of saves.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from devloop import syncer
from devloop.edits import sync
from tests.support.engines import CONTAINER_VAR
from tests.support.harness import Project, copy_project
from tests.support.waiting import wait_until

pytestmark = pytest.mark.remote

VIEWS = "app/src/blog/views.py"
HELLO = '"Hello from Docker!"'


@pytest.fixture(scope="module")
def synced() -> Iterator[Project]:
    """A stack up in sync mode, in a copy the current engine cannot see (or forced on this machine's)."""
    folder = Path(tempfile.mkdtemp(prefix="devloop-sync-", dir="/var/tmp"))
    project = copy_project(folder / "blog", prefix="sync")
    if not os.environ.get(CONTAINER_VAR):
        project.env["DEVLOOP_EDITS"] = "sync"
    try:
        done = project.invoke("up")
        assert "edits     sync of app/src through the Engine API: in sync" in done.stdout, done.stdout
        yield project
    finally:
        project.teardown()
        shutil.rmtree(folder, ignore_errors=True)


def serves(project: Project, text: str) -> None:
    """Wait until GET / answers with text."""
    wait_until(lambda: project.get("/", timeout=5)[1] == {"response": text}, timeout=10, interval=0.05, what=f"{text!r} served")


def code_listing(project: Project) -> dict[str, str]:
    """Return /code in the app container as {path: md5}, caches left out."""
    app = project.client.containers.get(project.app().container_id)
    out = app.exec_run(["sh", "-c", "cd /code && find . -type f ! -path '*/__pycache__/*' -exec md5sum {} +"]).output.decode()
    return {line.split(None, 1)[1].strip()[2:]: line.split()[0] for line in out.splitlines() if line.strip()}


def host_listing(project: Project) -> dict[str, str]:
    """Return app/src as {path: md5}, as sync mode sends it."""
    tree = syncer.Tree(project.root / "app/src")
    return {rel: hashlib.md5((tree.folder / rel).read_bytes()).hexdigest() for rel in tree.files()}


def test_every_kind_of_change_is_served_in_the_same_container(synced: Project) -> None:
    project = synced
    container = project.app().container_id
    assert project.get("/") == (200, {"response": "Hello from Docker!"})
    assert not any(m["Destination"] == "/code" for m in project.client.containers.get(container).attrs["Mounts"])
    project.edit(VIEWS, HELLO, '"Hello, synced!"')
    serves(project, "Hello, synced!")
    extra = project.root / "app/src/blog/extra"
    extra.mkdir()
    (extra / "__init__.py").write_text('WORDS = "from a new package"\n')
    project.edit(VIEWS, '"Hello, synced!"', "__import__('blog.extra', fromlist=['WORDS']).WORDS")
    serves(project, "from a new package")
    extra.rename(project.root / "app/src/blog/renamed")  # a renamed package: only its folder is reported
    project.edit(VIEWS, "'blog.extra'", "'blog.renamed'")
    serves(project, "from a new package")
    project.edit(VIEWS, "def hello() -> Response:", "def hello( -> Response:")
    wait_until(lambda: project.get("/", timeout=5)[0] == 500, timeout=10, interval=0.05, what="the syntax error answered")
    project.edit(VIEWS, "def hello( -> Response:", "def hello() -> Response:")
    project.edit(VIEWS, "__import__('blog.renamed', fromlist=['WORDS']).WORDS", HELLO)
    shutil.rmtree(project.root / "app/src/blog/renamed")
    serves(project, "Hello from Docker!")
    wait_until(lambda: code_listing(project) == host_listing(project), timeout=10, interval=0.2, what="/code equal to app/src")
    app = project.client.containers.get(container)
    owners = app.exec_run(["sh", "-c", "find /code/blog -printf '%u\\n' | sort -u"]).output.decode().split()
    assert owners == ["app"], owners
    assert project.app().container_id == container


def test_a_burst_of_100_saves_leaves_code_equal_to_app_src(synced: Project) -> None:
    project = synced
    scratch = project.root / "app/src/blog/burst.py"
    for n in range(100):
        scratch.write_text(f"N = {n}\n")
        if n % 10 == 0:
            (project.root / f"app/src/blog/burst_{n}.py").write_text(f"M = {n}\n")
        if n % 20 == 10:
            (project.root / f"app/src/blog/burst_{n - 10}.py").unlink()
    wait_until(lambda: sync.process(project.root, project.name).read().get("state") == sync.IN_SYNC, timeout=10, what="in sync")
    wait_until(lambda: code_listing(project) == host_listing(project), timeout=10, interval=0.2, what="/code equal to app/src")
    assert code_listing(project)["blog/burst.py"] == hashlib.md5(b"N = 99\n").hexdigest()
    log = (project.root / f".devloop/sync-{project.name}.log").read_text()
    assert re.search(r"copied all of .* files\n", log) and re.search(r"sent \d+ file\(s\), removed \d+ path\(s\) in \d+ ms", log), log


def test_invoke_sync_says_its_state_and_follows_each_change_it_sends(synced: Project) -> None:
    project = synced
    assert project.invoke("sync").stdout.startswith("edits     sync of app/src through the Engine API: in sync (pid ")
    watcher = subprocess.Popen(
        [sys.executable, "-m", "invoke", "sync", "--follow"],
        cwd=project.root,
        env={**os.environ, **project.env},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stdout is not None and "in sync" in watcher.stdout.readline()
        (project.root / "app/src/blog/followed.py").write_text("X = 1\n")
        line = watcher.stdout.readline()  # blocks until the syncer logs the change (the test's timeout bounds it)
        assert re.search(r"sent 1 file\(s\), removed 0 path\(s\) in \d+ ms", line), line
    finally:
        watcher.terminate()
        watcher.wait(10)
        (project.root / "app/src/blog/followed.py").unlink()
    elsewhere = copy_project(project.root.parent / "never-synced", prefix="never")
    refused = elsewhere.invoke("sync", check=False)
    assert refused.returncode == 1, refused
    assert refused.stderr.strip() == "error: this stack has never synced app/src: `invoke status` says how edits reach it"


def test_doctor_times_a_save_through_the_sync_and_down_stops_it(synced: Project) -> None:
    project = synced
    line = next(line for line in project.invoke("doctor").stdout.splitlines() if " edits: " in line)
    assert line.startswith("ok       edits: a save under app/src reached the dev server in ") and "sync of app/src" in line, line
    assert "sync of app/src through the Engine API: in sync" in project.invoke("status").stdout
    pid = sync.process(project.root, project.name).running()["pid"]
    project.invoke("down")
    wait_until(lambda: not sync.process(project.root, project.name).running(), timeout=10, what="the syncer stopped")
    wait_until(lambda: exited(pid), timeout=10, what="the syncer's process ended")


def exited(pid: int) -> bool:
    """Whether a process has ended (gone, or a zombie its new parent has not reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True
