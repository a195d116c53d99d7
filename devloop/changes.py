"""What changed since the last build/up: `invoke reload` applies it the cheapest correct way,
and `invoke up` starts nothing when nothing did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import engine, fingerprints

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


def nothing_to_start(stack: Stack) -> bool:
    """Whether every service runs healthy, on its current image, with the config of the last up."""
    states, services = stack.states(), stack.compose.services()
    if set(states) != set(services) or not all(states[name].ready for name in services):
        return False
    for name in stack.compose.built_services():
        if states[name].image_id != engine.image_id(stack.client, stack.compose.image_of(name)):
            return False
    todo = fingerprints.plan(fingerprints.load(stack.settings.root, stack.settings.project), stack.fingerprint())
    return not (todo.rebuild or todo.recreate)


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
