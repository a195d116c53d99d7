"""A failed start names the service that failed and always shows Compose's own error line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devloop import engine, settings
from devloop.commands import Result
from devloop.compose import Compose
from devloop.errors import DevloopError
from devloop.starting import Starter

from .conftest import FakeCli

MODEL = {"services": {"db": {}, "app": {"depends_on": {"db": {}}}, "web": {"depends_on": {"app": {}}}}}


def state(service: str, status: str, health: str = "none") -> engine.ServiceState:
    return engine.ServiceState(service, "id", status, health, "", "", "normal")


def test_a_service_left_created_is_named_with_composes_own_error_line(project: Path) -> None:
    cli = FakeCli({("docker", "compose"): Result(0, json.dumps(MODEL))})
    states = {"db": state("db", "running", "healthy"), "app": state("app", "created")}
    out: list[str] = []
    starter = Starter(Compose(settings.load(project, environ={}), cli=cli), lambda: states, lambda s: "(log)", out.append)
    output = " Container e2e-app-1  Created\nError response from daemon: network e2e_default is ambiguous (2 matches found on name)\n"
    with pytest.raises(DevloopError) as caught:
        starter.diagnose(output, set(), timed_out=False)
    message = str(caught.value)
    assert message.startswith("start failed: app is created; Compose said: Error response from daemon: network e2e_default is ambiguous")
    assert "left running: db" in message
