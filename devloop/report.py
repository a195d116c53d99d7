"""What the tasks print about a stack: one line per service, and where to reach it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .engine import ServiceState
from .settings import Settings

URL_SERVICES = ("app", "web")


def status_lines(order: Sequence[str], states: Mapping[str, ServiceState], stale: Mapping[str, str]) -> list[str]:
    """Return one line per service: state, health, ports, mode, image freshness."""
    lines = []
    for name in order:
        st = states.get(name)
        if st is None:
            lines.append(f"{name:<5} not created")
            continue
        ports = ", ".join(f"{b.host_ip}:{b.host_port}->{b.container_port}" for b in st.bindings) or "-"
        line = f"{name:<5} {st.status:<8} health={st.health:<9} ports={ports}"
        if st.mode:
            line += f" mode={st.mode}"
        if name in stale:
            line += f" image stale: {stale[name]} (`invoke reload` rebuilds)"
        lines.append(line)
    return lines


def where(states: Mapping[str, ServiceState], settings: Settings) -> list[str]:
    """Return where each published service can be reached."""
    lines = []
    for name, st in states.items():
        for b in st.bindings:
            if b.host_port == settings.debug_port and name == "app":
                lines.append(f"debugger  {b.host_ip}:{b.host_port}  (VS Code: Run > 'Python: Remote Attach')")
            elif name in URL_SERVICES:
                lines.append(f"{name:<9} http://{b.host_ip}:{b.host_port}")
    return sorted(lines)
