"""The sync's background program: `python -m devloop.syncer ROOT PROJECT CONTAINER FOLDER TARGET UID`
copies a source folder into a container (at TARGET) through the Engine API and keeps it there, for an
engine that does not see this machine's files (devloop/edits/sync.py starts and stops it, and reads its state).

It makes a full copy (and removes what the container has that the host does not), then sends
every change watchfiles reports: saves, new files and folders, deletions, renames. Files are
owned by the app's user; what the build context's .dockerignore excludes (caches, editor
droppings) stays out. After a dropped connection it copies again. It reports its state
("copying", "in sync", "reconnecting: ...") in its state file, and a line per change in its log.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import sys
import tarfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import watchfiles

from . import fingerprints, places
from .edits.sync import IN_SYNC, process
from .mounts import PROBE
from .source import MARKER

if TYPE_CHECKING:
    from docker.models.containers import Container

HEARTBEAT = 5.0  # seconds an idle sync waits before it checks that the engine and the container are there
ALWAYS_SENT = (PROBE,)  # the doctor's probe: ignored by builds, but it must arrive


class Tree:
    """The source folder as it is sent: its files, less what the build context ignores."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.patterns = fingerprints.ignore_patterns(folder.parent)

    def skipped(self, relative: str) -> bool:
        """Whether a folder-relative path stays out of the container."""
        name = relative.rsplit("/", 1)[-1]
        if name in ALWAYS_SENT:
            return False
        return name == MARKER or fingerprints.ignored(f"{self.folder.name}/{relative}", self.patterns)

    def files(self, under: str = "") -> list[str]:
        """Return the folder-relative paths of the files to send (below `under`, if given)."""
        base = self.folder / under if under else self.folder
        found = []
        for path in sorted(base.rglob("*")) if base.is_dir() else []:
            relative = path.relative_to(self.folder).as_posix()
            if path.is_file() and not self.skipped(relative):
                found.append(relative)
        return found


def pack(folder: Path, relatives: Iterable[str], uid: int) -> bytes:
    """Return a tar of these files and their folders, owned by uid."""
    buffer = io.BytesIO()
    folders: set[str] = set()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for relative in relatives:
            parts = relative.split("/")
            for n in range(1, len(parts)):
                parent = "/".join(parts[:n])
                if parent not in folders:
                    folders.add(parent)
                    info = tarfile.TarInfo(parent)
                    info.type, info.mode, info.uid, info.gid, info.mtime = tarfile.DIRTYPE, 0o755, uid, uid, int(time.time())
                    tar.addfile(info)
            path = folder / relative
            try:
                info = tar.gettarinfo(str(path), arcname=relative)
                info.uid = info.gid = uid
                info.uname = info.gname = ""
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            except OSError:
                continue  # gone since it was listed: its deletion comes next
    return buffer.getvalue()


class Syncer:
    """Copies one source folder into one container."""

    def __init__(self, container: Container, folder: Path, target: str, uid: int) -> None:
        self.container, self.tree, self.target, self.uid = container, Tree(folder), target, uid

    def push(self, relatives: list[str]) -> None:
        """Send these files (and their folders)."""
        if relatives and not self.container.put_archive(self.target, pack(self.tree.folder, relatives, self.uid)):
            raise OSError(f"the engine refused the copy into {self.target}")

    def remove(self, relatives: list[str]) -> None:
        """Delete these paths (files or folders) in the container."""
        if relatives:
            self.container.exec_run(["rm", "-rf", "--", *(f"{self.target}/{r}" for r in relatives)], user="0")

    def full(self) -> int:
        """Make the container's copy equal to the host's: remove what only it has, send everything; return the files sent."""
        listed = self.container.exec_run(["find", self.target, "-mindepth", "1", "-type", "f", "-printf", "%P\\n"], user="0")
        there = {line for line in listed.output.decode(errors="replace").splitlines() if line}
        here = self.tree.files()
        self.remove(sorted(r for r in there - set(here) if not self.tree.skipped(r)))
        self.push(here)
        return len(here)

    def apply(self, paths: Iterable[str]) -> tuple[int, int]:
        """Send what exists of these changed paths, delete what does not; return how many of each."""
        sent, gone = [], []
        for path in sorted(set(paths)):
            relative = Path(path).relative_to(self.tree.folder).as_posix()
            if relative == "." or self.tree.skipped(relative):
                continue
            local = self.tree.folder / relative
            if local.is_dir():
                sent += self.tree.files(relative)  # a folder made or renamed: its files are not listed one by one
            elif local.is_file():
                sent.append(relative)
            else:
                gone.append(relative)
        self.remove(gone)
        self.push(sorted(set(sent)))
        return len(set(sent)), len(gone)


def _say(line: str) -> None:
    """Write a line to the syncer's log (`invoke sync --follow` prints them as they come)."""
    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)


def keep_in_sync(syncer: Syncer, report: Callable[..., None]) -> None:
    """Copy everything once the watch is armed, then send each change; check an idle engine now and then."""
    # The full copy waits for the watch's first (empty) yield: by then it watches, so a save made
    # during the copy is sent after it, never lost. step: yield after 5 ms without a new change;
    # debounce: group at most 100 ms; an idle watch yields every 200 ms.
    folder = syncer.tree.folder
    copied = False
    heard = time.monotonic()  # the engine's last answer: an idle sync asks now and then, so a lost engine shows
    for changes in watchfiles.watch(folder, step=5, debounce=100, rust_timeout=200, yield_on_timeout=True, raise_interrupt=False):
        started = time.monotonic()
        if not copied:
            _say(f"copied all of {folder} into {syncer.container.id[:12]}:{syncer.target}: {syncer.full()} files")
            copied = True
        elif not changes:
            if started - heard > HEARTBEAT:
                syncer.container.reload()  # fails like a copy would: engine gone, container gone
                heard = started
            continue
        else:
            report(state="copying")
            sent, gone = syncer.apply(path for _, path in changes)
            _say(f"sent {sent} file(s), removed {gone} path(s) in {(time.monotonic() - started) * 1000:.0f} ms")
        report(state=IN_SYNC)
        heard = time.monotonic()


def run(root: Path, project: str, container_id: str, folder: Path, target: str, uid: int) -> None:
    """Sync until stopped; copy everything again after a dropped connection."""
    me = process(root, project)

    def report(**fields: Any) -> None:
        # Only while the state is this syncer's: one stopped for a new container must not overwrite its successor's.
        if me.read().get("container") != container_id:
            sys.exit(0)
        me.update(**fields)

    report(pid=os.getpid(), state="copying")
    while True:
        try:
            keep_in_sync(Syncer(places.connect().containers.get(container_id), folder, target, uid), report)
            return
        except Exception as exc:  # an engine gone or a container replaced: say so, copy again
            said = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if "No such container" in said:
                report(state=f"stopped: the app container is gone ({said})", pid=None)
                return
            _say(f"reconnecting: {said}")
            report(state=f"reconnecting: {said}")
            time.sleep(1)


def _stopped(*_: object) -> None:
    """End on SIGTERM (`down`, or a new container's syncer), saying so in the log."""
    _say("stopped")
    sys.exit(0)


if __name__ == "__main__":
    # watchfiles reports our SIGTERM as a caught KeyboardInterrupt; the log says "stopped" instead.
    logging.getLogger("watchfiles").setLevel(logging.ERROR)
    signal.signal(signal.SIGTERM, _stopped)
    root_arg, project_arg, container_arg, folder_arg, target_arg, uid_arg = sys.argv[1:7]
    run(Path(root_arg), project_arg, container_arg, Path(folder_arg), target_arg, int(uid_arg))
