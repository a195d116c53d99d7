"""A source folder that is a view of another (bindfs, a FUSE filesystem: what a WSL2 `/mnt/c` drive or a Docker Desktop
share is like): the editor saves behind the view, where no inotify event reaches the container. Needs this machine's
own engine (the view is mounted here after the engines in containers started), so it is left out on the others.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.harness import Project
from tests.support.waiting import wait_until

pytestmark = pytest.mark.host_engine

HELLO = '"Hello from Docker!"'


@pytest.fixture
def behind_a_view(down: Project) -> Iterator[tuple[Project, Path]]:
    """The copy's app/src made a bindfs view of a folder beside it (the real one, where the editor writes)."""
    project = down
    source, real = project.root / "app/src", project.root.parent / "real-src"
    shutil.copytree(source, real)
    (real / ".devloop-source").write_text(secrets.token_hex(8) + "\n")  # another folder: `up` recreates the app on it
    if shutil.which("bindfs") is None:
        pytest.fail("bindfs is not installed (Debian: apt-get install bindfs; .ci/run installs it)", pytrace=False)
    mounted = subprocess.run(["bindfs", "-o", "nonempty", str(real), str(source)], capture_output=True, text=True, check=False)
    assert mounted.returncode == 0, f"bindfs failed: {mounted.stderr.strip()}"
    try:
        yield project, real
    finally:
        project.invoke("down", check=False)
        subprocess.run(["umount", str(source)], check=False)
        shutil.rmtree(real)


def test_saves_behind_a_fuse_view_are_served_in_half_a_second_and_doctor_and_status_say_poll(behind_a_view: tuple[Project, Path]) -> None:
    project, real = behind_a_view
    project.invoke("up")
    status = project.invoke("status").stdout
    assert f"watching  inotify and polling every 0.25 s: /code is a fuse mount (of {real})" in status, status
    line = next(line for line in project.invoke("doctor").stdout.splitlines() if " edits: " in line)
    pattern = rf"ok +edits: a save to {re.escape(str(real))}, the folder behind app/src where an editor writes, "
    pattern += r"reached the dev server in \d+ ms \(polling\)"
    assert re.match(pattern, line), line
    before, views, previous = project.app().container_id, real / "blog/views.py", HELLO
    for n in range(1, 4):  # FUSE caches a file's attributes for up to 1 s: without asking past it, most saves are late
        text = f"Hello from behind the view, save {n}!"
        views.write_text(views.read_text().replace(previous, f'"{text}"'))  # as the editor saves it
        started = time.monotonic()
        answer = (200, {"response": text})
        wait_until(lambda a=answer: project.get("/", timeout=2) == a, timeout=0.5, interval=0.02, what=f"save {n} served")
        print(f"save {n} served {time.monotonic() - started:.2f} s after it was made")
        previous = f'"{text}"'
        time.sleep(0.3)
    assert project.app().container_id == before
