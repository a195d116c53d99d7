"""An engine that does not see this machine's files: the ssh:// address, ssh's errors, the overlay
that carries config files and secrets (checked by the real `docker compose config`), and what the
sync sends. tests/e2e/test_remote.py and test_sync.py prove the same paths on a real ssh:// engine.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from devloop import carry, fingerprints, healing, labels, modes, processes, reach, source, ssh, syncer
from devloop.engine import Binding
from devloop.errors import DevloopError
from devloop.places.over_tcp import OverTcp
from tests.support.harness import ROOT, checkout_files


@pytest.mark.parametrize(
    ("url", "argv"),
    [
        ("ssh://me@bigbox", ["-l", "me", "--", "bigbox"]),
        ("ssh://me@bigbox:2222", ["-p", "2222", "-l", "me", "--", "bigbox"]),
        ("ssh://bigbox", ["--", "bigbox"]),
    ],
)
def test_an_ssh_address_becomes_ssh_arguments(url: str, argv: list[str]) -> None:
    assert ssh.Target.parse(url).argv() == argv


@pytest.mark.parametrize("url", ["ssh://", "ssh://me@bigbox:port", "ssh://bigbox/some/path", "tcp://bigbox:2375"])
def test_a_bad_ssh_address_is_one_line(url: str) -> None:
    with pytest.raises(DevloopError, match=r"is not an address Docker reads \(ssh://\[user@\]host\[:port\]\)"):
        ssh.Target.parse(url)


def test_ssh_failures_keep_ssh_s_own_last_line_and_say_how_to_accept_a_host_key() -> None:
    target = ssh.Target.parse("ssh://me@bigbox:2222")
    refused = ssh.failure(target, "ssh: connect to host bigbox port 2222: Connection refused\n")
    assert str(refused) == "ssh to ssh://me@bigbox:2222 failed: ssh: connect to host bigbox port 2222: Connection refused"
    said = "No ED25519 host key is known for [bigbox]:2222 and you have requested strict checking.\nHost key verification failed.\n"
    unknown = ssh.failure(target, said)
    assert str(unknown).startswith("ssh to ssh://me@bigbox:2222 failed: Host key verification failed. (connect once")
    assert str(unknown).endswith("(connect once with `ssh -p 2222 me@bigbox` to check and accept its host key)")
    denied = ssh.failure(target, "me@bigbox: Permission denied (publickey).\n")
    assert str(denied).endswith(
        "(publickey). (this ssh cannot prompt: load your key into the agent (`ssh-add`), and check that `ssh -p 2222 me@bigbox` logs in)"
    )
    assert "ssh to ssh://me@bigbox:2222 failed: " in str(ssh.failure(target, ""))


class TcpStack:
    """What repair_ports needs of a stack on a tcp:// engine whose ports never answer from here."""

    place = OverTcp("tcp://bigbox:2375")
    settings = None
    mode = modes.NORMAL
    recreated: list[str]

    def out(self, line: str) -> None:
        pass

    def recreate(self, services: list[str]) -> None:
        self.recreated = services

    def states(self) -> dict:
        return {}


def test_on_a_tcp_engine_ports_that_never_answer_here_say_to_use_ssh(monkeypatch: pytest.MonkeyPatch) -> None:
    dead = reach.Reach("app", Binding("127.0.0.1", 5000, 5000), "http", "no HTTP answer (connection refused)")
    monkeypatch.setattr(reach, "check", lambda states, settings: ([dead], {}))
    stack = TcpStack()
    with pytest.raises(DevloopError) as raised:
        healing.repair_ports(stack, [dead], {})  # type: ignore[arg-type]
    assert stack.recreated == ["app"]
    assert str(raised.value).startswith("app: 127.0.0.1:5000 does not answer from this machine: the engine at tcp://bigbox:2375 publishes")
    assert "DOCKER_HOST=ssh://user@host" in str(raised.value)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of what a clone holds, with password files as `invoke setup` makes them."""
    root = tmp_path / "blog"
    for name in checkout_files(ROOT):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, root / name)
    (root / "db/secrets").mkdir(parents=True, exist_ok=True)
    (root / "db/secrets/password.txt").write_text("pa$$word\n")
    (root / "db/secrets/root-password.txt").write_text("r00t\n")
    return root


def resolved(root: Path, *files: str, env: dict[str, str] | None = None) -> dict:
    """The model the real `docker compose config` makes of these files (no engine needed)."""
    argv = ["docker", "compose", "--project-directory", str(root), "-p", "blog"]
    for name in files:
        argv += ["-f", str(root / name)]
    done = subprocess.run([*argv, "config", "--format", "json"], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_overlay_carries_every_project_file_and_secret_and_leaves_the_source_to_the_sync(checkout: Path) -> None:
    (checkout / "web/html/prices.txt").write_text("costs $5 and ${NOT_A_VARIABLE}\n")
    model = resolved(checkout, "docker-compose.yml")
    path, env = carry.write(model, checkout, "blog", checkout / "app/src")
    assert env == {"DEVLOOP_SECRET_DB_PASSWORD": "pa$$word\n", "DEVLOOP_SECRET_DB_ROOT_PASSWORD": "r00t\n"}
    merged = resolved(checkout, "docker-compose.yml", path, env={**os.environ, **env})
    binds = [v for s in merged["services"].values() for v in s.get("volumes", []) if v["type"] == "bind"]
    assert binds == [], binds
    assert [v["target"] for v in merged["services"]["db"]["volumes"]] == ["/var/lib/mysql"]
    targets = {c["target"]: c["source"] for s in merged["services"].values() for c in s.get("configs", [])}
    devserver = {f"/opt/devloop/devserver/{f.name}" for f in (checkout / "app/devserver").iterdir() if f.is_file()}
    assert set(targets) - devserver == {
        "/docker-entrypoint-initdb.d/01-schema.sql",
        "/etc/nginx/nginx.conf",
        "/etc/nginx/conf.d/default.conf",
        "/usr/share/nginx/html/index.html",
        "/usr/share/nginx/html/prices.txt",
    }
    # Escaped for interpolation, which `config` prints back as it read it (the e2e suite reads the file in the container).
    assert merged["configs"][targets["/usr/share/nginx/html/prices.txt"]]["content"] == "costs $$5 and $${NOT_A_VARIABLE}\n"
    assert merged["secrets"]["db-password"] == {"name": "blog_db-password", "environment": "DEVLOOP_SECRET_DB_PASSWORD"}
    assert merged["services"]["app"]["labels"]["devloop.edits"] == "sync"
    assert "devloop.edits" not in merged["services"]["web"]["labels"]


def test_a_changed_config_file_changes_the_label_that_recreates_its_service(checkout: Path) -> None:
    model = resolved(checkout, "docker-compose.yml")
    before, _ = carry.overlay(model, checkout, checkout / "app/src")
    (checkout / "web/nginx.conf").write_text((checkout / "web/nginx.conf").read_text() + "# edited\n")
    after, _ = carry.overlay(model, checkout, checkout / "app/src")
    label = labels.CARRIED
    assert before["services"]["web"]["labels"][label] != after["services"]["web"]["labels"][label]
    assert before["services"]["db"]["labels"][label] == after["services"]["db"]["labels"][label]


def test_a_binary_file_to_carry_is_one_line(checkout: Path) -> None:
    (checkout / "web/html/favicon.ico").write_bytes(b"\x00\xff\xfe")
    with pytest.raises(DevloopError, match=r"favicon.ico is not UTF-8 text: it cannot be copied"):
        carry.overlay(resolved(checkout, "docker-compose.yml"), checkout, checkout / "app/src")


def test_an_edit_in_the_synced_source_does_not_make_the_app_image_stale(checkout: Path) -> None:
    path, env = carry.write(resolved(checkout, "docker-compose.yml"), checkout, "blog", checkout / "app/src")
    model = resolved(checkout, "docker-compose.yml", path, env={**os.environ, **env})
    found = source.find(resolved(checkout, "docker-compose.yml"), checkout)  # the overlay hides the mount: the base model has it
    assert found is not None and source.find(model, checkout) is None
    before = fingerprints.fingerprint(model, found)
    (checkout / "app/src/blog/views.py").write_text("# edited\n")
    after = fingerprints.fingerprint(model, found)
    assert before.build == after.build and before.source != after.source


def test_the_sync_sends_sources_owned_by_the_app_user_and_leaves_out_what_docker_ignores(checkout: Path) -> None:
    src = checkout / "app/src"
    (src / "blog/__pycache__").mkdir(exist_ok=True)
    (src / "blog/__pycache__/views.cpython-311.pyc").write_bytes(b"\0")
    (src / "blog/views.py~").write_text("backup")
    (src / ".devloop-probe").write_text("token")
    tree = syncer.Tree(src)
    files = tree.files()
    assert "blog/views.py" in files and ".devloop-probe" in files
    assert not any("__pycache__" in f or f.endswith("~") or f == ".devloop-source" for f in files), files
    with tarfile.open(fileobj=io.BytesIO(syncer.pack(src, ["blog/views.py"], 10001))) as tar:
        members = {m.name: (m.uid, m.gid, m.isdir()) for m in tar.getmembers()}
    assert members == {"blog": (10001, 10001, True), "blog/views.py": (10001, 10001, False)}


def test_a_background_process_is_ours_only_while_its_pid_runs_the_same_program() -> None:
    assert processes.alive(os.getpid(), "pytest")
    assert not processes.alive(os.getpid(), "devloop.sync")  # a pid reused by another program
    assert not processes.alive(None, "ssh") and not processes.alive(0, "ssh")
    processes.terminate(os.getpid(), "devloop.sync")  # not ours: left alone (this test would end here otherwise)
