"""Faults a hostile but fair user finds: the tool never says "fine" while the loop is broken,
never shows a traceback, and never offers a way out that loses data.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import docker.errors
import pytest

from devloop import debugger, engine, modes
from tests.support import dap, http
from tests.support.engines import on_engine_host
from tests.support.harness import Project
from tests.support.waiting import wait_until

VIEWS = "app/src/blog/views.py"
HELLO_LINE = '    return jsonify({"response": "Hello from Docker!"})'


def test_bad_bodies_are_400_with_a_json_error_on_the_real_stack(up: Project) -> None:
    for raw in (b"[" * 5000 + b"]" * 5000, b'{"title": "\\ud800"}'):
        status, answer = up.http("POST", "/blogs", raw=raw)
        assert status == 400 and "error" in answer, (status, answer)
    assert up.get("/healthz")[0] == 200


def test_the_werkzeug_console_and_debugger_pages_never_pass_through_nginx(up: Project) -> None:
    assert up.get("/console")[0] == 200, "the console is on the app's own port (README, Security)"
    assert up.get("/api/console", service="WEB_PORT")[0] == 404
    assert up.get("/api/?__debugger__=yes&cmd=resource&f=debugger.js", service="WEB_PORT")[0] == 404
    up.edit(VIEWS, HELLO_LINE, '    raise RuntimeError("boom")')
    try:
        status, page = wait_until(lambda: (r := up.get("/", timeout=5))[0] == 500 and r, timeout=10, what="the debugger page")
        assert "__debugger__" in page
        status, answer = up.get("/api/", service="WEB_PORT")
        assert status == 500 and "invoke logs" in answer["error"]
        assert "__debugger__" not in str(answer) and "SECRET" not in str(answer)
    finally:
        up.edit(VIEWS, '    raise RuntimeError("boom")', HELLO_LINE)
    wait_until(lambda: up.get("/")[0] == 200, timeout=10, what="the fix served")


def test_a_thousand_concurrent_requests_through_nginx_get_no_500(up: Project) -> None:
    url = up.url("/api/", "WEB_PORT")
    with ThreadPoolExecutor(max_workers=1000) as pool:
        statuses = list(pool.map(lambda _: http.get(url, timeout=60)[0], range(1000)))
    assert set(statuses) <= {200, 503}, {s: statuses.count(s) for s in set(statuses)}
    assert statuses.count(200) > 0


def test_the_database_health_check_logs_nothing_when_it_passes(up: Project) -> None:
    wait_until(lambda: up.states()["db"].health == "healthy", timeout=60, what="db healthy")
    logs = up.compose("logs", "--no-color", "db")
    assert "Access denied" not in logs, [line for line in logs.splitlines() if "Access denied" in line][:3]


def test_status_into_a_pipe_that_closes_ends_quietly(up: Project) -> None:
    done = subprocess.run(
        ["sh", "-c", f'"{sys.executable}" -m invoke status | head -1'],
        cwd=up.root,
        env={**os.environ, **up.env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout.startswith("db ") and done.stdout.count("\n") == 1, done.stdout
    assert done.stderr == "", done.stderr


def debug_mode(project: Project) -> None:
    """Put the stack in debug mode unless it is."""
    states = project.states()
    if not states or states["app"].mode != modes.DEBUG.name or not all(st.ready for st in states.values()):
        project.invoke("debug")


def test_port_probes_do_not_wedge_the_debugger(project: Project) -> None:
    debug_mode(project)
    port = project.ports["DEBUG_PORT"]
    for _ in range(5):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    assert http.get(f"http://127.0.0.1:{port}/", timeout=5)[0] == 0
    assert debugger.handshake(port) == ""
    session = dap.Session(dap.resolve_launch(project.root), {})  # VS Code's attach (it answers startDebugging)
    try:
        assert session.root.request("threads")["threads"]
    finally:
        session.close()
    assert f"debugger  127.0.0.1:{port}  answers a DAP handshake" in project.invoke("status").stdout


def test_a_wedged_debugger_is_healed_by_the_gate_while_vscode_attaches(project: Project) -> None:
    debug_mode(project)
    before = project.app().container_id
    app = project.client.containers.get(before)
    # debugpy's adapter frozen (SIGSTOP): its port still accepts, into the backlog, and nothing answers, as when its
    # accept thread has ended (README, Debugging).
    freeze = (
        "import os, pathlib, signal\n"
        "for p in pathlib.Path('/proc').glob('[0-9]*'):\n"
        "    if p.name != str(os.getpid()) and b'debugpy/adapter' in (p / 'cmdline').read_bytes():\n"
        "        os.kill(int(p.name), signal.SIGSTOP); print('frozen')\n"
    )
    assert b"frozen" in app.exec_run(["python", "-c", freeze]).output
    session = dap.Session(dap.resolve_launch(project.root), {})  # VS Code's attach, through the published port
    try:
        assert session.root.request("threads")["threads"]
    finally:
        session.close()
    assert project.app().container_id == before, "the container was replaced: the gate heals in place"
    assert "debugger gate: debugpy stopped answering" in project.compose("logs", "--no-color", "app")
    assert f"debugger  127.0.0.1:{project.ports['DEBUG_PORT']}  answers a DAP handshake" in project.invoke("status").stdout


def test_other_containers_get_a_connection_closed_without_a_byte_and_debugpy_never_sees_them(project: Project) -> None:
    debug_mode(project)
    network = f"{project.name}_default"
    probe = """
import json, socket
s = socket.create_connection(("app", 5678), timeout=5)
print("connected from", s.getsockname()[0])
body = json.dumps({"seq": 1, "type": "request", "command": "initialize", "arguments": {"adapterID": "debugpy"}}).encode()
try:
    s.sendall(b"Content-Length: %d\\r\\n\\r\\n" % len(body) + body)
    s.settimeout(5)
    print("answer:", s.recv(100))
except OSError as exc:
    print("reset:", exc)
"""
    out = project.client.containers.run(
        project.resolved_settings().python_image, ["python", "-c", probe], network=network, remove=True, stderr=True
    ).decode()
    # As README's Security table says: the TCP connection opens, and the gate closes it without a byte.
    assert "connected from" in out and ("answer: b''" in out or "reset: [Errno 104]" in out), out
    peer = out.split("connected from ", 1)[1].split()[0]
    assert f"debugger gate: refused {peer} (only this machine's published port may attach" in project.compose("logs", "--no-color", "app")
    assert debugger.handshake(project.ports["DEBUG_PORT"]) == ""


def test_a_dead_port_forwarder_is_reported_and_up_repairs_it_keeping_the_data(up: Project) -> None:
    up.http("POST", "/blogs", {"title": "Kept across the repair"})
    port = up.ports["APP_PORT"]
    killed = on_engine_host(["pkill", "-f", f"docker-proxy .*-host-port {port} "])
    assert killed.returncode == 0, killed.stderr
    wait_until(lambda: up.get("/", timeout=2)[0] == 0, timeout=10, what="the forwarder gone")
    status = up.invoke("status").stdout
    assert f"127.0.0.1:{port} DOES NOT ANSWER" in status and f"http://127.0.0.1:{port}" not in status, status
    done = up.invoke("up")
    assert "does not answer from this machine" in done.stdout and "recreating it" in done.stdout
    assert f"http://127.0.0.1:{port}" in done.stdout
    assert "Kept across the repair" in up.get("/blogs")[1]["response"]


def test_a_recreated_source_directory_is_said_plainly_and_reload_and_up_recreate_the_app(up: Project) -> None:
    source = up.root / "app/src"
    backup = up.root / "src-backup"

    def replace_source() -> None:
        shutil.copytree(source, backup, ignore=shutil.ignore_patterns(".devloop-source"))  # as git would: it is ignored
        shutil.rmtree(source)
        backup.rename(source)  # `rm -rf app/src && git checkout -- app/src`

    replace_source()
    _, body = wait_until(lambda: (r := up.get("/", timeout=5))[0] == 503 and r, timeout=10, what="503 saying why")
    assert "deleted or replaced on the host" in body and "invoke reload" in body
    before = up.app().container_id
    done = up.invoke("up")
    assert "app: its source folder was deleted and made again on the host; recreating app" in done.stdout, done.stdout
    assert up.app().container_id != before
    assert up.get("/") == (200, {"response": "Hello from Docker!"})
    replace_source()
    done = up.invoke("reload")
    assert "app: its source folder was deleted and made again on the host -> recreate" in done.stdout, done.stdout
    assert up.get("/") == (200, {"response": "Hello from Docker!"})
    up.edit(VIEWS, '"Hello from Docker!"', '"Hello, after the checkout!"')
    wait_until(lambda: up.get("/")[1] == {"response": "Hello, after the checkout!"}, timeout=10, what="edits served again")
    up.edit(VIEWS, '"Hello, after the checkout!"', '"Hello from Docker!"')


def test_two_ups_at_once_take_turns_and_leave_one_network(down: Project) -> None:
    env = {**os.environ, **down.env}
    first = subprocess.Popen([sys.executable, "-m", "invoke", "up"], cwd=down.root, env=env, stdout=subprocess.PIPE, text=True)
    second = down.invoke("up")
    first_out = first.communicate(timeout=300)[0]
    assert first.returncode == 0
    assert "waiting: `invoke up` (pid" in first_out + second.stdout, first_out + second.stdout
    networks = [n for n in down.client.networks.list(names=[f"{down.name}_default"]) if n.name == f"{down.name}_default"]
    assert len(networks) == 1


def test_a_duplicated_network_is_refused_by_the_engine_or_repaired_by_up(up: Project) -> None:
    name = f"{up.name}_default"
    labels = {"com.docker.compose.project": up.name, "com.docker.compose.network": "default"}
    if engine.api_version(up.client) >= (1, 44):
        # Engine 25 made network names unique: the fault cannot arise there, and stays repaired.
        with pytest.raises(docker.errors.APIError, match="already exists"):
            up.client.networks.create(name, driver="bridge", labels=labels, check_duplicate=False)
        assert "existed" not in up.invoke("up").stdout
        return
    up.client.networks.create(name, driver="bridge", labels=labels, check_duplicate=False)
    done = up.invoke("up")
    assert f"network {name} existed 2 times" in done.stdout, done.stdout
    assert len([n for n in up.client.networks.list(names=[name]) if n.name == name]) == 1


def test_when_compose_fails_its_own_error_line_is_shown(down: Project) -> None:
    network = down.client.networks.create(f"{down.name}_default", driver="bridge")  # not Compose's: no labels
    try:
        done = down.invoke("up", check=False)
    finally:
        down.compose("down", "--remove-orphans")
        network.remove()
    line = one_line_error(done)
    assert "incorrect label" in line and f"{down.name}_default" in line, line


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """Assert a task failed with exactly one line on stderr and no traceback; return it."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0 and "Traceback" not in done.stderr and len(lines) == 1, done.stderr
    return lines[0]


def test_lost_password_files_never_lock_out_the_data_and_rekey_recovers_every_row(up: Project) -> None:
    up.http("POST", "/blogs", {"title": "Before the loss"})
    secrets = up.root / "db/secrets"
    shutil.rmtree(secrets)  # `git clean -fdX`
    up.invoke("down")
    line = one_line_error(up.invoke("up", check=False))
    assert "db/secrets/ lacks" in line and "database volume" in line and "invoke rekey" in line, line
    assert not up.states(), "nothing may start on generated passwords"
    doctor = up.invoke("doctor", check=False)
    assert doctor.returncode != 0 and "problem  db-passwords" in doctor.stdout and "invoke rekey" in doctor.stdout
    up.invoke("rekey")
    up.invoke("up")
    assert "Before the loss" in up.get("/blogs")[1]["response"]


def test_password_files_that_do_not_match_are_named_by_up_and_doctor(up: Project) -> None:
    up.http("POST", "/blogs", {"title": "Before the change"})
    password = up.root / "db/secrets/password.txt"
    password.write_text("not-the-password-the-database-has")
    up.invoke("down")
    done = up.invoke("up", check=False)
    line = one_line_error(done)
    assert "the password files do not match the database volume" in line and "invoke rekey" in line, line
    assert "its last health check answered" in done.stdout and "Access denied" in done.stdout
    doctor = up.invoke("doctor", check=False)
    assert "problem  db-passwords: the password files do not match the database volume" in doctor.stdout, doctor.stdout
    up.invoke("rekey")
    assert "Before the change" in up.get("/blogs")[1]["response"]
