"""The debugger gate's other half: it runs debug mode's program (debugpy, and the dev server under it), passes signals
on to it, ends with it, and starts it again when debugpy's adapter stopped answering (the gate says when)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from . import log

STOP_TIMEOUT = 5.0
READY_TIMEOUT = 60.0
LISTEN = "0A"  # the state column of /proc/net/tcp


def listening(port: int) -> bool:
    """Whether something listens on the port in this container (read from /proc: connecting would use it up)."""
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return False
    return any(len(cols) > 3 and cols[3] == LISTEN and int(cols[1].rsplit(":", 1)[1], 16) == port for cols in map(str.split, lines))


def adapters(client_port: int) -> list[int]:
    """The pids of debugpy adapters serving clients on that port in this container (they daemonize: not our children)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if b"--for-server" in argv and b"--port" in argv and argv[argv.index(b"--port") + 1 :][:1] == [str(client_port).encode()]:
                found.append(int(proc.name))
    return found


class Supervisor:
    """Runs one program; `restart` replaces it (and its debug adapter) while `run` keeps waiting."""

    def __init__(self, argv: list[str], client_port: int) -> None:
        self.argv, self.client_port = argv, client_port
        self.proc: subprocess.Popen[bytes] | None = None
        self.lock = threading.Lock()
        self.restarts = 0

    def start(self) -> None:
        """Start the program."""
        self.proc = subprocess.Popen(self.argv)

    def ready(self, timeout: float = READY_TIMEOUT) -> bool:
        """Wait until the program's debug adapter listens for clients; False if it does not within timeout."""
        deadline = time.monotonic() + timeout
        while not listening(self.client_port):
            if time.monotonic() > deadline or (self.proc and self.proc.poll() is not None):
                return False
            time.sleep(0.05)
        return True

    def restart(self, why: str, generation: int) -> bool:
        """Start the program again, unless another restart already did since `generation`; return whether this one did."""
        with self.lock:
            if generation != self.restarts:
                return False
            old = self.proc
            log(f"debugger gate: debugpy stopped answering ({why}); restarting it and the app (pid {old.pid if old else '-'})")
            self.restarts += 1
            for pid in adapters(self.client_port):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            if old:
                old.terminate()
                try:
                    old.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    old.kill()
                    old.wait()
            self.start()
            return True

    def forward(self, signum: int, _frame: object = None) -> None:
        """Pass a signal on to the program (SIGHUP: reload; SIGTERM, SIGINT: stop)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signum)

    def run(self) -> int:
        """Wait for the program, across restarts; return its exit code once it ends by itself or is stopped."""
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self.forward)
        while True:
            proc = self.proc
            assert proc is not None
            code = proc.wait()
            with self.lock:
                if proc is self.proc:
                    return code
