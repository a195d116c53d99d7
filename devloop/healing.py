"""What `up` and `reload` repair instead of reporting "fine": a network that exists twice, a
folder the host replaced under a bind mount, a published port that does not answer from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import engine, reach
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


def replaced_mounts(stack: Stack) -> dict[str, list[str]]:
    """Return, per running service, the bind-mounted directories that were deleted on the host."""
    found = {}
    for name, container in engine.containers(stack.client, stack.settings.project).items():
        if container.status == "running" and (targets := engine.deleted_mounts(container)):
            found[name] = targets
    return found


def repair_ports(stack: Stack, checked: list[reach.Reach], skipped: dict[str, str]) -> tuple[list[reach.Reach], dict[str, str]]:
    """Recreate each service whose published port does not answer from here; fail if that does not help."""
    broken = [r for r in checked if r.problem]
    if not broken:
        return checked, skipped
    for r in broken:
        what = "debugpy" if r.kind == "debugger" else r.service
        stack.out(f"{r.service}: {r.address} does not answer from this machine ({what}: {r.problem}); recreating it (data is kept)")
    stack.recreate(sorted({r.service for r in broken}))
    if stack.mode.debugger:
        stack.wait_for_debugger()
    checked, skipped = reach.check(stack.states(), stack.settings)
    still = next((r for r in checked if r.problem), None)
    if still:
        where = f"{still.service}: {still.address}"
        raise DevloopError(f"{where} still does not answer from this machine after recreating it: {still.problem}")
    return checked, skipped
