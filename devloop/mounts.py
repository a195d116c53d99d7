"""Whether the engine sees this machine's files, so that the bind mount of app/src carries edits to /code.

A bind mount resolves where the engine runs. On a remote engine (ssh://, tcp://, a VM without
file sharing) the container would get an empty folder, or one that only shares the path. A
throwaway container that bind-mounts the folder and reads its marker token answers it. A "yes"
is kept per engine address and token in .devloop/ (a folder made again gets a new token); a "no"
is asked again each time, so fixing file sharing takes effect at once.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import state
from .errors import DevloopError
from .source import MARKER, Source
from .waiting import wait_until

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

CACHE = "engine-sees-files.json"
PROBE = ".devloop-probe"  # app/devserver/watchers.py answers a save of it, without a reload
PROBE_SEEN = "/tmp/devloop-probe-seen"
WATCH_RECORD = "/tmp/devloop-watch.json"  # app/devserver/watchers.py: how the dev server watches /code, and why


def engine_sees(client: docker.DockerClient, folder: Path, token: str, image: str) -> bool:
    """Whether a container on the engine that bind-mounts the folder finds the same marker token in it."""
    from docker.errors import APIError, ContainerError
    from docker.types import Mount

    # The long syntax: a missing path fails instead of leaving an empty folder on the engine's host.
    mount = Mount("/probe", str(folder), type="bind", read_only=True)
    try:
        # As root: a marker the host's umask left unreadable to the app's user is still found.
        run = {"mounts": [mount], "network_mode": "none", "user": "0", "remove": True}
        out = client.containers.run(image, ["cat", f"/probe/{MARKER}"], **run)
    except ContainerError:
        return False  # no marker there: an empty or unrelated folder
    except APIError as exc:
        if "does not exist" in str(exc) or "not a directory" in str(exc):
            return False
        raise DevloopError(f"checking whether the engine sees {folder} failed: {exc.explanation or exc}") from None
    return out.decode(errors="replace").strip() == token


def _remembered(root: Path) -> dict[str, bool]:
    """Return the remembered answers, by engine address, folder and token."""
    return state.read_json(state.path(root, CACHE))


def known(where: str, root: Path, found: Source) -> bool:
    """Whether the engine at `where` was seen to see the folder, as it is now (no container is run)."""
    return bool(_remembered(root).get(f"{where} {found.folder} {found.token}"))


def seen(client: docker.DockerClient, where: str, root: Path, found: Source, image: str) -> bool:
    """Whether the engine at `where` sees the folder; a "yes" is remembered."""
    if known(where, root, found):
        return True
    if not engine_sees(client, found.folder, found.token, image):
        return False
    state.write_json(state.path(root, CACHE), {**_remembered(root), f"{where} {found.folder} {found.token}": True})
    return True


def edit_arrival(container: Container, folder: Path, timeout: float = 5.0) -> tuple[str, float] | str:
    """Save a new token in the source folder; return which watcher of the dev server saw it and after how long,
    or why not ("" when the save never arrived)."""
    token = secrets.token_hex(8)
    probe = folder / PROBE

    def arrived() -> str:
        words = container.exec_run(["cat", PROBE_SEEN]).output.decode(errors="replace").split()
        return words[1] if len(words) == 2 and words[0] == token else ""

    if container.exec_run(["cat", PROBE_SEEN]).exit_code != 0:
        return "the app's dev server does not answer the probe (an image from before it: `invoke up` rebuilds it)"
    started = time.monotonic()
    try:
        state.write_text(probe, token + "\n", mode=0o644)  # readable by the app's user whatever the umask, in one step
    except OSError as exc:
        return f"cannot write {probe.name} in {folder} ({exc.strerror or exc})"
    try:
        how = wait_until(arrived, timeout, interval=0.02)
        return (how, time.monotonic() - started) if how else ""
    finally:
        probe.unlink(missing_ok=True)


def watching(container: Container) -> dict[str, Any] | None:
    """How the dev server in the container watches its source (mode, why, the mount), or None if it does not say."""
    found = container.exec_run(["cat", WATCH_RECORD])
    try:
        return json.loads(found.output) if found.exit_code == 0 else None
    except ValueError:
        return None


def behind(watch: dict[str, Any], folder: Path) -> Path | None:
    """The folder on this machine behind the mount the dev server watches, when that is not `folder` itself: where an
    editor writes when app/src is a view of it (a FUSE mount), and a save raises no event in the container."""
    mount = watch.get("mount") or {}
    source, root = str(mount.get("source", "")), str(mount.get("root", "/"))
    if not source.startswith("/"):
        return None  # Docker Desktop's and WSL2's shares name no folder of this machine
    real = Path(source) / root.lstrip("/")
    return real if real.is_dir() and real.resolve() != folder.resolve() else None
