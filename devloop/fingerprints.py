"""What changed since the last build/up, by content hash, and the cheapest correct action.

Per service Compose builds, the build context splits in two: the source that is
bind-mounted into the container (served live, so a change needs at most a process
restart) and everything else (Dockerfile, requirements: a change needs a rebuild).
Per service, its resolved Compose config (which includes .env and the environment)
decides whether the container must be recreated. Files the context's .dockerignore
leaves out count for neither.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import labels, state
from .source import Source

DOCKERIGNORE = ".dockerignore"


@dataclass
class Fingerprint:
    """Content hashes of what decides each service's container."""

    build: dict[str, str] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)
    config: dict[str, str] = field(default_factory=dict)
    mounted: dict[str, str] = field(default_factory=dict)  # which source folder (device:inode) is mounted


@dataclass
class Plan:
    """The actions that bring the running stack up to date, and why."""

    rebuild: list[str] = field(default_factory=list)
    recreate: list[str] = field(default_factory=list)
    restart: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def nothing(self) -> bool:
        """Whether the stack is already up to date."""
        return not (self.rebuild or self.recreate or self.restart)


def ignore_patterns(context: Path) -> list[re.Pattern[str]]:
    """Return the exclusions of a build context's .dockerignore, as regular expressions."""
    try:
        lines = (context / DOCKERIGNORE).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    patterns = []
    for line in lines:
        line = line.strip().strip("/")
        if not line or line.startswith(("#", "!")):
            continue
        patterns.append(re.compile(_translate(line)))
    return patterns


def _translate(pattern: str) -> str:
    """Turn a .dockerignore pattern into a regular expression (`**/` also matches no folder)."""
    out = ""
    for token in re.findall(r"\*\*/|\*\*|\*|\?|\[[^\]]*\]|[^*?\[]+", pattern):
        if token == "**/":
            out += "(?:.*/)?"
        elif token == "**":
            out += ".*"
        elif token == "*":
            out += "[^/]*"
        elif token == "?":
            out += "[^/]"
        elif token.startswith("["):
            out += token
        else:
            out += re.escape(token)
    return out


def ignored(relative: str, patterns: Iterable[re.Pattern[str]]) -> bool:
    """Whether a context-relative path, or a folder above it, is excluded."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    return any(p.fullmatch(prefix) for p in patterns for prefix in prefixes)


def _files(root: Path, context: Path, exclude: Iterable[Path] = ()) -> list[Path]:
    """Return the files under root that count, sorted: not ignored, not in an excluded tree."""
    excluded = [p.resolve() for p in exclude]
    patterns = ignore_patterns(context)
    out = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or ignored(path.relative_to(context).as_posix(), patterns):
            continue
        resolved = path.resolve()
        if any(resolved == ex or ex in resolved.parents for ex in excluded):
            continue
        out.append(path)
    return out


def hash_data(data: Any) -> str:
    """Return a hash of JSON-able data."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def hash_tree(roots: Iterable[Path], context: Path, exclude: Iterable[Path] = (), extra: Any = None) -> str:
    """Return a content hash of the files under roots (names and bytes), plus extra data."""
    digest = hashlib.sha256()
    exclude = list(exclude)
    for root in roots:
        for path in _files(root, context, exclude) if root.is_dir() else []:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    digest.update(hash_data(extra).encode())
    return digest.hexdigest()[:16]


def bind_sources(service: dict[str, Any]) -> list[Path]:
    """Return the host paths bind-mounted into a service."""
    return [Path(v["source"]) for v in service.get("volumes", []) if v.get("type") == "bind"]


def fingerprint(model: dict[str, Any], found: Source | None = None) -> Fingerprint:
    """Return the current fingerprint of every service in a resolved compose model, and its source folder's
    (served live whether bind-mounted or copied in by the sync, so never part of a build)."""
    fp = Fingerprint()
    for name, svc in model.get("services", {}).items():
        kept = {k: v for k, v in (svc.get("labels") or {}).items() if k != labels.SOURCE_ID}
        fp.config[name] = hash_data({**{k: v for k, v in svc.items() if k != "build"}, "labels": kept})
        live = found.folder if found and found.service == name else None
        if live:
            fp.mounted[name] = found.token  # type: ignore[union-attr]
        build = svc.get("build")
        if not build:
            continue
        context = Path(build["context"]).resolve()
        sources = list(dict.fromkeys([*bind_sources(svc), *([live] if live else [])]))
        mounted = [src for src in sources if context in src.resolve().parents]
        dockerfile = context / build.get("dockerfile", "Dockerfile")  # it may live outside the context (app/Dockerfile)
        text = dockerfile.read_text(encoding="utf-8", errors="replace") if dockerfile.is_file() else ""
        fp.build[name] = hash_tree([context], context, exclude=mounted, extra={**build, "dockerfile": text})
        fp.source[name] = hash_tree(mounted, context)
    return fp


def plan(recorded: Fingerprint | None, current: Fingerprint) -> Plan:
    """Decide the cheapest correct actions from the recorded and the current fingerprint."""
    result = Plan()
    if recorded is None:
        result.rebuild = sorted(current.build)
        result.recreate = sorted(current.config)
        result.reasons.append("no record of a previous build/up: rebuilding and recreating everything")
        return result
    for name in sorted(current.build):
        if recorded.build.get(name) != current.build[name]:
            result.rebuild.append(name)
            result.reasons.append(f"{name}: Dockerfile, requirements or build settings changed -> rebuild and recreate")
    for name in sorted(current.config):
        if name in result.rebuild:
            continue
        if recorded.config.get(name) != current.config[name]:
            result.recreate.append(name)
            result.reasons.append(f"{name}: compose file or environment changed -> recreate")
        elif recorded.mounted.get(name, current.mounted.get(name)) != current.mounted.get(name):
            result.recreate.append(name)
            result.reasons.append(
                f"{name}: its source folder was deleted and made again on the host -> recreate (a bind mount keeps the old one)"
            )
    for name in sorted(current.source):
        if name in result.rebuild or name in result.recreate:
            continue
        if recorded.source.get(name) != current.source[name]:
            result.restart.append(name)
            result.reasons.append(f"{name}: source changed -> restart the app process (no rebuild, no recreate)")
    return result


def stale_builds(recorded: Fingerprint | None, current: Fingerprint, services: Iterable[str]) -> list[str]:
    """Return the services whose build inputs differ from the recorded build."""
    return [name for name in services if recorded is None or recorded.build.get(name) != current.build.get(name)]


def state_path(root: Path, project: str) -> Path:
    """Return where the fingerprint of a project's last build/up is kept."""
    return state.path(root, f"{project}.json")


def load(root: Path, project: str) -> Fingerprint | None:
    """Return the recorded fingerprint, or None when there is none (or it is unreadable)."""
    found = state.read_json(state_path(root, project))
    try:
        return Fingerprint(**found) if found else None
    except TypeError:
        return None


def save(root: Path, project: str, fp: Fingerprint) -> None:
    """Record a fingerprint as the state of the running stack."""
    state.write_json(state_path(root, project), asdict(fp))


def record_build(root: Path, project: str, current: Fingerprint, services: Iterable[str]) -> None:
    """Record that these services' images were just built from the current inputs."""
    recorded = load(root, project) or Fingerprint()
    for name in services:
        recorded.build[name] = current.build[name]
    save(root, project, recorded)
