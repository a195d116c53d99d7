"""Files for an engine that does not see this machine's: what docker-compose.yml bind-mounts from
the project (db/init, web/*.conf, web/html) and its file secrets go in as Compose configs and
environment secrets, which Compose copies into each container it creates, so every recreate
gets them too. The source folder is left out (devloop/syncer.py copies it and keeps it in sync).

The result is a compose file written to .devloop/ and added after the others.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import yaml

from . import labels, state
from .errors import DevloopError

SECRET_VAR = "DEVLOOP_SECRET_{}"


class _Tagged:
    """A YAML value with a Compose merge tag (!override, !reset)."""

    def __init__(self, tag: str, value: Any) -> None:
        self.tag, self.value = tag, value


class _Dumper(yaml.SafeDumper):
    """Writes _Tagged values with their tag."""


def _represent(dumper: yaml.SafeDumper, data: _Tagged) -> yaml.Node:
    if isinstance(data.value, list):
        return dumper.represent_sequence(data.tag, data.value)
    return dumper.represent_mapping(data.tag, data.value)


_Dumper.add_representer(_Tagged, _represent)


def overlay_path(root: Path, project: str) -> Path:
    """Where the overlay of a project is written."""
    return state.path(root, f"carried-{project}.yml")


def _inside(path: str, root: Path) -> bool:
    """Whether a host path lies in the project."""
    return Path(path).is_relative_to(root)


def _text(path: Path) -> str:
    """Return a file's text, or fail in one line: Compose can only carry text."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DevloopError(f"{path} is not UTF-8 text: it cannot be copied to an engine that does not see this machine's files") from None
    except OSError as exc:
        raise DevloopError(f"cannot read {path} to copy it to the engine: {exc.strerror}") from None


def _files(source: Path, target: str) -> list[tuple[Path, str]]:
    """Return (host file, container path) for a bind mount's source, a file or every file under a folder."""
    if source.is_file():
        return [(source, target)]
    return [(f, f"{target.rstrip('/')}/{f.relative_to(source).as_posix()}") for f in sorted(source.rglob("*")) if f.is_file()]


def _name(service: str, target: str) -> str:
    """A config's name: stable, and valid for Compose."""
    return f"devloop-{service}-{re.sub(r'[^A-Za-z0-9]+', '-', target).strip('-')[-40:]}-{hashlib.sha1(target.encode()).hexdigest()[:6]}"


def _service(name: str, service: dict[str, Any], root: Path, synced: Path, configs: dict[str, Any]) -> dict[str, Any] | None:
    """Return a service's part of the overlay (None when it bind-mounts nothing from the project); add its configs."""
    kept, carried, digest = [], [], hashlib.sha1()
    changed = False
    for volume in service.get("volumes") or []:
        source = volume.get("source", "")
        if volume.get("type") != "bind" or not _inside(source, root):
            kept.append(volume)
            continue
        changed = True
        if Path(source) == synced:
            continue  # copied in by devloop/syncer.py
        for path, target in _files(Path(source), volume["target"]):
            text = _text(path)
            digest.update(f"{target}\0{text}\0".encode())
            config = _name(name, target)
            configs[config] = {"content": text.replace("$", "$$")}  # Compose interpolates content
            carried.append({"source": config, "target": target, "mode": 0o444})
    if not changed:
        return None
    entry: dict[str, Any] = {"volumes": _Tagged("!override", kept) if kept else _Tagged("!reset", [])}
    entry["labels"] = {labels.CARRIED: digest.hexdigest()[:12]}
    if any(v.get("type") == "bind" and Path(v.get("source", "")) == synced for v in service.get("volumes") or []):
        entry["labels"][labels.EDITS] = "sync"
    if carried:
        entry["configs"] = carried
    return entry


def _secrets(model: dict[str, Any], root: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Return the file secrets of the project turned into environment secrets, and the variables they read."""
    secrets, env = {}, {}
    used = {s["source"] for service in model.get("services", {}).values() for s in service.get("secrets") or []}
    for name, secret in (model.get("secrets") or {}).items():
        if name in used and secret.get("file") and _inside(secret["file"], root):
            var = SECRET_VAR.format(re.sub(r"\W", "_", name).upper())
            env[var] = _text(Path(secret["file"]))
            secrets[name] = _Tagged("!override", {"environment": var})
    return secrets, env


def overlay(model: dict[str, Any], root: Path, synced: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Return the compose overlay that carries the project's files, and the variables its secrets read."""
    configs: dict[str, Any] = {}
    services = {name: entry for name, svc in model.get("services", {}).items() if (entry := _service(name, svc, root, synced, configs))}
    secrets, env = _secrets(model, root)
    document: dict[str, Any] = {"services": services}
    if configs:
        document["configs"] = configs
    if secrets:
        document["secrets"] = secrets
    return document, env


def write(model: dict[str, Any], root: Path, project: str, synced: Path) -> tuple[str, dict[str, str]]:
    """Write the overlay for a project; return its path (relative to the project) and the variables it needs."""
    document, env = overlay(model, root, synced)
    path = overlay_path(root, project)
    text = "# Written by devloop/carry.py for an engine that does not see this machine's files; do not edit.\n"
    text += yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        state.write_text(path, text)
    return path.relative_to(root).as_posix(), env
