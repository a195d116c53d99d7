"""An engine over ssh://: its API through one SSH connection to a local socket (devloop/ssh.py),
shared by the SDK, Compose and the docker CLI, and the stack's ports forwarded by another to this
machine's 127.0.0.1 with the same numbers, from `up` until `down`."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .. import engine, ssh
from ..background import Background

if TYPE_CHECKING:
    import docker

ROUTED_VAR = "DEVLOOP_ENGINE_VIA"  # "<local socket> <ssh:// address>" once DOCKER_HOST was routed through the tunnel


class OverSsh:
    """An engine reached over SSH."""

    def __init__(self, endpoint: str, state_dir: Path | None = None, project: str = "") -> None:
        self.endpoint = endpoint
        self.forwards = Forwards(endpoint, state_dir, project) if state_dir else None

    def connect(self, timeout: float = 10) -> docker.DockerClient:
        """An SDK client through the tunnel; the docker CLI and Compose this task runs use it too (no handshake each)."""
        local = f"unix://{ssh.engine_socket(self.endpoint)}"
        os.environ["DOCKER_HOST"], os.environ[ROUTED_VAR] = local, f"{local} {self.endpoint}"
        return engine.connect(local, shown=self.endpoint, timeout=timeout)

    def ours(self, states: Mapping[str, engine.ServiceState]) -> set[int] | None:
        """The ports our forwards hold here (the engine says when one is taken on its own machine)."""
        return set(self.forwards.current()) if self.forwards else set()

    def carry_ports(self, states: Mapping[str, engine.ServiceState]) -> None:
        """Forward every port the running services publish."""
        if self.forwards:
            self.forwards.ensure(b.host_port for s in states.values() if s.status == "running" for b in s.bindings)

    def describe_ports(self, states: Mapping[str, engine.ServiceState]) -> str:
        """Which ports come here over SSH, and whether the forwarder runs."""
        return self.forwards.describe() if self.forwards and states else ""

    def never_answers(self, address: str) -> str:
        """Nothing more to say: the forward was checked when it started."""
        return ""

    def release(self) -> None:
        """Stop the forwards and the connection that carries the engine's API."""
        if self.forwards:
            self.forwards.stop()
        ssh.close_engine(self.endpoint)


def _listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


class Forwards:
    """One project's published ports, carried from the remote engine's 127.0.0.1 to this machine's."""

    def __init__(self, url: str, state_dir: Path, project: str) -> None:
        self.target = ssh.Target.parse(url)
        self.process = Background(state_dir / f"forwards-{project}.json", state_dir / f"forwards-{project}.log", "ssh")

    def current(self) -> list[int]:
        """The ports forwarded now ([] when the forwarder is not running)."""
        found = self.process.running()
        return sorted(found.get("ports", [])) if found.get("url") == self.target.url else []

    def ensure(self, ports: Iterable[int]) -> None:
        """Forward exactly these ports (keep a forwarder that already does)."""
        wanted = sorted(set(ports))
        if wanted and self.current() == wanted:
            return
        self.stop()
        if wanted:
            self.process.state_file.parent.mkdir(exist_ok=True)
            forwards = [f"127.0.0.1:{p}:127.0.0.1:{p}" for p in wanted]
            ssh.connection(
                self.target, forwards, self.process, lambda: all(_listening(p) for p in wanted), url=self.target.url, ports=wanted
            )

    def describe(self) -> str:
        """Say which ports come here, and whether the forwarder runs (for `up` and `status`)."""
        ports = self.current()
        if not ports:
            return f"NOT forwarded from {self.target.url} (`invoke up` forwards them again)"
        listed = ", ".join(map(str, ports))
        return f"{listed} forwarded from {self.target.url}'s 127.0.0.1 over SSH (pid {self.process.read()['pid']})"

    def stop(self) -> None:
        """Stop forwarding."""
        self.process.forget()
