"""The engines the e2e suite and the benchmark run on: the host's; a second, current one (Debian
sid's docker.io, Docker 28) in a container on it (field guide §9); and the same image as a remote
engine, reached only over ssh:// and seeing none of this machine's files (field guide §11).

The current engine sees the host's files at the same paths only under its work folder (TMPDIR
for whatever runs against it), and its published ports reach the host only through a pool of
ports its container publishes (DEVLOOP_TEST_PORTS, which tests/support/net.py hands out).
The remote engine's ssh client is an `ssh` first on PATH that reads the run's own key, config and
known_hosts (the docker CLI, Compose and devloop/ssh.py all run `ssh` from PATH).
`python -m tests.support.engines CMD...` runs a command against each engine side by side.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devloop import host, places, provision, reach, settings, ssh

from .waiting import wait_until

IMAGE = "standin/dockerd:sid"
CONTEXT = Path(__file__).with_name("dockerd")
ROOT = Path(__file__).resolve().parents[2]
POOL = 32  # ports published for the stacks the current engine runs: 4 per project copy, never handed out twice
# As powerful as --privileged, which fails on this host (its engine lacks CAP_SYS_RESOURCE).
POWERS = (
    *("--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE"),
    *("--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined"),
    *("--security-opt", "systempaths=unconfined", "--device-cgroup-rule", "a *:* rwm"),
)
CONTAINER_VAR = "DEVLOOP_TEST_ENGINE_CONTAINER"  # set when the engine runs in a container
OUTER_VAR = "DEVLOOP_TEST_ENGINE_OUTER"  # the engine that container runs on
PORTS_VAR = "DEVLOOP_TEST_PORTS"  # first-last: the only host ports that reach the engine's stacks
OWNER_LABEL = "devloop.test-engine.pid"  # the process that started it, so a later run can reap it
# Engines start side by side: one at a time builds their image, and picks free ports and publishes them.
_PREPARING, _PUBLISHING = threading.Lock(), threading.Lock()


@dataclass(frozen=True)
class Engine:
    """One engine, and what a process needs in its environment to use it."""

    name: str
    version: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How reports name it: "Docker 28.5.2 (current)"."""
        return f"Docker {self.version} ({self.name})"


def host_engine() -> Engine:
    """The engine this machine's Docker CLI uses."""
    return Engine("host", places.connect().version()["Version"])


def _docker(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Run the docker CLI against the host engine; fail with its output."""
    done = subprocess.run(
        ["docker", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:2])} failed: {(done.stderr or done.stdout).strip()[-2000:]}")
    return done.stdout


def _free_block(size: int) -> int:
    """Return the first of `size` consecutive ports, below the ephemeral range, free on the host."""
    for first in range(20000, 32000 - size, size):
        if all(reach.port_free(p) for p in range(first, first + size)):
            return first
    raise RuntimeError(f"no {size} consecutive free ports below 32000")


def _move_images(names: Sequence[str], docker_host: str = "", load: Sequence[str] = ("docker", "load", "--quiet")) -> None:
    """Copy images from the host engine to another one (docker save | docker load, on that engine or by the given command)."""
    save = subprocess.Popen(["docker", "save", *names], stdout=subprocess.PIPE)
    load = subprocess.run(
        list(load),
        stdin=save.stdout,
        env={**os.environ, **({"DOCKER_HOST": docker_host} if docker_host else {})},
        capture_output=True,
        text=True,
        check=False,
    )
    assert save.stdout is not None
    save.stdout.close()
    if save.wait() != 0 or load.returncode != 0:
        raise RuntimeError(f"moving {', '.join(names)} failed: {load.stderr.strip()}")


def _prepare() -> None:
    """Reap engines of killed runs and build the engine image (from the sid base, made if missing)."""
    with _PREPARING:
        provision.ensure_base(host.Actions(host.Probes()), "sid", print)  # made by `invoke setup` when MySQL is a stand-in
        reap_orphans()
        _docker("build", "--quiet", "--build-arg", f"BASE_IMAGE={host.BASES['sid']}", "-t", IMAGE, str(CONTEXT))


@contextlib.contextmanager
def current_engine(work: Path) -> Iterator[Engine]:
    """Start Docker 28 in a container with the project's base images; remove it and its data afterwards."""
    _prepare()
    name = f"devloop-engine-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True, exist_ok=True)
    with _PUBLISHING:
        api = _free_block(POOL + 1)
        first, last = api + 1, api + POOL
        _docker(
            "run", "--detach", "--name", name, *POWERS,
            "--label", f"{OWNER_LABEL}={os.getpid()}",
            "--volume", f"{name}:/var/lib/docker",
            "--volume", f"{work}:{work}",
            "--publish", f"127.0.0.1:{api}:2375",
            "--publish", f"127.0.0.1:{first}-{last}:{first}-{last}",
            "--env", f"FORWARD_PORTS={first}:{last}",
            IMAGE,
        )  # fmt: skip
    docker_host = f"tcp://127.0.0.1:{api}"
    try:
        import docker

        def answers() -> str:
            with contextlib.suppress(Exception):
                return docker.DockerClient(base_url=docker_host, timeout=5).version()["Version"]
            return ""

        version = wait_until(answers, timeout=60, interval=0.2, what=f"the engine in {name} answering")
        _move_images(list(settings.load(ROOT, environ={}).images.values()), docker_host=docker_host)
        yield Engine(
            "current",
            version,
            {
                "DOCKER_HOST": docker_host,
                PORTS_VAR: f"{first}-{last}",
                CONTAINER_VAR: name,
                OUTER_VAR: places.endpoint(),
                "TMPDIR": str(work),
            },
        )
    finally:
        subprocess.run(["docker", "rm", "--force", "--volumes", name], capture_output=True, check=False)
        subprocess.run(["docker", "volume", "rm", name], capture_output=True, check=False)


def _ssh_client(folder: Path, port: int, host_key: str) -> Path:
    """Write a known_hosts entry, and an `ssh` that uses it and the folder's key; return the folder for PATH."""
    key = folder / "id_ed25519"  # made before the engine started: it lets that key in
    (folder / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key}\n")
    config = folder / "ssh_config"
    config.write_text(
        f"Host *\n  IdentityFile {key}\n  IdentitiesOnly yes\n  UserKnownHostsFile {folder / 'known_hosts'}\n  LogLevel ERROR\n"
    )
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "ssh"
    # The docker CLI, Compose and devloop/ssh.py all run `ssh` from PATH: this one reads the test's config.
    wrapper.write_text(f'#!/bin/sh\nexec {shutil.which("ssh")} -F {config} "$@"\n')
    wrapper.chmod(0o755)
    return bin_dir


@contextlib.contextmanager
def remote_engine(work: Path) -> Iterator[Engine]:
    """Start Docker 28 in a container reached only over ssh:// (field guide §11); it sees none of this machine's files."""
    _prepare()
    name = f"devloop-remote-{uuid.uuid4().hex[:8]}"
    folder = work / f"ssh-{name}"
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "id_ed25519")], check=True)
    with _PUBLISHING:
        port = _free_block(1)
        _docker(
            "run", "--detach", "--name", name, *POWERS,
            "--label", f"{OWNER_LABEL}={os.getpid()}",
            "--volume", f"{name}:/var/lib/docker",
            "--publish", f"127.0.0.1:{port}:22",
            "--env", f"AUTHORIZED_KEY={(folder / 'id_ed25519.pub').read_text().strip()}",
            IMAGE,
        )  # fmt: skip
    docker_host = f"ssh://root@127.0.0.1:{port}"
    try:
        inside = ["docker", "exec", name]
        wait_until(lambda: subprocess.run([*inside, "docker", "version"], capture_output=True).returncode == 0, 60, 0.2, "dockerd")
        host_key = _docker("exec", name, "cat", "/etc/ssh/ssh_host_ed25519_key.pub").split()[:2]
        bin_dir = _ssh_client(folder, port, " ".join(host_key))
        images = list(settings.load(ROOT, environ={}).images.values())
        _move_images(images, load=["docker", "exec", "-i", name, "docker", "load", "--quiet"])
        version = _docker("exec", name, "docker", "version", "--format", "{{.Server.Version}}").strip()
        yield Engine(
            "remote",
            version,
            {
                "DOCKER_HOST": docker_host,
                "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                "PYTEST_ADDOPTS": "-m 'remote or remote_only'",  # the inner loop: the rest is the same code on the same engine
                CONTAINER_VAR: name,
                OUTER_VAR: places.endpoint(),
            },
        )
    finally:
        ssh.close_engine(docker_host)  # the connection the suite's tasks shared
        subprocess.run(["docker", "rm", "--force", "--volumes", name], capture_output=True, check=False)
        subprocess.run(["docker", "volume", "rm", name], capture_output=True, check=False)


NAMES = ("host", "current", "remote")


def context(name: str, work: Path) -> contextlib.AbstractContextManager[Engine]:
    """Return what gives the named engine while it is used (work: the current engine's shared folder)."""
    if name == "current":
        return current_engine(work)
    if name == "remote":
        return remote_engine(work)
    return contextlib.nullcontext(host_engine())


def reap_orphans() -> list[str]:
    """Remove engine containers (and their data) whose test run was killed before it could; return their names."""
    listed = _docker("ps", "--all", "--filter", f"label={OWNER_LABEL}", "--format", f'{{{{.Names}}}} {{{{.Label "{OWNER_LABEL}"}}}}')
    reaped = []
    for line in listed.splitlines():
        name, _, pid = line.partition(" ")
        try:
            os.kill(int(pid), 0)
            continue  # its run is still going
        except (ValueError, ProcessLookupError):
            pass
        except PermissionError:
            continue  # alive, another user's
        subprocess.run(["docker", "rm", "--force", "--volumes", name], capture_output=True, check=False)
        subprocess.run(["docker", "volume", "rm", name], capture_output=True, check=False)
        reaped.append(name)
    return reaped


def on_engine_host(argv: Sequence[str], detach: bool = False) -> subprocess.CompletedProcess[str]:
    """Run a command on the machine where the engine under test publishes ports (here, or its container)."""
    container = os.environ.get(CONTAINER_VAR)
    if not container:
        return subprocess.run(list(argv), capture_output=True, text=True, check=False)
    outer = {**os.environ, "DOCKER_HOST": os.environ[OUTER_VAR]}
    command = ["docker", "exec", *(["--detach"] if detach else []), container, *argv]
    return subprocess.run(command, env=outer, capture_output=True, text=True, check=False)


@contextlib.contextmanager
def occupied(port: int) -> Iterator[None]:
    """Hold 127.0.0.1:port where the engine under test publishes, as another program would."""
    if not os.environ.get(CONTAINER_VAR):
        with socket_listening(port):
            yield
        return
    on_engine_host(["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr", "/dev/null"], detach=True)
    try:
        wait_until(lambda: on_engine_host(["pgrep", "-f", f"TCP-LISTEN:{port},"]).returncode == 0, 10, what="socat listening")
        yield
    finally:
        on_engine_host(["pkill", "-f", f"TCP-LISTEN:{port},"])


@contextlib.contextmanager
def socket_listening(port: int) -> Iterator[None]:
    """Listen on 127.0.0.1:port in this process."""
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        yield


def _relay(proc: subprocess.Popen[str], prefix: str) -> None:
    """Print a process's output lines with a prefix."""
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(f"{prefix}{line}")
        sys.stdout.flush()


def run_on_each(command: Sequence[str], names: Sequence[str]) -> int:
    """Run a command against each named engine side by side; return the worst exit code."""
    results: dict[str, tuple[int, float, str]] = {}

    def run(get_engine: contextlib.AbstractContextManager[Engine]) -> None:
        started = time.monotonic()
        label = "?"
        try:
            with get_engine as target:
                label = target.label
                proc = subprocess.Popen(
                    list(command), env={**os.environ, **target.env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
                )
                _relay(proc, f"[{target.name}] ")
                results[target.name] = (proc.wait(), time.monotonic() - started, label)
        except Exception as exc:
            print(f"[{label}] could not run: {exc}", flush=True)
            results[label] = (1, time.monotonic() - started, label)

    unknown = set(names) - set(NAMES)
    if unknown:
        print(f"unknown engine {', '.join(sorted(unknown))} (E2E_ENGINES): choose from {', '.join(NAMES)}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="devloop-engine-", dir="/tmp"))
    threads = [threading.Thread(target=run, args=(context(n, work),)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    shutil.rmtree(work, ignore_errors=True)
    for code, seconds, label in results.values():
        print(f"{label}: {'passed' if code == 0 else f'FAILED (exit {code})'} in {seconds:.0f} s", flush=True)
    return max((code for code, _, _ in results.values()), default=1)


def main(argv: Sequence[str]) -> int:
    """`python -m tests.support.engines CMD...`: CMD on every engine (E2E_ENGINES=host,current,remote chooses)."""
    if not argv:
        print(main.__doc__, file=sys.stderr)
        return 2
    names = [n.strip() for n in os.environ.get("E2E_ENGINES", ",".join(NAMES)).split(",") if n.strip()]
    return run_on_each(argv, names)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
