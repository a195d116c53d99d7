"""An engine over tcp://: it publishes ports on its own machine, which may not be this one, and
nothing carries them here (an ssh:// address to the same machine does)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .. import engine

if TYPE_CHECKING:
    import docker


class OverTcp:
    """An engine reached over plain TCP."""

    def __init__(self, endpoint: str, state_dir: Path | None = None, project: str = "") -> None:
        self.endpoint = endpoint

    def connect(self, timeout: float = 10) -> docker.DockerClient:
        """An SDK client over TCP."""
        return engine.connect(self.endpoint, timeout=timeout)

    def ours(self, states: Mapping[str, engine.ServiceState]) -> set[int] | None:
        """None: the ports are taken or free on the engine's machine, and the engine says which."""
        return None

    def carry_ports(self, states: Mapping[str, engine.ServiceState]) -> None:
        """Nothing carries them: they answer here only if the engine's machine is this one (or routes here)."""

    def describe_ports(self, states: Mapping[str, engine.ServiceState]) -> str:
        """Nothing to say until one does not answer (then `never_answers` says why)."""
        return ""

    def never_answers(self, address: str) -> str:
        """The ports are published on the engine's machine: say how to have them forwarded here."""
        return (
            f"the engine at {self.endpoint} publishes ports on its own machine. Reach it over SSH instead "
            "(DOCKER_HOST=ssh://user@host, or a docker context with that address): `invoke up` then forwards every port here"
        )

    def release(self) -> None:
        """Nothing to stop."""
