"""SSH through OpenSSH's client, for an engine reached over ssh:// (DOCKER_HOST or a docker context):
the address, ssh's errors in one line, and background `ssh -N` connections (devloop/background.py).
One of them carries the engine's API to a local socket shared by every task (the SDK, Compose and
the docker CLI all go through it, so a task pays the SSH handshake once, not once per command);
devloop/places/ssh.py adds another for the stack's ports. OpenSSH reads ~/.ssh/config, the agent
and known_hosts just as the docker CLI's own ssh does.
"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import state
from .background import Background, Ended
from .commands import Cli
from .errors import DevloopError

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


def connection(target: Target, forwards: Iterable[str], process: Background, ready: Callable[[], bool], **fields: Any) -> None:
    """Start `ssh -N` with these -L forwards as that background process; wait until ready() or fail with ssh's own error line."""
    argv = ["ssh", "-N", *OPTIONS, *(arg for forward in forwards for arg in ("-L", forward)), *target.argv()]
    try:
        if process.start(argv, ready, READY_TIMEOUT, **fields):
            return
    except FileNotFoundError:
        raise DevloopError(f"{target.url} is reached over SSH, and there is no ssh client here: install OpenSSH's") from None
    except Ended as ended:
        raise failure(target, ended.output) from None
    said = process.printed().strip()[-200:]
    raise DevloopError(f"ssh to {target.url} did not set up its forwards within {READY_TIMEOUT:.0f}s: {said or 'it said nothing'}")


def _connects(path: str) -> bool:
    """Whether a unix socket accepts a connection."""
    with socket.socket(socket.AF_UNIX) as probe:
        probe.settimeout(1)
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


def remote_socket(target: Target, cli: Cli | None = None) -> str:
    """Return the path of the engine's socket on the remote machine, as its docker CLI resolves it."""
    argv = ["ssh", *OPTIONS, *target.argv(), "docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"]
    done = (cli or Cli()).capture(argv, timeout=60)
    if done.code == 127:
        raise DevloopError(f"{target.url} is reached over SSH, and there is no ssh client here: install OpenSSH's")
    if done.code == 124:
        raise DevloopError(f"ssh to {target.url} did not answer within 60s")
    if done.code == 255:
        raise failure(target, done.stderr)
    found = done.stdout.strip()
    if done.code != 0 or not found:
        said = (done.stderr.strip().splitlines() or ["no answer"])[-1]
        raise DevloopError(f"{target.url}: the docker CLI there did not say where its engine is ({said}); Compose needs it there too")
    if not found.startswith("unix://"):
        raise DevloopError(f"{target.url}: the docker CLI there uses {found}; only an engine on a unix socket there can be reached")
    return found.removeprefix("unix://")


def _tunnel(url: str) -> tuple[Background, Path]:
    """The background ssh that carries an engine's API, and the local socket it listens on."""
    folder, name = runtime_dir(), _key(url)
    return Background(folder / f"{name}.json", folder / f"{name}.log", "ssh"), folder / f"{name}.sock"


def engine_socket(url: str) -> str:
    """Return a local socket that reaches the engine at an ssh:// address, starting the connection that carries it when none does."""
    target = Target.parse(url)
    tunnel, local = _tunnel(url)
    with state.locked(tunnel.state_file.with_suffix(".lock")):
        if tunnel.alive() and _connects(str(local)):
            return str(local)
        remote = remote_socket(target)
        local.unlink(missing_ok=True)
        connection(target, [f"{local}:{remote}"], tunnel, lambda: _connects(str(local)), url=url)
    return str(local)


def close_engine(url: str) -> None:
    """Stop the connection that carries the engine's API, if one runs."""
    tunnel, local = _tunnel(url)
    with state.locked(tunnel.state_file.with_suffix(".lock")):
        tunnel.forget()
        for path in (local, tunnel.log):
            path.unlink(missing_ok=True)
