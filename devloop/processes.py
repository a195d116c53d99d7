"""The background processes devloop leaves running (the sync, SSH connections), known by the pid
in a state file: alive only if that pid still runs the same program, so a pid reused after a
reboot is never taken for ours, nor signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path


def alive(pid: object, marker: str) -> bool:
    """Whether pid runs a process whose command line contains marker."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.parent.is_dir():
        return True  # no /proc (macOS): the pid alone has to do
    with contextlib.suppress(OSError):
        return marker.encode() in cmdline.read_bytes()
    return False


def terminate(pid: object, marker: str) -> None:
    """Ask that process to end, if it is still the one we started."""
    if alive(pid, marker):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)  # type: ignore[arg-type]
