"""The Compose v2 CLI (the real orchestrator) and its model, `docker compose config`."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from . import source
from .commands import Cli, Result, error_line
from .errors import DevloopError
from .settings import Settings

MIN_VERSION = (2, 22, 0)


def parse_version(text: str) -> tuple[int, int, int] | None:
    """Return (major, minor, patch) from `docker compose version` output."""
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(part) for part in match.groups()) if match else None  # type: ignore[return-value]


def version(cli: Cli) -> tuple[int, int, int] | None:
    """Return the installed Compose v2 version, or None when there is none."""
    result = cli.capture(["docker", "compose", "version", "--short"], timeout=30)
    return parse_version(result.stdout) if result.ok else None


def version_problem(found: tuple[int, int, int] | None) -> str:
    """Say what is wrong with a Compose version ("" when it is recent enough)."""
    want = ".".join(map(str, MIN_VERSION))
    if found is None:
        return f"Docker Compose v2 is not installed (need >= {want})"
    if found < MIN_VERSION:
        return f"Docker Compose {'.'.join(map(str, found))} is older than {want} (needed for up --wait and watch)"
    return ""


def require_version(cli: Cli) -> tuple[int, int, int]:
    """Return the Compose version, or fail when it is missing or too old."""
    found = version(cli)
    problem = version_problem(found)
    if problem:
        raise DevloopError(f"{problem}: run `invoke setup` or install/upgrade the docker compose plugin")
    assert found is not None
    return found


class Compose:
    """`docker compose` for one project and one set of compose files."""

    def __init__(
        self,
        settings: Settings,
        files: Sequence[str] | None = None,
        cli: Cli | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.files = tuple(files or settings.compose_files)
        self.cli = cli or Cli()
        self.extra_env = dict(extra_env or {})
        self._model: dict[str, Any] | None = None
        self._source: source.Source | bool | None = False  # False: not looked for yet

    def with_env(self, **extra: str) -> Compose:
        """Return the same Compose with more variables set (a build target, say)."""
        return self._derived(self.files, extra)

    def with_files(self, files: Sequence[str], **extra: str) -> Compose:
        """Return a Compose of more compose files (an overlay), with more variables set."""
        return self._derived((*self.files, *files), extra)

    def _derived(self, files: Sequence[str], extra: Mapping[str, str]) -> Compose:
        """Return a Compose of these files and more variables, with this one's source folder (an overlay may hide its mount)."""
        derived = Compose(self.settings, files, self.cli, {**self.extra_env, **extra})
        derived._source = self.source()
        return derived

    def argv(self, *args: str) -> list[str]:
        """Return the full command line for a compose subcommand."""
        argv = ["docker", "compose", "--project-directory", str(self.settings.root), "-p", self.settings.project]
        for name in self.files:
            argv += ["-f", str(self.settings.path(name))]
        return argv + list(args)

    @property
    def env(self) -> dict[str, str]:
        """The variables Compose interpolates, the source folder's token included."""
        found = self.source()
        return {**self.settings.compose_env(), **self.extra_env, **({source.TOKEN_VAR: found.token} if found else {})}

    def capture(self, *args: str) -> Result:
        """Run a subcommand quietly."""
        return self.cli.capture(self.argv(*args), self.env)

    def stream(self, *args: str) -> Result:
        """Run a subcommand with its output shown."""
        return self.cli.stream(self.argv(*args), self.env)

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start a subcommand in the background."""
        return self.cli.start(self.argv(*args), self.env)

    def interactive(self, *args: str) -> int:
        """Run a subcommand attached to the terminal."""
        return self.cli.interactive(self.argv(*args), self.env)

    def check(self, result: Result, what: str) -> Result:
        """Return result, or fail with Compose's own one-line message."""
        if not result.ok:
            raise DevloopError(f"{what} failed: {error_line(result.stderr or result.stdout)}")
        return result

    def model(self) -> dict[str, Any]:
        """Return the resolved compose model (interpolated, normalised by Compose)."""
        if self._model is None:
            # Without the source folder's token, which is found from the model: its label reads "" here.
            result = self.cli.capture(self.argv("config", "--format", "json"), {**self.settings.compose_env(), **self.extra_env})
            if not result.ok:
                raise DevloopError(f"invalid compose configuration: {error_line(result.stderr)}")
            self._model = json.loads(result.stdout)
        return self._model

    def source(self) -> source.Source | None:
        """Return the source folder the compose files bind-mount (app/src), with its token."""
        if self._source is False:
            self._source = source.find(self.model(), self.settings.root)
        return self._source  # type: ignore[return-value]

    def config_hashes(self) -> dict[str, str]:
        """Return each service's configuration hash as Compose labels the containers it creates."""
        lines = self.check(self.capture("config", "--hash", "*"), "docker compose config --hash").stdout.splitlines()
        return dict(line.split(None, 1) for line in lines if len(line.split()) == 2)

    def volumes(self) -> list[str]:
        """Return the engine-side names of the named volumes (the database's and any other)."""
        return sorted(v["name"] for v in (self.model().get("volumes") or {}).values() if v.get("name"))

    def data_volume(self) -> str | None:
        """Return the engine-side name of the database's named volume (None without a db service or volume)."""
        service = (self.model().get("services") or {}).get("db") or {}
        named = [v["source"] for v in service.get("volumes") or [] if v.get("type") == "volume"]
        return self.model()["volumes"][named[0]]["name"] if named else None

    def service(self, name: str) -> dict[str, Any]:
        """Return one service's resolved configuration."""
        return self.model()["services"][name]

    def services(self) -> list[str]:
        """Return the service names, each after the services it depends on."""
        services = self.model().get("services", {})
        ordered: list[str] = []

        def visit(name: str, path: tuple[str, ...] = ()) -> None:
            if name in ordered or name in path:
                return
            for dependency in services.get(name, {}).get("depends_on", {}):
                visit(dependency, (*path, name))
            ordered.append(name)

        for name in services:
            visit(name)
        return ordered

    def startable_without(self, services: Collection[str]) -> list[str]:
        """Return the services that are none of these and depend on none of them, directly or not (db, while app builds)."""
        model = self.model().get("services", {})

        def needs(name: str, seen: tuple[str, ...] = ()) -> bool:
            return name in services or any(needs(d, (*seen, name)) for d in model.get(name, {}).get("depends_on", {}) if d not in seen)

        return [name for name in self.services() if not needs(name)]

    def built_services(self) -> list[str]:
        """Return the services Compose builds from a Dockerfile."""
        return [name for name, svc in self.model()["services"].items() if "build" in svc]

    def image_of(self, service: str) -> str:
        """Return the image name Compose gives a service."""
        return self.service(service).get("image") or f"{self.settings.project}-{service}"

    def require_services(self, names: Iterable[str], among: Sequence[str] | None = None) -> list[str]:
        """Return names if each is a service (of among, if given); else fail listing the valid ones."""
        valid = list(among) if among is not None else self.services()
        names = list(names)
        unknown = [name for name in names if name not in valid]
        if unknown:
            raise DevloopError(f"unknown service {', '.join(unknown)}: choose from {', '.join(valid)}")
        return names
