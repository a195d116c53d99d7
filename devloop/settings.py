"""Settings of the stack: project name, compose files, ports, images.

Precedence, lowest first: defaults, `.env`, `invoke.yaml` (key `devloop`), the
environment, then a task's own flag. The variables are the ones docker-compose.yml
interpolates, so Compose run by hand and Compose run by the tasks agree.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DevloopError

ENV_FILE = ".env"
BASE_FILE = "docker-compose.yml"
DEBUG_FILE = "compose/debug.yml"
DEBUG_WAIT_FILE = "compose/debug-wait.yml"
UNPRIVILEGED_UID = 10001
DEBUGPY_PORT = 5678  # where debugpy listens inside the container; DEBUG_PORT moves the host side


def _var(name: str) -> dict[str, str]:
    """Field metadata naming the variable that sets a field."""
    return {"var": name}


@dataclass(frozen=True)
class Settings:
    """Everything the tasks need to know to drive one stack."""

    root: Path
    project: str = field(metadata=_var("COMPOSE_PROJECT_NAME"))
    app_port: int = field(default=5000, metadata=_var("APP_PORT"))
    web_port: int = field(default=8080, metadata=_var("WEB_PORT"))
    debug_port: int = field(default=5678, metadata=_var("DEBUG_PORT"))
    python_image: str = field(default="python:3.12-slim", metadata=_var("PYTHON_IMAGE"))
    mysql_image: str = field(default="mysql:8.4", metadata=_var("MYSQL_IMAGE"))
    nginx_image: str = field(default="nginx:1.27-alpine", metadata=_var("NGINX_IMAGE"))
    ca_bundle: str = field(default="", metadata=_var("CA_BUNDLE"))
    app_uid: int = field(default=UNPRIVILEGED_UID, metadata=_var("APP_UID"))
    app_image: str = field(default="", metadata=_var("APP_IMAGE"))
    compose_files: tuple[str, ...] = field(default=(BASE_FILE,), metadata=_var("DEVLOOP_COMPOSE_FILES"))

    @property
    def ports(self) -> dict[str, int]:
        """The host ports by the variable that moves each."""
        return {"APP_PORT": self.app_port, "WEB_PORT": self.web_port, "DEBUG_PORT": self.debug_port}

    @property
    def images(self) -> dict[str, str]:
        """The base images by their variable."""
        return {"PYTHON_IMAGE": self.python_image, "MYSQL_IMAGE": self.mysql_image, "NGINX_IMAGE": self.nginx_image}

    def compose_env(self) -> dict[str, str]:
        """Return the variables Compose interpolates, as this stack resolves them."""
        env = {}
        for f in dataclasses.fields(self):
            var = f.metadata.get("var")
            if var and f.name != "compose_files":
                env[var] = str(getattr(self, f.name))
        # An absent bundle must not fail the build: the compose file's default is "no CA".
        if not self.ca_bundle or not Path(self.ca_bundle).is_file():
            env.pop("CA_BUNDLE")
        return env

    def path(self, relative: str) -> Path:
        """Return a path inside the project."""
        return self.root / relative


def project_name(root: Path) -> str:
    """Return the project name Compose itself would derive from the directory."""
    name = re.sub(r"[^a-z0-9_-]", "", root.resolve().name.lower()).lstrip("_-")
    return name or "devloop"


def default_uid() -> int:
    """Return the host user's UID, or an unprivileged one when that is root (or unknown)."""
    getuid = getattr(os, "getuid", None)
    uid = getuid() if getuid else 0
    return uid or UNPRIVILEGED_UID


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a dotenv file (KEY=VALUE lines, # comments, optional quotes)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def update_env_file(path: Path, values: Mapping[str, str]) -> bool:
    """Set keys in a dotenv file, keeping every other line; return whether it changed."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    pending = dict(values)
    out = []
    for line in lines:
        key = line.split("=", 1)[0].strip() if "=" in line and not line.lstrip().startswith("#") else None
        if key in pending:
            out.append(f"{key}={pending.pop(key)}")
        else:
            out.append(line)
    out.extend(f"{key}={value}" for key, value in pending.items())
    text = "\n".join(out) + "\n"
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def _coerce(name: str, var: str, kind: Any, raw: Any) -> Any:
    """Convert one raw setting to its field's type, or fail with a one-line error."""
    if kind == "int" or kind is int:
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise DevloopError(f"{var} must be a whole number, got {raw!r}") from None
        if name.endswith("_port") and not 1 <= value <= 65535:
            raise DevloopError(f"{var} must be a port number (1-65535), got {raw!r}")
        return value
    if name == "compose_files":
        files = raw.split(os.pathsep) if isinstance(raw, str) else list(raw)
        return tuple(str(f) for f in files if str(f))
    return str(raw)


def load(
    root: Path,
    config: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    **flags: Any,
) -> Settings:
    """Resolve the settings of the project at root from every source, flags last."""
    environ = os.environ if environ is None else environ
    config = config or {}
    dotenv = read_env_file(root / ENV_FILE)
    resolved: dict[str, Any] = {"project": project_name(root), "app_uid": default_uid()}
    for f in dataclasses.fields(Settings):
        var = f.metadata.get("var")
        if not var:
            continue
        for source in (dotenv.get(var), config.get(f.name), environ.get(var), flags.get(f.name)):
            if source not in (None, ""):
                resolved[f.name] = _coerce(f.name, var, f.type, source)
    unknown = set(flags) - {f.name for f in dataclasses.fields(Settings)}
    if unknown:
        raise DevloopError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    resolved.setdefault("app_image", f"{resolved['project']}-app")
    return Settings(root=root, **resolved)
