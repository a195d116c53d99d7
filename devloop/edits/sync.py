"""Sync: app/src copied into the app container through the Engine API, for an engine that does not
see this machine's files (a bind mount there would be an empty folder). A background program
(devloop/syncer.py) runs from `up` to `down` and keeps /code equal to app/src; the project's other
bind-mounted files go in as Compose configs and secrets (devloop/carry.py's overlay).
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .. import carry, engine, state
from ..background import Background, Ended
from ..errors import DevloopError
from ..findings import Check
from ..settings import Settings
from ..source import Source, shown
from ..waiting import wait_until
from .proof import proven

if TYPE_CHECKING:
    import docker

    from ..compose import Compose
    from ..findings import Arrival, Sees, Watching

IN_SYNC = "in sync"
PROGRAM = "devloop.syncer"  # what its command line says: `python -m devloop.syncer ...`
READY_TIMEOUT = 120.0
DESCRIBED = "sync of {folder} through the Engine API"  # how `status` and `doctor` name this way


def process(root: Path, project: str) -> Background:
    """The syncer of a project: its state in .devloop/sync-PROJECT.json, a line per change in .devloop/sync-PROJECT.log."""
    return Background(state.path(root, f"sync-{project}.json"), state.path(root, f"sync-{project}.log"), PROGRAM)


class Sync:
    """The syncer, and the overlay that carries the other files."""

    name = "sync"

    def __init__(self, settings: Settings, found: Source, endpoint: str) -> None:
        self.settings, self.found, self.endpoint = settings, found, endpoint
        self.folder = shown(settings.root, settings.app_dir, found)

    def compose(self, base: Compose) -> Compose:
        """The base compose files, and the overlay that carries the project's other files (configs and secrets)."""
        overlay, secrets = carry.write(base.model(), self.settings.root, self.settings.project, self.found.folder)
        return base.with_files([overlay], **secrets)

    def after_start(self, client: docker.DockerClient) -> None:
        """Start (or keep) the syncer for the app's container; wait until it is in sync."""
        container = engine.containers(client, self.settings.project)[self.found.service]
        start(self.settings, self.found, container.id)

    def stop(self) -> None:
        """Stop the syncer."""
        stop(self.settings.root, self.settings.project)

    def describe(self) -> str:
        """The syncer's state."""
        return describe(self.settings.root, self.settings.project, self.folder)

    def prove(self, arrival: Arrival, sees: Sees, watching: Watching) -> Check:
        """Whether the syncer runs, and a save reaches the dev server through it."""
        syncing = process(self.settings.root, self.settings.project).running()
        if not syncing:
            detail = "the app's /code is a copy kept by a sync that is not running: saves do not reach it"
            return Check("edits", False, detail, "`invoke up`")
        path = f"{DESCRIBED.format(folder=self.folder)}, {syncing.get('state')}"
        timed = arrival(self.found.folder)
        if isinstance(timed, tuple):
            return proven(timed, path, watching, arrival, self.found.folder, self.folder)
        if timed == "":
            return Check(
                "edits",
                False,
                f"a save under {self.folder} did not reach the dev server within 5 s ({path})",
                "`invoke up` restarts the sync",
            )
        return Check("edits", True, f"{path}; a save was not timed: {timed}")


def start(settings: Settings, found: Source, container_id: str, timeout: float = READY_TIMEOUT) -> None:
    """Run a syncer for this container in the background (keep one that already does); wait until in sync."""
    syncer = process(settings.root, settings.project)
    if syncer.running().get("container") == container_id:
        ready = _wait(syncer, timeout)
    else:
        argv = [sys.executable, "-m", PROGRAM, str(settings.root), settings.project, container_id, str(found.folder), found.target]
        try:
            ready = syncer.start(
                [*argv, str(settings.app_uid)],
                lambda: _in_sync(syncer),
                timeout,
                cwd=settings.root,
                container=container_id,
                state="starting",
            )
        except Ended as ended:
            said = (ended.output.strip().splitlines() or ["no output"])[-1]
            raise DevloopError(f"the sync of app/src into the app ended at once: {said} (all of it: {syncer.log})") from None
    if not ready:
        raise DevloopError(f"sync of app/src into the app did not finish in {timeout:.0f}s: {syncer.read().get('state')}")


def _in_sync(syncer: Background) -> bool:
    """Whether the syncer says the container has every save."""
    return syncer.read().get("state") == IN_SYNC


def _wait(syncer: Background, timeout: float) -> bool:
    """Wait until a syncer that already runs is in sync."""
    return bool(wait_until(lambda: _in_sync(syncer), timeout, interval=0.05))


def describe(root: Path, project: str, folder: str = "app/src") -> str:
    """Say how edits reach the app in sync mode, and how the syncer is (for `invoke status`)."""
    found = process(root, project).running()
    if not found:
        return f"{DESCRIBED.format(folder=folder)}: NOT RUNNING (`invoke up` starts it)"
    return f"{DESCRIBED.format(folder=folder)}: {found.get('state')} (pid {found['pid']})"


def follow(root: Path, project: str, out: Callable[[str], None]) -> None:
    """Print each line the syncer logs from now on, until it stops (or Ctrl-C)."""
    syncer = process(root, project)
    syncer.log.touch()
    with syncer.log.open(encoding="utf-8", errors="replace") as lines:
        lines.seek(0, io.SEEK_END)
        while True:
            line = lines.readline()
            if line:
                out(line.rstrip("\n"))
            elif not syncer.alive():
                out(describe(root, project))
                return
            else:
                time.sleep(0.1)


def stop(root: Path, project: str) -> None:
    """Stop the project's syncer, if one runs."""
    process(root, project).stop(state="stopped")
