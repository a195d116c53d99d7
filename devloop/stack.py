"""The stack's life cycle as the tasks see it: build, up (and debug), reload, down, status, rekey.

Compose does the orchestration; this facade says in what order to ask it and what to print.
What the steps stand on is in runtime.py (the stack on its engine: where it runs, how edits
reach it, Compose, the SDK); starting and its diagnosis in starting.py, `invoke reload` in
changes.py, repairs in healing.py, images in images.py, what gets printed in report.py.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from . import changes, edits, engine, fingerprints, healing, images, modes, mounts, reach, rekey, report
from .commands import Cli
from .compose import Compose
from .runtime import Printer, Runtime
from .settings import Settings


class Stack:
    """One project's stack in one mode: the facade the tasks use."""

    def __init__(
        self,
        settings: Settings,
        mode: modes.Mode = modes.NORMAL,
        cli: Cli | None = None,
        out: Printer = print,
        runtime: Runtime | None = None,
    ) -> None:
        self.settings, self.mode, self.out = settings, mode, out
        self.runtime = runtime or Runtime(settings, mode, cli, out)

    @property
    def compose(self) -> Compose:
        """Compose for this stack (`logs` and `shell` run it directly)."""
        return self.runtime.compose

    def require_engine(self) -> None:
        """Fail in one line, saying why, unless the engine answers this user."""
        self.runtime.require_engine()

    def build(self, services: Sequence[str] = (), no_cache: bool = False, target: str = "dev") -> None:
        """Build images with Compose, showing its output."""
        images.build(self.runtime, services, no_cache, target)

    def up(self, build: bool = False) -> None:
        """Build what is missing or stale, start, wait until every service is healthy, and say where it answers."""
        started, rt = time.monotonic(), self.runtime
        rt.preflight()
        rt.check_ports()
        self._images_and_edits(images.stale(rt, force=build))
        recorded, current = fingerprints.load(self.settings.root, self.settings.project), rt.fingerprint()
        for name in healing.replaced_sources(recorded, current):
            self.out(f"{name}: its source folder was deleted and made again on the host; recreating {name}")
        healing.dedupe_networks(rt)
        todo, states = changes.plan(recorded, current, rt.compose.services(), rt.running()), rt.states()
        unchanged = changes.nothing_to_start(states, rt.compose.services(), images.image_ids(rt), todo)
        otherwise = changes.configured_otherwise(states, rt.compose.config_hashes()) if unchanged else []
        for name in otherwise:
            self.out(
                f"{name}: its container was created from another configuration than this project's (Compose's config hash"
                " differs); recreating it"
            )
        if unchanged and not otherwise:
            self.out("every service is up to date and healthy; nothing to start")
            rt.edits.after_start(rt.client)
        else:
            rt.starter().start(rt.start_timeout, rt.running())
        fingerprints.save(self.settings.root, self.settings.project, current)
        rt.place.carry_ports(rt.states())
        if self.mode.debugger:
            rt.wait_for_debugger()
        checked, skipped = healing.repair_ports(rt, *reach.check(rt.states(), self.settings))
        self.out(f"stack is up in {self.mode.name} mode after {time.monotonic() - started:.1f}s:")
        for line in [*report.where(checked, skipped), *self._carried(rt.states())]:
            self.out(f"  {line}")

    def _images_and_edits(self, stale: dict[str, str]) -> None:
        """Build the stale images and choose how edits reach the app; when the engine can be asked before the build,
        start meanwhile what needs none of those images (the database initialises while the app builds)."""
        rt = self.runtime
        for name, why in stale.items():
            self.out(f"building {name} ({why})")
        probe = self._probe_image()
        if probe:
            rt.use(self._edits(probe))
        early = rt.compose.startable_without(stale) if probe and stale else []
        if early:
            self.out(f"starting {', '.join(early)} while {', '.join(stale)} builds")
        with rt.starter().early(early):
            if stale:
                images.build(rt, list(stale))
        if not probe:
            rt.use(self._edits(self._probe_image() or ""))

    def _probe_image(self) -> str | None:
        """An image the engine has, to ask it whether it sees app/src: the app's own, else the one it is built from."""
        rt, found = self.runtime, self.runtime.base.source()
        candidates = [rt.base.image_of(found.service) if found else "", self.settings.python_image]
        return next((image for image in candidates if image and engine.image_id(rt.client, image)), None)

    def _edits(self, probe: str) -> edits.Edits:
        """Choose how edits reach the app on this engine (asking it with a throwaway container of the probe image)."""
        rt, found = self.runtime, self.runtime.base.source()
        if found is None:
            return rt.edits  # no source folder: nothing to carry
        where = rt.place.endpoint
        sees = lambda: mounts.seen(rt.client, where, self.settings.root, found, probe)  # noqa: E731
        return edits.choose(self.settings, found, where, sees, self.out)

    def _carried(self, states: dict[str, engine.ServiceState]) -> list[str]:
        """Return how edits and ports reach the stack, and how the dev server watches for them, a line each."""
        rt = self.runtime
        ports = rt.place.describe_ports(states)
        app = engine.containers(rt.client, self.settings.project).get("app") if states.get("app") else None
        watch = mounts.watching(app) if app is not None and app.status == "running" else None
        lines = [f"edits     {rt.edits.describe()}", *([f"watching  {watch['described']}"] if watch else [])]
        return [*lines, *([f"ports     {ports}"] if ports else [])]

    def reload(self) -> fingerprints.Plan:
        """Apply what changed since the last build/up, the cheapest correct way; return the plan."""
        return changes.apply(self.runtime)

    def rekey(self) -> None:
        """Set the database's passwords to the password files, keeping every row."""
        rekey.rekey(self.runtime)

    def down(self, volumes: bool = False) -> None:
        """Stop and remove the containers (and what carries edits and ports); the data volume too only when asked."""
        rt = self.runtime
        rt.require_engine()
        rt.edits.stop()
        args = ["down", "--remove-orphans", *(["--volumes"] if volumes else [])]
        rt.compose.check(rt.compose.stream(*args), "docker compose down")
        rt.place.release()

    def volumes(self) -> list[str]:
        """Return the named volumes of the project that exist."""
        return self.runtime.volumes()

    def status(self) -> list[str]:
        """Return one line per service, then whether each published port answers from here, and how edits arrive."""
        rt = self.runtime
        states = rt.states()
        stale = images.stale(rt) if states else {}
        lines = report.status_lines(rt.compose.services(), states, stale)
        lines += [f"  {line}" for line in report.where(*reach.check(states, self.settings))]
        return [*lines, *self._carried(states)]


def running_stack(settings: Settings, cli: Cli | None = None, out: Printer = print) -> Stack:
    """Return a Stack in the mode its app container runs in, carrying edits the way it was started with."""
    probe = Runtime(settings, cli=cli, out=out)
    app = probe.states().get("app")
    mode = modes.named(app.mode) if app else modes.NORMAL
    return Stack(settings, mode, cli, out, probe.again(mode, app.edits if app else None))
