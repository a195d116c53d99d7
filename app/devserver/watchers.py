"""Watching the source tree: inotify where it works, stat polling where it cannot, one interface."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Protocol

from inotify_simple import INotify, flags

from . import log

POLL_INTERVAL = 0.5
SKIPPED_DIRS = ("__pycache__",)
# Filesystems on which the host's writes raise no inotify event inside the container.
NO_INOTIFY_FS = {"fakeowner", "grpcfuse", "fuse.grpcfuse", "osxfs", "fuse.osxfs", "9p", "drvfs", "cifs", "smb3", "nfs", "nfs4"}
MASK = flags.CLOSE_WRITE | flags.MOVED_FROM | flags.MOVED_TO | flags.CREATE | flags.DELETE | flags.DELETE_SELF | flags.MOVE_SELF


PROBE = ".devloop-probe"  # `invoke doctor` writes a token here to see that saves arrive
PROBE_SEEN = Path(os.environ.get("DEVSERVER_PROBE_SEEN", "/tmp/devloop-probe-seen"))


def answer_probe(path: Path, how: str) -> None:
    """Record the probe's token and which watcher saw it, for `invoke doctor` to read; never a reload."""
    try:
        token = path.read_text(encoding="utf-8").strip()
        partial = PROBE_SEEN.with_suffix(".part")
        partial.write_text(f"{token} {how}\n", encoding="utf-8")
        partial.replace(PROBE_SEEN)
    except OSError:
        pass  # deleted again, or /tmp not writable: the doctor says the save did not arrive


def relevant(name: str) -> bool:
    """Whether a changed file name can change what the app serves (editor droppings cannot)."""
    return name.endswith(".py") and not name.startswith((".#", "."))


class Watcher(Protocol):
    """Something that reports changed paths: through a file descriptor to wait on, or by polling."""

    timeout: float | None  # how often changes() must be called even when fileno() is quiet

    def fileno(self) -> int:
        """The descriptor that becomes readable on a change (-1: none, poll by timeout)."""
        ...

    def changes(self) -> list[str]:
        """Return the paths (or a reason) that changed since the last call."""
        ...


class Inotify:
    """inotify on a directory tree; folders it cannot watch are kept in `failed`."""

    timeout = None

    def __init__(self, root: Path) -> None:
        self.root = root
        self.inotify = INotify(nonblocking=True)
        self.dirs: dict[int, Path] = {}
        self.failed: dict[Path, str] = {}
        self.add_tree(root)

    def fileno(self) -> int:
        """The inotify descriptor."""
        return self.inotify.fileno()

    def add_tree(self, root: Path) -> None:
        """Watch root and every directory below it."""
        for path in [root, *(p for p in root.rglob("*") if p.is_dir() and not set(p.parts) & set(SKIPPED_DIRS))]:
            try:
                self.dirs[self.inotify.add_watch(path, MASK)] = path
            except OSError as exc:
                why = "the inotify watch limit (fs.inotify.max_user_watches)" if exc.errno == errno.ENOSPC else os.strerror(exc.errno or 0)
                self.failed[path] = why
                log(f"cannot watch {path} with inotify: {why}")

    def changes(self) -> list[str]:
        """Read the pending events; return the relevant paths (or a reason) that changed."""
        found = []
        for event in self.inotify.read(timeout=0):
            folder = self.dirs.get(event.wd, self.root)
            if event.name == PROBE and event.mask & (flags.CLOSE_WRITE | flags.MOVED_TO):
                answer_probe(folder / event.name, "inotify")
            elif event.mask & flags.Q_OVERFLOW:
                found.append("(event queue overflowed)")
            elif event.mask & flags.ISDIR and event.mask & (flags.CREATE | flags.MOVED_TO):
                self.add_tree(folder / event.name)
                found.append(f"{event.name}/")
            elif event.mask & (flags.DELETE_SELF | flags.MOVE_SELF) and event.wd in self.dirs:
                found.append(f"{self.dirs.pop(event.wd)}/")
            elif relevant(event.name):
                found.append(str(folder / event.name))
        return found


class Poller:
    """Stat polling of the tree's .py files, for mounts inotify cannot see through."""

    timeout = POLL_INTERVAL

    def __init__(self, root: Path) -> None:
        self.root = root
        self.seen = self.snapshot()
        self.probe = self.probe_stat()

    def fileno(self) -> int:
        """No descriptor: the caller wakes up every `timeout` seconds."""
        return -1

    def snapshot(self) -> dict[str, tuple[int, int]]:
        """Return (mtime, size) of every relevant file."""
        out = {}
        for path in self.root.rglob("*.py"):
            if not set(path.parts) & set(SKIPPED_DIRS) and relevant(path.name):
                try:
                    st = path.stat()
                except OSError:
                    continue
                out[str(path)] = (st.st_mtime_ns, st.st_size)
        return out

    def probe_stat(self) -> tuple[int, int] | None:
        """Return (mtime, size) of the doctor's probe file, or None."""
        try:
            st = (self.root / PROBE).stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def changes(self) -> list[str]:
        """Return the files added, removed or changed since the last call."""
        probe = self.probe_stat()
        if probe is not None and probe != self.probe:
            answer_probe(self.root / PROBE, "polling")
        self.probe = probe
        now = self.snapshot()
        changed = [p for p in now.keys() | self.seen.keys() if now.get(p) != self.seen.get(p)]
        self.seen = now
        return changed


def mount_fstype(root: Path, mountinfo: str) -> str:
    """Return the filesystem type of the mount that holds root, from /proc/self/mountinfo text."""
    best, fstype = "", ""
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields = left.split()
        if len(fields) < 5 or not right:
            continue
        point = fields[4]
        inside = point == "/" or str(root) == point or str(root).startswith(point + "/")
        if inside and len(point) > len(best):
            best, fstype = point, right.split()[0]
    return fstype


def watch_mode(root: Path, environ: dict[str, str] | None = None, mountinfo: str | None = None) -> str:
    """Return inotify, poll or both, from DEVSERVER_WATCH or the source mount's filesystem."""
    chosen = (os.environ if environ is None else environ).get("DEVSERVER_WATCH", "auto")
    if chosen not in ("auto", "inotify", "poll", "both"):
        raise SystemExit(f"devserver: DEVSERVER_WATCH must be auto, inotify, poll or both, not {chosen!r}")
    if chosen != "auto":
        return chosen
    if mountinfo is None:
        try:
            mountinfo = Path("/proc/self/mountinfo").read_text()
        except OSError:
            return "poll"
    return "both" if mount_fstype(root, mountinfo) in NO_INOTIFY_FS else "inotify"


def watchers(root: Path, mode: str) -> list[Watcher]:
    """Return the watchers of a mode; a tree inotify cannot fully watch is polled as well."""
    with contextlib.suppress(OSError):
        PROBE_SEEN.write_text("- watching\n", encoding="utf-8")  # tells the doctor a probe will be answered
    found: list[Watcher] = []
    if mode in ("inotify", "both"):
        inotify = Inotify(root)
        found.append(inotify)
        if inotify.failed and mode == "inotify":
            log(f"{len(inotify.failed)} folder(s) not watched by inotify: polling the tree as well")
            mode = "both"
    if mode in ("poll", "both"):
        found.append(Poller(root))
    return found
