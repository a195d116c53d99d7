"""One task at a time per project: a second one waits, saying which task holds the stack."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from devloop import lock
from tests.support.harness import ROOT

SECOND = "import pathlib, sys; from devloop import lock\nwith lock.exclusive(pathlib.Path(sys.argv[1]), 'p', 'down'): print('got it')"


def test_a_second_task_waits_for_the_first_and_names_it(tmp_path: Path) -> None:
    def first() -> None:
        with lock.exclusive(tmp_path, "p", "up", lambda _: None):
            time.sleep(1)

    holder = threading.Thread(target=first)
    holder.start()
    time.sleep(0.2)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", SECOND, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=30)
    holder.join()
    assert done.stdout.splitlines() == [
        f"waiting: `invoke up` (pid {os.getpid()}) is working on this stack (Ctrl-C to stop waiting)",
        "got it",
    ]
    assert time.monotonic() - started >= 0.5
    assert (tmp_path / ".devloop" / "p.lock").read_text() == "", "a released lock names nobody"
