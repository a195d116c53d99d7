"""The programs devloop leaves running between tasks (the sync, the SSH connections): one life
cycle for all of them. Each has a state file (its pid and what it reports), a log of what it
printed, and counts as running only while its pid still runs the same program
(devloop/processes.py), so a pid reused after a reboot is never taken for ours, nor signalled.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import processes, state
from .commands import Cli
from .waiting import wait_until


class Ended(Exception):
    """The program exited before it was ready; `output` is what it printed meanwhile."""

    def __init__(self, output: str) -> None:
        super().__init__(output)
        self.output = output


class Background:
    """One background program: started through the command seam, known by its state file."""

    def __init__(self, state_file: Path, log: Path, program: str, cli: Cli | None = None) -> None:
        self.state_file, self.log, self.program, self.cli = state_file, log, program, cli or Cli()

    def read(self) -> dict[str, Any]:
        """Return its last recorded state ({} when it never ran)."""
        return state.read_json(self.state_file)

    def update(self, **fields: Any) -> None:
        """Record these fields of its state (the others are kept)."""
        state.write_json(self.state_file, {**self.read(), **fields, "at": time.time()})

    def alive(self) -> bool:
        """Whether its recorded pid still runs this program."""
        return processes.alive(self.read().get("pid"), self.program)

    def running(self) -> dict[str, Any]:
        """Return its state while it runs ({} when it does not)."""
        found = self.read()
        return found if processes.alive(found.get("pid"), self.program) else {}

    def start(self, argv: Sequence[str], ready: Callable[[], bool], timeout: float, cwd: Path | None = None, **fields: Any) -> bool:
        """Stop the one that runs, record fields, start anew and wait until ready(); False after timeout (it is
        stopped then). Raise Ended with its output when it exits first, FileNotFoundError when there is no such program."""
        self.stop()
        self.update(pid=None, **fields)
        offset = self.log.stat().st_size if self.log.exists() else 0
        proc = self.cli.spawn(argv, self.log, cwd=cwd)
        self.update(pid=proc.pid)

        def up() -> bool:
            if ready():
                return True
            if proc.poll() is not None:
                raise Ended(self.printed(offset))
            return False

        if wait_until(up, timeout, interval=0.02):
            return True
        self.stop()
        return False

    def printed(self, offset: int = 0) -> str:
        """Return what it printed to its log since that offset."""
        try:
            with self.log.open("rb") as log:
                log.seek(offset)
                return log.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, **fields: Any) -> None:
        """End it if it runs (SIGTERM), and record that, with these fields."""
        found = self.read()
        processes.terminate(found.get("pid"), self.program)
        if found:
            self.update(pid=None, **fields)

    def forget(self) -> None:
        """Stop it and delete its state file."""
        processes.terminate(self.read().get("pid"), self.program)
        self.state_file.unlink(missing_ok=True)
