"""`python -m devserver.gate`: the only door to debugpy in debug mode.

debugpy's adapter handles each new client inside its accept thread; a client that hangs up
before the adapter's first messages are sent (a port scan, a TCP health probe, an attach
that fails) raises there, the thread dies, and every later attach waits forever in the
listen backlog (debugpy/common/sockets.py `accept_worker`, 1.8.22 and upstream). So debugpy
listens on the container's loopback only (DEBUGPY_INTERNAL_PORT), and this gate listens on
DEBUGPY_PORT: it hands a connection on only once it has spoken DAP ("Content-Length:"), and
only from this machine's port forwarder (the network's gateway), not from other containers.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
import time
from pathlib import Path

from . import log

HEADER = b"content-length:"
FIRST_BYTES_TIMEOUT = 10.0
TCP_LISTEN = "0A"


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


def listening(port: int) -> bool:
    """Whether something listens on the port inside this container (read from /proc, no connect)."""
    try:
        text = Path("/proc/net/tcp").read_text()
    except OSError:
        return False
    return any(
        len(cols) > 3 and cols[3] == TCP_LISTEN and int(cols[1].rsplit(":", 1)[1], 16) == port
        for cols in (line.split() for line in text.splitlines()[1:])
    )


def pump(source: socket.socket, target: socket.socket) -> None:
    """Copy bytes one way until the source closes, then close the other side's writing half."""
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


def spoke_dap(client: socket.socket) -> bytes | None:
    """Return the first bytes if they start a DAP message, else None (hung up, silent or not DAP)."""
    client.settimeout(FIRST_BYTES_TIMEOUT)
    first = b""
    with contextlib.suppress(OSError):
        while len(first) < len(HEADER) and (chunk := client.recv(len(HEADER) - len(first))):
            first += chunk
    return first if first.lower() == HEADER else None


def handle(client: socket.socket, peer: str, upstream_port: int, allowed: set[str] | None) -> None:
    """Hand one client to debugpy if it may and does speak DAP; otherwise just close it."""
    with client:
        if allowed is not None and peer not in allowed:
            log(f"debugger gate: refused {peer} (only this machine's published port may attach; DEBUGPY_ALLOW=any lifts this)")
            return
        first = spoke_dap(client)
        if first is None:
            return  # a probe or a scanner: debugpy never sees it
        client.settimeout(None)
        with socket.create_connection(("127.0.0.1", upstream_port)) as upstream:
            upstream.sendall(first)
            back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
            back.start()
            pump(client, upstream)
            back.join()


def serve(port: int, upstream_port: int) -> None:
    """Wait until debugpy listens, then listen on port and hand DAP clients to it."""
    while not listening(upstream_port):
        time.sleep(0.1)
    allowed = allowed_peers()
    with socket.create_server(("0.0.0.0", port), backlog=64) as listener:
        while True:
            client, address = listener.accept()
            threading.Thread(target=handle, args=(client, address[0], upstream_port, allowed), daemon=True).start()


if __name__ == "__main__":
    serve(int(os.environ["DEBUGPY_PORT"]), int(os.environ["DEBUGPY_INTERNAL_PORT"]))
