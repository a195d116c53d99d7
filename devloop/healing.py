"""What `up` repairs instead of reporting "fine": a network that exists twice, a folder the host
replaced under a bind mount (the source-id label makes Compose recreate it; this says so), a
published port that does not answer from here.
"""

from __future__ import annotations

from . import engine, fingerprints, reach
from .errors import DevloopError
from .runtime import Runtime


def dedupe_networks(rt: Runtime) -> None:
    """Remove the unused copies of a network that exists more than once under one name."""
    for name in (n.get("name") for n in (rt.compose.model().get("networks") or {}).values()):
        spare = engine.duplicate_networks(rt.client, name)
        for network in spare:
            network.remove()
        if spare:
            rt.out(f"network {name} existed {len(spare) + 1} times (two starts at once made it); removed the unused copies")


def replaced_sources(recorded: fingerprints.Fingerprint | None, current: fingerprints.Fingerprint) -> list[str]:
    """Return the services whose source folder was replaced on the host since the last up."""
    if recorded is None:
        return []
    return [name for name, identity in current.mounted.items() if recorded.mounted.get(name, identity) != identity]


def repair_ports(rt: Runtime, checked: list[reach.Reach], skipped: dict[str, str]) -> tuple[list[reach.Reach], dict[str, str]]:
    """Recreate each service whose published port does not answer from here; fail if that does not help."""
    broken = [r for r in checked if r.problem]
    if not broken:
        return checked, skipped
    for r in broken:
        what = "debugpy: " if r.kind == "debugger" else ""
        rt.out(f"{r.service}: {r.address} does not answer from this machine ({what}{r.problem}); recreating it (data is kept)")
    rt.recreate(sorted({r.service for r in broken}))
    if rt.mode.debugger:
        rt.wait_for_debugger()
    checked, skipped = reach.check(rt.states(), rt.settings)
    still = next((r for r in checked if r.problem), None)
    if still:
        why = rt.place.never_answers(still.address)
        raise DevloopError(
            f"{still.service}: {still.address} does not answer from this machine: {why}"
            if why
            else f"{still.service}: {still.address} still does not answer from this machine after recreating it: {still.problem} "
            f"(`invoke logs --service {still.service}` says why)"
        )
    return checked, skipped
