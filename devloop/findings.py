"""One line of `invoke doctor`'s report: what was checked, whether it is fine, and the fix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# What a check may be handed to ask: time a save until the dev server sees it ((watcher, seconds), or why
# not: "" when it never arrived); whether the engine sees the source folder (None: cannot tell yet).
Arrival = Callable[[], "tuple[str, float] | str"]
Sees = Callable[[], "bool | None"]


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
