"""The Compose v2 CLI (the real orchestrator) and its model, `docker compose config`."""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import DevloopError
from .settings import Settings

MIN_VERSION = (2, 22, 0)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class Result:
    """How a command ended and what it printed."""

    code: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        """Whether the command succeeded."""
        return self.code == 0


class Cli:
    """Runs commands; tests replace it with a fake that records argv."""

    def capture(
        self, argv: Sequence[str], env: Mapping[str, str] | None = None, timeout: float | None = None, cwd: str | None = None
    ) -> Result:
        """Run quietly and return what it printed."""
        try:
            done = subprocess.run(
                list(argv),
                cwd=cwd,
                env=_environ(env),
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError:
            return Result(127, "", f"{argv[0]}: command not found")
        except subprocess.TimeoutExpired:
            return Result(124, "", f"{' '.join(argv[:3])} did not answer within {timeout:.0f}s")
        return Result(done.returncode, done.stdout, done.stderr)

    def stream(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> Result:
        """Run with output shown as it comes; keep its last lines for the error message."""
        tail: collections.deque[str] = collections.deque(maxlen=200)
        try:
            proc = self.start(argv, env)
        except FileNotFoundError:
            return Result(127, "", f"{argv[0]}: command not found")
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            tail.append(line)
        return Result(proc.wait(), "".join(tail), "".join(tail))

    def start(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        """Start in the background, output captured; the caller polls and collects it."""
        return subprocess.Popen(
            list(argv),
            env=_environ(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )

    def interactive(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> int:
        """Run attached to this terminal (logs --follow, a shell); return its exit code."""
        try:
            return subprocess.call(list(argv), env=_environ(env))
        except FileNotFoundError:
            return 127
        except KeyboardInterrupt:
            return 130


def _environ(extra: Mapping[str, str] | None) -> dict[str, str] | None:
    """Return this process's environment with extra variables on top."""
    return None if extra is None else {**os.environ, **extra}


def error_line(output: str) -> str:
    """Return the one line of a command's output that says what went wrong."""
    lines = [_ANSI.sub("", line).strip() for line in output.splitlines()]
    lines = [line for line in lines if line]
    for line in reversed(lines):
        if re.search(r"error|failed|invalid|not found|denied|no such", line, re.IGNORECASE):
            return line
    return lines[-1] if lines else "no output"


def parse_version(text: str) -> tuple[int, int, int] | None:
    """Return (major, minor, patch) from `docker compose version` output."""
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(part) for part in match.groups()) if match else None  # type: ignore[return-value]


def version(cli: Cli) -> tuple[int, int, int] | None:
    """Return the installed Compose v2 version, or None when there is none."""
    result = cli.capture(["docker", "compose", "version", "--short"], timeout=30)
    return parse_version(result.stdout) if result.ok else None


def require_version(cli: Cli) -> tuple[int, int, int]:
    """Return the Compose version, or fail when it is missing or too old."""
    found = version(cli)
    want = ".".join(map(str, MIN_VERSION))
    if found is None:
        raise DevloopError(f"Docker Compose v2 (>= {want}) is not installed: run `invoke setup` or install the compose plugin")
    if found < MIN_VERSION:
        have = ".".join(map(str, found))
        raise DevloopError(f"Docker Compose {have} is too old (need >= {want} for watch and up --wait): run `invoke setup` or upgrade it")
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

    def argv(self, *args: str) -> list[str]:
        """Return the full command line for a compose subcommand."""
        argv = ["docker", "compose", "--project-directory", str(self.settings.root), "-p", self.settings.project]
        for name in self.files:
            argv += ["-f", str(self.settings.path(name))]
        return argv + list(args)

    @property
    def env(self) -> dict[str, str]:
        """The variables Compose interpolates."""
        return {**self.settings.compose_env(), **self.extra_env}

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
            result = self.capture("config", "--format", "json")
            if not result.ok:
                raise DevloopError(f"invalid compose configuration: {error_line(result.stderr)}")
            self._model = json.loads(result.stdout)
        return self._model

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

    def built_services(self) -> list[str]:
        """Return the services Compose builds from a Dockerfile."""
        return [name for name, svc in self.model()["services"].items() if "build" in svc]

    def require_services(self, names: Iterable[str], among: Sequence[str] | None = None) -> list[str]:
        """Return names if each is a service (of among, if given); else fail listing the valid ones."""
        valid = list(among) if among is not None else self.services()
        names = list(names)
        unknown = [name for name in names if name not in valid]
        if unknown:
            raise DevloopError(f"unknown service {', '.join(unknown)}: choose from {', '.join(valid)}")
        return names
