"""What `up` repairs instead of reporting "fine": a network that exists twice, a folder the host
replaced under a bind mount (the source-id label makes Compose recreate it; this says so), a
published port that does not answer from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import engine, fingerprints, reach, ssh
from .errors import DevloopError

if TYPE_CHECKING:
    from .stack import Stack


def dedupe_networks(stack: Stack) -> None:
    """Remove the unused copies of a network that exists more than once under one name."""
    for name in (n.get("name") for n in (stack.compose.model().get("networks") or {}).values()):
        spare = engine.duplicate_networks(stack.client, name)
        for network in spare:
            network.remove()
        if spare:
            stack.out(f"network {name} existed {len(spare) + 1} times (two starts at once made it); removed the unused copies")


def replaced_sources(stack: Stack) -> list[str]:
    """Return the services whose bind-mounted source folder was replaced on the host since the last up."""
    recorded = fingerprints.load(stack.settings.root, stack.settings.project)
    if recorded is None:
        return []
    current = stack.fingerprint().mounted
    return [name for name, identity in current.items() if recorded.mounted.get(name, identity) != identity]


def repair_ports(stack: Stack, checked: list[reach.Reach], skipped: dict[str, str]) -> tuple[list[reach.Reach], dict[str, str]]:
    """Recreate each service whose published port does not answer from here; fail if that does not help."""
    broken = [r for r in checked if r.problem]
    if not broken:
        return checked, skipped
    for r in broken:
        what = "debugpy: " if r.kind == "debugger" else ""
        stack.out(f"{r.service}: {r.address} does not answer from this machine ({what}{r.problem}); recreating it (data is kept)")
    stack.recreate(sorted({r.service for r in broken}))
    if stack.mode.debugger:
        stack.wait_for_debugger()
    checked, skipped = reach.check(stack.states(), stack.settings)
    still = next((r for r in checked if r.problem), None)
    if still and not engine.publishes_here(stack.endpoint) and not ssh.is_ssh(stack.endpoint):
        raise DevloopError(
            f"{still.service}: {still.address} does not answer from this machine: the engine at {stack.endpoint} publishes ports "
            "on its own machine. Reach it over SSH instead (DOCKER_HOST=ssh://user@host, or a docker context with that address): "
            "`invoke up` then forwards every port here"
        )
    if still:
        where = f"{still.service}: {still.address}"
        raise DevloopError(
            f"{where} still does not answer from this machine after recreating it: {still.problem} "
            f"(`invoke logs --service {still.service}` says why)"
        )
    return checked, skipped
