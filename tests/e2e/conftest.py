"""Fixtures of the e2e suite: the project copy (torn down in `finally`), and the state each case
needs from its stack (up, in debug mode, down) asked for by name, not by running order.
Failing cases get the services' logs attached to their report.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devloop import modes, places, ssh
from devloop.errors import DevloopError
from tests.support.engines import CONTAINER_VAR
from tests.support.harness import Project, copy_project

_active: list[Project] = []


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """The project copy; fails loudly (never skips) when there is no engine."""
    try:
        places.connect()
    except DevloopError as exc:
        pytest.fail(f"the e2e suite needs a Docker engine: {exc}. On Debian as root, ./bootstrap sets one up.", pytrace=False)
    proj = copy_project(tmp_path_factory.mktemp("project") / "blog")
    _active.append(proj)
    try:
        yield proj
    finally:
        _active.remove(proj)
        proj.teardown()


def _in_mode(project: Project, mode: modes.Mode) -> bool:
    """Whether every service is ready and the app runs in that mode."""
    states = project.states()
    return bool(states) and all(st.ready for st in states.values()) and states.get("app") is not None and states["app"].mode == mode.name


@pytest.fixture
def up(project: Project) -> Project:
    """The stack up and healthy in normal mode (started only if it is not)."""
    if not _in_mode(project, modes.NORMAL):
        project.invoke("up")
    return project


@pytest.fixture
def down(project: Project) -> Project:
    """The stack stopped (its data volume kept)."""
    if project.states():
        project.invoke("down")
    return project


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out (not skip) the cases that need an ssh:// engine when the engine is another, and those that need this
    machine's own engine on the engines in containers."""
    remote = ssh.is_ssh(places.endpoint())
    left_out = set() if remote else {"remote_only"}
    if remote or os.environ.get(CONTAINER_VAR):
        left_out.add("host_engine")
    kept = [item for item in items if not left_out & set(item.keywords)]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the services' logs to a failing case's report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and _active:
        report.sections.append(("compose logs (last 60 lines per service)", _active[0].logs()))
