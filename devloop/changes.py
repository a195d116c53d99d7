"""`invoke reload`: apply what changed since the last build/up, the cheapest correct way."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import fingerprints

if TYPE_CHECKING:
    from .stack import Stack

# A service that reloads its code on this signal (the dev server: SIGHUP) needs no container restart.
RELOAD_SIGNAL_LABEL = "devloop.reload-signal"


def plan(stack: Stack) -> tuple[fingerprints.Plan, fingerprints.Fingerprint]:
    """Decide what to do, from content hashes (a folder replaced on the host included) and what runs."""
    current = stack.fingerprint()
    todo = fingerprints.plan(fingerprints.load(stack.settings.root, stack.settings.project), current)
    missing = [s for s in stack.compose.services() if s not in stack.running()]
    if missing and todo.nothing:
        todo.recreate = missing
        todo.reasons.append(f"not running: {', '.join(missing)} -> start")
    return todo, current


def apply(stack: Stack) -> fingerprints.Plan:
    """Apply what changed since the last build/up with the cheapest correct action; return what was done."""
    stack.preflight()
    running = stack.running()
    todo, current = plan(stack)
    if todo.nothing:
        return todo
    if todo.rebuild:
        stack.build(todo.rebuild)
    if todo.rebuild or todo.recreate:
        stack.check_ports()
        stack.starter().start(stack.start_timeout, running)
    for name in todo.restart:
        restart_process(stack, name)
    fingerprints.save(stack.settings.root, stack.settings.project, current)
    return todo


def restart_process(stack: Stack, service: str) -> None:
    """Restart a service's process: by its reload signal if it declares one, else the container."""
    compose = stack.compose
    reload_signal = (compose.service(service).get("labels") or {}).get(RELOAD_SIGNAL_LABEL)
    if reload_signal:
        compose.check(compose.capture("kill", "--signal", reload_signal, service), f"signalling {service}")
    else:
        compose.check(compose.capture("restart", service), "docker compose restart")
        stack.starter().start(stack.start_timeout, {service})
