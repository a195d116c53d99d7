"""The parent's side of its children: fork one (it waits for GO), retire it, close its pipes, preload what it used."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass

from .child import Job, Pipes, serve

RETIRE_TIMEOUT = 0.2  # how long a retiring child may take to stop accepting before it is killed
STOP_TIMEOUT = float(os.environ.get("DEVSERVER_STOP_TIMEOUT", "10"))  # a process' grace after SIGTERM, as Docker's stop


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


def fork(job: Job, others: Iterable[Child | None]) -> Child:
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
            serve(job, Pipes(report_w, control_r, ack_w))
        finally:
            os._exit(1)
    for fd in (report_w, control_r, ack_w):
        os.close(fd)
    return Child(pid, report_r, control_w, ack_r)


def stop(child: Child, timeout: float = STOP_TIMEOUT) -> None:
    """Stop a running process (a worker) as Docker stops a container: SIGTERM, then SIGKILL after timeout; reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(child.pid, os.WNOHANG)[0] == 0:
            if time.monotonic() > deadline:
                os.kill(child.pid, signal.SIGKILL)
                os.waitpid(child.pid, 0)
                break
            time.sleep(0.005)
    close(child)


def end(child: Child, job: Job) -> None:
    """End a child's turn: retire a server (stop accepting, finish what it has), stop a process."""
    if job.process:
        stop(child)
    else:
        retire(child)


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
        # A C accelerator imported before its package (`_asyncio` before `asyncio`, in sorted order) is made twice on
        # Python 3.11, and asyncio.current_task() then answers None: the public modules import theirs as they should.
        if name not in sys.modules and not name.startswith("_"):
            try:
                __import__(name)
            except Exception:  # a module that cannot preload is imported by the child
                continue
