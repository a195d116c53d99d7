"""The bench's alternatives still fit the stack: CI does not run `nox -s bench`, so a change to docker-compose.yml
that breaks an overlay would otherwise show only at the next bench."""

from __future__ import annotations

import pytest

from devloop.errors import DevloopError
from tests.bench import measure, overlays
from tests.support.harness import Project


def test_every_overlay_the_bench_applies_is_a_valid_compose_model(project: Project) -> None:
    cases = {
        "stock": [measure.write(project, "stock.yml", overlays.STOCK)],
        "stock, debugger": ["compose/debug.yml", measure.write(project, "stock-debug.yml", overlays.STOCK_DEBUG)],
        "compose watch": [measure.write(project, "watch.yml", overlays.watch(project.name))],
        "remote compose watch": [measure.write(project, "watch-sync.yml", overlays.remote_watch(project.name, "sync"))],
    }
    for name, files in cases.items():
        try:
            project.compose("config", "--quiet", files=files)
        except DevloopError as exc:
            pytest.fail(f"the bench's {name} overlay: {exc}")
