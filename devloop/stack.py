"""The stack's life cycle: build, up (and debug), down, reload, status.

Compose does the orchestration; this module decides what to ask of it, checks what
would make it fail half-way before anything starts, and reads the engine to wait and
to report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import compose as compose_cli
from . import engine, passwords, reload
from .errors import DevloopError
from .settings import DEBUG_FILE, DEBUG_WAIT_FILE, DEBUGPY_PORT, Settings

if TYPE_CHECKING:
    import docker

Printer = Callable[[str], None]

MODES = ("normal", "debug", "debug-wait")
URL_SERVICES = ("app", "web")
# A service that reloads its code on this signal (the dev server: SIGHUP) needs no container restart.
RELOAD_SIGNAL_LABEL = "devloop.reload-signal"


def files_for(settings: Settings, mode: str) -> tuple[str, ...]:
    """Return the compose files of a mode: the project's, plus the debug overlays."""
    extra = {"normal": (), "debug": (DEBUG_FILE,), "debug-wait": (DEBUG_FILE, DEBUG_WAIT_FILE)}[mode]
    return tuple(settings.compose_files) + extra


@dataclass
class Stack:
    """One project's stack in one mode."""

    settings: Settings
    mode: str = "normal"
    cli: compose_cli.Cli | None = None
    out: Printer = print

    def __post_init__(self) -> None:
        self.compose = compose_cli.Compose(self.settings, files_for(self.settings, self.mode), self.cli)
        self._client: docker.DockerClient | None = None

    @property
    def client(self) -> docker.DockerClient:
        """The engine, connected on first use."""
        if self._client is None:
            self._client = engine.connect()
        return self._client

    def states(self) -> dict[str, engine.ServiceState]:
        """Return the state of each of the project's containers."""
        return engine.states(self.client, self.settings.project)

    def preflight(self) -> None:
        """Fail before anything starts when the engine, Compose or the config is not usable."""
        self.client  # noqa: B018 -- connects, or fails with the engine's one-line error
        compose_cli.require_version(self.compose.cli)
        self.compose.model()
        passwords.ensure(self.settings.root)

    def wanted_ports(self) -> dict[str, int]:
        """Return the host ports this mode publishes, by the variable that moves each."""
        ports = {"APP_PORT": self.settings.app_port, "WEB_PORT": self.settings.web_port}
        if self.mode != "normal":
            ports["DEBUG_PORT"] = self.settings.debug_port
        return ports

    def check_ports(self) -> None:
        """Fail, naming the port and its setting, when a port is taken by something else."""
        ours = {b.host_port for s in self.states().values() if s.status == "running" for b in s.bindings}
        for var, port in self.wanted_ports().items():
            if port not in ours and not engine.port_free(port):
                raise DevloopError(
                    f"port {port} on 127.0.0.1 is already in use ({var}): stop what holds it, "
                    f"or set {var} to a free port in .env or the environment"
                )

    def image_of(self, service: str) -> str:
        """Return the image name Compose gives a service."""
        return self.compose.model()["services"][service].get("image") or f"{self.settings.project}-{service}"

    def build(self, services: Sequence[str] = (), no_cache: bool = False, target: str | None = None) -> None:
        """Build images with Compose, showing its output; record what was built."""
        buildable = self.compose.built_services()
        services = self.compose.require_services(services, among=buildable) if services else buildable
        compose = self.compose
        if target:
            compose = compose_cli.Compose(self.settings, self.compose.files, self.compose.cli, {"APP_TARGET": target})
        args = ["build", *(["--no-cache"] if no_cache else []), *services]
        result = compose.stream(*args)
        if not result.ok:
            raise DevloopError(f"build of {', '.join(services)} failed: {compose_cli.error_line(result.stdout)}")
        if not target or target == "dev":
            recorded = reload.load(self.settings.root, self.settings.project) or reload.Fingerprint()
            current = reload.fingerprint(self.compose.model())
            for name in services:
                recorded.build[name] = current.build[name]
            reload.save(self.settings.root, self.settings.project, recorded)

    def stale_images(self, force: bool = False) -> dict[str, str]:
        """Return the built services whose image is missing or out of date, with the reason."""
        recorded = reload.load(self.settings.root, self.settings.project)
        current = reload.fingerprint(self.compose.model())
        stale = {}
        for name in self.compose.built_services():
            if force:
                stale[name] = "--build"
            elif engine.image_id(self.client, self.image_of(name)) is None:
                stale[name] = "no image yet"
            elif recorded is None or recorded.build.get(name) != current.build.get(name):
                stale[name] = "Dockerfile, requirements or build settings changed"
        return stale

    def up(self, build: bool = False, timeout: float = 300) -> dict[str, engine.ServiceState]:
        """Build what is missing or stale, start, and wait until every service is healthy."""
        started = time.monotonic()
        self.preflight()
        self.check_ports()
        stale = self.stale_images(force=build)
        for name, why in stale.items():
            self.out(f"building {name} ({why})")
        if stale:
            self.build(list(stale))
        running_before = {s for s, st in self.states().items() if st.status == "running"}
        self._start(timeout, running_before)
        reload.save(self.settings.root, self.settings.project, reload.fingerprint(self.compose.model()))
        states = self.states()
        self.out(f"stack is up in {self.mode} mode after {time.monotonic() - started:.1f}s:")
        for line in describe(states):
            self.out(f"  {line}")
        return states

    def _start(self, timeout: float, running_before: set[str], retry: bool = True) -> None:
        """Run `compose up --wait`, reporting which service is awaited, and diagnose failures."""
        proc = self.compose.start("up", "--detach", "--wait", "--no-build", "--remove-orphans")
        order = self.compose.services()
        deadline = time.monotonic() + timeout
        last_report: tuple[str, str] | None = None
        last_time = 0.0
        since: dict[str, float] = {}
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
            states = self.states()
            waiting = next((s for s in order if s not in states or not states[s].ready), None)
            if waiting is None:
                continue
            since.setdefault(waiting, time.monotonic())
            st = states.get(waiting)
            shown = "not created yet" if st is None else (st.health if st.health != "none" else st.status)
            now = time.monotonic()
            if (waiting, shown) != last_report or now - last_time >= 5:
                self.out(f"waiting for {waiting}: {shown} ({now - since[waiting]:.0f}s)")
                last_report, last_time = (waiting, shown), now
        if proc.poll() is None:
            proc.kill()
        output = proc.communicate()[0] or ""
        if proc.returncode == 0:
            return
        if retry and "is unhealthy" in output and self._recovers(order):
            # Compose gives up at once on a dependency that is unhealthy *now*; one that was
            # fixed (a save after an error) turns healthy at its next check.
            self._start(max(deadline - time.monotonic(), 30), running_before, retry=False)
            return
        self._diagnose(output, running_before, timed_out=time.monotonic() >= deadline)

    def _recovers(self, order: Sequence[str], grace: float = 15) -> bool:
        """Whether every running but unhealthy service turns healthy within the grace period."""
        deadline = time.monotonic() + grace
        told = False
        while time.monotonic() < deadline:
            sick = [s for s in order if (st := self.states().get(s)) and st.status == "running" and st.health == "unhealthy"]
            if not sick:
                return True
            if not told:
                self.out(f"waiting for {', '.join(sick)}: unhealthy; giving it {grace:.0f}s to recover")
                told = True
            time.sleep(1)
        return False

    def _diagnose(self, output: str, running_before: set[str], timed_out: bool) -> None:
        """Show the failing service's last log lines, then fail saying what is left running."""
        states = self.states()
        if "port is already allocated" in output or "address already in use" in output:
            # Started by this attempt and useless without their port: leave nothing half-started.
            new = [s for s, st in states.items() if st.status == "running" and s not in running_before]
            if new:
                self.compose.capture("stop", *new)
            raise DevloopError(f"a port is already taken: {compose_cli.error_line(output)}; stopped {', '.join(new) or 'nothing'}")
        order = [s for s in self.compose.services() if s in states]
        # A service that ran and failed explains more than one never started because of it.
        broken = [s for s in order if states[s].health == "unhealthy" or states[s].status in ("exited", "dead", "restarting")]
        failing = next(iter(broken), None) or next((s for s in order if not states[s].ready), None)
        if failing:
            st = states[failing]
            container = engine.containers(self.client, self.settings.project)[failing]
            self.out(f"--- last log lines of {failing} ---")
            self.out(engine.log_tail(container).rstrip())
            self.out("---")
            what = f"{failing} is {st.health if st.health != 'none' else st.status}"
        else:
            what = compose_cli.error_line(output)
        running = sorted(s for s, st in states.items() if st.status == "running")
        left = ", ".join(running) if running else "nothing"
        reason = "timed out" if timed_out else "failed"
        raise DevloopError(f"start {reason}: {what}; left running: {left} (`invoke down` stops it, `invoke logs` shows more)")

    def wait_for_debugger(self, timeout: float = 60) -> None:
        """Wait until debugpy listens in the app container, without connecting to it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            container = engine.containers(self.client, self.settings.project).get("app")
            if container is not None and DEBUGPY_PORT in engine.listening(container):
                return
            time.sleep(0.3)
        raise DevloopError(f"debugpy did not start listening within {timeout:.0f}s: see `invoke logs app`")

    def down(self, volumes: bool = False) -> None:
        """Stop and remove the containers; the data volume too only when asked."""
        self.client  # noqa: B018 -- fail in one line when there is no engine
        args = ["down", "--remove-orphans", *(["--volumes"] if volumes else [])]
        self.compose.check(self.compose.stream(*args), "docker compose down")

    def volumes(self) -> list[str]:
        """Return the named volumes of the project that exist."""
        found = self.client.volumes.list(filters={"label": f"{engine.PROJECT_LABEL}={self.settings.project}"})
        return sorted(v.name for v in found)

    def reload(self) -> reload.Plan:
        """Apply what changed since the last build/up with the cheapest correct action."""
        self.preflight()
        recorded = reload.load(self.settings.root, self.settings.project)
        current = reload.fingerprint(self.compose.model())
        todo = reload.plan(recorded, current)
        states = self.states()
        missing = [s for s in self.compose.services() if s not in states or states[s].status != "running"]
        if missing and todo.nothing:
            todo.recreate = missing
            todo.reasons.append(f"not running: {', '.join(missing)} -> start")
        if todo.nothing:
            return todo
        if todo.rebuild:
            self.build(todo.rebuild)
        if todo.rebuild or todo.recreate:
            self.check_ports()
            self._start(300, {s for s, st in states.items() if st.status == "running"})
        for name in todo.restart:
            self.restart_process(name)
        reload.save(self.settings.root, self.settings.project, current)
        return todo

    def restart_process(self, service: str) -> None:
        """Restart a service's process: by its reload signal if it declares one, else the container."""
        labels = self.compose.model()["services"][service].get("labels") or {}
        reload_signal = labels.get(RELOAD_SIGNAL_LABEL)
        if reload_signal:
            self.compose.check(self.compose.capture("kill", "--signal", reload_signal, service), f"signalling {service}")
        else:
            self.compose.check(self.compose.capture("restart", service), "docker compose restart")
            self._start(300, {service})

    def status(self) -> list[str]:
        """Return one line per service: state, health, ports, mode, image freshness."""
        states = self.states()
        stale = self.stale_images() if states else {}
        lines = []
        for name in self.compose.services():
            st = states.get(name)
            if st is None:
                lines.append(f"{name:<5} not created")
                continue
            ports = ", ".join(f"{b.host_ip}:{b.host_port}->{b.container_port}" for b in st.bindings) or "-"
            line = f"{name:<5} {st.status:<8} health={st.health:<9} ports={ports}"
            if st.mode:
                line += f" mode={st.mode}"
            if name in stale:
                line += f" image stale: {stale[name]} (`invoke reload` rebuilds)"
            lines.append(line)
        return lines

    def running_mode(self) -> str:
        """Return the mode the app container runs in ("normal" when unknown)."""
        st = self.states().get("app")
        return st.mode if st and st.mode in MODES else "normal"


def describe(states: dict[str, engine.ServiceState]) -> list[str]:
    """Return where each published service can be reached."""
    lines = []
    for name, st in states.items():
        for b in st.bindings:
            if b.container_port == DEBUGPY_PORT:
                lines.append(f"debugger  {b.host_ip}:{b.host_port}  (VS Code: Run > 'Python: Remote Attach')")
            elif name in URL_SERVICES:
                lines.append(f"{name:<9} http://{b.host_ip}:{b.host_port}")
    return sorted(lines)


def running_stack(settings: Settings, **kwargs: Any) -> Stack:
    """Return a Stack in the mode its app container currently runs in."""
    probe = Stack(settings, **kwargs)
    mode = probe.running_mode()
    return probe if mode == "normal" else Stack(settings, mode=mode, **kwargs)
