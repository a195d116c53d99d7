"""Watching the source tree: inotify where it works, stat polling where it cannot, one interface."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from inotify_simple import INotify, flags

from . import fresh, log

POLL_INTERVAL = 0.25  # a save seen within a quarter of a second where inotify cannot be trusted
COSTLY_POLL = POLL_INTERVAL / 5  # polls that ask the filesystem and take longer, COSTLY_TIMES in a row, fall back
COSTLY_TIMES = 3  # to the attributes the kernel caches (one slow poll is a busy machine, not a big tree)
SKIPPED_DIRS = ("__pycache__",)
# Local filesystems: every write to them, whoever makes it, raises an inotify event in the container. On any other
# (fuse.*, 9p, virtiofs, grpcfuse, fakeowner, cifs, nfs, or one not known here) a write made beyond the mount (the
# host's side of Docker Desktop's or WSL2's sharing, the folder behind a FUSE view) raises none.
INOTIFY_FS = {"ext4", "ext3", "ext2", "xfs", "btrfs", "overlay", "tmpfs", "zfs", "f2fs"}
WATCH_RECORD = Path(os.environ.get("DEVSERVER_WATCH_RECORD", "/tmp/devloop-watch.json"))  # for `invoke status` and doctor
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
    """Stat polling of the tree's .py files, for mounts inotify cannot see through. Each stat asks the filesystem
    (fresh.py: FUSE's attribute cache would hide a save for up to a second) while a whole poll stays cheap."""

    timeout = POLL_INTERVAL

    def __init__(self, root: Path) -> None:
        self.root = root
        self.stat = fresh.forced if fresh.works() else fresh.cached
        self.costly = 0
        self.seen = self.snapshot()
        self.probe = self.probe_stat()

    def fileno(self) -> int:
        """No descriptor: the caller wakes up every `timeout` seconds."""
        return -1

    def snapshot(self) -> dict[str, tuple[int, int]]:
        """Return (mtime, size) of every relevant file: one stat each, hidden folders and caches left out."""
        out, folders = {}, [str(self.root)]
        while folders:
            try:
                entries = os.scandir(folders.pop())
            except OSError:
                continue
            with entries:
                for entry in entries:
                    with contextlib.suppress(OSError):
                        if entry.is_dir(follow_symlinks=False):
                            if entry.name not in SKIPPED_DIRS and not entry.name.startswith("."):
                                folders.append(entry.path)
                        elif relevant(entry.name):
                            out[entry.path] = self.stat(entry.path)
        return out

    def probe_stat(self) -> tuple[int, int] | None:
        """Return (mtime, size) of the doctor's probe file, or None."""
        try:
            return self.stat(str(self.root / PROBE))
        except OSError:
            return None

    def changes(self) -> list[str]:
        """Return the files added, removed or changed since the last call."""
        probe = self.probe_stat()
        if probe is not None and probe != self.probe:
            answer_probe(self.root / PROBE, "polling")
        self.probe = probe
        started = time.monotonic()
        now = self.snapshot()
        took = time.monotonic() - started
        self.costly = self.costly + 1 if took > COSTLY_POLL else 0
        if self.stat is fresh.forced and self.costly >= COSTLY_TIMES:
            self.stat = fresh.cached
            log(
                f"polling: asking the filesystem for {len(now)} files took {took * 1000:.0f} ms; polling the attributes "
                "the kernel caches from now on (on FUSE a save can then be seen up to a second late)"
            )
        changed = [p for p in now.keys() | self.seen.keys() if now.get(p) != self.seen.get(p)]
        self.seen = now
        return changed


@dataclass(frozen=True)
class Mount:
    """The mount that holds a folder: where it is mounted, its filesystem, what it shows (source) and from where (root)."""

    point: str = "/"
    fstype: str = ""
    source: str = ""
    root: str = "/"


@dataclass(frozen=True)
class Choice:
    """How the source tree is watched, and why."""

    mode: str  # inotify, poll or both
    why: str
    mount: Mount = field(default_factory=Mount)

    def describe(self) -> str:
        """One line: the watchers, then why."""
        how = {"inotify": "inotify", "poll": f"polling every {POLL_INTERVAL} s", "both": f"inotify and polling every {POLL_INTERVAL} s"}
        return f"{how[self.mode]}: {self.why}"


def mount_of(root: Path, mountinfo: str) -> Mount:
    """Return the mount that holds root, from /proc/self/mountinfo text."""
    best = Mount(point="")
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 2:
            continue
        point = fields[4]
        inside = point == "/" or str(root) == point or str(root).startswith(point + "/")
        if inside and len(point) > len(best.point):
            best = Mount(point, tail[0], tail[1], fields[3])
    return best


def choose(root: Path, environ: dict[str, str] | None = None, mountinfo: str | None = None) -> Choice:
    """Choose the watchers, from DEVSERVER_WATCH or the filesystem of the mount that holds root."""
    chosen = (os.environ if environ is None else environ).get("DEVSERVER_WATCH", "auto")
    if chosen not in ("auto", "inotify", "poll", "both"):
        raise SystemExit(f"devserver: DEVSERVER_WATCH must be auto, inotify, poll or both, not {chosen!r}")
    if mountinfo is None:
        try:
            mountinfo = Path("/proc/self/mountinfo").read_text()
        except OSError:
            return Choice("poll", "/proc/self/mountinfo is unreadable, so the mount is unknown")
    mount = mount_of(root, mountinfo)
    if chosen != "auto":
        return Choice(chosen, f"DEVSERVER_WATCH={chosen}", mount)
    if mount.fstype in INOTIFY_FS:
        return Choice("inotify", f"{root} is on {mount.fstype}, a local filesystem: every save raises an event", mount)
    return Choice(
        "both",
        f"{root} is a {mount.fstype or 'unknown'} mount (of {mount.source}), where a save made beyond it raises no event in the container",
        mount,
    )


def record(choice: Choice, path: Path | None = None) -> None:
    """Write the choice where `invoke status` and `invoke doctor` read it (in one step)."""
    path = path or WATCH_RECORD
    with contextlib.suppress(OSError):
        partial = path.with_suffix(".part")
        partial.write_text(json.dumps({**asdict(choice), "interval": POLL_INTERVAL, "described": choice.describe()}), encoding="utf-8")
        partial.replace(path)


def watchers(root: Path, choice: Choice) -> list[Watcher]:
    """Return the watchers of a choice; a tree inotify cannot fully watch is polled as well. Record what watches."""
    with contextlib.suppress(OSError):
        PROBE_SEEN.write_text("- watching\n", encoding="utf-8")  # tells the doctor a probe will be answered
    mode = choice.mode
    found: list[Watcher] = []
    if mode in ("inotify", "both"):
        inotify = Inotify(root)
        found.append(inotify)
        if inotify.failed and mode == "inotify":
            log(f"{len(inotify.failed)} folder(s) not watched by inotify: polling the tree as well")
            choice = Choice("both", f"{len(inotify.failed)} folder(s) could not be watched with inotify", choice.mount)
    if choice.mode in ("poll", "both"):
        found.append(Poller(root))
    record(choice)
    log(f"watching {root} with {choice.describe()}")
    return found
