""".env, read and written with python-dotenv, which parses it the way Compose does."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values, set_key

from .errors import DevloopError


def read(path: Path) -> dict[str, str]:
    """Return the variables a dotenv file sets (an absent file sets none)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise DevloopError(f"cannot read {path}: {exc}") from None
    # A bare `KEY` line (no `=`) gives None: Compose leaves such a variable unset too.
    values = dotenv_values(stream=io.StringIO(text), interpolate=True)
    return {key: value for key, value in values.items() if value is not None}


def update(path: Path, values: Mapping[str, str]) -> bool:
    """Set keys in a dotenv file, keeping every other line; return whether anything changed."""
    current = read(path)
    pending = {key: value for key, value in values.items() if current.get(key) != value}
    if not pending:
        return False
    path.touch(exist_ok=True)
    for key, value in pending.items():
        set_key(path, key, value, quote_mode="auto")
    return True
