"""Whether each published port answers from where the user stands (this machine), checked the
way its client would use it: HTTP for app and web, a DAP handshake for the debugger, TCP else.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from . import debugger, modes
from .engine import Binding, ServiceState
from .settings import Settings

TIMEOUT = 3.0
HTTP_PATHS = {"app": "/healthz", "web": "/nginx-health"}


@dataclass(frozen=True)
class Reach:
    """One published port as seen from this machine: what it is, and what went wrong ("" if nothing)."""

    service: str
    binding: Binding
    kind: str  # http, debugger or tcp
    problem: str = ""

    @property
    def host(self) -> str:
        """The address the user would connect to."""
        return self.binding.host_ip if self.binding.host_ip not in ("", "0.0.0.0") else "127.0.0.1"

    @property
    def address(self) -> str:
        """host:port as the user would type it."""
        return f"{self.host}:{self.binding.host_port}"


def http_problem(url: str, timeout: float = TIMEOUT) -> str:
    """Return "" when a URL gives any HTTP answer, else why not."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return ""
    except urllib.error.HTTPError:
        return ""  # an answer: the service is reachable, whatever it says
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"no HTTP answer ({reason or type(exc).__name__})"


def tcp_problem(host: str, port: int, timeout: float = TIMEOUT) -> str:
    """Return "" when a TCP connection opens, else why not."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        return f"no TCP connection ({exc.strerror or exc})"
    return ""


def published(states: Mapping[str, ServiceState], settings: Settings) -> list[Reach]:
    """Return the published ports of the running services, not checked yet."""
    found = []
    for name, st in states.items():
        if st.status != "running":
            continue
        for b in st.bindings:
            is_debugger = b.host_port in (settings.debug_port, settings.debug_worker_port)
            found.append(Reach(name, b, "debugger" if is_debugger else "http" if name in HTTP_PATHS else "tcp"))
    return found


def check(states: Mapping[str, ServiceState], settings: Settings) -> tuple[list[Reach], dict[str, str]]:
    """Check each published port from here; also return what is not checked, and why."""
    waits = "app" in states and modes.named(states["app"].mode).waits_for_debugger
    to_check, skipped = [], {}
    for r in published(states, settings):
        if waits and r.service == "app" and r.kind == "http":
            skipped["app"] = f"{r.address} serves once a debugger attaches (debug --wait)"
        else:
            to_check.append(r)
    with ThreadPoolExecutor(max(len(to_check), 1)) as pool:  # side by side: each may wait out its timeout
        return list(pool.map(probe, to_check)), skipped


def probe(reach: Reach) -> Reach:
    """Return the port checked the way its client uses it."""
    host, port = reach.host, reach.binding.host_port
    if reach.kind == "debugger":
        problem = debugger.handshake(port, host)
    elif reach.kind == "http":
        problem = http_problem(f"http://{host}:{port}{HTTP_PATHS[reach.service]}")
    else:
        problem = tcp_problem(host, port)
    return replace(reach, problem=problem)


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a listener could bind host:port on this machine now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
