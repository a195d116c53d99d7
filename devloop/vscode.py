"""`.vscode/launch.json`, derived from Compose's model of debug mode: the port debugpy is published
on, and the folder each debugged service mounts from the project (breakpoints map through it)."""

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
        if volume.get("type") == "bind" and source.is_relative_to(root):
            return {"localRoot": f"${{workspaceFolder}}/{source.relative_to(root).as_posix()}", "remoteRoot": volume["target"]}
    return None


def launch_config(compose: Compose) -> dict[str, Any]:
    """Return the attach configuration for the service debug mode runs under debugpy."""
    for name, service in compose.model().get("services", {}).items():
        port = _debugpy_port(service)
        published = _published(service, port) if port else None
        if not published:
            continue
        mapping = _mapping(service, compose.settings.root)
        if mapping is None:
            raise DevloopError(f"service {name} has no bind mount of its source from the project to map breakpoints through")
        host, host_port = published
        return {
            "name": CONFIG_NAME,
            "type": "debugpy",
            "request": "attach",
            "connect": {"host": "127.0.0.1" if host in ("0.0.0.0", "") else host, "port": host_port},
            "pathMappings": [mapping],
            "justMyCode": True,
            "subProcess": True,
        }
    raise DevloopError(f"{DEBUG.overlays[0]} publishes no debugpy port (the port its DEBUGPY_PORT names)")


def debug_compose(settings: Settings) -> Compose:
    """Compose as debug mode runs it (no engine needed: only its model is read)."""
    return Compose(settings, DEBUG.files(settings.compose_files), extra_env=DEBUG.env())


def render(compose: Compose, existing: str | None = None) -> str:
    """Return the text of launch.json, keeping any other configurations already in it."""
    ours = launch_config(compose)
    doc: dict[str, Any] = {"version": "0.2.0", "configurations": []}
    if existing:
        try:
            doc = json.loads(existing)
        except ValueError:
            raise DevloopError(f"{LAUNCH_FILE} is not plain JSON (comments?): move it aside and run `invoke vscode` again") from None
    others = [c for c in doc.get("configurations", []) if c.get("name") != CONFIG_NAME]
    doc["configurations"] = [ours, *others]
    return json.dumps(doc, indent=4) + "\n"


def write(settings: Settings) -> bool:
    """Write launch.json; return whether it changed."""
    path = settings.path(LAUNCH_FILE)
    existing = path.read_text(encoding="utf-8") if path.is_file() else None
    text = render(debug_compose(settings), existing)
    if text == existing:
        return False
    path.parent.mkdir(exist_ok=True)
    state.write_text(path, text)
    return True
