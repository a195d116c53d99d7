"""An engine reached over ssh:// (the remote engine of tests/support/engines.py): the connections
devloop/ssh.py owns, what happens when they drop, and its errors. Left out on the other engines.
"""

from __future__ import annotations

import json
import os
import re
import signal

import pytest

from devloop import places, reach, ssh, state
from devloop.edits import sync
from devloop.places.over_ssh import Forwards
from tests.support.engines import OUTER_VAR, on_engine_host
from tests.support.harness import Project
from tests.support.net import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.remote_only

VIEWS = "app/src/blog/views.py"
HELLO = '"Hello from Docker!"'


def forwards(project: Project) -> Forwards:
    """The project's port forwards, as its tasks see them."""
    return Forwards(places.endpoint(), project.root / state.STATE_DIR, project.name)


def one_line_error(project: Project, *args: str, env: dict[str, str]) -> str:
    """Run a task that must fail; return its only stderr line."""
    done = project.invoke(*args, check=False, env=env)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_ports_answer_here_through_forwards_that_up_repairs_and_down_stops(up: Project) -> None:
    project = up
    ports = sorted(project.ports[var] for var in ("APP_PORT", "WEB_PORT"))
    assert forwards(project).current() == ports
    pid = forwards(project).process.read()["pid"]
    os.kill(pid, signal.SIGTERM)  # as a laptop that slept would lose them
    wait_until(lambda: not forwards(project).current(), timeout=10, what="the forwarder gone")
    assert "no HTTP answer" in project.invoke("status").stdout
    project.invoke("up")
    assert forwards(project).current() == ports
    assert project.get("/") == (200, {"response": "Hello from Docker!"})
    project.invoke("down")
    assert forwards(project).current() == [] and all(reach.port_free(p) for p in ports)
    project.invoke("up")
    assert project.get("/") == (200, {"response": "Hello from Docker!"})


def test_a_dropped_engine_connection_is_made_again_and_the_sync_catches_up(up: Project) -> None:
    project = up
    tunnel = ssh.runtime_dir() / f"{ssh._key(places.endpoint())}.json"
    os.kill(json.loads(tunnel.read_text())["pid"], signal.SIGKILL)
    project.edit(VIEWS, HELLO, '"Hello after a drop!"')
    try:
        wait_until(lambda: project.get("/", timeout=5)[1] == {"response": "Hello after a drop!"}, 30, 0.1, "the edit served")
        wait_until(lambda: sync.process(project.root, project.name).read().get("state") == sync.IN_SYNC, 10, what="in sync")
        assert "sync of app/src through the Engine API: in sync" in project.invoke("status").stdout
    finally:
        project.edit(VIEWS, '"Hello after a drop!"', HELLO)
    wait_until(lambda: project.get("/", timeout=5)[1] == {"response": "Hello from Docker!"}, 30, 0.1, "the original served")


def test_config_files_and_secrets_reach_their_containers_as_they_are_on_disk(up: Project) -> None:
    project = up
    (project.root / "web/html/prices.txt").write_text("costs $5 and ${NOT_A_VARIABLE}\n")
    try:
        project.invoke("up")  # the new file changes the web service's carried label: Compose recreates it
        expected = {
            ("web", "/usr/share/nginx/html/prices.txt"): "web/html/prices.txt",
            ("web", "/etc/nginx/conf.d/default.conf"): "web/nginx.conf",
            ("db", "/docker-entrypoint-initdb.d/01-schema.sql"): "db/init/01-schema.sql",
            ("db", "/run/secrets/db-password"): "db/secrets/password.txt",
            ("app", "/run/secrets/db-password"): "db/secrets/password.txt",
        }
        for (service, path), local in expected.items():
            container = project.client.containers.get(project.states()[service].container_id)
            assert container.exec_run(["cat", path], user="0").output.decode() == (project.root / local).read_text(), path
        assert project.get("/prices.txt", service="WEB_PORT")[1] == "costs $5 and ${NOT_A_VARIABLE}\n"
    finally:
        (project.root / "web/html/prices.txt").unlink()


SSH_GONE = "Connection (refused|reset by peer|closed by remote host)"  # ssh's words, as the engine's port answers
SSHD = ["/usr/sbin/sshd", "-o", "PasswordAuthentication=no", "-o", "PermitRootLogin=prohibit-password"]  # as entrypoint.sh


def test_an_engine_gone_mid_session_is_one_line_the_sync_says_it_stalled_and_up_recovers(up: Project) -> None:
    project = up
    where = places.endpoint()
    assert on_engine_host(["pkill", "sshd"]).returncode == 0  # the listener and every session (sshd-session): the machine is gone
    try:
        # ssh's own words: here the engine container's published port resets the connection.
        status = one_line_error(project, "status", env={})
        assert re.match(rf"error: ssh to {re.escape(where)} failed: .*{SSH_GONE}$", status), status
        wait_until(lambda: sync.process(project.root, project.name).read().get("state", "").startswith("reconnecting: "), 30, 0.2, "stall")
        doctor = project.invoke("doctor", check=False).stdout
        assert re.search(rf"problem  engine: .*{SSH_GONE}", doctor), doctor
    finally:
        assert on_engine_host(SSHD).returncode == 0
    # Back: the sync reconnects by itself, and `up` makes the ports answer again.
    wait_until(lambda: sync.process(project.root, project.name).read().get("state") == sync.IN_SYNC, 30, 0.2, "in sync again")
    done = project.invoke("up")
    assert "edits     sync of app/src through the Engine API: in sync" in done.stdout, done.stdout
    assert project.get("/") == (200, {"response": "Hello from Docker!"})


def test_ssh_failures_are_one_line_with_ssh_s_own_words(project: Project) -> None:
    closed = places.endpoint().rsplit(":", 1)[0] + f":{free_port()}"  # nothing listens there
    refused = one_line_error(project, "status", env={"DOCKER_HOST": closed})
    assert refused.startswith(f"error: ssh to {closed} failed: ") and "Connection refused" in refused, refused
    # The system's ssh, without the test's known_hosts (engines.py put its ssh first on PATH), and a
    # name of the engine that no open connection serves yet: the host key is unknown.
    elsewhere = places.endpoint().replace("@127.0.0.1:", "@localhost:")
    plain = {"DOCKER_HOST": elsewhere, "PATH": os.environ["PATH"].split(os.pathsep, 1)[1]}
    unknown = one_line_error(project, "status", env=plain)
    assert "Host key verification failed" in unknown and "connect once with `ssh -p" in unknown, unknown
    bad = one_line_error(project, "status", env={"DOCKER_HOST": "ssh://"})
    assert "is not an address Docker reads" in bad, bad


def test_the_same_checkout_on_this_machines_engine_uses_the_bind_mount(project: Project) -> None:
    here = project.invoke("doctor", env={"DOCKER_HOST": os.environ[OUTER_VAR]}).stdout
    assert "ok       edits: bind mount of app/src, which the engine sees" in here, here
