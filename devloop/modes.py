"""The modes the stack runs in: normal, debug, debug-wait. Each owns its overlays (and so its ports)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import DevloopError

# Overlays for what newer engines allow, by the Engine API version that brought it. Compose
# refuses healthcheck `start_interval` before API 1.44 (Engine 25), so it cannot be in the base file.
ENGINE_OVERLAYS = (((1, 44), "compose/start-interval.yml"),)


@dataclass(frozen=True)
class Mode:
    """One way of running the stack."""

    name: str
    overlays: tuple[str, ...] = ()
    debugger: bool = False
    waits_for_debugger: bool = False

    def files(self, base: tuple[str, ...], api: tuple[int, int] = (1, 0)) -> tuple[str, ...]:
        """Return the compose files of this mode: the project's, the engine's (by API version), then the mode's."""
        return (*base, *engine_overlays(api), *self.overlays)

    def env(self) -> dict[str, str]:
        """Return the variables the compose files read to label containers with this mode."""
        return {"DEVLOOP_MODE": self.name}


NORMAL = Mode("normal")
DEBUG = Mode("debug", ("compose/debug.yml",), debugger=True)
DEBUG_WAIT = Mode("debug-wait", (*DEBUG.overlays, "compose/debug-wait.yml"), debugger=True, waits_for_debugger=True)
ALL = {mode.name: mode for mode in (NORMAL, DEBUG, DEBUG_WAIT)}


def engine_overlays(api: tuple[int, int]) -> tuple[str, ...]:
    """Return the overlays an engine speaking this API version allows."""
    return tuple(overlay for since, overlay in ENGINE_OVERLAYS if api >= since)


def named(name: str) -> Mode:
    """Return the mode of that name; an unknown one (a container from elsewhere) is normal."""
    return ALL.get(name, NORMAL)


def choose(debug: bool, wait: bool = False) -> Mode:
    """Return the mode a task's flags ask for."""
    if wait and not debug:
        raise DevloopError("--wait only makes sense with the debugger: use `invoke debug --wait`")
    return DEBUG_WAIT if wait else DEBUG if debug else NORMAL
