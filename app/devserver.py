"""The dev image's server: serves the Flask app from /code and reloads it on every save, fast.

Part of the tooling, not of the app (that is src/). A long-lived parent holds the listening
socket and has already imported Flask and the app's dependencies. It keeps a spare child
forked ahead of time (and, under debugpy, already attached to the debugger) that has imported
nothing of the user's. On a change the serving child stops accepting (it finishes the
requests it has) and the spare imports the code on disk and serves; then a new spare is
forked. Connections that arrive meanwhile wait in the socket's backlog, so none is refused
and none accepted after the save is answered by the old code.

- Changes: inotify on the source tree only (no polling of sys.path); on mounts where inotify
  does not see the host's writes (Docker Desktop's file sharing, WSL2 drives) it also polls
  the tree's .py files. DEVSERVER_WATCH=inotify|poll|auto (default auto).
- A SyntaxError (or any import error) leaves the server answering 500 with the traceback;
  the next good save is served.
- Under debugpy, each forked child attaches to the debugger by itself (debugpy follows
  fork), so breakpoints keep working after a reload.
- SIGHUP reloads (`invoke reload`); SIGTERM/SIGINT stop.

Usage: python devserver.py [--host H] [--port P] [--no-debugger]   (FLASK_APP names the app)
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import errno
import os
import select
import selectors
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOURCE = Path(os.environ.get("DEVSERVER_SOURCE", "/code"))
DEBOUNCE = 0.01  # seconds of quiet after a change before reloading: one save, one reload
POLL_INTERVAL = 0.5
RETIRE_TIMEOUT = 0.2  # how long a retiring child may take to stop accepting before it is killed
DRAIN = 5.0  # how long a retired child may finish the requests it had accepted
GO = b"g"
QUIET_PATH = os.environ.get("DEVSERVER_QUIET_PATH", "/healthz")  # requests not logged
# Filesystems on which the host's writes raise no inotify event inside the container.
NO_INOTIFY_FS = {"fakeowner", "grpcfuse", "fuse.grpcfuse", "osxfs", "fuse.osxfs", "9p", "drvfs", "cifs", "smb3", "nfs", "nfs4"}

IN_CLOSE_WRITE, IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE, IN_DELETE = 0x8, 0x40, 0x80, 0x100, 0x200
IN_DELETE_SELF, IN_MOVE_SELF, IN_Q_OVERFLOW, IN_ISDIR = 0x400, 0x800, 0x4000, 0x40000000
WATCH_MASK = IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF
EVENT = struct.Struct("iIII")

_libc = ctypes.CDLL(None, use_errno=True)


def log(message: str) -> None:
    """Print a line of the server's own."""
    print(f" * devserver: {message}", file=sys.stderr, flush=True)


def relevant(name: str) -> bool:
    """Whether a changed file name can change what the app serves (editor droppings cannot)."""
    return name.endswith(".py") and not name.startswith((".#", "."))


class Inotify:
    """inotify on a directory tree, through libc."""

    def __init__(self, root: Path) -> None:
        self.fd = _libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.dirs: dict[int, Path] = {}
        self.add_tree(root)

    def add_tree(self, root: Path) -> None:
        """Watch root and every directory below it."""
        for path in [root, *(p for p in root.rglob("*") if p.is_dir() and "__pycache__" not in p.parts)]:
            wd = _libc.inotify_add_watch(self.fd, os.fsencode(path), WATCH_MASK)
            if wd >= 0:
                self.dirs[wd] = path

    def changes(self) -> list[str]:
        """Read the pending events; return the relevant paths (or a reason) that changed."""
        found = []
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return found
            offset = 0
            while offset < len(data):
                wd, mask, _cookie, length = EVENT.unpack_from(data, offset)
                name = data[offset + EVENT.size : offset + EVENT.size + length].rstrip(b"\0").decode(errors="replace")
                offset += EVENT.size + length
                if mask & IN_Q_OVERFLOW:
                    found.append("(event queue overflowed)")
                elif mask & IN_ISDIR and mask & (IN_CREATE | IN_MOVED_TO):
                    self.add_tree(self.dirs.get(wd, SOURCE) / name)
                    found.append(f"{name}/")
                elif mask & (IN_DELETE_SELF | IN_MOVE_SELF) and wd in self.dirs:
                    found.append(f"{self.dirs.pop(wd)}/")
                elif relevant(name):
                    found.append(str(self.dirs.get(wd, SOURCE) / name))


class Poller:
    """Stat polling of the tree's .py files, for mounts inotify cannot see through."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.seen = self.snapshot()

    def snapshot(self) -> dict[str, tuple[int, int]]:
        """Return (mtime, size) of every relevant file."""
        out = {}
        for path in self.root.rglob("*.py"):
            if "__pycache__" not in path.parts and relevant(path.name):
                try:
                    st = path.stat()
                except OSError:
                    continue
                out[str(path)] = (st.st_mtime_ns, st.st_size)
        return out

    def changes(self) -> list[str]:
        """Return the files added, removed or changed since the last call."""
        now = self.snapshot()
        changed = [p for p in now.keys() | self.seen.keys() if now.get(p) != self.seen.get(p)]
        self.seen = now
        return changed


def mount_fstype(root: Path, mountinfo: str) -> str:
    """Return the filesystem type of the mount that holds root, from /proc/self/mountinfo text."""
    best, fstype = "", ""
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields = left.split()
        if len(fields) < 5 or not right:
            continue
        point = fields[4]
        inside = point == "/" or str(root) == point or str(root).startswith(point + "/")
        if inside and len(point) > len(best):
            best, fstype = point, right.split()[0]
    return fstype


def watch_mode(root: Path, environ: dict[str, str] | None = None, mountinfo: str | None = None) -> str:
    """Return inotify, poll or both, from DEVSERVER_WATCH or the source mount's filesystem."""
    chosen = (os.environ if environ is None else environ).get("DEVSERVER_WATCH", "auto")
    if chosen not in ("auto", "inotify", "poll", "both"):
        raise SystemExit(f"devserver: DEVSERVER_WATCH must be auto, inotify, poll or both, not {chosen!r}")
    if chosen != "auto":
        return chosen
    if mountinfo is None:
        try:
            mountinfo = Path("/proc/self/mountinfo").read_text()
        except OSError:
            return "poll"
    return "both" if mount_fstype(root, mountinfo) in NO_INOTIFY_FS else "inotify"


def load_app(no_debugger: bool) -> Any:
    """Import the user's app (FLASK_APP) or, if that fails, an app that shows why."""
    try:
        from flask.cli import ScriptInfo

        app = ScriptInfo(app_import_path=os.environ.get("FLASK_APP")).load_app()
        if not no_debugger:
            from werkzeug.debug import DebuggedApplication

            app = DebuggedApplication(app, evalex=True)
        return app
    except BaseException:  # whatever the user's code raises, keep serving
        trace = traceback.format_exc()
        sys.stderr.write(trace)

        def failing(environ: Any, start_response: Any) -> list[bytes]:
            start_response("500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain; charset=utf-8")])
            return [f"The app failed to load; fix it and save.\n\n{trace}".encode()]

        return failing


@dataclass
class Pipes:
    """A child's lines to and from the parent (each end as seen from the child's side)."""

    report: int  # child -> parent: the modules to preload
    control: int  # parent -> child: GO (start serving), then anything: retire
    ack: int  # child -> parent: "stopped accepting"


def serve(listener: socket.socket, host: str, port: int, no_debugger: bool, pipes: Pipes) -> None:
    """The child: wait for GO, load the app, report its dependencies, serve until told to retire."""
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: never outlive the parent
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    # A spare waits here, already forked (and attached to the debugger, if any), with nothing of
    # the user's code imported yet; GO means "the code on disk now is what to serve".
    if os.read(pipes.control, 1) != GO:
        os._exit(0)
    started = time.monotonic()
    app = load_app(no_debugger)
    from werkzeug.serving import WSGIRequestHandler, make_server

    in_flight = InFlight()

    class Handler(WSGIRequestHandler):
        # One request per connection: a kept-alive connection would let this process answer
        # requests sent after a save, with the old code.
        protocol_version = "HTTP/1.0"

        def handle(self) -> None:
            with in_flight:
                super().handle()

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            # The healthcheck polls every 2 s; its verdict shows in `invoke status`, not the log.
            if self.path != QUIET_PATH:
                super().log_request(code, size)

    server = make_server(host, port, app, threaded=True, fd=listener.fileno(), request_handler=Handler)
    listener.close()
    if getattr(app, "pin", None):
        log(f"Werkzeug debugger PIN: {app.pin}")
    log(f"serving {os.environ.get('FLASK_APP', 'the app')} (pid {os.getpid()}, loaded in {1000 * (time.monotonic() - started):.0f} ms)")
    deps = sorted(name for name, mod in list(sys.modules.items()) if _is_dependency(mod))
    with os.fdopen(pipes.report, "w") as report:
        report.write("\n".join(deps))
    with selectors.DefaultSelector() as selector:
        selector.register(server.socket, selectors.EVENT_READ)
        selector.register(pipes.control, selectors.EVENT_READ)
        while not any(key.fd == pipes.control for key, _ in selector.select()):
            server._handle_request_noblock()  # socketserver's accept-and-dispatch step
    # Retire: accept nothing more (the next child takes the backlog), say so, and let the
    # requests already accepted finish on the code they started with.
    server.socket.close()
    os.write(pipes.ack, b".")
    in_flight.wait_idle(DRAIN)
    os._exit(0)


class InFlight:
    """Counts the requests being handled."""

    def __init__(self) -> None:
        self.count = 0
        self.idle = threading.Condition()

    def __enter__(self) -> None:
        with self.idle:
            self.count += 1

    def __exit__(self, *_exc: object) -> None:
        with self.idle:
            self.count -= 1
            self.idle.notify_all()

    def wait_idle(self, timeout: float) -> None:
        """Wait until no request is in flight, or timeout."""
        with self.idle:
            self.idle.wait_for(lambda: self.count == 0, timeout)


def _is_dependency(module: Any) -> bool:
    """Whether a loaded module comes from outside the user's source tree."""
    path = getattr(module, "__file__", None) or ""
    return bool(path) and not path.startswith(f"{SOURCE}{os.sep}")


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


class Server:
    """The parent: owns the socket and the watcher; a serving child and a spare, forked ahead."""

    def __init__(self, host: str, port: int, no_debugger: bool, mode: str) -> None:
        self.host, self.port, self.no_debugger, self.mode = host, port, no_debugger, mode
        self.listener = socket.create_server((host, port), backlog=128)
        self.listener.set_inheritable(True)
        self.current: Child | None = None
        self.spare: Child | None = None
        self.wakeup_fd = -1

    def fork_child(self) -> Child:
        """Fork a child that waits for GO before importing anything of the user's."""
        report_r, report_w = os.pipe()
        control_r, control_w = os.pipe()
        ack_r, ack_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            inherited = [fd for c in (self.current, self.spare) if c for fd in c.fds()]
            for fd in (report_r, control_w, ack_r, *inherited):
                with contextlib.suppress(OSError):
                    os.close(fd)
            signal.set_wakeup_fd(-1)
            try:
                serve(self.listener, self.host, self.port, self.no_debugger, Pipes(report_w, control_r, ack_w))
            finally:
                os._exit(1)
        for fd in (report_w, control_r, ack_w):
            os.close(fd)
        return Child(pid, report_r, control_w, ack_r)

    def promote(self) -> None:
        """Make the spare (or, if there is none yet, a new child) the serving one."""
        child, self.spare = self.spare or self.fork_child(), None
        os.write(child.control, GO)
        self.current = child

    def retire(self, child: Child) -> None:
        """Make a serving child stop accepting; kill it if it cannot say so at once."""
        with contextlib.suppress(OSError):
            os.write(child.control, b".")
        if not select.select([child.ack], [], [], RETIRE_TIMEOUT)[0] or not os.read(child.ack, 1):
            # Still loading, paused in a debugger, or hung: it cannot serve stale code if it is gone.
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)
        self.close(child)

    def close(self, child: Child) -> None:
        """Close the parent's ends of a child's pipes."""
        for fd in child.fds():
            with contextlib.suppress(OSError):
                os.close(fd)
        child.report = child.control = child.ack = -1

    def stop_all(self) -> None:
        """Kill the children and reap them."""
        for child in (self.current, self.spare):
            if child:
                with contextlib.suppress(ChildProcessError, ProcessLookupError):
                    os.kill(child.pid, signal.SIGKILL)
                    os.waitpid(child.pid, 0)
        self.current = self.spare = None

    def reap(self) -> None:
        """Reap exited children; say so when the serving one exited by itself."""
        with contextlib.suppress(ChildProcessError):
            while True:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    return
                if self.current and pid == self.current.pid:
                    self.close(self.current)
                    self.current = None
                    log(f"the app process exited ({os.waitstatus_to_exitcode(status)}); save a file to restart it")
                elif self.spare and pid == self.spare.pid:
                    self.close(self.spare)
                    self.spare = None

    def reload(self, why: str) -> None:
        """Replace the serving child by the spare, which then imports the code on disk now."""
        started = time.monotonic()
        if self.current:
            self.retire(self.current)
        had_spare = self.spare is not None
        self.promote()
        how = "spare" if had_spare else "new process"
        log(f"reloading for {why} (old process retired, {how} told to serve in {1000 * (time.monotonic() - started):.1f} ms)")

    def changes(self) -> Iterator[list[str]]:
        """Yield batches of changes (or SIGHUP), each after DEBOUNCE of quiet; keep a spare ready."""
        inotify = Inotify(SOURCE) if self.mode in ("inotify", "both") else None
        poller = Poller(SOURCE) if self.mode in ("poll", "both") else None
        log(f"watching {SOURCE} for changes ({self.mode})")
        while True:
            report = self.current.report if self.current else -1
            fds = [fd for fd in (inotify.fd if inotify else -1, self.wakeup_fd, report) if fd >= 0]
            ready = select.select(fds, [], [], POLL_INTERVAL if poller else None)[0]
            changed: list[str] = []
            if self.wakeup_fd in ready:
                signals = os.read(self.wakeup_fd, 512)
                if signal.SIGCHLD in signals:
                    self.reap()
                if signal.SIGHUP in signals:
                    changed.append("SIGHUP")
            if self.current and report in ready:
                # The serving child is up: preload what it imported, then fork the next spare.
                preload(report)
                self.current.report = -1
                if self.spare is None:
                    self.spare = self.fork_child()
            if inotify and inotify.fd in ready:
                changed += inotify.changes()
                deadline = time.monotonic() + 0.5
                # Debounce: one save can be several events; reload once, after the last.
                while time.monotonic() < deadline and select.select([inotify.fd], [], [], DEBOUNCE)[0]:
                    changed += inotify.changes()
            if poller:
                changed += poller.changes()
            if changed:
                yield changed

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
        log(f"listening on http://{self.host}:{self.port}")
        self.promote()
        try:
            for changed in self.changes():
                unique = sorted(set(changed))
                self.reload(", ".join(unique[:3]) + (" ..." if len(unique) > 3 else ""))
        finally:
            self.stop_all()


def _stop(_signum: int, _frame: Any) -> None:
    """Leave the serve loop (the child is killed on the way out)."""
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description="Serve the Flask app and reload it on every save.")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--no-debugger", action="store_true", help="no Werkzeug debugger (use with debugpy)")
    args = parser.parse_args(argv)
    os.environ.setdefault("FLASK_DEBUG", "1")
    sys.path.insert(0, str(SOURCE))
    os.chdir(SOURCE)
    import flask  # noqa: F401 -- the parent imports Flask once, for every child

    try:
        Server(args.host, args.port, args.no_debugger, watch_mode(SOURCE)).run()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise SystemExit(f"devserver: port {args.port} is already in use") from None
        raise


if __name__ == "__main__":
    main()
