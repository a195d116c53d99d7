"""What changed since the last build/up: `invoke reload` applies it the cheapest correct way,
and `invoke up` starts nothing when nothing did. The decisions are pure (from what was recorded
and what is found now); `apply` acts on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from . import engine, fingerprints, images, labels
from .runtime import Runtime


def plan(
    recorded: fingerprints.Fingerprint | None, current: fingerprints.Fingerprint, services: Iterable[str], running: set[str]
) -> fingerprints.Plan:
    """Decide what to do from content hashes (a folder replaced on the host included), and start what does not run."""
    todo = fingerprints.plan(recorded, current)
    missing = [s for s in services if s not in running]
    if missing and todo.nothing:
        todo.recreate = missing
        todo.reasons.append(f"not running: {', '.join(missing)} -> start")
    return todo


def nothing_to_start(
    states: Mapping[str, engine.ServiceState], services: Iterable[str], image_ids: Mapping[str, str | None], todo: fingerprints.Plan
) -> bool:
    """Whether every service runs healthy, on its current image, with the config of the last up."""
    services = list(services)
    if set(states) != set(services) or not all(states[name].ready for name in services):
        return False
    if any(states[name].image_id != image for name, image in image_ids.items()):
        return False
    return not (todo.rebuild or todo.recreate)


def configured_otherwise(states: Mapping[str, engine.ServiceState], hashes: Mapping[str, str]) -> list[str]:
    """The services whose container Compose created from another configuration than the project's now (started by
    hand with other files or settings): the recorded fingerprints cannot see that."""
    return [name for name, st in states.items() if name in hashes and st.config_hash != hashes[name]]


def apply(rt: Runtime) -> fingerprints.Plan:
    """Apply what changed since the last build/up with the cheapest correct action; return what was done."""
    rt.preflight()
    running = rt.running()
    current = rt.fingerprint()
    todo = plan(fingerprints.load(rt.settings.root, rt.settings.project), current, rt.compose.services(), running)
    if todo.nothing:
        return todo
    if todo.rebuild:
        images.build(rt, todo.rebuild)
    if todo.rebuild or todo.recreate:
        rt.check_ports()
        rt.starter().start(rt.start_timeout, running)
    for name in todo.restart:
        restart_process(rt, name)
    fingerprints.save(rt.settings.root, rt.settings.project, current)
    return todo


def restart_process(rt: Runtime, service: str) -> None:
    """Restart a service's process: by its reload signal if it declares one, else the container."""
    compose = rt.compose
    reload_signal = (compose.service(service).get("labels") or {}).get(labels.RELOAD_SIGNAL)
    if reload_signal:
        compose.check(compose.capture("kill", "--signal", reload_signal, service), f"signalling {service}")
    else:
        compose.check(compose.capture("restart", service), "docker compose restart")
        rt.starter().start(rt.start_timeout, {service})
