"""launch.json: derived from Compose's model of debug mode, and the committed one agrees with it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from devloop import settings, vscode
from devloop.errors import DevloopError
from tests.support.harness import ROOT


def debug_model(root: Path, **environ: str) -> vscode.Compose:
    """Compose of debug mode for a project, with no .env or environment of the machine's."""
    return vscode.debug_compose(settings.load(root, environ=environ))


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for name in ("docker-compose.yml", "compose/debug.yml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_committed_launch_json_agrees_with_the_compose_files(copy: Path) -> None:
    committed = (ROOT / vscode.LAUNCH_FILE).read_text(encoding="utf-8")
    assert committed == vscode.render(debug_model(copy)), "run `invoke vscode` and commit .vscode/launch.json"


def test_config_maps_the_bind_mount_and_the_published_debug_port(copy: Path) -> None:
    config = vscode.launch_config(debug_model(copy))
    assert config["connect"] == {"host": "127.0.0.1", "port": 5678}
    assert config["pathMappings"] == [{"localRoot": "${workspaceFolder}/app/src", "remoteRoot": "/code"}]
    assert config["subProcess"] is True and config["justMyCode"] is True


def test_debug_port_setting_moves_the_attach_port(copy: Path) -> None:
    assert vscode.launch_config(debug_model(copy, DEBUG_PORT="6000"))["connect"]["port"] == 6000


def edit(path: Path, old: str, new: str) -> None:
    """Replace every occurrence of text that must be in the file."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new))


def test_a_changed_mount_changes_the_mapping(copy: Path) -> None:
    edit(copy / "docker-compose.yml", "      - ./${APP_DIR:-app}/src:/code\n", "      - ./${APP_DIR:-app}/src:/srv/app\n")
    assert vscode.launch_config(debug_model(copy))["pathMappings"][0]["remoteRoot"] == "/srv/app"


def test_no_bind_mount_is_a_clear_error(copy: Path) -> None:
    edit(copy / "docker-compose.yml", "      - ./${APP_DIR:-app}/src:/code\n", "")
    with pytest.raises(DevloopError, match="no bind mount"):
        vscode.launch_config(debug_model(copy))


def test_a_compose_file_compose_refuses_is_its_own_one_line_error(copy: Path) -> None:
    debug = copy / "compose/debug.yml"
    debug.write_text(debug.read_text().replace(":${DEBUG_PORT:-5678}:5678", ":${DEBUG_PORT:-5678}:not-a-port"))
    with pytest.raises(DevloopError, match=r"^invalid compose configuration: "):
        vscode.launch_config(debug_model(copy))


def test_write_keeps_the_users_other_configurations(copy: Path) -> None:
    launch = copy / vscode.LAUNCH_FILE
    launch.parent.mkdir()
    launch.write_text(json.dumps({"version": "0.2.0", "configurations": [{"name": "Mine", "type": "node"}]}))
    assert vscode.write(settings.load(copy, environ={}))
    written, ours = json.loads(launch.read_text()), [vscode.CONFIG_NAME, f"{vscode.CONFIG_NAME} (worker)"]
    assert [c["name"] for c in written["configurations"]] == [*ours, "Mine"]
    assert written["compounds"] == [{"name": vscode.COMPOUND_NAME, "configurations": ours}]
    assert not vscode.write(settings.load(copy, environ={}))


def test_the_worker_gets_its_own_port_and_the_same_mapping(copy: Path) -> None:
    app, worker = vscode.launch_configs(debug_model(copy, DEBUG_WORKER_PORT="6001"))
    assert worker["name"] == "Python: Remote Attach (worker)" and worker["connect"] == {"host": "127.0.0.1", "port": 6001}
    assert worker["pathMappings"] == app["pathMappings"]
