"""The debugger in the app container: which port debugpy listens on, whether it does, and
whether it answers a real DAP handshake from this machine.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from typing import TYPE_CHECKING, Any

from . import engine
from .errors import DevloopError
from .waiting import wait_until

if TYPE_CHECKING:
    import docker

HANDSHAKE_TIMEOUT = 10.0  # the gate heals a debugger that stopped answering in about 3 s


def debugpy_port(service: dict[str, Any], name: str = "app") -> int:
    """Return the port debugpy listens on inside a service's container (the debug overlay's DEBUGPY_PORT)."""
    env = service.get("environment") or {}
    if "DEBUGPY_PORT" not in env:
        raise DevloopError(f"{name} runs no debugger in this mode (no DEBUGPY_PORT in its environment)")
    return int(env["DEBUGPY_PORT"])


def wait_listening(client: docker.DockerClient, project: str, port: int, timeout: float = 60, service: str = "app") -> None:
    """Wait until debugpy listens in the container, without connecting to it."""

    def listens() -> bool:
        container = engine.containers(client, project).get(service)
        return container is not None and port in engine.listening(container)

    if not wait_until(listens, timeout, interval=0.3):
        raise DevloopError(f"debugpy did not start listening within {timeout:.0f}s: see `invoke logs --service {service}`")


def _send(sock: socket.socket, seq: int, command: str, **arguments: Any) -> None:
    """Send one DAP request."""
    body = json.dumps({"seq": seq, "type": "request", "command": command, "arguments": arguments}).encode()
    sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)


def _response(stream: Any, seq: int) -> dict[str, Any] | None:
    """Read DAP messages until the response to request seq; None if the stream ends first."""
    while True:
        length = None
        while True:
            line = stream.readline()
            if not line:
                return None
            name, _, value = line.strip().partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
            elif not name and length is not None:
                break
        message = json.loads(stream.read(length))
        if message.get("type") == "response" and message.get("request_seq") == seq:
            return message


def handshake(port: int, host: str = "127.0.0.1", timeout: float = HANDSHAKE_TIMEOUT) -> str:
    """Do what an editor does first (initialize, wait for the answer) and disconnect cleanly.

    Return "" when debugpy answered, else what went wrong.
    """
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            _send(sock, 1, "initialize", adapterID="debugpy", clientID="devloop", clientName="devloop check")
            with sock.makefile("rb") as stream:
                answer = _response(stream, 1)
                if answer is None:
                    return "it closed the connection without answering `initialize`"
                _send(sock, 2, "disconnect", restart=False, terminateDebuggee=False)
                with contextlib.suppress(OSError, ValueError):
                    _response(stream, 2)
    except TimeoutError:
        return f"no answer to `initialize` within {timeout:.0f}s (wedged)"
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if not answer.get("success"):
        return f"`initialize` failed: {answer.get('message')}"
    return "" if time.monotonic() - started < timeout else "answered too slowly"
