"""The stack's life cycle: build, up (and debug), down, status.

Compose does the orchestration; this facade decides what to ask of it and checks what
would make it fail half-way before anything starts. Starting and its diagnosis are in
starting.py, `invoke reload` in changes.py, repairs in healing.py, content hashes in
fingerprints.py, reachability from the host in reach.py, what gets printed in report.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from . import carry, changes, debugger, engine, fingerprints, healing, modes, mounts, passwords, reach, report, ssh, sync
from .commands import Cli
from .compose import Compose, require_version
from .errors import DevloopError
from .settings import Settings, source_folder
from .starting import Starter

if TYPE_CHECKING:
    import docker

Printer = Callable[[str], None]
START_TIMEOUT = 300.0


class Stack:
    """One project's stack in one mode."""

    start_timeout = START_TIMEOUT

    def __init__(
        self, settings: Settings, mode: modes.Mode = modes.NORMAL, cli: Cli | None = None, out: Printer = print, synced: bool = False
    ) -> None:
        self.settings, self.mode, self.out, self.cli, self.synced = settings, mode, out, cli, synced
        self._client: docker.DockerClient | None = None
        self._compose: Compose | None = None
        self._endpoint: str | None = None

    @property
    def compose(self) -> Compose:
        """Compose with this mode's files and those the engine allows (it connects on first use)."""
        if self._compose is None:
            files = self.mode.files(self.settings.compose_files, engine.api_version(self.client))
            compose = Compose(self.settings, files, self.cli, self.mode.env())
            if self.synced:
                root, folder = self.settings.root, source_folder(self.settings.root)
                overlay, secrets = carry.write(compose.model(), root, self.settings.project, folder or root / "app/src")
                compose = Compose(self.settings, (*files, overlay), self.cli, {**self.mode.env(), **secrets})
            self._compose = compose
        return self._compose

    @property
    def client(self) -> docker.DockerClient:
        """The engine, connected on first use."""
        if self._client is None:
            self._client = engine.connect()
        return self._client

    def require_engine(self) -> None:
        """Fail in one line, saying why, unless the engine answers this user."""
        self.client  # noqa: B018 -- connects, or fails with the engine's one-line error

    def states(self) -> dict[str, engine.ServiceState]:
        """Return the state of each of the project's containers."""
        return engine.states(self.client, self.settings.project)

    def starter(self) -> Starter:
        """Return what starts this stack and diagnoses a failed start."""
        return Starter(self.compose, self.states, self.log_tail, self.out, self.start_sync if self.synced else None)

    def log_tail(self, service: str) -> str:
        """Return the last lines a service's container printed, and what its last health check answered."""
        container = engine.containers(self.client, self.settings.project).get(service)
        if container is None:
            return "(no container)"
        health = engine.last_health_output(container)
        return engine.log_tail(container).rstrip() + (f"\n--- its last health check answered ---\n{health}" if health else "")

    def preflight(self) -> None:
        """Fail before anything starts when the engine, Compose or the config is not usable."""
        with ThreadPoolExecutor(1) as pool:
            compose_version = pool.submit(require_version, self.cli or Cli())  # meanwhile, the engine and the config
            self.require_engine()
            self.compose.model()
            compose_version.result()
        passwords.ensure(self.settings.root, self.data_volume())

    @property
    def endpoint(self) -> str:
        """The engine's address, as the docker CLI would use it."""
        if self._endpoint is None:
            self._endpoint = engine.endpoint(self.cli)
        return self._endpoint

    def choose_edits(self) -> None:
        """Bind-mount app/src when the engine sees this machine's files, else sync it (DEVLOOP_EDITS can force one)."""
        root, want = self.settings.root, self.settings.edits
        synced = want == "sync"
        if want != "sync" and not mounts.sees_source(self.client, self.endpoint, root, self.compose.image_of("app")):
            if want == "bind":
                raise mounts.unseen_error(self.endpoint, root / "app/src")
            self.out(f"the engine at {self.endpoint} does not see this machine's app/src: syncing it into the app instead")
            synced = True
        if synced != self.synced:
            self.synced, self._compose = synced, None

    def start_sync(self) -> None:
        """Start (or keep) the syncer for the app container; wait until it is in sync."""
        container = engine.containers(self.client, self.settings.project)["app"]
        sync.start(self.settings.root, self.settings.project, container.id, self.settings.app_uid)

    def forwards(self) -> ssh.Forwards | None:
        """The SSH forwards of this stack's ports, when the engine is reached over ssh:// (else None)."""
        if not ssh.is_ssh(self.endpoint):
            return None
        return ssh.Forwards(self.endpoint, self.settings.root / fingerprints.STATE_DIR, self.settings.project)

    def forward_ports(self) -> None:
        """On an ssh:// engine, make every published port answer on this machine's 127.0.0.1 with the same number."""
        forwards = self.forwards()
        if forwards:
            forwards.ensure(b.host_port for st in self.states().values() if st.status == "running" for b in st.bindings)

    def check_ports(self) -> None:
        """Fail, naming the port and its setting, when a port is taken by something else."""
        forwards = self.forwards()
        if forwards:  # its ports listen here through our forwards, and on its own host, where the engine says when one is taken
            ours = set(forwards.current())
        elif engine.publishes_here(self.endpoint):
            ours = {b.host_port for s in self.states().values() if s.status == "running" for b in s.bindings}
        else:
            return  # it publishes on its own host: the engine says when a port is taken there
        for var in self.mode.published:
            port = self.settings.ports[var]
            if port not in ours and not engine.port_free(port):
                raise DevloopError(
                    f"port {port} on 127.0.0.1 is already in use ({var}): stop what holds it, "
                    f"or set {var} to a free port in .env or the environment"
                )

    def build(self, services: Sequence[str] = (), no_cache: bool = False, target: str = "dev") -> None:
        """Build images with Compose, showing its output; record what was built."""
        self.require_engine()
        buildable = self.compose.built_services()
        services = self.compose.require_services(services, among=buildable) if services else buildable
        compose = self.compose if target == "dev" else self.compose.with_env(APP_TARGET=target)
        result = compose.stream("build", *(["--no-cache"] if no_cache else []), *services)
        compose.check(result, f"build of {', '.join(services)}")
        if target == "dev":
            fingerprints.record_build(self.settings.root, self.settings.project, self.fingerprint(), services)

    def fingerprint(self) -> fingerprints.Fingerprint:
        """Return the content hashes of what the stack is made from now."""
        return fingerprints.fingerprint(self.compose.model(), source_folder(self.settings.root) if self.synced else None)

    def stale_images(self, force: bool = False) -> dict[str, str]:
        """Return the built services whose image is missing or out of date, with the reason."""
        built = self.compose.built_services()
        recorded = fingerprints.load(self.settings.root, self.settings.project)
        changed = fingerprints.stale_builds(recorded, self.fingerprint(), built)
        stale = {}
        for name in built:
            if force:
                stale[name] = "--build"
            elif engine.image_id(self.client, self.compose.image_of(name)) is None:
                stale[name] = "no image yet"
            elif name in changed:
                stale[name] = "Dockerfile, requirements or build settings changed"
        return stale

    def up(self, build: bool = False) -> dict[str, engine.ServiceState]:
        """Build what is missing or stale, start, and wait until every service is healthy."""
        started = time.monotonic()
        self.preflight()
        self.check_ports()
        stale = self.stale_images(force=build)
        for name, why in stale.items():
            self.out(f"building {name} ({why})")
        if stale:
            self.build(list(stale))
        self.choose_edits()
        for name in healing.replaced_sources(self):
            self.out(f"{name}: its source folder was deleted and made again on the host; recreating {name}")
        healing.dedupe_networks(self)
        if not stale and changes.nothing_to_start(self):
            self.out("every service is up to date and healthy; nothing to start")
            if self.synced:
                self.start_sync()
        else:
            self.starter().start(START_TIMEOUT, self.running())
        fingerprints.save(self.settings.root, self.settings.project, self.fingerprint())
        self.forward_ports()
        if self.mode.debugger:
            self.wait_for_debugger()
        checked, skipped = healing.repair_ports(self, *reach.check(self.states(), self.settings))
        self.out(f"stack is up in {self.mode.name} mode after {time.monotonic() - started:.1f}s:")
        for line in report.where(checked, skipped):
            self.out(f"  {line}")
        if self.synced:
            self.out(f"  edits     {sync.describe(self.settings.root, self.settings.project)}")
        forwards = self.forwards()
        if forwards:
            self.out(f"  ports     {forwards.describe()}")
        return self.states()

    def recreate(self, services: Sequence[str]) -> None:
        """Replace the services' containers with new ones (volumes and other services stay)."""
        args = ["up", "--detach", "--wait", "--no-build", "--no-deps", "--force-recreate", *services]
        self.compose.check(self.compose.capture(*args), f"recreating {', '.join(services)}")
        if self.synced and "app" in services:
            self.start_sync()

    def running(self) -> set[str]:
        """Return the services whose container runs now."""
        return {s for s, st in self.states().items() if st.status == "running"}

    def wait_for_debugger(self, timeout: float = 60) -> None:
        """Wait until debugpy listens in the app container."""
        debugger.wait_listening(self.client, self.settings.project, debugger.debugpy_port(self.compose), timeout)

    def down(self, volumes: bool = False) -> None:
        """Stop and remove the containers; the data volume too only when asked."""
        self.require_engine()
        sync.stop(self.settings.root, self.settings.project)
        args = ["down", "--remove-orphans", *(["--volumes"] if volumes else [])]
        self.compose.check(self.compose.stream(*args), "docker compose down")
        forwards = self.forwards()
        if forwards:
            forwards.stop()
            ssh.close_engine(self.endpoint)

    def data_volume(self) -> str | None:
        """Return the database's named volume if it exists on the engine."""
        if "db" not in self.compose.model()["services"]:
            return None
        for volume in self.compose.service("db").get("volumes") or []:
            if volume.get("type") == "volume":
                name = self.compose.model()["volumes"][volume["source"]]["name"]
                if engine.volume_exists(self.client, name):
                    return name
        return None

    def volumes(self) -> list[str]:
        """Return the named volumes of the project that exist."""
        found = self.client.volumes.list(filters={"label": f"{engine.PROJECT_LABEL}={self.settings.project}"})
        return sorted(v.name for v in found)

    def status(self) -> list[str]:
        """Return one line per service, then whether each published port answers from here."""
        states = self.states()
        stale = self.stale_images() if states else {}
        lines = report.status_lines(self.compose.services(), states, stale)
        lines += [f"  {line}" for line in report.where(*reach.check(states, self.settings))]
        root = self.settings.root
        edits = sync.describe(root, self.settings.project) if self.synced else mounts.describe(self.endpoint, root)
        forwards = self.forwards()
        ports = [f"ports     {forwards.describe()}"] if forwards and states else []
        return [*lines, f"edits     {edits}", *ports]

    def running_mode(self) -> modes.Mode:
        """Return the mode the app container runs in (normal when unknown)."""
        st = self.states().get("app")
        return modes.named(st.mode) if st else modes.NORMAL


def running_stack(settings: Settings, **kwargs: Any) -> Stack:
    """Return a Stack in the mode its app container currently runs in, synced if it is."""
    probe = Stack(settings, **kwargs)
    app = probe.states().get("app")
    mode = modes.named(app.mode) if app else modes.NORMAL
    synced = bool(app and app.synced)
    return probe if mode is modes.NORMAL and not synced else Stack(settings, mode=mode, synced=synced, **kwargs)
