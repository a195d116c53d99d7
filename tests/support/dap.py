"""A small Debug Adapter Protocol client: what VS Code does when it attaches to debugpy."""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
from typing import Any


class DapError(Exception):
    """The adapter refused a request, or an awaited message did not come in time."""


class Connection:
    """One DAP connection: requests with their responses, and a queue of events."""

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
        self._closed = False
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    def _read_loop(self) -> None:
        """Parse Content-Length framed messages until the socket closes."""
        stream = self.sock.makefile("rb")
        try:
            while True:
                length = None
                while True:
                    line = stream.readline()
                    if not line:
                        return
                    line = line.strip()
                    if not line:
                        break
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                if length is None:
                    continue
                message = json.loads(stream.read(length))
                with self._cond:
                    if message.get("type") == "response":
                        self._responses[message["request_seq"]] = message
                    elif message.get("type") == "event":
                        self._events.append(message)
                    self._cond.notify_all()
        except (OSError, ValueError):
            return
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()

    def send(self, command: str, **arguments: Any) -> int:
        """Send a request; return its sequence number."""
        seq = next(self._seq)
        body = json.dumps({"seq": seq, "type": "request", "command": command, "arguments": arguments}).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return seq

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

    def event(self, name: str, timeout: float = 30) -> dict[str, Any]:
        """Wait for (and consume) the next event of that name; return its body."""

        def first() -> dict[str, Any] | None:
            return next((e for e in self._events if e.get("event") == name), None)

        with self._cond:
            if not self._cond.wait_for(lambda: first() is not None or self._closed, timeout):
                raise DapError(f"no {name!r} event within {timeout}s")
            found = first()
            if found is None:
                raise DapError(f"connection closed while waiting for {name!r}")
            self._events.remove(found)
            return found.get("body") or {}

    def take(self, name: str) -> dict[str, Any] | None:
        """Consume and return a pending event of that name's body, if one has come."""
        with self._cond:
            found = next((e for e in self._events if e.get("event") == name), None)
            if found is None:
                return None
            self._events.remove(found)
            return found.get("body") or {}

    def peek(self, name: str, timeout: float = 10) -> dict[str, Any]:
        """Wait for an event of that name and return its body, leaving it queued."""
        with self._cond:
            if not self._cond.wait_for(lambda: any(e.get("event") == name for e in self._events) or self._closed, timeout):
                raise DapError(f"no {name!r} event within {timeout}s")
            found = next((e for e in self._events if e.get("event") == name), None)
            if found is None:
                raise DapError(f"connection closed while waiting for {name!r}")
            return found.get("body") or {}

    def close(self) -> None:
        """Close the connection."""
        with contextlib.suppress(OSError):
            self.sock.close()


def attach(host: str, port: int, config: dict[str, Any], breakpoints: dict[str, list[int]]) -> Connection:
    """Connect, attach with a launch.json-like config, set breakpoints, finish configuration."""
    conn = Connection(host, port)
    conn.request(
        "initialize",
        adapterID="debugpy",
        clientID="devloop-tests",
        pathFormat="path",
        linesStartAt1=True,
        columnsStartAt1=True,
        supportsRunInTerminalRequest=False,
    )
    attach_seq = conn.send("attach", **config)
    conn.event("initialized")
    for path, lines in breakpoints.items():
        conn.request("setBreakpoints", source={"path": path}, breakpoints=[{"line": n} for n in lines])
    conn.request("configurationDone")
    conn.response(attach_seq)
    return conn


def frame_variables(conn: Connection, frame_id: int) -> dict[str, str]:
    """Return the local variables of a stack frame, name -> value as shown."""
    scopes = conn.request("scopes", frameId=frame_id)["scopes"]
    local = next(s for s in scopes if s["name"].lower().startswith("locals"))
    return {v["name"]: v["value"] for v in conn.request("variables", variablesReference=local["variablesReference"])["variables"]}


class Session:
    """VS Code's side of a debug session: the root attach, and every process it reports.

    Each `debugpyAttach` event (a new process: a reloaded child, a spare) is attached at
    once, in a background thread, with the same breakpoints, as VS Code does.
    """

    def __init__(self, host: str, port: int, config: dict[str, Any], breakpoints: dict[str, list[int]]) -> None:
        self.host, self.port, self.breakpoints = host, port, breakpoints
        self.root = attach(host, port, config, breakpoints)
        self.children: list[Connection] = []
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                event = self.root.event("debugpyAttach", timeout=0.2)
            except DapError:
                continue
            try:
                child = attach(self.host, self.port, event, self.breakpoints)
            except (DapError, OSError) as exc:
                self.failures.append(f"{event.get('subProcessId')}: {exc}")
                continue  # the process ended before it could be attached (a retired child)
            with self._lock:
                self.children.append(child)

    def attached(self) -> int:
        """How many processes have been attached so far."""
        with self._lock:
            return len(self.children)

    def stopped(self, timeout: float = 30) -> tuple[Connection, dict[str, Any]]:
        """Wait until any attached process stops; return its connection and the event."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                children = list(self.children)
            for child in children:
                event = child.take("stopped")
                if event is not None:
                    return child, event
            time.sleep(0.02)
        raise DapError(f"no process stopped within {timeout}s ({len(self.children)} attached, failed: {self.failures})")

    def close(self) -> None:
        """Disconnect like VS Code's stop button (the app keeps running); safe to call twice."""
        self._stop.set()
        self._thread.join(5)
        with self._lock:
            connections = [*self.children, self.root]
            self.children = []
        for conn in connections:
            with contextlib.suppress(DapError, OSError):
                conn.request("disconnect", timeout=3)
            conn.close()
