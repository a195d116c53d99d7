"""Settings of the stack: project name, compose files, ports, images.

Precedence, lowest first: the defaults written in the compose files (`${VAR:-default}`),
`.env`, `invoke.yaml` (key `devloop`), then the environment. The variables are the ones the
compose files interpolate, so Compose run by hand and Compose run by the tasks agree.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import envfile
from .errors import DevloopError

ENV_FILE = ".env"
BASE_FILE = "docker-compose.yml"
OVERLAY_DIR = "compose"
UNPRIVILEGED_UID = 10001
DOCKERFILE, DOCKERFILE_VAR = "app/Dockerfile", "DEVLOOP_DOCKERFILE"
DEVSERVER, DEVSERVER_ID_VAR = "app/devserver", "DEVLOOP_DEVSERVER_ID"
EDITS = ("auto", "bind", "sync")  # auto: a bind mount when the engine sees this machine's files, else sync
_DEFAULT = re.compile(r"\$\{(\w+):?-([^}]*)\}")


def _var(name: str) -> dict[str, str]:
    """Field metadata naming the variable that sets a field."""
    return {"var": name}


@dataclass(frozen=True)
class Settings:
    """Everything the tasks need to know to drive one stack."""

    root: Path
    project: str = field(metadata=_var("COMPOSE_PROJECT_NAME"))
    app_port: int = field(metadata=_var("APP_PORT"))
    web_port: int = field(metadata=_var("WEB_PORT"))
    debug_port: int = field(metadata=_var("DEBUG_PORT"))
    debug_worker_port: int = field(metadata=_var("DEBUG_WORKER_PORT"))
    python_image: str = field(metadata=_var("PYTHON_IMAGE"))
    mysql_image: str = field(metadata=_var("MYSQL_IMAGE"))
    nginx_image: str = field(metadata=_var("NGINX_IMAGE"))
    app_uid: int = field(metadata=_var("APP_UID"))
    app_image: str = field(metadata=_var("APP_IMAGE"))
    app_dir: str = field(metadata=_var("APP_DIR"))  # the app's folder in the project: requirements.txt and src/ (app, examples/...)
    ca_bundle: str = field(default="", metadata=_var("CA_BUNDLE"))
    compose_files: tuple[str, ...] = field(default=(BASE_FILE,), metadata=_var("DEVLOOP_COMPOSE_FILES"))
    edits: str = field(default="auto", metadata=_var("DEVLOOP_EDITS"))  # how app/src reaches /code: auto, bind or sync

    @property
    def ports(self) -> dict[str, int]:
        """The host ports by the variable that moves each."""
        return {
            "APP_PORT": self.app_port,
            "WEB_PORT": self.web_port,
            "DEBUG_PORT": self.debug_port,
            "DEBUG_WORKER_PORT": self.debug_worker_port,
        }

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
        # Derived, not set: the one Dockerfile seen from the app's folder, and which dev server is mounted.
        env[DOCKERFILE_VAR] = os.path.relpath(self.root / DOCKERFILE, self.root / self.app_dir)
        env[DEVSERVER_ID_VAR] = tree_hash(self.root / DEVSERVER)
        return env

    def path(self, relative: str) -> Path:
        """Return a path inside the project."""
        return self.root / relative


def require_app_dir(settings: Settings) -> None:
    """Fail, saying what is missing, when APP_DIR is not an app's folder (requirements.txt and src/)."""
    folder = settings.root / settings.app_dir
    missing = [
        name
        for name, there in (("requirements.txt", (folder / "requirements.txt").is_file()), ("src/", (folder / "src").is_dir()))
        if not there
    ]
    if missing:
        raise DevloopError(
            f"APP_DIR={settings.app_dir}: {folder} has no {' and no '.join(missing)} "
            "(an app's folder holds requirements.txt and src/: README, Your own app)"
        )


def tree_hash(folder: Path) -> str:
    """A short hash of the Python files in a folder (their names and bytes)."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def compose_defaults(root: Path) -> dict[str, str]:
    """Return the `${VAR:-default}` defaults written in the project's compose files (overlays too)."""
    try:
        texts = [(root / BASE_FILE).read_text(encoding="utf-8")]
    except OSError:
        raise DevloopError(f"{BASE_FILE} not found in {root}: run the tasks from the project's directory") from None
    texts += [path.read_text(encoding="utf-8") for path in sorted((root / OVERLAY_DIR).glob("*.yml"))]
    return {name: default for text in texts for name, default in _DEFAULT.findall(text)}


def official_images(root: Path) -> dict[str, str]:
    """Return the official base images, as docker-compose.yml names them by default."""
    defaults = compose_defaults(root)
    return {var: defaults[var] for var in ("PYTHON_IMAGE", "MYSQL_IMAGE", "NGINX_IMAGE")}


def project_name(root: Path) -> str:
    """Return the project name Compose itself would derive from the directory."""
    name = re.sub(r"[^a-z0-9_-]", "", root.resolve().name.lower()).lstrip("_-")
    return name or "devloop"


def default_uid() -> int:
    """Return the host user's UID, or an unprivileged one when that is root (or unknown)."""
    getuid = getattr(os, "getuid", None)
    uid = getuid() if getuid else 0
    return uid or UNPRIVILEGED_UID


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
    if name == "edits" and raw not in EDITS:
        raise DevloopError(f"{var} must be {', '.join(EDITS)}, got {raw!r}")
    if name == "app_dir" and (Path(str(raw)).is_absolute() or ".." in Path(str(raw)).parts):
        raise DevloopError(f"{var} must be a folder inside the project (app, examples/fastapi...), got {raw!r}")
    if name == "compose_files":
        files = raw.split(os.pathsep) if isinstance(raw, str) else list(raw)
        return tuple(str(f) for f in files if str(f))
    return str(raw)


def load(root: Path, config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve the settings of the project at root from every source, the environment last."""
    environ = os.environ if environ is None else environ
    config = config or {}
    defaults = compose_defaults(root)
    dotenv = envfile.read(root / ENV_FILE)
    project = environ.get("COMPOSE_PROJECT_NAME") or dotenv.get("COMPOSE_PROJECT_NAME") or project_name(root)
    fields = [(f, f.metadata["var"]) for f in dataclasses.fields(Settings) if f.metadata.get("var")]
    # A field with a default of its own (CA_BUNDLE: none) ignores the compose file's placeholder.
    required = [(f, var) for f, var in fields if f.default is dataclasses.MISSING and defaults.get(var)]
    resolved: dict[str, Any] = {f.name: _coerce(f.name, var, f.type, defaults[var]) for f, var in required}
    # Computed per project and user, so they beat the compose file's by-hand defaults.
    resolved.update(app_uid=default_uid(), app_image=f"{project}-app")
    for f, var in fields:
        for source in (dotenv.get(var), config.get(f.name), environ.get(var)):
            if source not in (None, ""):
                resolved[f.name] = _coerce(f.name, var, f.type, source)
    resolved.setdefault("project", project)
    return Settings(root=root, **resolved)
