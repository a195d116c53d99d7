"""The debugger in the app container: which port debugpy listens on, and whether it does."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import engine
from .compose import Compose
from .errors import DevloopError
from .waiting import wait_until

if TYPE_CHECKING:
    import docker


def debugpy_port(compose: Compose, service: str = "app") -> int:
    """Return the port debugpy listens on inside the container (the debug overlay's DEBUGPY_PORT)."""
    env = compose.service(service).get("environment") or {}
    if "DEBUGPY_PORT" not in env:
        raise DevloopError(f"{service} runs no debugger in this mode (no DEBUGPY_PORT in its environment)")
    return int(env["DEBUGPY_PORT"])


def wait_listening(client: docker.DockerClient, project: str, port: int, timeout: float = 60, service: str = "app") -> None:
    """Wait until debugpy listens in the container, without connecting to it."""

    def listens() -> bool:
        container = engine.containers(client, project).get(service)
        return container is not None and port in engine.listening(container)

    if not wait_until(listens, timeout, interval=0.3):
        raise DevloopError(f"debugpy did not start listening within {timeout:.0f}s: see `invoke logs --service {service}`")
