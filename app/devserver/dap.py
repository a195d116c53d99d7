"""Debug Adapter Protocol framing, as the debugger gate watches it go by: whole messages out of a byte stream."""

from __future__ import annotations

import json
from typing import Any

HEADER = b"content-length:"


class Messages:
    """Splits a byte stream into DAP messages; bytes of a message not complete yet wait for the next feed."""

    def __init__(self) -> None:
        self.pending = b""

    def feed(self, data: bytes) -> list[tuple[bytes, dict[str, Any]]]:
        """Add bytes; return each whole message completed by them, raw and parsed ({} when its body is not JSON)."""
        self.pending += data
        found = []
        while (end := self.pending.find(b"\r\n\r\n")) >= 0:
            length = next(
                (int(line.split(b":", 1)[1]) for line in self.pending[:end].split(b"\r\n") if line.lower().startswith(HEADER)), None
            )
            if length is None or len(self.pending) < end + 4 + length:
                break
            raw, self.pending = self.pending[: end + 4 + length], self.pending[end + 4 + length :]
            try:
                found.append((raw, json.loads(raw[end + 4 :])))
            except ValueError:
                found.append((raw, {}))
        return found


def starts_like_dap(head: bytes) -> bool | None:
    """Whether a stream that begins with these bytes speaks DAP (None: too few bytes to tell yet)."""
    start = head[: len(HEADER)].lower()
    if not HEADER.startswith(start):
        return False
    return True if len(start) == len(HEADER) else None
