"""The foundation, for real: Compose v2, the base images, and pip through the CA build secret."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from devloop import compose, envfile, settings
from tests.support.dotenv_cases import TRICKY
from tests.support.engines import CONTAINER_VAR
from tests.support.harness import Project, copy_project
from tests.support.waiting import wait_until

PIP_THROUGH_CA = """\
ARG PYTHON_IMAGE
FROM ${PYTHON_IMAGE}
RUN --mount=type=secret,id=ca,required=false \\
    PIP_CERT=$( [ -s /run/secrets/ca ] && echo /run/secrets/ca ) pip install --no-cache-dir six==1.16.0 \\
 && python -c "import six"
"""


def test_compose_v2_is_at_least_2_22() -> None:
    assert compose.require_version(compose.Cli()) >= (2, 22, 0)


def test_doctor_finds_nothing_that_blocks_up(project: Project) -> None:
    done = project.invoke("doctor")
    assert "problem" not in done.stdout
    assert done.stdout.count("ok ") >= 6


def test_every_base_image_is_on_the_engine(project: Project) -> None:
    resolved = settings.load(project.root, environ={})
    for name in resolved.images.values():
        assert project.client.images.get(name).id


def test_python_image_pip_installs_through_the_ca_secret_without_keeping_it(project: Project, tmp_path: Path) -> None:
    resolved = settings.load(project.root, environ={})
    if not resolved.ca_bundle:
        pytest.fail("no CA bundle recorded: `invoke setup` should have found the host's")
    (tmp_path / "Dockerfile").write_text(PIP_THROUGH_CA)
    tag = f"e2e-pip-ca:{uuid.uuid4().hex[:8]}"
    build = subprocess.run(
        [
            "docker",
            "build",
            "--no-cache",
            "--progress=plain",
            "--secret",
            f"id=ca,src={resolved.ca_bundle}",
            "--build-arg",
            f"PYTHON_IMAGE={resolved.python_image}",
            "-t",
            tag,
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    try:
        assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
        image = project.client.images.get(tag)
        assert "BEGIN CERTIFICATE" not in str(image.history())
        leftover = project.client.containers.run(tag, ["sh", "-c", "ls /run/secrets 2>/dev/null | wc -l"], remove=True)
        assert leftover.decode().strip() == "0"
    finally:
        subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True, check=False)


def test_dotenv_lines_are_read_as_docker_compose_config_reads_them(tmp_path: Path) -> None:
    for n, (line, value) in enumerate(TRICKY):
        folder = tmp_path / f"case{n}"
        folder.mkdir()
        (folder / ".env").write_text(f"B=b\n{line}\n")
        (folder / "compose.yml").write_text("services:\n  s:\n    image: x\n    environment:\n      A: ${A}\n")
        done = subprocess.run(
            ["docker", "compose", "--project-directory", str(folder), "config", "--format", "json"],
            capture_output=True,
            text=True,
            check=True,
            stdin=subprocess.DEVNULL,
            env={"PATH": os.environ["PATH"]},
        )
        assert json.loads(done.stdout)["services"]["s"]["environment"]["A"] == value, line
        assert envfile.read(folder / ".env")["A"] == value, line


def test_the_database_is_mysql_and_the_apps_first_login_after_a_fresh_start_works(project: Project) -> None:
    """caching_sha2_password over TLS, with nothing (no health check) logging in before the app."""
    resolved = project.resolved_settings()
    network = project.client.networks.create(f"{project.name}-fresh", driver="bridge")
    env = {"MYSQL_ROOT_PASSWORD": "root-pw", "MYSQL_DATABASE": "blog", "MYSQL_USER": "blog", "MYSQL_PASSWORD": "app-pw"}
    db = project.client.containers.run(resolved.mysql_image, detach=True, environment=env, network=network.name, name=f"{project.name}-db")
    try:
        wait_until(lambda: "ready for connections" in db.logs().decode() and "port: 3306" in db.logs().decode(), 60, 0.2, "mysqld ready")
        first_login = (
            "from blog import create_app; from blog import db; app = create_app(); ctx = app.app_context(); ctx.push(); "
            "conn = db.get_db(); cur = conn.cursor(); cur.execute('SELECT VERSION()'); print(cur.fetchall()[0][0]); "
            "cur.execute(\"SHOW SESSION STATUS LIKE 'Ssl_version'\"); print(cur.fetchall()[0][1])"
        )
        app_image = f"{project.name}-app:dev"
        if not project.client.images.list(name=app_image):
            project.invoke("build")
        out = project.client.containers.run(
            app_image,
            ["python", "-c", first_login],
            environment={"MYSQL_HOST": f"{project.name}-db", "MYSQL_PASSWORD": "app-pw"},
            volumes={str(project.root / "app/src"): {"bind": "/code", "mode": "ro"}},
            network=network.name,
            remove=True,
        ).decode()
    finally:
        db.remove(force=True, v=True)
        network.remove()
    version, tls = out.split()[:2]
    assert "mariadb" not in version.lower() and version.split(".")[0].isdigit() and int(version.split(".")[0]) >= 8, out
    assert tls.startswith("TLS"), out


def test_doctor_says_whether_the_engine_sees_a_checkout(project: Project) -> None:
    """Outside the engine's view (here: outside the current engine's shared folder), `up` would sync instead."""
    elsewhere = copy_project(Path(tempfile.mkdtemp(prefix="devloop-unseen-", dir="/var/tmp")) / "blog")
    try:
        doctor = elsewhere.invoke("doctor", check=False).stdout
        if os.environ.get(CONTAINER_VAR):
            assert "ok       edits: the engine at tcp://" in doctor and "`invoke up` syncs it into the app" in doctor, doctor
        else:  # this machine's engine sees every folder of it
            assert "ok       edits: bind mount of app/src, which the engine sees" in doctor, doctor
        forced = elsewhere.invoke("doctor", check=False, env={"DEVLOOP_EDITS": "bind"}).stdout
        if os.environ.get(CONTAINER_VAR):
            assert "problem  edits: the engine at tcp://" in forced and "does not see this machine's" in forced, forced
    finally:
        shutil.rmtree(elsewhere.root.parent, ignore_errors=True)
