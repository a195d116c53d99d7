"""launch.json: derived from the compose files, and the committed one agrees with them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from devloop import vscode
from devloop.errors import DevloopError
from tests.support.harness import ROOT


def test_committed_launch_json_agrees_with_the_compose_files() -> None:
    committed = (ROOT / vscode.LAUNCH_FILE).read_text(encoding="utf-8")
    assert committed == vscode.render(ROOT, {}), "run `invoke vscode` and commit .vscode/launch.json"


def test_config_maps_the_bind_mount_and_the_published_debug_port() -> None:
    config = vscode.launch_config(ROOT, {})
    assert config["connect"] == {"host": "127.0.0.1", "port": 5678}
    assert config["pathMappings"] == [{"localRoot": "${workspaceFolder}/app/src", "remoteRoot": "/code"}]
    assert config["subProcess"] is True and config["justMyCode"] is True


def test_debug_port_setting_moves_the_attach_port() -> None:
    assert vscode.launch_config(ROOT, {"DEBUG_PORT": "6000"})["connect"]["port"] == 6000


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for name in ("docker-compose.yml", "compose/debug.yml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_a_changed_mount_changes_the_mapping(copy: Path) -> None:
    compose = copy / "docker-compose.yml"
    compose.write_text(compose.read_text().replace("./app/src:/code", "./app/src:/srv/app"))
    assert vscode.launch_config(copy, {})["pathMappings"][0]["remoteRoot"] == "/srv/app"


def test_no_bind_mount_is_a_clear_error(copy: Path) -> None:
    compose = copy / "docker-compose.yml"
    compose.write_text(compose.read_text().replace("      - ./app/src:/code\n", ""))
    with pytest.raises(DevloopError, match="no bind mount"):
        vscode.launch_config(copy, {})


def test_write_keeps_the_users_other_configurations(copy: Path) -> None:
    launch = copy / vscode.LAUNCH_FILE
    launch.parent.mkdir()
    launch.write_text(json.dumps({"version": "0.2.0", "configurations": [{"name": "Mine", "type": "node"}]}))
    assert vscode.write(copy, {})
    names = [c["name"] for c in json.loads(launch.read_text())["configurations"]]
    assert names == [vscode.CONFIG_NAME, "Mine"]
    assert not vscode.write(copy, {})
