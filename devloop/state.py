"""What devloop keeps between tasks, in the project's .devloop/ folder: small JSON and text files,
each replaced in one step (a reader never sees half of one), and file locks.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # native Windows: no flock (WSL2 has it)
    fcntl = None  # type: ignore[assignment]

STATE_DIR = ".devloop"


def path(root: Path, name: str) -> Path:
    """Return where a project keeps a file of that name (the folder is made if missing)."""
    folder = root / STATE_DIR
    folder.mkdir(exist_ok=True)
    return folder / name


def read_json(file: Path) -> dict[str, Any]:
    """Return a JSON object kept in a file ({} when there is none, or it is unreadable)."""
    try:
        found = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def write_text(file: Path, text: str, mode: int | None = None) -> None:
    """Replace a file's text in one step (a rename), with that mode if given."""
    partial = file.with_name(f"{file.name}.part")
    partial.write_text(text, encoding="utf-8")
    if mode is not None:
        partial.chmod(mode)
    partial.replace(file)


def write_json(file: Path, data: dict[str, Any]) -> None:
    """Replace a JSON object kept in a file, in one step."""
    write_text(file, json.dumps(data, indent=2, sort_keys=True) + "\n")


@contextlib.contextmanager
def locked(file: Path) -> Iterator[None]:
    """Hold an exclusive lock on a file, waiting for it (two tasks must not start two of one thing)."""
    if fcntl is None:
        yield
        return
    fd = os.open(file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
