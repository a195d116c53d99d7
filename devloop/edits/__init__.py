"""How edits reach /code in the app container. Each way is a module; `choose` picks one when `up`
starts the stack, `running` reads the one a running app was started with (its devloop.edits
label), and the rest of devloop only asks it.

To add a way (a shared volume, a cluster's file sync): write a module with a class that has
`Edits`' members, and add a line to KINDS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ..settings import Settings
from ..source import Source
from .bind import Bind, unseen_error
from .sync import Sync

if TYPE_CHECKING:
    import docker

    from ..compose import Compose
    from ..findings import Arrival, Check, Sees, Watching

# By the devloop.edits label each gives the app ("" is a bind mount: docker-compose.yml's own).
KINDS: dict[str, type[Edits]] = {"": Bind, "bind": Bind, "sync": Sync}


class Edits(Protocol):
    """How a save under the source folder reaches the container."""

    name: str  # "bind", "sync": what `status` and the settings call it

    def __init__(self, settings: Settings, found: Source, endpoint: str) -> None: ...

    def compose(self, base: Compose) -> Compose:
        """The Compose that carries it: the base, or the base and an overlay."""
        ...

    def after_start(self, client: docker.DockerClient) -> None:
        """Called after each start or recreate of the stack: what must then run for saves to arrive."""
        ...

    def stop(self) -> None:
        """Stop what `after_start` started (`down`)."""
        ...

    def describe(self) -> str:
        """One line for `status`: the way, and how it is now."""
        ...

    def prove(self, arrival: Arrival, sees: Sees, watching: Watching) -> Check:
        """The doctor's line: whether a save reaches the dev server this way (timed when the app runs), what the timed
        save proved, and how the dev server watches (`watching`)."""
        ...


def running(settings: Settings, label: str | None, found: Source, endpoint: str) -> Edits:
    """Return the way a running app was started with, by its label (None: no app; a bind mount is what up tries first)."""
    return KINDS.get(label or "", Bind)(settings, found, endpoint)


def choose(settings: Settings, found: Source, endpoint: str, sees: Callable[[], bool], out: Callable[[str], None]) -> Edits:
    """Return the way for this engine: a bind mount when it sees this machine's files (sees()), else the sync;
    DEVLOOP_EDITS=bind|sync forces one (a forced bind the engine cannot see is refused)."""
    wanted = settings.edits
    if wanted == "sync":
        return Sync(settings, found, endpoint)
    if sees():
        return Bind(settings, found, endpoint)
    if wanted == "bind":
        raise unseen_error(endpoint, found.folder)
    out(f"the engine at {endpoint} does not see this machine's {found.shown(settings.root)}: syncing it into the app instead")
    return Sync(settings, found, endpoint)
