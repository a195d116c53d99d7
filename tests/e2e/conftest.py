"""The e2e harness: a copy of the project (tests/harness.py), torn down in `finally`,
with the services' logs attached to any failing case's report.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devloop import engine
from devloop.errors import DevloopError

from ..harness import ROOT, Project, copy_project, wait_until

__all__ = ["ROOT", "Project", "wait_until"]

_active: list[Project] = []


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """The project copy; fails loudly (never skips) when there is no engine."""
    try:
        engine.connect()
    except DevloopError as exc:
        pytest.fail(f"the e2e suite needs a Docker engine: {exc}. On Debian as root, ./bootstrap sets one up.", pytrace=False)
    proj = copy_project(tmp_path_factory.mktemp("project") / "blog")
    _active.append(proj)
    try:
        yield proj
    finally:
        _active.remove(proj)
        proj.teardown()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the services' logs to a failing case's report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and _active:
        report.sections.append(("compose logs (last 60 lines per service)", _active[0].logs()))
