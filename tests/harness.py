"""What the e2e suite and the benchmark share: a throwaway copy of the project with its own
compose project name and free ports, driven through the invoke tasks like a user would.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from devloop import engine, settings
from devloop.compose import Compose

ROOT = Path(__file__).resolve().parents[1]
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", ".nox", ".devloop", "__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache", "secrets", "bench-work"
)


def free_port() -> int:
    """Return a port nothing listens on at 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(check: Callable[[], Any], timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    """Poll check until it returns something truthy; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout}s (last: {last!r})")


class Project:
    """A throwaway copy of the project, with its own stack."""

    def __init__(self, root: Path, prefix: str = "e2e") -> None:
        self.root = root
        self.name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.ports = {"APP_PORT": free_port(), "WEB_PORT": free_port(), "DEBUG_PORT": free_port()}
        self.env = {"COMPOSE_PROJECT_NAME": self.name, **{k: str(v) for k, v in self.ports.items()}}
        self.client = engine.connect()

    def invoke(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """Run an invoke task in the copy, as a user would (no TTY)."""
        done = subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=self.root,
            env={**os.environ, **self.env, **(env or {})},
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"invoke {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def url(self, path: str, service: str = "APP_PORT") -> str:
        """Return the URL of a path on the app (or web) port."""
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def http(
        self, method: str, path: str, body: Any = None, service: str = "APP_PORT", raw: bytes | None = None, timeout: float = 30
    ) -> tuple[int, Any]:
        """Send a request; return the status and the JSON (or text) answer."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        request = urllib.request.Request(self.url(path, service), data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode()
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def get(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        """GET a path, or (0, error) when nothing answers."""
        try:
            return self.http("GET", path, **kwargs)
        except (OSError, urllib.error.URLError) as exc:
            return 0, str(exc)

    def edit(self, relative: str, old: str, new: str) -> None:
        """Replace text in a project file, as an editor saving it would."""
        path = self.root / relative
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    def states(self) -> dict[str, engine.ServiceState]:
        """Return the engine's view of the project's containers."""
        return engine.states(self.client, self.name)

    def app(self) -> engine.ServiceState:
        """Return the app container's state."""
        return self.states()["app"]

    def resolved_settings(self) -> settings.Settings:
        """The copy's settings, as its invoke tasks resolve them."""
        return settings.load(self.root, environ={**os.environ, **self.env})

    def compose_runner(self, files: Sequence[str] = ()) -> Compose:
        """Return docker compose for the copy, with its settings and any extra compose files."""
        resolved = self.resolved_settings()
        return Compose(resolved, [*resolved.compose_files, *files])

    def compose(self, *args: str, files: Sequence[str] = ()) -> str:
        """Run docker compose on the copy; fail with its message."""
        runner = self.compose_runner(files)
        return runner.check(runner.capture(*args), f"docker compose {' '.join(args)}").stdout

    def logs(self) -> str:
        """Return the last log lines of every service."""
        result = self.compose_runner().capture("logs", "--no-color", "--tail=60")
        return result.stdout + result.stderr

    def teardown(self) -> None:
        """Remove everything the run created: containers, network, volume, app image."""
        self.invoke("down", "--volumes", "--yes", check=False, timeout=180)
        self.compose_runner().capture("down", "--volumes", "--remove-orphans")
        for tag in ("dev", "prod"):
            with contextlib.suppress(Exception):
                self.client.images.remove(f"{self.name}-app:{tag}", noprune=False)


def copy_project(destination: Path, prefix: str = "e2e") -> Project:
    """Copy the working tree (with its .env, without caches or secrets) and return the copy."""
    shutil.copytree(ROOT, destination, ignore=COPY_IGNORE)
    return Project(destination, prefix)
