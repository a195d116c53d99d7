"""The modes the stack runs in: normal, debug, debug-wait. Each owns its overlays and ports."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import DevloopError

LABEL = "devloop.mode"  # set on each container from DEVLOOP_MODE (docker-compose.yml)


@dataclass(frozen=True)
class Mode:
    """One way of running the stack."""

    name: str
    overlays: tuple[str, ...] = ()
    published: tuple[str, ...] = ("APP_PORT", "WEB_PORT")
    debugger: bool = False
    waits_for_debugger: bool = False

    def files(self, base: tuple[str, ...]) -> tuple[str, ...]:
        """Return the compose files of this mode: the project's, then the overlays."""
        return (*base, *self.overlays)

    def env(self) -> dict[str, str]:
        """Return the variables the compose files read to label containers with this mode."""
        return {"DEVLOOP_MODE": self.name}


NORMAL = Mode("normal")
DEBUG = Mode("debug", ("compose/debug.yml",), ("APP_PORT", "WEB_PORT", "DEBUG_PORT"), debugger=True)
DEBUG_WAIT = Mode("debug-wait", (*DEBUG.overlays, "compose/debug-wait.yml"), DEBUG.published, debugger=True, waits_for_debugger=True)
ALL = {mode.name: mode for mode in (NORMAL, DEBUG, DEBUG_WAIT)}


def named(name: str) -> Mode:
    """Return the mode of that name; an unknown one (a container from elsewhere) is normal."""
    return ALL.get(name, NORMAL)


def choose(debug: bool, wait: bool = False) -> Mode:
    """Return the mode a task's flags ask for."""
    if wait and not debug:
        raise DevloopError("--wait only makes sense with the debugger: use `invoke debug --wait`")
    return DEBUG_WAIT if wait else DEBUG if debug else NORMAL
