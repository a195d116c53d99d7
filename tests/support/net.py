"""Free ports on 127.0.0.1 for tests' stacks, below the ephemeral range."""

from __future__ import annotations

import os
import random

from devloop import engine, places, reach

from .engines import PORTS_VAR

# Ports in the ephemeral range (32768-60999) were seen refused for ~20 s after use here.
RANGE = (20000, 32000)
_given: set[int] = set()  # handed out by this process: a stack may not have published them yet


def free_port() -> int:
    """Return a port a test stack can publish and the host can reach, not handed out before."""
    pool = os.environ.get(PORTS_VAR)
    port = _from_pool(pool) if pool else _from_range()
    _given.add(port)
    return port


def _from_range() -> int:
    """Return a port below the ephemeral range that nothing listens on now."""
    for _ in range(200):
        port = random.randint(*RANGE)
        if port not in _given and reach.port_free(port):
            return port
    raise AssertionError(f"no free port found in {RANGE}")


def _from_pool(pool: str) -> int:
    """Return a port of the engine container's pool (first-last) that no container publishes."""
    first, last = (int(n) for n in pool.split("-"))
    published = {b.host_port for c in places.connect().containers.list() for b in engine.bindings(c)}
    for port in range(first, last + 1):
        if port not in _given and port not in published:
            return port
    raise AssertionError(f"every port of {pool} ({PORTS_VAR}) is in use")
