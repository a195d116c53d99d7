"""One project's stack on one engine, as the tasks work with it: where it runs (a place), how edits
reach it, Compose for its mode, the engine's SDK client, and what they say about the running
stack. `Stack` (the facade the tasks use) and what `up` and `reload` do (changes, healing,
rekey, images) take a Runtime; it knows nothing of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from . import debugger, edits, engine, fingerprints, modes, passwords, places, reach, state
from .commands import Cli
from .compose import Compose, require_version
from .errors import DevloopError
from .settings import Settings, require_app_dir
from .starting import Starter

if TYPE_CHECKING:
    import docker

Printer = Callable[[str], None]


class Runtime:
    """One project's stack in one mode, on the engine the docker CLI would use."""

    start_timeout = 300.0

    def __init__(
        self,
        settings: Settings,
        mode: modes.Mode = modes.NORMAL,
        cli: Cli | None = None,
        out: Printer = print,
        edits_label: str | None = None,
    ) -> None:
        self.settings, self.mode, self.cli, self.out = settings, mode, cli, out
        self._label = edits_label
        self._place: places.Place | None = None
        self._edits: edits.Edits | None = None
        self._base: Compose | None = None
        self._compose: Compose | None = None
        self._client: docker.DockerClient | None = None

    def again(self, mode: modes.Mode, edits_label: str | None) -> Runtime:
        """Return the same stack in another mode and way of carrying edits, on the same engine connection."""
        other = Runtime(self.settings, mode, self.cli, self.out, edits_label)
        other._place, other._client = self._place, self._client
        return other

    @property
    def place(self) -> places.Place:
        """Where the stack runs (found from the engine's address on first use)."""
        if self._place is None:
            state_dir = self.settings.root / state.STATE_DIR
            self._place = places.choose(places.endpoint(self.cli), state_dir, self.settings.project)
        return self._place

    @property
    def client(self) -> docker.DockerClient:
        """The engine, connected on first use."""
        if self._client is None:
            self._client = self.place.connect()
        return self._client

    def require_engine(self) -> None:
        """Fail in one line, saying why, unless the engine answers this user."""
        self.client  # noqa: B018 -- connects, or fails with the engine's one-line error

    @property
    def base(self) -> Compose:
        """Compose with the project's files, those the engine allows, and this mode's (it connects on first use)."""
        if self._base is None:
            files = self.mode.files(self.settings.compose_files, engine.api_version(self.client))
            self._base = Compose(self.settings, files, self.cli, self.mode.env())
        return self._base

    @property
    def edits(self) -> edits.Edits:
        """How edits reach /code: the way the running app was started with, or the one `use` was given."""
        if self._edits is None:
            self._edits = edits.running(self.settings, self._label, self.base.source(), self.place.endpoint)
        return self._edits

    def use(self, way: edits.Edits) -> None:
        """Carry edits this way from now on (`up` chooses it once the app's image exists)."""
        self._edits, self._compose = way, None

    @property
    def compose(self) -> Compose:
        """Compose for this stack: the base, and whatever carrying edits this way needs."""
        if self._compose is None:
            self._compose = self.edits.compose(self.base)
        return self._compose

    def states(self) -> dict[str, engine.ServiceState]:
        """Return the state of each of the project's containers."""
        return engine.states(self.client, self.settings.project)

    def running(self) -> set[str]:
        """Return the services whose container runs now."""
        return {s for s, st in self.states().items() if st.status == "running"}

    def log_tail(self, service: str) -> str:
        """Return the last lines a service's container printed, and what its last health check answered."""
        container = engine.containers(self.client, self.settings.project).get(service)
        if container is None:
            return "(no container)"
        health = engine.last_health_output(container)
        return engine.log_tail(container).rstrip() + (f"\n--- its last health check answered ---\n{health}" if health else "")

    def starter(self) -> Starter:
        """Return what starts this stack, diagnoses a failed start, and then lets edits arrive."""
        return Starter(self.compose, self.states, self.log_tail, self.out, lambda: self.edits.after_start(self.client))

    def recreate(self, services: Sequence[str]) -> None:
        """Replace the services' containers with new ones (volumes and other services stay)."""
        args = ["up", "--detach", "--wait", "--no-build", "--no-deps", "--force-recreate", *services]
        self.compose.check(self.compose.capture(*args), f"recreating {', '.join(services)}")
        self.edits.after_start(self.client)

    def wait_for_debugger(self, timeout: float = 60) -> None:
        """Wait until debugpy listens in each container this mode runs under it (the app; the worker, if it runs)."""
        for name, service in self.compose.model().get("services", {}).items():
            if "DEBUGPY_PORT" in (service.get("environment") or {}):
                debugger.wait_listening(self.client, self.settings.project, debugger.debugpy_port(service, name), timeout, name)

    def data_volume(self) -> str | None:
        """Return the database's named volume if it exists on the engine."""
        name = self.compose.data_volume()
        return name if name and engine.volume_exists(self.client, name) else None

    def volumes(self) -> list[str]:
        """Return the project's named volumes that exist on the engine."""
        return [name for name in self.compose.volumes() if engine.volume_exists(self.client, name)]

    def fingerprint(self) -> fingerprints.Fingerprint:
        """Return the content hashes of what the stack is made from now."""
        return fingerprints.fingerprint(self.compose.model(), self.compose.source())

    def preflight(self) -> None:
        """Fail before anything starts when the engine, Compose or the config is not usable."""
        require_app_dir(self.settings)
        with ThreadPoolExecutor(1) as pool:
            compose_version = pool.submit(require_version, self.cli or Cli())  # meanwhile, the engine and the config
            self.require_engine()
            self.compose.model()
            compose_version.result()
        passwords.ensure(self.settings.root, self.data_volume())

    def published(self) -> list[int]:
        """The host ports the stack publishes in this mode, from Compose's model (the services of the active profiles)."""
        services = self.compose.model().get("services", {}).values()
        return sorted({int(p["published"]) for svc in services for p in svc.get("ports") or [] if p.get("published")})

    def check_ports(self) -> None:
        """Fail, naming the port and its setting, when a port this mode publishes is taken by something else here."""
        ours = self.place.ours(self.states())
        if ours is None:
            return  # published on the engine's machine: the engine says when one is taken there
        setting = {port: var for var, port in self.settings.ports.items()}
        for port in self.published():
            var = setting.get(port, "the compose file's ports")
            if port not in ours and not reach.port_free(port):
                raise DevloopError(
                    f"port {port} on 127.0.0.1 is already in use ({var}): stop what holds it, "
                    f"or set {var} to a free port in .env or the environment"
                )
