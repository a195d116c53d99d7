"""The debugger gate (app/devserver/gate.py) run for real on this host, in front of a real debugpy: the ways debugpy's
adapter stops answering, kept away or healed by it. No Docker."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from devserver import dap as framing

from devloop import debugger
from tests.support import dap
from tests.support.harness import ROOT
from tests.support.net import free_port
from tests.support.waiting import wait_until

PROGRAM = "import time\nwhile True:\n    time.sleep(0.1)\n"


def test_messages_come_out_whole_however_the_bytes_arrive() -> None:
    body = b'{"seq": 1, "type": "event", "event": "debugpySockets"}'
    stream = b"Content-Length: %d\r\n\r\n%s" % (len(body), body) * 2
    messages = framing.Messages()
    found = [m for byte in stream for _, m in messages.feed(bytes([byte]))]
    assert [m["event"] for m in found] == ["debugpySockets", "debugpySockets"] and messages.pending == b""
    assert framing.starts_like_dap(b"Content-") is None and framing.starts_like_dap(b"GET / HTTP/1.1") is False


def listening(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port (from /proc: a connect would be a client)."""
    want = f":{port:04X}"
    return any(
        cols[1].endswith(want) and cols[3] == "0A" for cols in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
    )


class Stand:
    """debugpy listening on a loopback port, behind the gate on another (or alone, to show what the gate prevents)."""

    def __init__(self, tmp: Path, gated: bool = True) -> None:
        self.internal, self.port = free_port(), free_port()
        (tmp / "program.py").write_text(PROGRAM)
        debuggee = [sys.executable, "-m", "debugpy", "--listen", f"127.0.0.1:{self.internal}", str(tmp / "program.py")]
        argv = [sys.executable, "-m", "devserver.gate", "--", *debuggee] if gated else debuggee
        env = {**os.environ, "DEBUGPY_PORT": str(self.port), "DEBUGPY_INTERNAL_PORT": str(self.internal), "DEBUGPY_ALLOW": "any"}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "app"), env.get("PYTHONPATH", "")])
        self.log = tmp / "gate.log"
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT)
        self.front = self.port if gated else self.internal
        wait_until(lambda: listening(self.front), timeout=30, interval=0.01, what="the debugger listening")

    def attach(self) -> str:
        """VS Code's first step (initialize, answer), then a clean disconnect; "" or what went wrong."""
        return debugger.handshake(self.front, timeout=8)

    def stop(self) -> None:
        """Stop it (the gate passes SIGTERM on) and every adapter it left."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        finally:
            subprocess.run(["pkill", "-f", "--", f"--port {self.internal} "], check=False)


@pytest.fixture
def stand(tmp_path: Path) -> Iterator[Stand]:
    running = Stand(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def reset(port: int) -> None:
    """Connect and reset at once (SO_LINGER 0), as a port scan can: whoever accepts it writes to a connection that is gone."""
    with socket.create_connection(("127.0.0.1", port)) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def overlapping(stand: Stand) -> str:
    """devloop's handshake and an attach at the same moment, then another attach; "" when all three were answered."""
    said: list[str] = []
    check = threading.Thread(target=lambda: said.append(stand.attach()))
    check.start()
    first = stand.attach()
    check.join()
    return " / ".join(s for s in [*said, first, stand.attach()] if s)


def test_through_the_gate_a_reset_connection_never_reaches_debugpy(stand: Stand) -> None:
    for _ in range(5):
        reset(stand.port)
    assert stand.attach() == ""
    assert "restarting" not in stand.log.read_text()


def test_with_the_gate_a_check_closing_as_vscode_attaches_is_always_answered(stand: Stand) -> None:
    assert [overlapping(stand) for _ in range(15)] == [""] * 15
    assert "restarting" not in stand.log.read_text()


def test_clients_that_hang_up_without_waiting_for_answers_leave_debugpy_answering(stand: Stand) -> None:
    for _ in range(10):
        with socket.create_connection(("127.0.0.1", stand.port)) as rude:
            for seq, command in ((1, "initialize"), (2, "disconnect")):
                body = b'{"seq": %d, "type": "request", "command": "%s", "arguments": {}}' % (seq, command.encode())
                rude.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        socket.create_connection(("127.0.0.1", stand.port)).close()  # a port scan
    assert stand.attach() == ""
    assert "restarting" not in stand.log.read_text()


def test_a_debugpy_that_stopped_answering_is_restarted_and_the_attach_answered(stand: Stand) -> None:
    # Frozen (SIGSTOP): its port still accepts into the backlog, and nothing answers, as with a dead accept thread.
    subprocess.run(["pkill", "-STOP", "-f", "--", f"--port {stand.internal} "], check=True)
    session = dap.Session({"connect": {"host": "127.0.0.1", "port": stand.port}, "justMyCode": True}, {})
    try:
        assert session.root.request("threads")["threads"]
    finally:
        session.close()
    assert "debugger gate: debugpy stopped answering" in stand.log.read_text()
    assert stand.proc.poll() is None, "the gate ended: it should have restarted the program in place"
