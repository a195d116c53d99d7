"""Waiting for a condition: the one bounded polling loop everything else uses."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout: float, interval: float = 0.1) -> T | None:
    """Call check until it returns something truthy and return that; None after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() + interval > deadline:
            return None
        time.sleep(interval)
