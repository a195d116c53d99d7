"""The Docker engine through its SDK: reachability, container state, ports, images."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import labels
from .errors import DevloopError

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container
    from docker.models.networks import Network

TCP_LISTEN = "0A"  # the state column of /proc/net/tcp


def connect(base_url: str, shown: str = "", timeout: float = 10) -> docker.DockerClient:
    """Return an SDK client for the engine at base_url, or fail in one line (naming it as shown) saying how to get one."""
    import docker  # Imported here: it costs ~0.2 s, and `invoke --list` should not pay it.
    from docker.errors import DockerException

    try:
        client = docker.DockerClient(base_url=base_url, timeout=timeout)
        client.ping()
    except (DockerException, OSError) as exc:
        said = reason(exc)
        if said == DENIED:
            raise DevloopError(f"{DENIED} ({shown or base_url}): add your user to the docker group (or use sudo)") from None
        raise DevloopError(
            f"no Docker engine answers at {shown or base_url} ({said}): start Docker "
            "(`invoke setup` does it on Debian) or point DOCKER_HOST / `docker context use` at a running engine"
        ) from None
    return client


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
    edits: str = ""  # how app/src reaches /code: its devloop.edits label ("sync"; "" for a bind mount)
    config_hash: str = ""  # Compose's hash of the configuration it was created from

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
    found = client.containers.list(all=True, filters={"label": f"{labels.PROJECT}={project}"}, ignore_removed=True)
    return {c.labels.get(labels.SERVICE, c.name): c for c in found}


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
        mode=container.labels.get(labels.MODE, ""),
        edits=container.labels.get(labels.EDITS, ""),
        config_hash=container.labels.get(labels.CONFIG_HASH, ""),
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


def image_id(client: docker.DockerClient, name: str) -> str | None:
    """Return a local image's id, or None."""
    from docker.errors import ImageNotFound

    try:
        return client.images.get(name).id
    except ImageNotFound:
        return None
