"""Settings: every source in its place, the environment last, bad values refused in one line."""

import shutil
from pathlib import Path

import pytest

from devloop import settings, source
from devloop.compose import Compose
from devloop.errors import DevloopError


def test_defaults_are_the_official_images_and_the_contract_ports(project: Path) -> None:
    s = settings.load(project, environ={})
    assert (s.app_port, s.web_port, s.debug_port) == (5000, 8080, 5678)
    assert s.images == {"PYTHON_IMAGE": "python:3.12-slim", "MYSQL_IMAGE": "mysql:8.4", "NGINX_IMAGE": "nginx:1.27-alpine"}
    assert s.project == "myproj"
    assert s.app_image == "myproj-app"


def test_compose_defaults_then_env_file_then_invoke_yaml_then_environment(project: Path) -> None:
    (project / ".env").write_text("APP_PORT=5001\nWEB_PORT=8081\nDEBUG_PORT=5679\nPYTHON_IMAGE='standin/python:x'\n")
    s = settings.load(project, config={"web_port": 8082, "debug_port": 5680}, environ={"DEBUG_PORT": "5681"})
    assert (s.app_port, s.web_port, s.debug_port) == (5001, 8082, 5681)
    assert s.python_image == "standin/python:x"


def test_the_defaults_are_the_ones_written_in_docker_compose_yml(project: Path) -> None:
    compose = project / "docker-compose.yml"
    compose.write_text(compose.read_text().replace("${APP_PORT:-5000}", "${APP_PORT:-5055}"))
    assert settings.load(project, environ={}).app_port == 5055
    assert settings.official_images(project)["MYSQL_IMAGE"] == "mysql:8.4"


def test_project_name_from_environment_names_the_app_image(project: Path) -> None:
    s = settings.load(project, environ={"COMPOSE_PROJECT_NAME": "e2e-1"})
    assert s.project == "e2e-1"
    assert s.compose_env()["APP_IMAGE"] == "e2e-1-app"


@pytest.mark.parametrize("value", ["abc", "0", "70000", "5000.5"])
def test_a_bad_port_is_one_clear_error(project: Path, value: str) -> None:
    with pytest.raises(DevloopError, match=r"^APP_PORT must be"):
        settings.load(project, environ={"APP_PORT": value})


def test_compose_env_drops_a_ca_bundle_that_does_not_exist(project: Path, tmp_path: Path) -> None:
    assert "CA_BUNDLE" not in settings.load(project, environ={"CA_BUNDLE": str(tmp_path / "missing.pem")}).compose_env()
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    assert settings.load(project, environ={"CA_BUNDLE": str(bundle)}).compose_env()["CA_BUNDLE"] == str(bundle)


def test_root_user_gets_an_unprivileged_uid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings.os, "getuid", lambda: 0)
    assert settings.default_uid() == settings.UNPRIVILEGED_UID
    monkeypatch.setattr(settings.os, "getuid", lambda: 1000)
    assert settings.default_uid() == 1000


def test_compose_dir_name_is_normalised_like_compose(tmp_path: Path) -> None:
    assert settings.project_name(tmp_path / "My.Project_1") == "myproject_1"


def test_the_source_identity_follows_the_folder_not_its_name(project: Path) -> None:
    (project / "app" / "src").mkdir(parents=True)
    first = Compose(settings.load(project, environ={})).env["DEVLOOP_SOURCE_ID"]
    found = Compose(settings.load(project, environ={})).source()
    assert found == source.Source("app", project / "app" / "src", "/code", first)
    shutil.rmtree(project / "app" / "src")
    (project / "app" / "src").mkdir()  # the same inode number, often
    assert first and Compose(settings.load(project, environ={})).env["DEVLOOP_SOURCE_ID"] != first


def test_an_app_dir_without_requirements_or_src_is_one_clear_error(project: Path) -> None:
    (project / "mine/src").mkdir(parents=True)
    with pytest.raises(DevloopError, match=r"^APP_DIR=mine: .*mine has no requirements.txt \("):
        settings.require_app_dir(settings.load(project, environ={"APP_DIR": "mine"}))
    (project / "mine/requirements.txt").write_text("Django==5.2.20\n")
    settings.require_app_dir(settings.load(project, environ={"APP_DIR": "mine"}))
    with pytest.raises(DevloopError, match=r"no requirements\.txt and no src/"):
        settings.require_app_dir(settings.load(project, environ={"APP_DIR": "other"}))
