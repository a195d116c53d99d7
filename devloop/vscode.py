"""`.vscode/launch.json`, derived from the compose files: debug port and source mount."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from .errors import DevloopError
from .modes import DEBUG
from .settings import BASE_FILE

LAUNCH_FILE = ".vscode/launch.json"
DEBUG_FILE = DEBUG.overlays[0]
CONFIG_NAME = "Python: Remote Attach"
_VAR = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)")


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Expand ${VAR}, ${VAR:-default} and $VAR the way Compose does for these files."""

    def expand(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        return env.get(name) or (match.group(2) or "")

    return _VAR.sub(expand, text)


def _load(path: Path) -> dict[str, Any]:
    """Read one compose file."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DevloopError(f"cannot read {path}: {exc}") from None


def _published(spec: Any, env: Mapping[str, str]) -> tuple[str, int, int] | None:
    """Return (host_ip, host_port, container_port) of a ports entry, short or long syntax."""
    if isinstance(spec, dict):
        return spec.get("host_ip", "0.0.0.0"), int(interpolate(str(spec["published"]), env)), int(spec["target"])
    parts = interpolate(str(spec), env).split("/")[0].split(":")
    if len(parts) == 3:
        return parts[0], int(parts[1]), int(parts[2])
    if len(parts) == 2:
        return "0.0.0.0", int(parts[0]), int(parts[1])
    return None


def _bind(spec: Any, env: Mapping[str, str]) -> tuple[str, str] | None:
    """Return (host source, container target) of a relative bind mount, short or long syntax."""
    if isinstance(spec, dict):
        source, target = spec.get("source", ""), spec.get("target", "")
    else:
        source, _, rest = interpolate(str(spec), env).partition(":")
        target = rest.split(":")[0]
    source = interpolate(str(source), env)
    return (source, target) if source.startswith(".") and target else None


def _debugpy_port(service: dict[str, Any]) -> int | None:
    """Return the DEBUGPY_PORT a service's environment sets (list or mapping form), if any."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env if "=" in item)
    value = env.get("DEBUGPY_PORT")
    return int(value) if value is not None else None


def launch_config(root: Path, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the attach configuration for the service the debug overlay publishes debugpy on."""
    env = env or {}
    base = _load(root / BASE_FILE).get("services", {})
    debug = _load(root / DEBUG_FILE).get("services", {})
    for name, svc in debug.items():
        debugpy_port = _debugpy_port(svc)
        for spec in svc.get("ports") or []:
            published = _published(spec, env)
            if published and published[2] == debugpy_port:
                host_ip, host_port, _ = published
                break
        else:
            continue
        mounts = [m for m in (_bind(v, env) for v in base.get(name, {}).get("volumes") or []) if m]
        if not mounts:
            raise DevloopError(f"service {name} in {BASE_FILE} has no bind mount of its source to map breakpoints through")
        source, target = mounts[0]
        local = PurePosixPath(source.removeprefix("./")).as_posix()
        return {
            "name": CONFIG_NAME,
            "type": "debugpy",
            "request": "attach",
            "connect": {"host": "localhost" if host_ip in ("0.0.0.0", "") else host_ip, "port": host_port},
            "pathMappings": [{"localRoot": f"${{workspaceFolder}}/{local}", "remoteRoot": target}],
            "justMyCode": True,
            "subProcess": True,
        }
    raise DevloopError(f"{DEBUG_FILE} publishes no debugpy port (the port its DEBUGPY_PORT names)")


def render(root: Path, env: Mapping[str, str] | None = None, existing: str | None = None) -> str:
    """Return the text of launch.json, keeping any other configurations already in it."""
    ours = launch_config(root, env)
    doc: dict[str, Any] = {"version": "0.2.0", "configurations": []}
    if existing:
        try:
            doc = json.loads(existing)
        except ValueError:
            raise DevloopError(f"{LAUNCH_FILE} is not plain JSON (comments?): move it aside and run `invoke vscode` again") from None
    others = [c for c in doc.get("configurations", []) if c.get("name") != CONFIG_NAME]
    doc["configurations"] = [ours, *others]
    return json.dumps(doc, indent=4) + "\n"


def write(root: Path, env: Mapping[str, str] | None = None) -> bool:
    """Write launch.json; return whether it changed."""
    path = root / LAUNCH_FILE
    existing = path.read_text(encoding="utf-8") if path.is_file() else None
    text = render(root, env, existing)
    if text == existing:
        return False
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True
