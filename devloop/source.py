"""The source folder: the host folder the compose files bind-mount into the service labelled
`devloop.source-id` (app/src into app, at /code), read from Compose's model, and its identity.

A bind mount keeps the folder it was given: if the host replaces it (`rm -rf app/src && git
checkout app/src`), the container goes on seeing the deleted one. The identity is a token in a
marker file inside the folder (inode numbers get reused), so a folder made again gets a new one,
the label changes with it, and Compose recreates the service.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import labels

MARKER = ".devloop-source"  # in the source folder; ignored by git and Docker
TOKEN_VAR = "DEVLOOP_SOURCE_ID"  # what docker-compose.yml sets the label from


@dataclass(frozen=True)
class Source:
    """The source folder of one service: where it is on this machine and in the container, and its token."""

    service: str
    folder: Path
    target: str
    token: str

    def shown(self, root: Path) -> str:
        """The folder as the user names it: relative to the project (app/src, examples/fastapi/src)."""
        return self.folder.relative_to(root).as_posix() if self.folder.is_relative_to(root) else str(self.folder)


def shown(root: Path, app_dir: str, found: Source | None) -> str:
    """The source folder as the user names it; without one found, the compose file's default (APP_DIR/src)."""
    return found.shown(root) if found else f"{app_dir}/src"


def find(model: dict[str, Any], root: Path) -> Source | None:
    """Return the source folder a resolved compose model bind-mounts from the project (None without one)."""
    for name, service in (model.get("services") or {}).items():
        if labels.SOURCE_ID not in (service.get("labels") or {}):
            continue
        for volume in service.get("volumes") or []:
            folder = Path(volume.get("source", ""))
            if volume.get("type") == "bind" and not volume.get("read_only") and folder.is_relative_to(root) and folder.is_dir():
                token = marker_token(folder)
                return Source(name, folder, volume["target"], token) if token else None
    return None


def marker_token(folder: Path) -> str:
    """Return the token in a folder's marker file, writing one first if there is none ("" if it cannot)."""
    marker = folder / MARKER
    try:
        return marker.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        token = secrets.token_hex(8)
        try:
            marker.write_text(token + "\n", encoding="utf-8")
        except OSError:
            return ""
        return token
    except OSError:
        return ""
