"""A Debug Adapter Protocol client that does what VS Code does when it attaches to debugpy.

VS Code says `supportsStartDebuggingRequest` in `initialize`; debugpy then announces each new process (a reloaded
child, a spare) with a `startDebugging` reverse request, and VS Code answers it by starting a child session: a new
connection to the `connect` address in the request's configuration. Clients without that capability get a
`debugpyAttach` event instead (other editors; `start_debugging=False` here). `resolve_launch` turns
.vscode/launch.json into the attach request VS Code's Python Debugger extension sends.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

# What VS Code (1.100+) sends in `initialize`.
VSCODE = {
    "clientID": "vscode",
    "clientName": "Visual Studio Code",
    "adapterID": "debugpy",
    "pathFormat": "path",
    "linesStartAt1": True,
    "columnsStartAt1": True,
    "supportsVariableType": True,
    "supportsVariablePaging": True,
    "supportsRunInTerminalRequest": True,
    "locale": "en",
    "supportsProgressReporting": True,
    "supportsInvalidatedEvent": True,
    "supportsMemoryReferences": True,
    "supportsArgsCanBeInterpretedByShell": True,
    "supportsMemoryEvent": True,
    "supportsStartDebuggingRequest": True,
    "supportsANSIStyling": True,
}
Breakpoints = dict[str, list[dict[str, Any]]]  # source path -> [{"line": n, "condition": "..."}]


class DapError(Exception):
    """The adapter refused a request, or an awaited message did not come in time."""


def resolve_launch(root: Path, name: str = "Python: Remote Attach") -> dict[str, Any]:
    """Return the attach request arguments VS Code sends for a launch.json configuration (Linux, Python Debugger
    extension): ${workspaceFolder} expanded, and the fields its attach resolver adds."""
    config = next(c for c in json.loads((root / ".vscode/launch.json").read_text())["configurations"] if c["name"] == name)
    config = json.loads(json.dumps(config).replace("${workspaceFolder}", str(root)))
    options = ["Multiprocess"] if config.get("subProcess") else []
    options += ["RedirectOutput", "ShowReturnValue"]
    return {**config, "debugOptions": options, "showReturnValue": True, "workspaceFolder": str(root), "clientOS": "unix"} | {
        "__sessionId": str(uuid.uuid4())
    }


class Connection:
    """One DAP connection: requests with their responses, events, and the adapter's reverse requests."""

    def __init__(self, host: str, port: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection((host, port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.sock.settimeout(None)
        self._seq = itertools.count(1)
        self._responses: dict[int, dict[str, Any]] = {}
        self._events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._write = threading.Lock()
        self._closed = False
        threading.Thread(target=self._read_loop, daemon=True).start()

    def _read_loop(self) -> None:
        """Parse Content-Length framed messages until the socket closes; reverse requests queue with the events."""
        stream = self.sock.makefile("rb")
        try:
            while True:
                length = None
                while True:
                    line = stream.readline()
                    if not line:
                        return
                    name, _, value = line.strip().partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                    elif not name and length is not None:
                        break
                message = json.loads(stream.read(length))
                with self._cond:
                    if message.get("type") == "response":
                        self._responses[message["request_seq"]] = message
                    else:
                        self._events.append(message)
                    self._cond.notify_all()
        except (OSError, ValueError):
            return
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()

    def _send(self, message: dict[str, Any]) -> int:
        """Send one message with the next sequence number; return it."""
        with self._write:
            seq = next(self._seq)
            body = json.dumps({"seq": seq, **message}).encode()
            self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return seq

    def send(self, command: str, **arguments: Any) -> int:
        """Send a request; return its sequence number."""
        return self._send({"type": "request", "command": command, "arguments": arguments})

    def respond(self, request: dict[str, Any], body: dict[str, Any] | None = None) -> None:
        """Answer a reverse request from the adapter (success)."""
        self._send({"type": "response", "request_seq": request["seq"], "success": True, "command": request["command"], "body": body or {}})

    def response(self, seq: int, timeout: float = 30) -> dict[str, Any]:
        """Wait for the response to a request; fail if the adapter refused it."""
        with self._cond:
            if not self._cond.wait_for(lambda: seq in self._responses or self._closed, timeout):
                raise DapError(f"no response to request {seq} within {timeout}s")
            if seq not in self._responses:
                raise DapError(f"connection closed before the response to request {seq}")
            message = self._responses.pop(seq)
        if not message.get("success"):
            raise DapError(f"{message.get('command')} failed: {message.get('message')} {message.get('body')}")
        return message.get("body") or {}

    def request(self, command: str, timeout: float = 30, **arguments: Any) -> dict[str, Any]:
        """Send a request and return its response body."""
        return self.response(self.send(command, **arguments), timeout)

    def _first(self, name: str) -> dict[str, Any] | None:
        """The oldest queued event or reverse request of that name."""
        return next((m for m in self._events if m.get("event") == name or m.get("command") == name), None)

    def event(self, name: str, timeout: float = 30) -> dict[str, Any]:
        """Wait for (and consume) the next event of that name; return its body."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._first(name) is not None or self._closed, timeout):
                raise DapError(f"no {name!r} event within {timeout}s")
            found = self._first(name)
            if found is None:
                raise DapError(f"connection closed while waiting for {name!r}")
            self._events.remove(found)
            return found.get("body") or {}

    def take(self, name: str) -> dict[str, Any] | None:
        """Consume and return a queued event's body, or a whole reverse request, of that name, if one has come."""
        with self._cond:
            found = self._first(name)
            if found is None:
                return None
            self._events.remove(found)
            return found if found.get("type") == "request" else found.get("body") or {}

    def initialized_or_answered(self, seq: int, timeout: float = 30) -> bool:
        """Wait for the `initialized` event, or the response to request seq if it comes first (a process that is gone:
        debugpy answers the attach and ends the session); return whether it was `initialized`."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._first("initialized") or seq in self._responses or self._closed, timeout):
                raise DapError(f"neither `initialized` nor an answer to request {seq} within {timeout}s")
            return self._first("initialized") is not None

    def peek(self, name: str, timeout: float = 10) -> dict[str, Any]:
        """Wait for an event of that name and return its body, leaving it queued."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._first(name) is not None or self._closed, timeout):
                raise DapError(f"no {name!r} event within {timeout}s")
            found = self._first(name)
            if found is None:
                raise DapError(f"connection closed while waiting for {name!r}")
            return found.get("body") or {}

    @property
    def closed(self) -> bool:
        """Whether the adapter closed the connection."""
        return self._closed

    def close(self) -> None:
        """Close the connection."""
        with contextlib.suppress(OSError):
            self.sock.close()


def attach(host: str, port: int, config: dict[str, Any], breakpoints: Breakpoints, start_debugging: bool = True) -> Connection:
    """Connect and attach as VS Code does: initialize, attach, breakpoints and the default exception filters once the
    adapter says `initialized`, configurationDone, then the attach response."""
    conn = Connection(host, port)
    capabilities = conn.request("initialize", **{**VSCODE, "supportsStartDebuggingRequest": start_debugging})
    attach_seq = conn.send("attach", **config)
    if not conn.initialized_or_answered(attach_seq):
        conn.response(attach_seq)  # the process ended before it could be attached (a retired child): nothing to configure
        return conn
    conn.event("initialized")
    for path, lines in breakpoints.items():
        conn.request("setBreakpoints", source={"path": path}, breakpoints=lines)
    filters = [f["filter"] for f in capabilities.get("exceptionBreakpointFilters", []) if f.get("default")]
    conn.request("setExceptionBreakpoints", filters=filters)
    conn.request("configurationDone")
    conn.response(attach_seq)
    return conn


def frame_variables(conn: Connection, frame_id: int) -> dict[str, str]:
    """Return the local variables of a stack frame, name -> value as shown."""
    scopes = conn.request("scopes", frameId=frame_id)["scopes"]
    local = next(s for s in scopes if s["name"].lower().startswith("locals"))
    return {v["name"]: v["value"] for v in conn.request("variables", variablesReference=local["variablesReference"])["variables"]}


class Session:
    """VS Code's side of a debug session: the root attach, and a child session for every process debugpy announces.

    With `start_debugging` (VS Code), each `startDebugging` reverse request is answered by attaching a new connection
    to the address in its configuration, then answering success, as VS Code does; without it, each `debugpyAttach`
    event is attached to at the root's address. Breakpoints set here apply to every session, as in VS Code.
    """

    def __init__(self, config: dict[str, Any], breakpoints: Breakpoints, start_debugging: bool = True) -> None:
        self.host, self.port = config["connect"]["host"], int(config["connect"]["port"])
        self.breakpoints, self.start_debugging = dict(breakpoints), start_debugging
        self.root = attach(self.host, self.port, config, self.breakpoints, start_debugging)
        self.children: list[Connection] = []
        self.failures: list[str] = []
        self.announced = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._starting: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def connections(self) -> list[Connection]:
        """Every session's connection, the root's first."""
        with self._lock:
            return [self.root, *self.children]

    def _follow(self) -> None:
        """Start a child session for each process debugpy announces, on whichever session it announces it."""
        while not self._stop.is_set():
            announced = False
            for conn in self.connections():
                found = conn.take("startDebugging" if self.start_debugging else "debugpyAttach")
                if found is not None:
                    announced = True
                    self.announced += 1
                    # Each in its own thread, as VS Code starts child sessions: one for a process that is ending
                    # (a retired child) must not hold up the others.
                    starting = threading.Thread(target=self._start_child, args=(conn, found), daemon=True)
                    self._starting.append(starting)
                    starting.start()
            if not announced:
                time.sleep(0.02)

    def _start_child(self, parent: Connection, found: dict[str, Any]) -> None:
        """Attach to one announced process (a reverse request's configuration, or the event's body)."""
        config = found["arguments"]["configuration"] if self.start_debugging else found
        where = config.get("connect") or {"host": self.host, "port": self.port}
        try:
            child = attach(where["host"], int(where["port"]), config, self.breakpoints, self.start_debugging)
        except (DapError, OSError) as exc:
            self.failures.append(f"{config.get('subProcessId')}: {exc}")  # a process that ended first (a retired child)
            child = None
        if self.start_debugging:
            with contextlib.suppress(OSError):
                parent.respond(found)
        if child is None:
            return
        with self._lock:
            if not self._stop.is_set():
                self.children.append(child)
                return
        # Attached after the stop button: left connected, its process would stop at an exception for a client that
        # never reads (the request hangs), and no later session could claim it.
        _disconnect(child)

    def attached(self) -> int:
        """How many child sessions have been attached so far."""
        with self._lock:
            return len(self.children)

    def set_breakpoints(self, path: str, lines: list[dict[str, Any]]) -> None:
        """Set a file's breakpoints in every session (and in those started later), as the editor does on a click."""
        self.breakpoints[path] = lines
        for conn in self.connections():
            with contextlib.suppress(DapError, OSError):
                conn.request("setBreakpoints", source={"path": path}, breakpoints=lines)

    def stopped(self, timeout: float = 30) -> tuple[Connection, dict[str, Any]]:
        """Wait until any session's process stops; return its connection and the event."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for conn in self.connections():
                event = conn.take("stopped")
                if event is not None:
                    return conn, event
            time.sleep(0.02)
        raise DapError(f"no process stopped within {timeout}s ({self.attached()} attached, failed: {self.failures})")

    def close(self) -> None:
        """Disconnect like VS Code's stop button (the app keeps running); safe to call twice."""
        self._stop.set()
        self._thread.join(5)
        for starting in self._starting:
            starting.join(10)
        with self._lock:
            connections, self.children = [*self.children, self.root], []
        for conn in connections:
            _disconnect(conn)


def _disconnect(conn: Connection) -> None:
    """End one session as the stop button does: the process keeps running, with no client."""
    with contextlib.suppress(DapError, OSError):
        conn.request("disconnect", timeout=3, restart=False, terminateDebuggee=False)
    conn.close()
