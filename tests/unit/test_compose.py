"""The Compose CLI wrapper: command lines, versions and one-line errors."""

import json
from pathlib import Path

import pytest

from devloop import compose, settings
from devloop.commands import Result
from devloop.errors import DevloopError

from .conftest import FakeCli


def test_argv_names_project_directory_and_files(project: Path) -> None:
    s = settings.load(project, environ={})
    argv = compose.Compose(s, ["docker-compose.yml", "compose/debug.yml"]).argv("up", "-d")
    assert argv[:6] == ["docker", "compose", "--project-directory", str(project), "-p", "myproj"]
    assert argv[6:] == ["-f", str(project / "docker-compose.yml"), "-f", str(project / "compose/debug.yml"), "up", "-d"]


@pytest.mark.parametrize(
    ("output", "version"),
    [("2.26.1-4\n", (2, 26, 1)), ("v2.29.7-desktop.1", (2, 29, 7)), ("garbage", None)],
)
def test_parse_version(output: str, version: tuple[int, int, int] | None) -> None:
    assert compose.parse_version(output) == version


def test_missing_compose_is_a_clear_error() -> None:
    cli = FakeCli({("docker", "compose", "version"): Result(1, "", "docker: 'compose' is not a docker command.")})
    with pytest.raises(DevloopError, match=r"Compose v2 is not installed \(need >= 2.22.0\)"):
        compose.require_version(cli)


def test_old_compose_is_a_clear_error() -> None:
    cli = FakeCli({("docker", "compose", "version"): Result(0, "2.20.3\n")})
    with pytest.raises(DevloopError, match=r"2.20.3 is older than 2.22.0"):
        compose.require_version(cli)


def test_error_line_picks_the_line_that_says_what_failed() -> None:
    output = "#7 [app 2/3] RUN pip install nope\n#7 ERROR: process did not complete\n\x1b[0mdone\n"
    assert compose.error_line(output) == "#7 ERROR: process did not complete"
    assert compose.error_line("") == "no output"


def test_invalid_compose_file_reports_composes_own_message(project: Path) -> None:
    message = "validating docker-compose.yml: services.app Additional property foo is not allowed"
    cli = FakeCli({("docker", "compose"): Result(15, "", message)})
    with pytest.raises(DevloopError, match="Additional property foo is not allowed"):
        compose.Compose(settings.load(project, environ={}), cli=cli).model()


def test_unknown_service_lists_the_valid_names(project: Path) -> None:
    model = {"services": {"web": {"depends_on": {"app": {}}}, "app": {"depends_on": {"db": {}}}, "db": {}}}
    cli = FakeCli({("docker", "compose"): Result(0, json.dumps(model))})
    c = compose.Compose(settings.load(project, environ={}), cli=cli)
    assert c.services() == ["db", "app", "web"]
    with pytest.raises(DevloopError, match=r"^unknown service api: choose from db, app, web$"):
        c.require_services(["api"])


def test_what_can_start_while_the_app_builds_is_what_needs_nothing_of_it(project: Path) -> None:
    model = {"services": {"db": {}, "app": {"depends_on": {"db": {}}}, "web": {"depends_on": {"app": {}}}, "cache": {}}}
    runner = compose.Compose(settings.load(project, environ={}), cli=FakeCli({("docker", "compose"): Result(0, json.dumps(model))}))
    assert runner.startable_without({"app"}) == ["db", "cache"]
    assert runner.startable_without({"db"}) == ["cache"]
