"""`.vscode/launch.json`, derived from Compose's model of debug mode (every profile on): for each service
run under debugpy (the app, the worker), the port it is published on and the folder it mounts from the
project (breakpoints map through it); and a compound configuration that attaches to all of them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import state
from .compose import Compose
from .errors import DevloopError
from .modes import DEBUG
from .settings import Settings

LAUNCH_FILE = ".vscode/launch.json"
CONFIG_NAME = "Python: Remote Attach"
COMPOUND_NAME = "Python: Remote Attach (all)"  # attaches to every debugged service at once


def _debugpy_port(service: dict[str, Any]) -> int | None:
    """Return the port debugpy listens on in a service's container (its DEBUGPY_PORT), if any."""
    value = (service.get("environment") or {}).get("DEBUGPY_PORT")
    return int(value) if value is not None else None


def _published(service: dict[str, Any], target: int) -> tuple[str, int] | None:
    """Return (host address, host port) where a container port is published, if it is."""
    for port in service.get("ports") or []:
        if int(port.get("target", 0)) == target and port.get("published"):
            return port.get("host_ip") or "127.0.0.1", int(port["published"])
    return None


def _mapping(service: dict[str, Any], root: Path) -> dict[str, str] | None:
    """Return the pathMapping of the folder a service bind-mounts from the project, if one."""
    for volume in service.get("volumes") or []:
        source = Path(volume.get("source", ""))
        if volume.get("type") == "bind" and not volume.get("read_only") and source.is_relative_to(root):
            return {"localRoot": f"${{workspaceFolder}}/{source.relative_to(root).as_posix()}", "remoteRoot": volume["target"]}
    return None


def name_of(service: str) -> str:
    """The configuration's name for a debugged service ("Python: Remote Attach" for the app)."""
    return CONFIG_NAME if service == "app" else f"{CONFIG_NAME} ({service})"


def launch_configs(compose: Compose) -> list[dict[str, Any]]:
    """Return an attach configuration for each service debug mode runs under debugpy (the app's first)."""
    configs = []
    for name, service in compose.model().get("services", {}).items():
        port = _debugpy_port(service)
        published = _published(service, port) if port else None
        if not published:
            continue
        mapping = _mapping(service, compose.settings.root)
        if mapping is None:
            raise DevloopError(f"service {name} has no bind mount of its source from the project to map breakpoints through")
        host, host_port = published
        config = {
            "name": name_of(name),
            "type": "debugpy",
            "request": "attach",
            "connect": {"host": "127.0.0.1" if host in ("0.0.0.0", "") else host, "port": host_port},
            "pathMappings": [mapping],
            "justMyCode": True,
            "subProcess": True,
        }
        configs.insert(0 if name == "app" else len(configs), config)
    if not configs:
        raise DevloopError(f"{DEBUG.overlays[0]} publishes no debugpy port (the port its DEBUGPY_PORT names)")
    return configs


def launch_config(compose: Compose) -> dict[str, Any]:
    """Return the app's attach configuration."""
    return launch_configs(compose)[0]


def debug_compose(settings: Settings) -> Compose:
    """Compose as debug mode runs it, every profile on (no engine needed: only its model is read)."""
    return Compose(settings, DEBUG.files(settings.compose_files), extra_env={**DEBUG.env(), "COMPOSE_PROFILES": "*"})


def render(compose: Compose, existing: str | None = None) -> str:
    """Return the text of launch.json, keeping the other configurations and compounds already in it."""
    ours = launch_configs(compose)
    names = [c["name"] for c in ours]
    doc: dict[str, Any] = {"version": "0.2.0", "configurations": []}
    if existing:
        try:
            doc = json.loads(existing)
        except ValueError:
            raise DevloopError(f"{LAUNCH_FILE} is not plain JSON (comments?): move it aside and run `invoke vscode` again") from None
    doc["configurations"] = [*ours, *(c for c in doc.get("configurations", []) if c.get("name") not in names)]
    compounds = [c for c in doc.get("compounds", []) if c.get("name") != COMPOUND_NAME]
    compounds[:0] = [{"name": COMPOUND_NAME, "configurations": names}] if len(ours) > 1 else []
    doc.pop("compounds", None)
    return json.dumps({**doc, **({"compounds": compounds} if compounds else {})}, indent=4) + "\n"


def _texts(settings: Settings) -> tuple[str | None, str]:
    """launch.json as it is (None when missing) and as `invoke vscode` would write it now."""
    path = settings.path(LAUNCH_FILE)
    existing = path.read_text(encoding="utf-8") if path.is_file() else None
    return existing, render(debug_compose(settings), existing)


def up_to_date(settings: Settings) -> bool:
    """Whether launch.json already says what `invoke vscode` would write (ports, folders)."""
    existing, text = _texts(settings)
    return text == existing


def write(settings: Settings) -> bool:
    """Write launch.json; return whether it changed."""
    path = settings.path(LAUNCH_FILE)
    existing, text = _texts(settings)
    if text == existing:
        return False
    path.parent.mkdir(exist_ok=True)
    state.write_text(path, text)
    return True
