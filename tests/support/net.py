"""Free ports on 127.0.0.1 for tests, below the ephemeral range."""

from __future__ import annotations

import random

from devloop.engine import port_free

# Ports in the ephemeral range (32768-60999) were seen refused for ~20 s after use here.
RANGE = (20000, 32000)


def free_port() -> int:
    """Return a port below the ephemeral range that nothing listens on now."""
    for _ in range(200):
        port = random.randint(*RANGE)
        if port_free(port):
            return port
    raise AssertionError(f"no free port found in {RANGE}")
