"""A child process: waits for GO, imports the user's code, serves it (or runs it) until told to retire."""

from __future__ import annotations

import ctypes
import os
import selectors
import signal
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any

from . import SOURCE, apps, log

GO = b"g"
DRAIN = 5.0  # how long a retired child may finish the requests it had accepted
QUIET_PATH = os.environ.get("DEVSERVER_QUIET_PATH", "/healthz")  # requests not logged
PR_SET_PDEATHSIG = 1


@dataclass
class Pipes:
    """A child's lines to and from the parent (each end as seen from the child's side)."""

    report: int  # child -> parent: the modules to preload
    control: int  # parent -> child: GO (start serving), then anything: retire
    ack: int  # child -> parent: "stopped accepting"


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


@dataclass(frozen=True)
class Job:
    """What a child does once told to go: serve the app on the parent's socket, or run a process (a worker)."""

    listener: socket.socket | None
    host: str = "0.0.0.0"
    port: int = 0
    no_debugger: bool = False
    process: str = ""  # MODULE:FUNCTION to run instead of serving APP_MODULE


def load_app(no_debugger: bool) -> Any:
    """Import the user's app (APP_MODULE) or, if that fails, a WSGI app that shows why."""
    try:
        app = apps.debug_flask(apps.load(apps.app_spec()))
        if apps.is_asgi(app):
            return stops_the_debugger(app, asgi=True)
        if not no_debugger:
            from werkzeug.debug import DebuggedApplication

            app = DebuggedApplication(app, evalex=True)
        return stops_the_debugger(app)
    except BaseException:  # whatever the user's code raises, keep serving
        trace = traceback.format_exc()
        sys.stderr.write(trace)

        def failing(environ: Any, start_response: Any) -> list[bytes]:
            start_response("500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain; charset=utf-8")])
            return [f"The app failed to load; fix it and save.\n\n{trace}".encode()]

        return failing


def stops_the_debugger(app: Any, asgi: bool = False) -> Any:
    """Under debugpy, make an exception that escapes the app stop the debugger as an uncaught one does (VS Code's default
    "Uncaught Exceptions" filter): the server catches it, so debugpy would not. WSGI: before the 500 is sent."""
    debugpy = sys.modules.get("debugpy")
    if debugpy is None or not hasattr(debugpy, "trigger_exception_handler"):
        return app

    def wsgi(environ: Any, start_response: Any) -> Any:
        try:
            return app(environ, start_response)
        except Exception:
            debugpy.trigger_exception_handler()  # stops only if the client's filters ask for uncaught exceptions
            raise

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        try:
            await app(scope, receive, send)
        except Exception:
            debugpy.trigger_exception_handler()
            raise

    return asgi_app if asgi else wsgi


def is_dependency(module: Any) -> bool:
    """Whether a loaded module comes from outside the user's source tree."""
    path = getattr(module, "__file__", None) or ""
    return bool(path) and not path.startswith(f"{SOURCE}{os.sep}")


def make_server(listener: socket.socket, host: str, port: int, app: Any, in_flight: InFlight) -> Any:
    """Return Werkzeug's threaded server on the inherited socket, one request per connection."""
    from werkzeug.serving import WSGIRequestHandler
    from werkzeug.serving import make_server as werkzeug_server

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

    return werkzeug_server(host, port, app, threaded=True, fd=listener.fileno(), request_handler=Handler)


def accept_one(server: Any) -> None:
    """Accept one connection and hand it to a handler thread (socketserver's public steps)."""
    try:
        request, address = server.get_request()
    except OSError:
        return  # the client gave up before it was accepted
    if server.verify_request(request, address):
        try:
            server.process_request(request, address)
        except Exception:
            server.handle_error(request, address)
            server.shutdown_request(request)
    else:
        server.shutdown_request(request)


def serve(job: Job, pipes: Pipes) -> None:
    """The child: wait for GO, load the user's code, report its dependencies, serve (or run) until told to retire."""
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # never outlive the parent
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    # A spare waits here, already forked (and attached to the debugger, if any), with nothing of
    # the user's code imported yet; GO means "the code on disk now is what to serve".
    if os.read(pipes.control, 1) != GO:
        os._exit(0)
    started = time.monotonic()
    if job.process:
        run_process(job.process, pipes, started)
    app = load_app(job.no_debugger)
    if apps.is_asgi(app):
        from . import asgi

        config = asgi.prepare(app)
        loaded(apps.app_spec(), pipes, started)
        asgi.serve(config, job.listener, pipes.control, pipes.ack)  # type: ignore[arg-type]
        os._exit(0)
    serve_wsgi(job, app, pipes, started)


def loaded(what: str, pipes: Pipes, started: float) -> None:
    """Say the user's code is loaded, and tell the parent which dependencies to preload for the next child."""
    log(f"serving {what} (pid {os.getpid()}, loaded in {1000 * (time.monotonic() - started):.0f} ms)")
    deps = sorted(name for name, mod in list(sys.modules.items()) if is_dependency(mod))
    with os.fdopen(pipes.report, "w") as report:
        report.write("\n".join(deps))


def run_process(spec: str, pipes: Pipes, started: float) -> None:
    """Run a process' main (a worker) until it returns or the parent stops it (SIGTERM); a failure to load is said."""
    try:
        main = apps.load(spec)
    except BaseException:
        traceback.print_exc()
        log(f"{spec} failed to load; fix it and save")
        os._exit(1)
    loaded(spec, pipes, started)
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:
        traceback.print_exc()  # the parent says the process exited, and a save restarts it
        code = 1
    for stream in (sys.stdout, sys.stderr):  # os._exit (a forked child never runs the parent's exit code) does not flush
        stream.flush()
    os._exit(code)


def serve_wsgi(job: Job, app: Any, pipes: Pipes, started: float) -> None:
    """Serve a WSGI app with Werkzeug until retired, then let the requests under way finish."""
    assert job.listener is not None
    in_flight = InFlight()
    server = make_server(job.listener, job.host, job.port, app, in_flight)
    job.listener.close()
    if getattr(app, "pin", None):
        log(f"Werkzeug debugger PIN: {app.pin}")
    loaded(apps.app_spec(), pipes, started)
    with selectors.DefaultSelector() as selector:
        selector.register(server.socket, selectors.EVENT_READ)
        selector.register(pipes.control, selectors.EVENT_READ)
        while not any(key.fd == pipes.control for key, _ in selector.select()):
            accept_one(server)
    # Retire: accept nothing more (the next child takes the backlog), say so, and let the
    # requests already accepted finish on the code they started with.
    server.socket.close()
    os.write(pipes.ack, b".")
    in_flight.wait_idle(DRAIN)
    os._exit(0)
