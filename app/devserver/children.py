"""The parent's side of its children: fork one (it waits for GO), retire it, close its pipes, preload what it used."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from .child import Pipes, serve

RETIRE_TIMEOUT = 0.2  # how long a retiring child may take to stop accepting before it is killed


@dataclass
class Child:
    """A forked child, from the parent's side of its pipes."""

    pid: int
    report: int
    control: int
    ack: int

    def fds(self) -> tuple[int, int, int]:
        """The parent's ends of the child's pipes."""
        return self.report, self.control, self.ack


def fork(listener: socket.socket, host: str, port: int, no_debugger: bool, others: Iterable[Child | None]) -> Child:
    """Fork a child that waits for GO before importing anything of the user's."""
    report_r, report_w = os.pipe()
    control_r, control_w = os.pipe()
    ack_r, ack_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        inherited = [fd for c in others if c for fd in c.fds()]
        for fd in (report_r, control_w, ack_r, *inherited):
            with contextlib.suppress(OSError):
                os.close(fd)
        signal.set_wakeup_fd(-1)
        try:
            serve(listener, host, port, no_debugger, Pipes(report_w, control_r, ack_w))
        finally:
            os._exit(1)
    for fd in (report_w, control_r, ack_w):
        os.close(fd)
    return Child(pid, report_r, control_w, ack_r)


def retire(child: Child) -> None:
    """Make a serving child stop accepting; kill it if it cannot say so at once."""
    with contextlib.suppress(OSError):
        os.write(child.control, b".")
    if not select.select([child.ack], [], [], RETIRE_TIMEOUT)[0] or not os.read(child.ack, 1):
        # Still loading, paused in a debugger, or hung: it cannot serve stale code if it is gone.
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGKILL)
    close(child)


def close(child: Child) -> None:
    """Close the parent's ends of a child's pipes."""
    for fd in child.fds():
        with contextlib.suppress(OSError):
            os.close(fd)
    child.report = child.control = child.ack = -1


def kill(child: Child) -> None:
    """Kill a child and reap it."""
    with contextlib.suppress(ChildProcessError, ProcessLookupError):
        os.kill(child.pid, signal.SIGKILL)
        os.waitpid(child.pid, 0)


def preload(report_fd: int) -> None:
    """Import in the parent the dependencies the last child used, so later children skip them."""
    with os.fdopen(report_fd) as report:
        names = report.read().split()
    for name in names:
        if name not in sys.modules and name != "__main__":
            try:
                __import__(name)
            except Exception:  # a module that cannot preload is imported by the child
                continue
