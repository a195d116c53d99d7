"""`python -m devserver.gate -- PROGRAM...`: debug mode's main process, and the only door to debugpy.

It runs PROGRAM (debugpy, the dev server under it; supervisor.py) with debugpy's adapter listening on the
container's loopback (DEBUGPY_INTERNAL_PORT), and listens itself on DEBUGPY_PORT, the published one.

Why a door. debugpy's adapter (1.8.22 and upstream) accepts clients on one thread (`common/sockets.py`,
`accept_worker`), which calls its handler with no `try`: if accepting a client raises, the thread ends and every later
client waits in the listen backlog forever ("no answer to initialize": the debugger is wedged). Accepting ends by
writing: two telemetry events to the new client, then `sessions.report_sockets()`, a `debugpySockets` event to the
client of the oldest session (`adapter/clients.py`, end of `Client.__init__`). So it raises when the new client hung
up at once (a port scan), or when the oldest session's client was just disconnecting (`invoke debug`'s handshake
while VS Code attaches). And a client that disconnects before the debugged program has registered with the adapter
makes the adapter exit (`adapter/sessions.py` `_finalize` calls `servers.dont_wait_for_first_connection()`, and
`adapter/__main__.py` returns when no server is connected). The gate:

- holds the oldest session itself (the anchor: a client that says `initialize` and never leaves), so
  `debugpySockets` always goes to a client that is there, and no disconnect makes the adapter exit;
- passes a client on only from this machine's published port (DEBUGPY_ALLOW=any: from anywhere) and once it speaks
  DAP; others are closed without a byte, and debugpy never sees them;
- hands the adapter one client at a time, and holds a client's disconnect or hang-up until the adapter has finished
  accepting (the anchor saw `debugpySockets`), and a hang-up after a disconnect until the adapter answered it (an
  answer it cannot write makes it exit: `common/messaging.py` `_run_handlers` calls `os._exit(1)`);
- heals the rest: when the adapter refuses a client, or takes its first message and says nothing back for
  WEDGED_AFTER seconds, the gate restarts PROGRAM (and its adapter) and hands the same message to the new one: the
  attach is answered a few seconds late instead of never.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import dap, log
from .supervisor import Supervisor

FIRST_MESSAGE_TIMEOUT = 10.0
WEDGED_AFTER = 2.0  # debugpy answers in milliseconds; seconds of silence mean its accept thread is gone
ACCEPT_TIMEOUT = 3.0  # the longest one accept holds the others (and clients' disconnects)
ANSWER_TIMEOUT = 5.0  # the longest a hang-up waits for the answer to the client's disconnect
ENDING = ("disconnect", "terminate")
ANCHOR = b'{"seq": 1, "type": "request", "command": "initialize", "arguments": {"adapterID": "debugpy", "clientID": "devloop-gate"}}'


def gateways(route: str) -> set[str]:
    """Return the default gateways in /proc/net/route text (where published ports arrive from)."""
    found = set()
    for line in route.splitlines()[1:]:
        cols = line.split()
        if len(cols) > 2 and cols[1] == "00000000":
            found.add(socket.inet_ntoa(struct.pack("<L", int(cols[2], 16))))
    return found


def allowed_peers(environ: dict[str, str] | None = None) -> set[str] | None:
    """Return who may connect (None: anyone), from DEBUGPY_ALLOW=gateway|any."""
    if (os.environ if environ is None else environ).get("DEBUGPY_ALLOW", "gateway") == "any":
        return None
    try:
        route = Path("/proc/net/route").read_text()
    except OSError:
        route = ""
    return {"127.0.0.1", *gateways(route)}


class Accepts:
    """One client accepted by the adapter at a time; clients' disconnects and hang-ups wait while one is."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.since: float | None = None  # when the accept under way began

    def _idle(self) -> bool:
        if self.since is not None and time.monotonic() - self.since > ACCEPT_TIMEOUT:
            self.since = None  # it never said it finished: hold no one any longer
        return self.since is None

    def begin(self) -> None:
        """Wait until no accept is under way, then start one."""
        with self.changed:
            while not self._idle():
                self.changed.wait(0.05)
            self.since = time.monotonic()

    def finished(self) -> None:
        """The adapter has finished accepting (it sent `debugpySockets`, the last thing it does then), or never will."""
        with self.changed:
            self.since = None
            self.changed.notify_all()

    def wait(self) -> None:
        """Wait while an accept is under way."""
        with self.changed:
            while not self._idle():
                self.changed.wait(0.05)


class Anchor:
    """The gate's own session with the adapter: the oldest one, so the adapter's `debugpySockets` comes here."""

    def __init__(self, port: int, accepts: Accepts) -> None:
        self.port, self.accepts = port, accepts

    def connect(self) -> bool:
        """Open the session (again, after a restart) and watch it in a thread; False if the adapter refused it."""
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=WEDGED_AFTER)
            sock.sendall(b"Content-Length: %d\r\n\r\n" % len(ANCHOR) + ANCHOR)
        except OSError:
            return False
        sock.settimeout(None)
        threading.Thread(target=self.watch, args=(sock,), daemon=True).start()
        return True

    def watch(self, sock: socket.socket) -> None:
        """Read what the adapter tells the session (it must never have to wait to write); an accept ends here."""
        messages = dap.Messages()
        with sock, contextlib.suppress(OSError):
            while data := sock.recv(65536):
                if any(message.get("event") == "debugpySockets" for _, message in messages.feed(data)):
                    self.accepts.finished()


@dataclass
class Passage:
    """One client's connection to the adapter, and whether it asked to end its session (and was answered)."""

    client: socket.socket
    upstream: socket.socket
    ending: bool = False
    answered: threading.Event = field(default_factory=threading.Event)


def first_message(client: socket.socket) -> tuple[bytes, bytes] | None:
    """Read a client's first DAP message; return it and whatever came after it, or None if it is not DAP."""
    messages, head = dap.Messages(), b""
    client.settimeout(FIRST_MESSAGE_TIMEOUT)
    with contextlib.suppress(OSError):
        while chunk := client.recv(65536):
            head += chunk
            if dap.starts_like_dap(head) is False:
                return None
            found = messages.feed(chunk)
            if found:
                return found[0][0], b"".join(raw for raw, _ in found[1:]) + messages.pending
    return None


class Door:
    """Listens on the published port and hands each client to debugpy's adapter, watching the adapter's health."""

    def __init__(self, upstream_port: int, supervisor: Supervisor, allowed: set[str] | None) -> None:
        self.upstream_port, self.supervisor, self.allowed = upstream_port, supervisor, allowed
        self.accepts = Accepts()
        self.anchor = Anchor(upstream_port, self.accepts)

    def serve(self, port: int) -> None:
        """Wait until the adapter listens and anchor it, then listen on port and hand DAP clients to it."""
        self.supervisor.ready()
        self.anchor.connect()
        with socket.create_server(("0.0.0.0", port), backlog=64) as listener:
            while True:
                client, address = listener.accept()
                threading.Thread(target=self.handle, args=(client, address[0]), daemon=True).start()

    def handle(self, client: socket.socket, peer: str) -> None:
        """Pass one client on if it may come in and speaks DAP; otherwise close it without a byte."""
        with client:
            if self.allowed is not None and peer not in self.allowed:
                log(f"debugger gate: refused {peer} (only this machine's published port may attach; DEBUGPY_ALLOW=any lifts this)")
                return
            first = first_message(client)
            if first is None:
                return  # a probe or a scanner: debugpy never sees it
            self.accepts.begin()
            upstream, answer, later = self.hand_over(client, *first)
            if upstream is None:
                self.accepts.finished()
                return
            with upstream:
                client.settimeout(None)
                passage = Passage(client, upstream)
                back = threading.Thread(target=self.from_adapter, args=(passage, answer), daemon=True)
                back.start()
                self.to_adapter(passage, later)
                back.join()

    def hand_over(self, client: socket.socket, first: bytes, later: bytes) -> tuple[socket.socket | None, bytes, bytes]:
        """Give the adapter the client's first message; return the connection once it answers, its answer and what the
        client sent meanwhile. A wedged adapter is restarted once, anchored again, and given the same message."""
        why = ""
        for attempt in (1, 2):
            generation = self.supervisor.restarts
            upstream, answer, later, why = self.ask(client, first, later)
            if upstream is not None or not why:
                return upstream, answer, later
            if attempt == 1 and self.supervisor.restart(why, generation) and self.supervisor.ready():
                self.anchor.connect()  # the oldest session of the new adapter
            elif attempt == 1:
                self.supervisor.ready()  # another client's restart, under way
        log(f"debugger gate: debugpy does not answer even after a restart ({why}); closing the client")
        return None, b"", b""

    def ask(self, client: socket.socket, first: bytes, later: bytes) -> tuple[socket.socket | None, bytes, bytes, str]:
        """Send the first message on a new adapter connection; return it, its first answer and what the client sent
        meanwhile (kept for after the answer), or None and why the adapter did not answer ("" if the client left)."""
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=WEDGED_AFTER)
            upstream.sendall(first)
        except OSError as exc:
            return None, b"", later, f"it refused a connection: {exc.strerror or exc}"
        deadline, listening = time.monotonic() + WEDGED_AFTER, [upstream, client]
        while (left := deadline - time.monotonic()) > 0:
            ready = select.select(listening, [], [], left)[0]
            if upstream in ready:
                with contextlib.suppress(OSError):
                    if answer := upstream.recv(65536):
                        upstream.settimeout(None)
                        return upstream, answer, later, ""
                break
            if client in ready:
                more = client.recv(65536)
                later += more
                if not more:
                    listening = [upstream]  # it hung up: the adapter must still finish accepting it
        upstream.close()
        return None, b"", later, f"no answer to a client's first message within {WEDGED_AFTER:.0f}s"

    def to_adapter(self, passage: Passage, later: bytes) -> None:
        """Copy the client's messages to the adapter; a disconnect, or a hang-up, waits for an accept under way, and a
        hang-up after a disconnect also for its answer (answering a client that is gone makes the adapter exit:
        `adapter/clients.py` `disconnect_request` raises, and `common/messaging.py` `_run_handlers` calls `os._exit`)."""
        messages = dap.Messages()
        with contextlib.suppress(OSError):
            data = later
            while True:
                for raw, message in messages.feed(data):
                    if message.get("command") in ENDING:
                        self.accepts.wait()
                        passage.ending = True
                    passage.upstream.sendall(raw)
                data = passage.client.recv(65536)
                if not data:
                    break
        self.accepts.wait()
        if passage.ending:
            passage.answered.wait(ANSWER_TIMEOUT)
        with contextlib.suppress(OSError):
            passage.upstream.shutdown(socket.SHUT_WR)

    def from_adapter(self, passage: Passage, data: bytes) -> None:
        """Copy the adapter's messages to the client, or drain them if the client left; note the answer to its end."""
        messages, present = dap.Messages(), True
        with contextlib.suppress(OSError):
            while data:
                if any(m.get("type") == "response" and m.get("command") in ENDING for _, m in messages.feed(data)):
                    passage.answered.set()
                if present:
                    try:
                        passage.client.sendall(data)
                    except OSError:
                        present = False
                data = passage.upstream.recv(65536)
        passage.answered.set()
        with contextlib.suppress(OSError):
            passage.client.shutdown(socket.SHUT_WR)


def main(argv: list[str]) -> int:
    """Run the program after `--` under supervision, and be the door to its debugger; return its exit code."""
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        raise SystemExit("usage: python -m devserver.gate -- PROGRAM [ARGS...]")
    upstream_port = int(os.environ["DEBUGPY_INTERNAL_PORT"])
    supervisor = Supervisor(argv[argv.index("--") + 1 :], upstream_port)
    supervisor.start()
    door = Door(upstream_port, supervisor, allowed_peers())
    threading.Thread(target=door.serve, args=(int(os.environ["DEBUGPY_PORT"]),), daemon=True).start()
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
