"""The dev image's server: serves the Flask app from /code and reloads it on every save, fast.

Part of the tooling, not of the app (that is src/). A long-lived parent holds the listening
socket and has already imported Flask and the app's dependencies; on a change it kills the
serving child and forks a fresh one, which imports only the user's code. Connections that
arrive meanwhile wait in the socket's backlog, so none is refused and none is answered by
the old code once the new child serves.

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
import signal
import socket
import struct
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SOURCE = Path(os.environ.get("DEVSERVER_SOURCE", "/code"))
DEBOUNCE = 0.01  # seconds of quiet after a change before reloading: one save, one reload
POLL_INTERVAL = 0.5
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


def watch_mode(root: Path) -> str:
    """Return inotify, poll or both, from DEVSERVER_WATCH or the source mount's filesystem."""
    chosen = os.environ.get("DEVSERVER_WATCH", "auto")
    if chosen != "auto":
        return chosen
    best, fstype = "", ""
    try:
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            left, _, right = line.partition(" - ")
            mount_point = left.split()[4]
            if str(root).startswith(mount_point) and len(mount_point) > len(best):
                best, fstype = mount_point, right.split()[0]
    except OSError:
        return "poll"
    return "both" if fstype in NO_INOTIFY_FS else "inotify"


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


def serve(listener: socket.socket, host: str, port: int, no_debugger: bool, report_fd: int) -> None:
    """The child: load the app, tell the parent which modules to preload, serve until killed."""
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: never outlive the parent
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    started = time.monotonic()
    app = load_app(no_debugger)
    from werkzeug.serving import make_server

    server = make_server(host, port, app, threaded=True, fd=listener.fileno())
    if getattr(app, "pin", None):
        log(f"Werkzeug debugger PIN: {app.pin}")
    log(f"serving {os.environ.get('FLASK_APP', 'the app')} (pid {os.getpid()}, loaded in {1000 * (time.monotonic() - started):.0f} ms)")
    deps = sorted(name for name, mod in list(sys.modules.items()) if _is_dependency(mod))
    with os.fdopen(report_fd, "w") as report:
        report.write("\n".join(deps))
    server.serve_forever()


def _is_dependency(module: Any) -> bool:
    """Whether a loaded module comes from outside the user's source tree."""
    path = getattr(module, "__file__", None) or ""
    return bool(path) and not path.startswith(str(SOURCE))


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


class Server:
    """The parent: owns the socket and the watcher, and (re)starts the serving child."""

    def __init__(self, host: str, port: int, no_debugger: bool) -> None:
        self.host, self.port, self.no_debugger = host, port, no_debugger
        self.listener = socket.create_server((host, port), backlog=128)
        self.listener.set_inheritable(True)
        self.child = 0
        self.report_fd = -1
        self.wakeup_fd = -1

    def start_child(self) -> None:
        """Fork a child that serves the current code."""
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            signal.set_wakeup_fd(-1)
            try:
                serve(self.listener, self.host, self.port, self.no_debugger, write_fd)
            finally:
                os._exit(1)
        os.close(write_fd)
        if self.report_fd >= 0:
            os.close(self.report_fd)
        self.child, self.report_fd = pid, read_fd

    def stop_child(self) -> None:
        """Kill the serving child and reap it."""
        if self.child:
            with contextlib.suppress(ChildProcessError, ProcessLookupError):
                os.kill(self.child, signal.SIGKILL)
                os.waitpid(self.child, 0)
            self.child = 0

    def reap(self) -> None:
        """Notice a child that exited by itself (its replacement starts on the next change)."""
        with contextlib.suppress(ChildProcessError):
            while True:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    return
                if pid == self.child:
                    self.child = 0
                    log(f"the app process exited ({os.waitstatus_to_exitcode(status)}); save a file to restart it")

    def reload(self, why: str) -> None:
        """Replace the serving child."""
        started = time.monotonic()
        self.stop_child()
        self.start_child()
        log(f"reloading for {why} (old process stopped, new one forked in {1000 * (time.monotonic() - started):.1f} ms)")

    def changes(self) -> Iterator[list[str]]:
        """Yield batches of changes (or SIGHUP), each after DEBOUNCE of quiet."""
        mode = watch_mode(SOURCE)
        inotify = Inotify(SOURCE) if mode in ("inotify", "both") else None
        poller = Poller(SOURCE) if mode in ("poll", "both") else None
        log(f"watching {SOURCE} for changes ({mode})")
        while True:
            fds = [fd for fd in (inotify.fd if inotify else -1, self.wakeup_fd, self.report_fd) if fd >= 0]
            ready = select.select(fds, [], [], POLL_INTERVAL if poller else None)[0]
            changed: list[str] = []
            if self.wakeup_fd in ready:
                signals = os.read(self.wakeup_fd, 512)
                if signal.SIGCHLD in signals:
                    self.reap()
                if signal.SIGHUP in signals:
                    changed.append("SIGHUP")
            if self.report_fd in ready:
                fd, self.report_fd = self.report_fd, -1
                preload(fd)
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
        self.start_child()
        try:
            for changed in self.changes():
                unique = sorted(set(changed))
                self.reload(", ".join(unique[:3]) + (" ..." if len(unique) > 3 else ""))
        finally:
            self.stop_child()


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
        Server(args.host, args.port, args.no_debugger).run()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise SystemExit(f"devserver: port {args.port} is already in use") from None
        raise


if __name__ == "__main__":
    main()
