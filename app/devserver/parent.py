"""The parent process: owns the socket and the watchers; a serving child and a spare, forked ahead."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import SOURCE, children, log
from .child import GO, Job
from .watchers import Choice, Watcher, watchers

DEBOUNCE = 0.01  # seconds of quiet after a change before reloading: one save, one reload
DEBOUNCE_MAX = 0.5
# An editor's "safe write" renames the old file away and the new one in: wait this long for a
# file that vanished to come back before loading code without it.
MISSING_GRACE = 0.5
BACKLOG = 1024  # connections that wait while a spare takes over (and under bursts)
SOURCE_REPLACED = (
    "the source directory {source} was deleted or replaced on the host, and this container still sees the old one "
    "(a bind mount keeps the directory it was given): run `invoke reload` or `invoke up`, which recreate the container"
)


def source_replaced(root: Path = SOURCE) -> bool:
    """Whether the source directory was deleted (or replaced) on the host: a bind mount keeps the old one."""
    try:
        return os.stat(root).st_nlink == 0
    except FileNotFoundError:
        return True


def vanished(path: str) -> bool:
    """Whether a changed source file no longer exists (deleted, or renamed away for now)."""
    return path.endswith(".py") and not os.path.exists(path)


class Server:
    """The parent: forks children that serve, and swaps them on every change."""

    def __init__(self, host: str, port: int, no_debugger: bool, mode: Choice, process: str = "") -> None:
        listener = None if process else socket.create_server((host, port), backlog=BACKLOG)
        if listener:
            listener.set_inheritable(True)
        self.job, self.mode = Job(listener, host, port, no_debugger, process), mode
        self.current: children.Child | None = None
        self.spare: children.Child | None = None
        self.wakeup_fd = -1
        self.down_reason = ""  # why no child serves (it exited by itself), answered as 503

    def fork_child(self) -> children.Child:
        """Fork a child that waits for GO before importing anything of the user's."""
        return children.fork(self.job, (self.current, self.spare))

    def promote(self) -> None:
        """Make the spare (or, if there is none yet, a new child) the serving one."""
        child, self.spare = self.spare or self.fork_child(), None
        os.write(child.control, GO)
        self.current = child

    def stop_all(self) -> None:
        """Kill the children and reap them."""
        for child in (self.current, self.spare):
            if child:
                children.kill(child)
        self.current = self.spare = None

    def reap(self) -> None:
        """Reap exited children; say so when the serving one exited by itself."""
        with contextlib.suppress(ChildProcessError):
            while True:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    return
                if self.current and pid == self.current.pid:
                    children.close(self.current)
                    self.current = None
                    self.down_reason = f"the app process exited ({os.waitstatus_to_exitcode(status)}); save a file to restart it"
                    log(self.down_reason)
                elif self.spare and pid == self.spare.pid:
                    children.close(self.spare)
                    self.spare = None

    def swap(self, why: str) -> None:
        """Replace the serving child by the spare, which then imports the code on disk now."""
        started = time.monotonic()
        if self.current:
            children.end(self.current, self.job)
        had_spare = self.spare is not None
        self.down_reason = ""
        self.promote()
        how = "spare" if had_spare else "new process"
        log(f"reloading for {why} (old process retired, {how} told to serve in {1000 * (time.monotonic() - started):.1f} ms)")

    def changes(self, watching: list[Watcher]) -> Iterator[list[str]]:
        """Yield batches of changes (or SIGHUP), each after DEBOUNCE of quiet; keep a spare ready."""
        timeout = min((w.timeout for w in watching if w.timeout), default=None)
        quiet = [w for w in watching if w.fileno() >= 0]
        while True:
            report = self.current.report if self.current else -1
            # With no child serving, the parent answers the waiting requests itself.
            orphaned = self.job.listener.fileno() if self.current is None and self.job.listener else -1
            fds = [fd for fd in (*(w.fileno() for w in quiet), self.wakeup_fd, report, orphaned) if fd >= 0]
            ready = select.select(fds, [], [], timeout)[0]
            changed: list[str] = []
            if orphaned in ready:
                answer_unavailable(self.job.listener, self.down_reason)  # type: ignore[arg-type]
            if self.wakeup_fd in ready:
                signals = os.read(self.wakeup_fd, 512)
                if signal.SIGCHLD in signals:
                    self.reap()
                if signal.SIGHUP in signals:
                    changed.append("SIGHUP")
            if self.current and report in ready:
                # The serving child is up: preload what it imported, then fork the next spare.
                children.preload(report)
                self.current.report = -1
                if self.spare is None:
                    self.spare = self.fork_child()
            for watcher in watching:
                if watcher.fileno() < 0 or watcher.fileno() in ready:
                    changed += self._debounced(watcher)
            if changed:
                yield changed

    def _debounced(self, watcher: Any) -> list[str]:
        """Read a watcher's changes until it has been quiet for DEBOUNCE (one save, one reload),
        and a little longer while a file that vanished may be coming back."""
        changed = watcher.changes()
        if watcher.fileno() < 0 or not changed:
            return changed
        started = time.monotonic()
        while True:
            now = time.monotonic()
            if now - started < DEBOUNCE_MAX and select.select([watcher.fileno()], [], [], DEBOUNCE)[0]:
                changed += watcher.changes()
            elif now - started < MISSING_GRACE and any(vanished(path) for path in changed):
                if select.select([watcher.fileno()], [], [], DEBOUNCE)[0]:
                    changed += watcher.changes()
            else:
                return changed

    def stand_down(self, why: str) -> None:
        """Stop serving the app and answer every request with 503 and why, until the next swap."""
        if self.current:
            children.end(self.current, self.job)
            self.current = None
        if self.down_reason != why:
            log(why)
        self.down_reason = why

    def run(self) -> None:
        """Serve and reload until told to stop."""
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)
        self.wakeup_fd = read_fd
        signal.set_wakeup_fd(write_fd)
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGHUP, lambda *_: None)  # handled through the wakeup fd
        signal.signal(signal.SIGCHLD, lambda *_: None)
        log(f"running {self.job.process}" if self.job.process else f"listening on http://{self.job.host}:{self.job.port}")
        watching = watchers(SOURCE, self.mode)  # before the first child runs: a save from then on is seen
        self.promote()
        try:
            for changed in self.changes(watching):
                if source_replaced():
                    self.stand_down(SOURCE_REPLACED.format(source=SOURCE))
                    continue
                unique = sorted(set(changed))
                self.swap(", ".join(unique[:3]) + (" ..." if len(unique) > 3 else ""))
        finally:
            self.stop_all()


def answer_unavailable(listener: socket.socket, reason: str) -> None:
    """Answer one waiting request with 503 and why no app process serves it."""
    try:
        conn, _ = listener.accept()
    except OSError:
        return
    with conn:
        body = f"{reason}\n".encode()
        head = f"HTTP/1.0 503 SERVICE UNAVAILABLE\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n\r\n"
        with contextlib.suppress(OSError):
            conn.settimeout(1)
            conn.sendall(head.encode() + body)


def _stop(_signum: int, _frame: Any) -> None:
    """Leave the serve loop (the children are killed on the way out)."""
    raise SystemExit(0)
