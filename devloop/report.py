"""What the tasks print about a stack: one line per service, and where to reach it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .engine import ServiceState
from .reach import Reach
from .vscode import name_of


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


def where(reaches: Sequence[Reach], skipped: Mapping[str, str] | None = None) -> list[str]:
    """Return where each published port answers; one that does not is said, never shown as a URL."""
    lines = []
    for r in reaches:
        if r.problem:
            fix = "`invoke debug` restarts it" if r.kind == "debugger" else f"`invoke up` recreates {r.service}"
            name = "debugger" if r.kind == "debugger" else r.service
            lines.append(f"{name:<9} {r.address} DOES NOT ANSWER from this machine: {r.problem} ({fix})")
        elif r.kind == "debugger":
            lines.append(f"debugger  {r.address}  answers a DAP handshake (VS Code: Run > '{name_of(r.service)}')")
        elif r.kind == "http":
            lines.append(f"{r.service:<9} http://{r.address}")
        else:
            lines.append(f"{r.service:<9} {r.address}")
    lines += [f"{service:<9} {why}" for service, why in (skipped or {}).items()]
    return sorted(lines)
