"""A throwaway copy of the project with its own compose project name and free ports, driven
through the invoke tasks as a user would. The e2e suite and the benchmark both use it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devloop import engine, modes, places, settings
from devloop.compose import Compose

from . import http
from .net import free_port

if TYPE_CHECKING:
    import docker

ROOT = Path(__file__).resolve().parents[2]
LOCAL_FILES = (".env",)  # machine-local, git-ignored, but what a user's checkout has


def checkout_files(root: Path) -> list[str]:
    """Return what a fresh clone of the working tree holds: tracked and untracked, not ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=root, capture_output=True, check=True
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (root / name).is_file()]


class Project:
    """A throwaway copy of the project, with its own stack."""

    def __init__(self, root: Path, prefix: str = "e2e") -> None:
        self.root = root
        self.name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.ports = {name: free_port() for name in ("APP_PORT", "WEB_PORT", "DEBUG_PORT", "DEBUG_WORKER_PORT")}
        self.env = {"COMPOSE_PROJECT_NAME": self.name, **{k: str(v) for k, v in self.ports.items()}}

    @property
    def client(self) -> docker.DockerClient:
        """The engine, connected anew each time (`invoke down` closes an ssh:// engine's connection; this opens it again)."""
        return places.connect()

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
        return http.request(self.url(path, service), method, body, raw, timeout)

    def get(self, path: str, service: str = "APP_PORT", timeout: float = 30) -> tuple[int, Any]:
        """GET a path, or (0, error) when nothing answers."""
        return http.get(self.url(path, service), timeout)

    def edit(self, relative: str, old: str, new: str) -> None:
        """Replace text in a project file, as an editor saving it would."""
        path = self.root / relative
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    def states(self) -> dict[str, engine.ServiceState]:
        """Return the engine's view of the project's containers."""
        return engine.states(self.client, self.name)

    def app_running(self) -> bool:
        """Whether the app container runs (healthy or not yet)."""
        app = self.states().get("app")
        return app is not None and app.status == "running"

    def app(self) -> engine.ServiceState:
        """Return the app container's state."""
        return self.states()["app"]

    def resolved_settings(self) -> settings.Settings:
        """The copy's settings, as its invoke tasks resolve them."""
        return settings.load(self.root, environ={**os.environ, **self.env})

    def compose_runner(self, files: Sequence[str] = ()) -> Compose:
        """Return docker compose for the copy, as the tasks run it in normal mode, plus any extra compose files."""
        resolved = self.resolved_settings()
        return Compose(resolved, [*modes.NORMAL.files(resolved.compose_files, engine.api_version(self.client)), *files])

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
    """Copy what a clone of the working tree holds, plus its .env (no caches, no secrets), and return it."""
    for name in [*checkout_files(ROOT), *(f for f in LOCAL_FILES if (ROOT / f).is_file())]:
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    return Project(destination, prefix)
