"""A failed start names the service that failed and always shows Compose's own error line."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from devloop import changes, engine, settings
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


@pytest.mark.parametrize(
    "said",
    [
        "Error response from daemon: driver failed programming external connectivity on endpoint e2e-web-1 (0f1e): "
        "Bind for 127.0.0.1:28080 failed: port is already allocated",  # Engine 20.10
        "Error response from daemon: failed to set up container networking: driver failed programming external connectivity "
        "on endpoint e2e-web-1 (0f1e): failed to bind host port for 127.0.0.1:28080:172.18.0.4:80/tcp: address already in use",  # 28
    ],
)
def test_a_port_the_engine_cannot_publish_is_named_with_its_setting(project: Path, said: str) -> None:
    cli = FakeCli({("docker", "compose"): Result(0, json.dumps(MODEL))})
    states = {"db": state("db", "running", "healthy"), "app": state("app", "running", "healthy"), "web": state("web", "created")}
    resolved = settings.load(project, environ={"WEB_PORT": "28080", "APP_PORT": "28000"})
    starter = Starter(Compose(resolved, cli=cli), lambda: states, lambda s: "(log)", [].append)
    with pytest.raises(DevloopError) as caught:
        starter.diagnose(f" Container e2e-web-1  Starting\n{said}\n", set(), timed_out=False)
    message = str(caught.value)
    assert message.startswith("port 28080 is already taken where the engine publishes (WEB_PORT): set WEB_PORT to a free port; ")
    assert f"Compose said: {said}" in message and message.endswith("stopped db, app")


def test_a_container_compose_created_from_another_configuration_is_named_and_one_without_a_container_is_not() -> None:
    ours, other = "1a2b", "3c4d"
    states = {name: replace(state(name, "running"), config_hash=h) for name, h in (("db", ours), ("app", other))}
    assert changes.configured_otherwise(states, {"db": ours, "app": ours, "web": ours}) == ["app"]
