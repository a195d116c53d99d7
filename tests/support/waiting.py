"""Waiting in tests: devloop's one polling loop, failing the test when time runs out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devloop import waiting


def wait_until(check: Callable[[], Any], timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    """Poll check until it returns something truthy and return that; fail after timeout seconds."""
    last: list[Any] = []

    def remembered() -> Any:
        last[:] = [check()]
        return last[0]

    value = waiting.wait_until(remembered, timeout, interval)
    if not value:
        raise AssertionError(f"{what} not reached within {timeout}s (last: {last[0] if last else None!r})")
    return value
