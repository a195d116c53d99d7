"""The Docker engine through its SDK: reachability, container state, ports, images."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import modes, ssh
from .commands import Cli
from .errors import DevloopError
from .settings import EDITS_LABEL

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container
    from docker.models.networks import Network

DEFAULT_HOST = "unix:///var/run/docker.sock"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
VOLUME_LABEL = "com.docker.compose.volume"
TCP_LISTEN = "0A"  # the state column of /proc/net/tcp


ROUTED_VAR = "DEVLOOP_ENGINE_VIA"  # "<local socket> <ssh:// address>" once DOCKER_HOST was routed through ssh.py


def docker_host() -> str:
    """Return DOCKER_HOST as the user set it ("" when unset): the ssh:// address, not the socket it was routed to."""
    local, _, remote = os.environ.get(ROUTED_VAR, "").partition(" ")
    if local and os.environ.get("DOCKER_HOST") == local:
        return remote
    return os.environ.get("DOCKER_HOST", "")


def endpoint(cli: Cli | None = None) -> str:
    """Return the engine address the docker CLI would use (DOCKER_HOST, else the context)."""
    if docker_host():
        return docker_host()
    found = (cli or Cli()).capture(["docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"], timeout=10)
    return (found.stdout.strip() if found.ok else "") or DEFAULT_HOST


def publishes_here(where: str) -> bool:
    """Whether an engine at that address publishes ports on this machine (over a local socket, yes; tcp:// or ssh://, on its host)."""
    return where.startswith(("unix://", "npipe://"))


def connect(timeout: float = 10) -> docker.DockerClient:
    """Return an SDK client for the engine, or fail in one line saying how to get one."""
    import docker  # Imported here: it costs ~0.2 s, and `invoke --list` should not pay it.
    from docker.errors import DockerException

    where = endpoint()
    base = _route(where) if ssh.is_ssh(where) else where
    try:
        client = docker.DockerClient(base_url=base, timeout=timeout)
        client.ping()
    except (DockerException, OSError) as exc:
        said = reason(exc)
        if said == DENIED:
            raise DevloopError(f"{DENIED} ({where}): add your user to the docker group (or use sudo)") from None
        raise DevloopError(
            f"no Docker engine answers at {where} ({said}): start Docker "
            "(`invoke setup` does it on Debian) or point DOCKER_HOST / `docker context use` at a running engine"
        ) from None
    return client


def _route(where: str) -> str:
    """Reach an ssh:// engine through one local socket, for the SDK and every docker and compose command after it."""
    local = f"unix://{ssh.engine_socket(where)}"
    # Child processes inherit it: Compose and the CLI skip their own SSH handshake (~0.2 s per command).
    os.environ["DOCKER_HOST"], os.environ[ROUTED_VAR] = local, f"{local} {where}"
    return local


def api_version(client: docker.DockerClient) -> tuple[int, int]:
    """Return the newest Engine API version the engine speaks, as (1, 51)."""
    major, minor = client.version()["ApiVersion"].split(".")[:2]
    return int(major), int(minor)


DENIED = "permission denied on the Docker socket"
_REASONS = (
    ("No such file or directory", "no such socket"),
    ("Connection refused", "connection refused"),
    ("Permission denied", DENIED),
    ("timed out", "timed out"),
)


def reason(exc: BaseException) -> str:
    """Say in a few words why the engine did not answer."""
    text = str(exc)
    for needle, said in _REASONS:
        if needle in text:
            return said
    return text.split(": ", 1)[-1][:160] or type(exc).__name__


@dataclass(frozen=True)
class Binding:
    """A published port: host address and port, and the container port behind it."""

    host_ip: str
    host_port: int
    container_port: int


@dataclass
class ServiceState:
    """What the engine says about one service's container."""

    service: str
    container_id: str
    status: str
    health: str
    started_at: str
    image_id: str
    mode: str
    bindings: list[Binding] = field(default_factory=list)
    synced: bool = False  # app/src copied in by devloop/sync.py, not bind-mounted

    @property
    def ready(self) -> bool:
        """Running, and healthy if it has a healthcheck."""
        return self.status == "running" and self.health in ("healthy", "none")

    @property
    def shown(self) -> str:
        """The word that best says how it is: its health if it has one, else its status."""
        return self.health if self.health != "none" else self.status


def containers(client: docker.DockerClient, project: str) -> dict[str, Container]:
    """Return the project's containers by service name (stopped ones included)."""
    # ignore_removed: Compose may remove a container between the listing and its inspection.
    found = client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"}, ignore_removed=True)
    return {c.labels.get(SERVICE_LABEL, c.name): c for c in found}


def bindings(container: Container) -> list[Binding]:
    """Return the container's published ports."""
    ports = container.attrs.get("NetworkSettings", {}).get("Ports") or {}
    out = []
    for spec, hosts in sorted(ports.items()):
        for host in hosts or []:
            out.append(Binding(host["HostIp"], int(host["HostPort"]), int(spec.split("/")[0])))
    return out


def state_of(service: str, container: Container) -> ServiceState:
    """Return the service's state as read from its container."""
    st = container.attrs["State"]
    return ServiceState(
        service=service,
        container_id=container.id,
        status=st.get("Status", "unknown"),
        health=(st.get("Health") or {}).get("Status", "none"),
        started_at=st.get("StartedAt", ""),
        image_id=container.attrs.get("Image", ""),
        mode=container.labels.get(modes.LABEL, ""),
        synced=container.labels.get(EDITS_LABEL) == "sync",
        bindings=bindings(container),
    )


def states(client: docker.DockerClient, project: str) -> dict[str, ServiceState]:
    """Return every service's state."""
    return {name: state_of(name, c) for name, c in containers(client, project).items()}


def log_tail(container: Container, lines: int = 20) -> str:
    """Return the last lines a container printed."""
    return container.logs(tail=lines).decode("utf-8", "replace")


def last_health_output(container: Container) -> str:
    """Return what the container's last health check printed ("" when it has none)."""
    log = (container.attrs.get("State", {}).get("Health") or {}).get("Log") or []
    return (log[-1].get("Output") or "").strip() if log else ""


def volume_exists(client: docker.DockerClient, name: str) -> bool:
    """Whether a volume of exactly that name exists."""
    from docker.errors import NotFound

    try:
        client.volumes.get(name)
    except NotFound:
        return False
    return True


def listening(container: Container) -> set[int]:
    """Return the TCP ports something listens on inside the container.

    Read from /proc, not by connecting: debugpy accepts a single connection, and a probe
    would use it up.
    """
    code, out = container.exec_run(["cat", "/proc/net/tcp", "/proc/net/tcp6"], demux=False)
    if code != 0:
        return set()
    ports = set()
    for line in out.decode().splitlines()[1:]:
        cols = line.split()
        if len(cols) > 3 and cols[3] == TCP_LISTEN:
            ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def duplicate_networks(client: docker.DockerClient, name: str) -> list[Network]:
    """Return the copies of a network name beyond the one to keep (the one with containers, else the oldest)."""
    same = [n for n in client.networks.list(names=[name], greedy=True) if n.name == name]
    if len(same) < 2:
        return []
    same.sort(key=lambda n: (not n.attrs.get("Containers"), n.attrs.get("Created", "")))
    return [n for n in same[1:] if not n.attrs.get("Containers")]


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a listener could bind host:port now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def image_id(client: docker.DockerClient, name: str) -> str | None:
    """Return a local image's id, or None."""
    from docker.errors import ImageNotFound

    try:
        return client.images.get(name).id
    except ImageNotFound:
        return None
