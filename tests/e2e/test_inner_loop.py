"""The product's promises, proven on a real engine.

The cases share one project copy; each asks for the state it needs (`up`, `down`,
`debugging`) through fixtures, so any one of them can run alone or in any order.
"""

from __future__ import annotations

import datetime
import json
import re
import secrets
import shlex
import urllib.request
from typing import Any

import pytest

from devloop import engine, labels, places, ssh
from tests.support.engines import occupied
from tests.support.harness import Project
from tests.support.net import free_port
from tests.support.waiting import wait_until

VIEWS = "app/src/blog/views.py"
HELLO = '"Hello from Docker!"'


def served(project: Project, text: str) -> bool:
    """Whether GET / answers with that text now."""
    status, body = project.get("/", timeout=5)
    return status == 200 and isinstance(body, dict) and body.get("response") == text


def identity(project: Project) -> tuple[str, str, str]:
    """The app container's id, start time and image."""
    app = project.app()
    return app.container_id, app.started_at, app.image_id


@pytest.mark.remote
def test_up_starts_a_healthy_stack_that_keeps_every_http_contract(down: Project) -> None:
    project = down
    done = project.invoke("up")
    assert f"http://127.0.0.1:{project.ports['APP_PORT']}" in done.stdout
    assert all(state.ready for state in project.states().values())
    # While starting, health is checked every 250 ms where the engine allows it (Engine 25, API 1.44).
    fast = engine.api_version(project.client) >= (1, 44)
    for state in project.states().values():
        check = project.client.containers.get(state.container_id).attrs["Config"]["Healthcheck"]
        assert check.get("StartInterval", 0) == (250_000_000 if fast else 0), (state.service, check)
    before = identity(project)
    again = project.invoke("up")
    assert "nothing to start" in again.stdout and f"http://127.0.0.1:{project.ports['APP_PORT']}" in again.stdout
    assert identity(project) == before
    assert project.get("/") == (200, {"response": "Hello from Docker!"})
    status, body = project.get("/blogs")
    assert status == 200 and "Blog post #1" in body["response"]
    assert project.http("POST", "/blogs", {"title": "From the e2e suite"}) == (201, {"response": "From the e2e suite"})
    assert "From the e2e suite" in project.get("/blogs")[1]["response"]
    assert project.get("/api/blogs", service="WEB_PORT") == project.get("/blogs")
    status, page = project.get("/", service="WEB_PORT")
    assert status == 200 and "GET" in page
    for body, message in ((None, "JSON object"), ({"title": ""}, "empty"), ({"title": 7}, "string"), ({"title": "x" * 256}, "255")):
        status, answer = project.http("POST", "/blogs", body, raw=b"not json" if body is None else None)
        assert status == 400 and message in answer["error"]


def engine_time(stamp: str) -> datetime.datetime:
    """An engine's RFC 3339 timestamp (nanoseconds, trailing zeros trimmed) as a datetime."""
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    return datetime.datetime.fromisoformat(f"{whole}.{(fraction + '000000')[:6]}")


def test_up_starts_the_database_while_the_app_image_builds(down: Project) -> None:
    project = down
    step = "FROM base AS dev"
    slow = f"{step}\nRUN sleep 5 && echo {secrets.token_hex(4)}  # e2e: a slow build, never in the build cache"
    project.edit("app/Dockerfile", step, slow)
    try:
        done = project.invoke("up")
        db_started = engine_time(project.states()["db"].started_at)
        app_built = engine_time(project.client.images.get(project.app().image_id).attrs["Created"])
    finally:
        project.edit("app/Dockerfile", slow, step)
        project.invoke("up")  # back to the committed Dockerfile (from the build cache), as the other cases expect
    assert "building app (" in done.stdout and "starting db while app builds" in done.stdout
    assert db_started < app_built, (db_started, app_built)


@pytest.mark.remote
def test_hot_reload_serves_three_edits_in_the_same_container_without_a_rebuild(up: Project) -> None:
    project = up
    before = identity(project)
    previous = HELLO
    for n in range(1, 4):
        new = f'"Hello, edit {n}!"'
        project.edit(VIEWS, previous, new)
        wait_until(lambda n=n: served(project, f"Hello, edit {n}!"), timeout=10, what=f"edit {n} served")
        previous = new
    assert identity(project) == before
    project.edit(VIEWS, previous, HELLO)
    wait_until(lambda: served(project, "Hello from Docker!"), timeout=10, what="original text served")


@pytest.mark.remote
def test_doctor_times_a_save_reaching_the_dev_server_without_a_reload(up: Project) -> None:
    project = up
    # On an ssh:// engine, which cannot see this machine's files, the sync carries the save.
    path, status = (
        ("sync of app/src through the Engine API, in sync", "sync of app/src through the Engine API: in sync")
        if ssh.is_ssh(places.endpoint())
        else ("bind mount of app/src, which the engine sees", "bind mount of app/src, which the engine sees (checked by `invoke up`")
    )
    reloads = project.compose("logs", "--no-color", "app").count("reloading for")
    line = next(line for line in project.invoke("doctor").stdout.splitlines() if " edits: " in line)
    pattern = rf"ok +edits: a save under app/src reached the dev server in \d+ ms \({re.escape(path)}; inotify\); "
    pattern += r"/code is on \w+, a local filesystem: every save raises an event$"
    assert re.match(pattern, line), line
    assert project.compose("logs", "--no-color", "app").count("reloading for") == reloads
    assert not (project.root / "app/src/.devloop-probe").exists()
    assert f"edits     {status}" in project.invoke("status").stdout
    app = project.client.containers.get(project.app().container_id)
    app.exec_run(["rm", "/tmp/devloop-probe-seen"])  # as a dev server from before the probe: it never wrote it
    try:
        line = next(line for line in project.invoke("doctor").stdout.splitlines() if " edits: " in line)
        assert line.startswith(f"ok       edits: {path}; a save was not timed: the app's dev"), line
    finally:
        app.exec_run(["sh", "-c", "echo - watching > /tmp/devloop-probe-seen"])


@pytest.mark.remote
def test_a_saved_syntax_error_keeps_the_container_up_and_the_fix_is_served(up: Project) -> None:
    project = up
    before = identity(project)
    project.edit(VIEWS, "def hello() -> Response:", "def hello( -> Response:")
    status = wait_until(lambda: project.get("/", timeout=5)[0] == 500, timeout=10, what="the error page")
    assert status
    assert project.app().status == "running"
    project.edit(VIEWS, "def hello( -> Response:", "def hello() -> Response:")
    project.edit(VIEWS, HELLO, '"Hello, fixed!"')
    wait_until(lambda: served(project, "Hello, fixed!"), timeout=10, what="the fix served")
    assert identity(project) == before
    project.edit(VIEWS, '"Hello, fixed!"', HELLO)
    wait_until(lambda: served(project, "Hello from Docker!"), timeout=10, what="original text served")


def stock_command(project: Project) -> list[str]:
    """The command README says runs the stock Flask server instead of ours."""
    found = re.search(r"set the app's `command:` to\s+`([^`]+)`", (project.root / "README.md").read_text())
    assert found, "README no longer says which command runs the stock server"
    return shlex.split(found[1])


def logs_of_app(project: Project) -> str:
    """What the app's current container printed."""
    return project.compose("logs", "--no-color", "app")


def test_the_stock_flask_server_is_one_command_away_as_the_readme_says(up: Project) -> None:
    project = up
    plain, stock = "  app:\n    build:\n", f"  app:\n    command: {json.dumps(stock_command(project))}\n    build:\n"
    project.edit("docker-compose.yml", plain, stock)
    try:
        project.invoke("up")
        assert served(project, "Hello from Docker!")
        assert "Debug mode: on" in logs_of_app(project), "not Flask's own server"
    finally:
        project.edit("docker-compose.yml", stock, plain)
        project.invoke("up")
    assert "devserver: serving" in logs_of_app(project)


def test_up_recreates_an_app_started_by_hand_with_other_compose_files(up: Project) -> None:
    project = up
    (project.root / "stock.yml").write_text(f"services:\n  app:\n    command: {json.dumps(stock_command(project))}\n")
    project.compose("up", "--detach", "--wait", "--no-deps", "app", files=["stock.yml"])
    assert "Debug mode: on" in logs_of_app(project)
    said = project.invoke("up").stdout
    recreated = "app: its container was created from another configuration than this project's (Compose's config hash differs)"
    assert f"{recreated}; recreating it" in said
    assert "nothing to start" not in said
    assert "devserver: serving" in logs_of_app(project)


def test_only_loopback_ports_no_published_db_no_root_app_no_password_in_sight(up: Project) -> None:
    project = up
    states = project.states()
    assert all(b.host_ip == "127.0.0.1" for st in states.values() for b in st.bindings)
    assert states["db"].bindings == []
    app = project.client.containers.get(states["app"].container_id)
    assert all(row[0] != "root" and row[0] != "0" for row in app.top(ps_args="-o user,pid,args")["Processes"])
    assert app.exec_run(["id", "-u"]).output.decode().strip() != "0"
    passwords = [(project.root / "db/secrets" / name).read_text().strip() for name in ("password.txt", "root-password.txt")]
    for st in states.values():
        container = project.client.containers.get(st.container_id)
        env = "\n".join(container.attrs["Config"]["Env"] or [])
        history = json.dumps(project.client.images.get(st.image_id).history())
        for secret in passwords:
            assert secret not in env and secret not in history
        assert "PASSWORD=" not in env.replace("PASSWORD_FILE=", "")


def test_reload_restarts_for_a_source_edit_and_rebuilds_for_a_requirements_edit(up: Project) -> None:
    project = up
    image = project.app().image_id
    project.edit(VIEWS, HELLO, '"Hello, reloaded!"')
    done = project.invoke("reload")
    assert "source changed -> restart" in done.stdout
    assert project.app().image_id == image
    assert served(project, "Hello, reloaded!")
    project.edit(VIEWS, '"Hello, reloaded!"', HELLO)
    project.edit("app/requirements.txt", "Flask==", "# e2e: a requirements edit\nFlask==")
    done = project.invoke("reload")
    assert "rebuild" in done.stdout
    assert project.app().image_id != image
    assert served(project, "Hello from Docker!")
    assert "nothing changed" in project.invoke("reload").stdout


def test_the_app_answers_503_while_the_database_is_down_and_recovers_by_itself(up: Project) -> None:
    project = up
    project.compose("stop", "db")
    try:
        for path in ("/blogs", "/healthz"):
            status, body = project.get(path, timeout=15)
            assert status == 503 and "database unavailable" in body["error"]
        assert project.get("/") == (200, {"response": "Hello from Docker!"})
        assert project.app().status == "running"
    finally:
        project.compose("start", "db")
    wait_until(lambda: project.get("/blogs", timeout=5)[0] == 200, timeout=90, interval=0.5, what="/blogs answering again")


@pytest.mark.remote
def test_data_survives_down_and_up_and_only_down_volumes_yes_deletes_it(up: Project) -> None:
    project = up
    project.http("POST", "/blogs", {"title": "Keep me"})
    project.invoke("down")
    assert project.states() == {}
    project.invoke("up")
    assert "Keep me" in project.get("/blogs")[1]["response"]
    refused = project.invoke("down", "--volumes", check=False)
    assert refused.returncode != 0 and "--yes" in refused.stderr
    assert project.app().status == "running"
    project.invoke("down", "--volumes", "--yes")
    assert not project.client.volumes.list(filters={"label": f"{labels.PROJECT}={project.name}"})
    project.invoke("up")
    assert "Keep me" not in project.get("/blogs")[1]["response"]


def test_a_broken_app_makes_up_fail_with_its_logs_and_say_what_is_left_running(down: Project) -> None:
    project = down
    project.edit("app/src/blog/__init__.py", "from . import db, views", "from . import db, views, missing_module")
    try:
        done = project.invoke("up", check=False)
    finally:
        project.edit("app/src/blog/__init__.py", "from . import db, views, missing_module", "from . import db, views")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "--- last log lines of app ---" in done.stdout and "missing_module" in done.stdout
    assert "start failed: app is unhealthy; " in done.stderr and "left running: app, db" in done.stderr


def one_line_error(done: Any) -> str:
    """Assert a task failed with exactly one line on stderr and no traceback; return it."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and len(lines) == 1, done.stderr
    return lines[0]


def test_a_taken_port_is_one_clear_error_and_leaves_nothing_running(down: Project) -> None:
    project = down
    with occupied(project.ports["WEB_PORT"]):  # by another program, where the engine publishes
        done = project.invoke("up", check=False)
    line = one_line_error(done)
    assert f"port {project.ports['WEB_PORT']}" in line and "WEB_PORT" in line
    assert not [st for st in project.states().values() if st.status == "running"]


def test_an_unreachable_engine_is_one_clear_error(project: Project) -> None:
    env = {"DOCKER_HOST": "unix:///nonexistent.sock"}
    for task in ("up", "doctor"):
        done = project.invoke(task, check=False, env=env)
        if task == "up":
            assert "no Docker engine answers at unix:///nonexistent.sock" in one_line_error(done)
        else:
            assert done.returncode != 0 and "Traceback" not in done.stderr
            assert "problem  engine: no Docker engine answers" in done.stdout


def test_prod_target_builds_and_serves_with_gunicorn(project: Project) -> None:
    project.invoke("build", "--target", "prod")
    image = f"{project.name}-app:prod"
    port = free_port()
    container = project.client.containers.run(
        image, detach=True, ports={"5000/tcp": ("127.0.0.1", port)}, environment={"MYSQL_HOST": "nowhere"}
    )
    try:

        def hello() -> Any:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    return json.loads(response.read())
            except OSError:
                return None

        assert wait_until(hello, timeout=30, interval=0.3, what="gunicorn serving /") == {"response": "Hello from Docker!"}
        assert "gunicorn" in container.logs().decode()
    finally:
        container.remove(force=True)
