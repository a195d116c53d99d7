"""The images Compose builds (the app's): which are missing or stale, and building them."""

from __future__ import annotations

from collections.abc import Sequence

from . import engine, fingerprints
from .runtime import Runtime


def stale(rt: Runtime, force: bool = False) -> dict[str, str]:
    """Return the built services whose image is missing or out of date, with the reason."""
    built = rt.compose.built_services()
    recorded = fingerprints.load(rt.settings.root, rt.settings.project)
    changed = fingerprints.stale_builds(recorded, rt.fingerprint(), built)
    found = {}
    for name in built:
        if force:
            found[name] = "--build"
        elif engine.image_id(rt.client, rt.compose.image_of(name)) is None:
            found[name] = "no image yet"
        elif name in changed:
            found[name] = "Dockerfile, requirements or build settings changed"
    return found


def build(rt: Runtime, services: Sequence[str] = (), no_cache: bool = False, target: str = "dev") -> None:
    """Build images with Compose, showing its output; record what was built."""
    rt.require_engine()
    buildable = rt.compose.built_services()
    services = rt.compose.require_services(services, among=buildable) if services else buildable
    compose = rt.compose if target == "dev" else rt.compose.with_env(APP_TARGET=target)
    result = compose.stream("build", *(["--no-cache"] if no_cache else []), *services)
    compose.check(result, f"build of {', '.join(services)}")
    if target == "dev":
        fingerprints.record_build(rt.settings.root, rt.settings.project, rt.fingerprint(), services)


def image_ids(rt: Runtime) -> dict[str, str | None]:
    """Return the id of each built service's image as the engine has it now (None when missing)."""
    return {name: engine.image_id(rt.client, rt.compose.image_of(name)) for name in rt.compose.built_services()}
