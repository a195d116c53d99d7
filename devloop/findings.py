"""One line of `invoke doctor`'s report: what was checked, whether it is fine, and the fix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What a check may be handed to ask: time a save in a folder until the dev server sees it ((watcher, seconds), or why
# not: "" when it never arrived); whether the engine sees the source folder (None: cannot tell yet).
Arrival = Callable[[Path], "tuple[str, float] | str"]
Sees = Callable[[], "bool | None"]
Watching = dict[str, Any] | None  # how the dev server watches /code (app/devserver/watchers.py's record)


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    blocking: bool = True

    def line(self) -> str:
        """Render as `ok`/`problem`/`warning`, name, detail and the fix."""
        if self.ok:
            return f"ok       {self.name}: {self.detail}"
        label = "problem " if self.blocking else "warning "
        return f"{label} {self.name}: {self.detail}" + (f" -> {self.fix}" if self.fix else "")
