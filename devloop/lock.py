"""One task at a time per project: two `invoke up` at once would make two networks of one name."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import DevloopError
from .state import STATE_DIR
from .waiting import wait_until

try:
    import fcntl
except ImportError:  # native Windows: no flock (WSL2 has it)
    fcntl = None  # type: ignore[assignment]

WAIT = 600.0


def _try_lock(fd: int) -> bool:
    """Take the lock if it is free."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def exclusive(root: Path, project: str, task: str, out: Callable[[str], None] = print, wait: float = WAIT) -> Iterator[None]:
    """Hold the project's lock while a task changes its stack; wait (saying for whom) if another holds it."""
    if fcntl is None:
        yield
        return
    path = root / STATE_DIR / f"{project}.lock"
    try:
        path.parent.mkdir(exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise DevloopError(f"cannot open the lock file {path}: {exc.strerror}") from None
    try:
        if not _try_lock(fd):
            # The holder writes who it is just after it takes the lock.
            holder = wait_until(lambda: os.pread(fd, 200, 0).decode(errors="replace").strip(), 1.0) or "another task"
            out(f"waiting: {holder} is working on this stack (Ctrl-C to stop waiting)")
            if not wait_until(lambda: _try_lock(fd), wait, interval=0.2):
                raise DevloopError(f"{holder} still holds {path} after {wait:.0f}s: let it finish, or stop it")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"`invoke {task}` (pid {os.getpid()})".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # so the next waiter never names a task that has ended
    finally:
        os.close(fd)  # releases the lock
