"""Sync mode: app/src copied into the app container through the Engine API, for an engine that
does not see this machine's files (a bind mount there would be an empty folder).

`up` starts `python -m devloop.sync ROOT PROJECT CONTAINER FOLDER UID` in the background and `down`
stops it. It makes a full copy (and removes what the container has that the host does not), then
sends every change watchfiles reports: saves, new files and folders, deletions, renames. Files are
owned by the app's user; what app/.dockerignore excludes (caches, editor droppings) stays out.
After a dropped connection it copies again. Its state ("copying", "in sync", "reconnecting: ...")
is in .devloop/sync-PROJECT.json, which `up`, `status`, `doctor` and `invoke sync` read; its log,
a line per change sent, in .devloop/sync-PROJECT.log.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import fingerprints, processes
from .errors import DevloopError
from .settings import SOURCE_MARKER

if TYPE_CHECKING:
    from docker.models.containers import Container

TARGET = "/code"
READY_TIMEOUT = 120.0
HEARTBEAT = 5.0  # seconds an idle sync waits before it checks that the engine and the container are there
ALWAYS_SENT = (".devloop-probe",)  # the doctor's probe: ignored by builds, but it must arrive
IN_SYNC = "in sync"
MODULE = "devloop.sync"  # what its command line says: `python -m devloop.sync ...`
PATH = "sync of app/src through the Engine API"  # how `status` and `doctor` name this way of carrying edits


def state_path(root: Path, project: str) -> Path:
    """Where the syncer of a project keeps its state."""
    return root / fingerprints.STATE_DIR / f"sync-{project}.json"


def log_path(root: Path, project: str) -> Path:
    """Where the syncer of a project writes a line per change it sends."""
    return root / fingerprints.STATE_DIR / f"sync-{project}.log"


def read_state(root: Path, project: str) -> dict[str, Any]:
    """Return the syncer's last state ({} when none ran)."""
    try:
        return json.loads(state_path(root, project).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_state(root: Path, project: str, **fields: Any) -> None:
    """Record the syncer's state, replacing the file in one step."""
    path = state_path(root, project)
    path.parent.mkdir(exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_text(json.dumps({**read_state(root, project), **fields, "at": time.time()}) + "\n", encoding="utf-8")
    partial.replace(path)


def running(root: Path, project: str) -> dict[str, Any]:
    """Return the state of a syncer whose process is alive ({} when none is)."""
    state = read_state(root, project)
    return state if processes.alive(state.get("pid"), MODULE) else {}


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
        return name == SOURCE_MARKER or fingerprints.ignored(f"{self.folder.name}/{relative}", self.patterns)

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

    def __init__(self, container: Container, folder: Path, uid: int) -> None:
        self.container, self.tree, self.uid = container, Tree(folder), uid

    def push(self, relatives: list[str]) -> None:
        """Send these files (and their folders)."""
        if relatives and not self.container.put_archive(TARGET, pack(self.tree.folder, relatives, self.uid)):
            raise OSError(f"the engine refused the copy into {TARGET}")

    def remove(self, relatives: list[str]) -> None:
        """Delete these paths (files or folders) in the container."""
        if relatives:
            self.container.exec_run(["rm", "-rf", "--", *(f"{TARGET}/{r}" for r in relatives)], user="0")

    def full(self) -> int:
        """Make the container's copy equal to the host's: remove what only it has, send everything; return the files sent."""
        listed = self.container.exec_run(["find", TARGET, "-mindepth", "1", "-type", "f", "-printf", "%P\\n"], user="0")
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
    """Write a line to the syncer's log (`tail -f .devloop/sync-PROJECT.log` to watch it work)."""
    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)


def run(root: Path, project: str, container_id: str, folder: Path, uid: int) -> None:
    """Sync until stopped; copy everything again after a dropped connection."""
    import watchfiles

    from . import engine

    def report(**fields: Any) -> None:
        # Only while the state is this syncer's: one stopped for a new container must not overwrite its successor's.
        if read_state(root, project).get("container") != container_id:
            sys.exit(0)
        _write_state(root, project, **fields)

    report(pid=os.getpid(), state="copying")
    while True:
        try:
            syncer = Syncer(engine.connect().containers.get(container_id), folder, uid)
            copied = False
            # The full copy waits for the watch's first (empty) yield: by then it watches, so a save
            # made during the copy is sent after it, never lost. step: yield after 5 ms without a new
            # change; debounce: group at most 100 ms; an idle watch yields every 200 ms.
            heard = time.monotonic()  # the engine's last answer: an idle sync asks now and then, so a lost engine shows
            for changes in watchfiles.watch(folder, step=5, debounce=100, rust_timeout=200, yield_on_timeout=True, raise_interrupt=False):
                started = time.monotonic()
                if not copied:
                    _say(f"copied all of {folder} into {container_id[:12]}:{TARGET}: {syncer.full()} files")
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
            return
        except Exception as exc:  # an engine gone or a container replaced: say so, copy again
            said = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if "No such container" in said:
                report(state=f"stopped: the app container is gone ({said})", pid=None)
                return
            _say(f"reconnecting: {said}")
            report(state=f"reconnecting: {said}")
            time.sleep(1)


def start(root: Path, project: str, container_id: str, uid: int, timeout: float = READY_TIMEOUT) -> None:
    """Run a syncer for this container in the background (keep one that already does); wait until in sync."""
    from .settings import source_folder
    from .waiting import wait_until

    state = running(root, project)
    proc: subprocess.Popen[bytes] | None = None
    log = log_path(root, project)
    if state.get("container") != container_id:
        stop(root, project)
        folder = source_folder(root)
        if folder is None:
            raise DevloopError("sync mode: no bind-mounted source folder found in docker-compose.yml")
        _write_state(root, project, pid=None, container=container_id, state="starting")
        with log.open("a", encoding="utf-8") as output:
            proc = subprocess.Popen(
                [sys.executable, "-m", MODULE, str(root), project, container_id, str(folder), str(uid)],
                cwd=root,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                start_new_session=True,  # outlives the task that started it; `down` stops it
            )

    def in_sync() -> bool:
        if read_state(root, project).get("state") == IN_SYNC:
            return True
        if proc is not None and proc.poll() is not None:
            said = (log.read_text(encoding="utf-8", errors="replace").strip().splitlines() or ["no output"])[-1]
            raise DevloopError(f"the sync of app/src into the app ended at once: {said} (all of it: {log})")
        return False

    if not wait_until(in_sync, timeout, interval=0.05):
        raise DevloopError(f"sync of app/src into the app did not finish in {timeout:.0f}s: {read_state(root, project).get('state')}")


def describe(root: Path, project: str) -> str:
    """Say how edits reach the app in sync mode, and how the syncer is (for `invoke status`)."""
    state = running(root, project)
    if not state:
        return f"{PATH}: NOT RUNNING (`invoke up` starts it)"
    return f"{PATH}: {state.get('state')} (pid {state['pid']})"


def follow(root: Path, project: str, out: Callable[[str], None]) -> None:
    """Print each line the syncer logs from now on, until it stops (or Ctrl-C)."""
    path = log_path(root, project)
    path.touch()
    with path.open(encoding="utf-8", errors="replace") as lines:
        lines.seek(0, io.SEEK_END)
        while True:
            line = lines.readline()
            if line:
                out(line.rstrip("\n"))
            elif not running(root, project):
                out(describe(root, project))
                return
            else:
                time.sleep(0.1)


def stop(root: Path, project: str) -> None:
    """Stop the project's syncer, if one runs."""
    state = read_state(root, project)
    processes.terminate(state.get("pid"), MODULE)
    if state:
        _write_state(root, project, pid=None, state="stopped")


def _stopped(*_: object) -> None:
    """End on SIGTERM (`down`, or a new container's syncer), saying so in the log."""
    _say("stopped")
    sys.exit(0)


if __name__ == "__main__":
    # watchfiles reports our SIGTERM as a caught KeyboardInterrupt; the log says "stopped" instead.
    logging.getLogger("watchfiles").setLevel(logging.ERROR)
    signal.signal(signal.SIGTERM, _stopped)
    root_arg, project_arg, container_arg, folder_arg, uid_arg = sys.argv[1:6]
    run(Path(root_arg), project_arg, container_arg, Path(folder_arg), int(uid_arg))
