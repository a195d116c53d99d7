"""HTTP from the host, as a user's browser or curl would: status and JSON (or text) answers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def request(url: str, method: str = "GET", body: Any = None, raw: bytes | None = None, timeout: float = 30) -> tuple[int, Any]:
    """Send a request; return the status and the JSON (or text) answer. Connection errors raise."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    headers = {"Content-Type": "application/json"} if body is not None or raw is not None else {}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def get(url: str, timeout: float = 30) -> tuple[int, Any]:
    """GET a URL, or (0, the error) when nothing answers."""
    try:
        return request(url, timeout=timeout)
    except OSError as exc:
        return 0, str(exc)
