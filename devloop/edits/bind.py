"""A bind mount of the source folder (app/src) at /code, for an engine that sees this machine's files (this machine's,
Docker Desktop with file sharing, WSL2): the dev server in the container watches it itself."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .. import mounts
from ..errors import DevloopError
from ..findings import Check
from ..settings import Settings
from ..source import Source, shown
from .proof import proven

if TYPE_CHECKING:
    import docker

    from ..compose import Compose
    from ..findings import Arrival, Sees, Watching

DESCRIBED = "bind mount of {folder}, which the engine sees"  # how `status` and `doctor` name this way


class Bind:
    """The compose file's own bind mount."""

    name = "bind"

    def __init__(self, settings: Settings, found: Source, endpoint: str) -> None:
        self.settings, self.found, self.endpoint = settings, found, endpoint
        self.folder = shown(settings.root, settings.app_dir, found)
        self.described = DESCRIBED.format(folder=self.folder)

    def compose(self, base: Compose) -> Compose:
        """The compose files as they are."""
        return base

    def after_start(self, client: docker.DockerClient) -> None:
        """Nothing runs beside the stack: the engine mounts the folder."""

    def stop(self) -> None:
        """Nothing to stop."""

    def describe(self) -> str:
        """Say that the bind mount carries edits, as `up` last found on this engine."""
        if mounts.known(self.endpoint, self.settings.root, self.found):
            return f"{self.described} (checked by `invoke up`; `invoke doctor` times a save)"
        return "not checked on this engine yet (`invoke up` and `invoke doctor` check)"

    def prove(self, arrival: Arrival, sees: Sees, watching: Watching) -> Check:
        """Time a save through the bind mount (and one behind it, if it is a view of a folder here); without a running
        app, say whether the engine sees the folder."""
        timed = arrival(self.found.folder)
        if isinstance(timed, tuple):
            return proven(timed, self.described, watching, arrival, self.found.folder, self.folder)
        seen = sees()
        if seen is None:
            return Check("edits", False, f"not checked: {self.settings.python_image} is not on the engine yet", blocking=False)
        if not seen and self.settings.edits == "bind":
            return Check("edits", False, str(unseen_error(self.endpoint, self.found.folder)))
        if not seen:
            detail = f"the engine at {self.endpoint} does not see this machine's {self.folder}: `invoke up` syncs it into the app"
            return Check("edits", True, detail)
        if timed == "":
            detail = f"the engine sees {self.folder}, but a save there did not reach the running dev server within 5 s"
            fix = "`invoke up` recreates an app whose folder was replaced; `invoke logs --service app` says how it watches"
            return Check("edits", False, detail, fix)
        return Check("edits", True, f"{self.described}; a save was not timed: {timed}")


def unseen_error(where: str, folder: Path) -> DevloopError:
    """The one-line error for an engine that cannot see the source folder."""
    return DevloopError(
        f"the engine at {where} does not see this machine's {folder}: bind-mounted into the app it would be an empty "
        "folder, so no edit would reach /code. Unset DEVLOOP_EDITS=bind (sync mode copies it in), or share the folder "
        "with the engine (Docker Desktop: Settings > Resources > File sharing)"
    )
