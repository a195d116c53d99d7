"""Where the stack runs: the engine's address, how the SDK and the CLI reach it, and how the
ports it publishes reach the user. Each kind of place is a module; `choose` picks one from the
engine's address, once per task, and the rest of devloop only asks it.

To add a place (an engine behind some other transport, a cluster): write a module with a class
that has `Place`'s members, and add a line to KINDS.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..commands import Cli
from ..engine import ServiceState
from .here import Here
from .over_ssh import ROUTED_VAR, OverSsh
from .over_tcp import OverTcp

if TYPE_CHECKING:
    import docker

DEFAULT_HOST = "unix:///var/run/docker.sock"
# By the scheme of the engine's address: a socket or pipe here; an engine reached over SSH; one over plain TCP.
KINDS: dict[str, type[Place]] = {"unix": Here, "npipe": Here, "ssh": OverSsh, "tcp": OverTcp}
States = Mapping[str, ServiceState]


class Place(Protocol):
    """Where the stack runs, and how what it publishes reaches this machine."""

    endpoint: str  # the engine's address, as the user gave it (DOCKER_HOST or the docker context)

    def __init__(self, endpoint: str, state_dir: Path | None = None, project: str = "") -> None: ...

    def connect(self, timeout: float = 10) -> docker.DockerClient:
        """An SDK client for the engine; also what the docker CLI and Compose run by this task reach."""
        ...

    def ours(self, states: States) -> set[int] | None:
        """The ports on this machine's 127.0.0.1 that this stack already holds (None: the engine says when one is taken)."""
        ...

    def carry_ports(self, states: States) -> None:
        """Make every port the running services publish answer on this machine's 127.0.0.1, with the same number."""
        ...

    def describe_ports(self, states: States) -> str:
        """How the ports reach this machine, for `up` and `status` ("" when they are simply published here)."""
        ...

    def never_answers(self, address: str) -> str:
        """Why a published port that was recreated still does not answer here, when the place knows ("" otherwise)."""
        ...

    def release(self) -> None:
        """Stop what carries the stack's ports and the engine's API here (`down`)."""
        ...


def docker_host() -> str:
    """Return DOCKER_HOST as the user set it ("" when unset): an ssh:// address, not the socket it was routed to."""
    local, _, remote = os.environ.get(ROUTED_VAR, "").partition(" ")
    if local and os.environ.get("DOCKER_HOST") == local:
        return remote
    return os.environ.get("DOCKER_HOST", "")


def endpoint(cli: Cli | None = None) -> str:
    """Return the engine's address as the docker CLI would use it (DOCKER_HOST, else the current context)."""
    if docker_host():
        return docker_host()
    found = (cli or Cli()).capture(["docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"], timeout=10)
    return (found.stdout.strip() if found.ok else "") or DEFAULT_HOST


def choose(where: str, state_dir: Path | None = None, project: str = "") -> Place:
    """Return the place an engine address names (state_dir and project: where a stack's background helpers keep state)."""
    kind = KINDS.get(where.partition("://")[0], Here)
    return kind(where, state_dir, project)


def connect(timeout: float = 10) -> docker.DockerClient:
    """Return an SDK client for the engine the docker CLI would use, or fail in one line saying how to get one."""
    return choose(endpoint()).connect(timeout)
