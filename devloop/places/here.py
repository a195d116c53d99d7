"""An engine on this machine (a unix socket; Docker Desktop's too, or its named pipe): it publishes
ports here, as they are."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .. import engine

if TYPE_CHECKING:
    import docker


class Here:
    """An engine whose published ports are this machine's."""

    def __init__(self, endpoint: str, state_dir: Path | None = None, project: str = "") -> None:
        self.endpoint = endpoint

    def connect(self, timeout: float = 10) -> docker.DockerClient:
        """An SDK client on the engine's socket."""
        return engine.connect(self.endpoint, timeout=timeout)

    def ours(self, states: Mapping[str, engine.ServiceState]) -> set[int] | None:
        """The ports the running services publish."""
        return {b.host_port for s in states.values() if s.status == "running" for b in s.bindings}

    def carry_ports(self, states: Mapping[str, engine.ServiceState]) -> None:
        """Nothing to do: the engine publishes here."""

    def describe_ports(self, states: Mapping[str, engine.ServiceState]) -> str:
        """Nothing to say: they are published here."""
        return ""

    def never_answers(self, address: str) -> str:
        """Nothing the place knows: recreating the service is the repair."""
        return ""

    def release(self) -> None:
        """Nothing to stop."""
