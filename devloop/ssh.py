"""An engine reached over ssh:// (DOCKER_HOST or a docker context), through OpenSSH's client.

Two background connections, each an `ssh -N` process:
- the engine's API on a local socket, shared by every task (the SDK, Compose and the docker CLI
  all go through it, so a task pays the SSH handshake once, not once per command);
- a project's published ports on this machine's 127.0.0.1 with the same numbers, started by
  `up` and `debug` and stopped by `down`.
OpenSSH reads ~/.ssh/config, the agent and known_hosts just as the docker CLI's own ssh does.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import processes
from .errors import DevloopError

try:
    import fcntl
except ImportError:  # native Windows: no flock (WSL2 has it)
    fcntl = None  # type: ignore[assignment]

# No prompt (there may be no terminal): an unknown host key or a locked key is an error.
# Keep-alives notice a dropped connection within ~30 s; a forward that cannot listen fails at once.
OPTIONS = (
    *("-o", "BatchMode=yes", "-o", "ConnectTimeout=15", "-o", "ExitOnForwardFailure=yes"),
    *("-o", "ServerAliveInterval=10", "-o", "ServerAliveCountMax=3"),
)
READY_TIMEOUT = 20.0
HOST_KEY_HINT = "connect once with `{command}` to check and accept its host key"
KEY_HINT = "this ssh cannot prompt: load your key into the agent (`ssh-add`), and check that `{command}` logs in"


@dataclass(frozen=True)
class Target:
    """Who and where, from an ssh:// address."""

    url: str
    host: str
    user: str = ""
    port: int | None = None

    @classmethod
    def parse(cls, url: str) -> Target:
        """Read ssh://[user@]host[:port]; fail in one line on anything else."""
        parts = urllib.parse.urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme != "ssh" or not parts.hostname or port == -1 or parts.path not in ("", "/") or parts.query:
            raise DevloopError(f"{url} is not an address Docker reads (ssh://[user@]host[:port])")
        return cls(url, parts.hostname, parts.username or "", port)

    def argv(self) -> list[str]:
        """The ssh arguments that name this target."""
        return [*(["-p", str(self.port)] if self.port else []), *(["-l", self.user] if self.user else []), "--", self.host]

    @property
    def command(self) -> str:
        """How a user would ssh there by hand."""
        return " ".join(["ssh", *(["-p", str(self.port)] if self.port else []), f"{self.user}@{self.host}" if self.user else self.host])


def is_ssh(url: str) -> bool:
    """Whether an engine address is reached over SSH."""
    return url.startswith("ssh://")


def runtime_dir() -> Path:
    """A private folder for sockets: short, because a socket's path may be at most 107 bytes."""
    folder = Path(tempfile.gettempdir() if len(tempfile.gettempdir()) < 40 else "/tmp") / f"devloop-ssh-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.stat().st_uid != os.getuid() or folder.stat().st_mode & 0o077:
        raise DevloopError(f"{folder} must belong to you and no one else (it holds the sockets of your SSH connections)")
    return folder


def failure(target: Target, output: str) -> DevloopError:
    """The one-line error for an ssh that did not connect, with ssh's own words."""
    lines = [line.strip() for line in output.splitlines() if line.strip() and not line.startswith("Warning: Permanently added")]
    said = lines[-1] if lines else "it exited without a word"
    if any("host key" in line.lower() or "host identification" in line.lower() for line in lines):
        return DevloopError(f"ssh to {target.url} failed: {said} ({HOST_KEY_HINT.format(command=target.command)})")
    if "Permission denied" in said:
        return DevloopError(f"ssh to {target.url} failed: {said} ({KEY_HINT.format(command=target.command)})")
    return DevloopError(f"ssh to {target.url} failed: {said}")


def _key(*parts: str) -> str:
    """A short stable name for files about these parts."""
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()[:12]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on a file (two tasks must not start two connections for one thing)."""
    if fcntl is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _alive(pid: object) -> bool:
    """Whether one of our background ssh processes runs with that pid."""
    return processes.alive(pid, "ssh")


def _stop(pid: object) -> None:
    """End a background ssh, if it runs."""
    processes.terminate(pid, "ssh")


def _start(target: Target, forwards: Iterable[str], log: Path, ready: Callable[[], bool]) -> int:
    """Start `ssh -N` with these -L forwards; wait until ready() or fail with ssh's own error line."""
    argv = ["ssh", "-N", *OPTIONS]
    for forward in forwards:
        argv += ["-L", forward]
    with log.open("w", encoding="utf-8") as errors:
        try:
            proc = subprocess.Popen(
                [*argv, *target.argv()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True
            )
        except FileNotFoundError:
            raise DevloopError(f"{target.url} is reached over SSH, and there is no ssh client here: install OpenSSH's") from None
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise failure(target, log.read_text(encoding="utf-8", errors="replace"))
        if ready():
            return proc.pid
        time.sleep(0.02)
    proc.kill()
    raise DevloopError(f"ssh to {target.url} did not set up its forwards within {READY_TIMEOUT:.0f}s: {log.read_text().strip()[-200:]}")


def _connects(path: str) -> bool:
    """Whether a unix socket accepts a connection."""
    with socket.socket(socket.AF_UNIX) as probe:
        probe.settimeout(1)
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


def remote_socket(target: Target) -> str:
    """Return the path of the engine's socket on the remote machine, as its docker CLI resolves it."""
    argv = ["ssh", *OPTIONS, *target.argv(), "docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60, check=False)
    except FileNotFoundError:
        raise DevloopError(f"{target.url} is reached over SSH, and there is no ssh client here: install OpenSSH's") from None
    except subprocess.TimeoutExpired:
        raise DevloopError(f"ssh to {target.url} did not answer within 60s") from None
    if done.returncode == 255:
        raise failure(target, done.stderr)
    found = done.stdout.strip()
    if done.returncode != 0 or not found:
        said = (done.stderr.strip().splitlines() or ["no answer"])[-1]
        raise DevloopError(f"{target.url}: the docker CLI there did not say where its engine is ({said}); Compose needs it there too")
    if not found.startswith("unix://"):
        raise DevloopError(f"{target.url}: the docker CLI there uses {found}; only an engine on a unix socket there can be reached")
    return found.removeprefix("unix://")


def engine_socket(url: str) -> str:
    """Return a local socket that reaches the engine at an ssh:// address, starting the connection that carries it when none does."""
    target = Target.parse(url)
    folder = runtime_dir()
    name = _key(url)
    local, state = folder / f"{name}.sock", folder / f"{name}.json"
    with _locked(folder / f"{name}.lock"):
        pid = _read(state).get("pid")
        if _alive(pid) and _connects(str(local)):
            return str(local)
        _stop(pid)
        remote = remote_socket(target)
        local.unlink(missing_ok=True)
        pid = _start(target, [f"{local}:{remote}"], folder / f"{name}.log", lambda: _connects(str(local)))
        _write(state, {"pid": pid, "url": url})
    return str(local)


def close_engine(url: str) -> None:
    """Stop the connection that carries the engine's API, if one runs."""
    folder = runtime_dir()
    name = _key(url)
    with _locked(folder / f"{name}.lock"):
        _stop(_read(folder / f"{name}.json").get("pid"))
        for suffix in (".sock", ".json", ".log"):
            (folder / f"{name}{suffix}").unlink(missing_ok=True)


def _read(path: Path) -> dict:
    """Return a small JSON state file ({} when there is none)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write(path: Path, data: dict) -> None:
    """Replace a small JSON state file in one step."""
    partial = path.with_suffix(".part")
    partial.write_text(json.dumps(data) + "\n", encoding="utf-8")
    partial.replace(path)


def _listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


class Forwards:
    """One project's published ports, carried from the remote engine's 127.0.0.1 to this machine's."""

    def __init__(self, url: str, state_dir: Path, project: str) -> None:
        self.target = Target.parse(url)
        self.state = state_dir / f"forwards-{project}.json"
        self.log = state_dir / f"forwards-{project}.log"

    def current(self) -> list[int]:
        """The ports forwarded now ([] when the forwarder is not running)."""
        found = _read(self.state)
        return sorted(found.get("ports", [])) if _alive(found.get("pid")) and found.get("url") == self.target.url else []

    def ensure(self, ports: Iterable[int]) -> None:
        """Forward exactly these ports (keep a forwarder that already does)."""
        wanted = sorted(set(ports))
        if wanted and self.current() == wanted:
            return
        self.stop()
        if not wanted:
            return
        self.state.parent.mkdir(exist_ok=True)
        forwards = [f"127.0.0.1:{p}:127.0.0.1:{p}" for p in wanted]
        pid = _start(self.target, forwards, self.log, lambda: all(_listening(p) for p in wanted))
        _write(self.state, {"pid": pid, "url": self.target.url, "ports": wanted})

    def describe(self) -> str:
        """Say which ports come here, and whether the forwarder runs (for `up` and `status`)."""
        ports = self.current()
        if not ports:
            return f"NOT forwarded from {self.target.url} (`invoke up` forwards them again)"
        listed = ", ".join(map(str, ports))
        return f"{listed} forwarded from {self.target.url}'s 127.0.0.1 over SSH (pid {_read(self.state)['pid']})"

    def stop(self) -> None:
        """Stop forwarding."""
        _stop(_read(self.state).get("pid"))
        self.state.unlink(missing_ok=True)
