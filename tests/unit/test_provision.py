"""setup and doctor decisions, through a fake host: what is fixed, what is refused, and how."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from devloop import checks, envfile, host, passwords, provision, settings
from devloop.commands import Cli
from devloop.errors import DevloopError

DEBIAN = {"ID": "debian", "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)"}


class FakeHost:
    """A scriptable machine: FakeProbes read it, FakeActions change it and record what they did."""

    def __init__(self, **state: object) -> None:
        self.engine = state.get("engine", "20.10.24")
        self.engine_error = state.get("engine_error", "no Docker engine answers at unix:///var/run/docker.sock (no such socket)")
        self.compose = state.get("compose", (2, 26, 1))
        self.root = state.get("root", True)
        self.release = state.get("release", DEBIAN)
        self.local = set(state.get("local", ()))  # type: ignore[arg-type]
        self.pullable = set(state.get("pullable", ()))  # type: ignore[arg-type]
        self.env_host = state.get("docker_host", "")
        self.endpoint = state.get("endpoint", "")  # where `docker context use` points, without DOCKER_HOST
        self.dockerd = state.get("dockerd", True)
        self.files = set(state.get("files", ()))  # type: ignore[arg-type]
        self.commands = set(state.get("commands", ()))  # type: ignore[arg-type]
        self.volume = state.get("volume")
        self.login = state.get("login")
        self.sees = state.get("sees", True)  # whether the engine finds this machine's source folder
        self.arrival = state.get("arrival", "the app is not running")  # (watcher, seconds), "" (lost) or why not timed
        self.arrivals = state.get("arrivals", {})  # by folder, where a save there arrives otherwise
        self.watching = state.get("watching")  # what the dev server says of how it watches
        self.actions: list[str] = []
        self.probes = FakeProbes(self)
        self.act = FakeActions(self)


class FakeProbes(host.Probes):
    """Read-only answers from a FakeHost."""

    def __init__(self, machine: FakeHost) -> None:
        self.m = machine
        self.cli = Cli()  # Compose's model is read by the real `docker compose config` (no engine needed)

    def docker_host(self) -> str:
        return str(self.m.env_host)

    def docker_context(self) -> str:
        return "default"

    def endpoint(self) -> str:
        return str(self.m.endpoint or self.m.env_host or "unix:///var/run/docker.sock")

    def has_command(self, name: str) -> bool:
        return name == "docker" or (name == "dockerd" and bool(self.m.dockerd)) or name in self.m.commands

    def engine(self) -> tuple[str | None, str]:
        return (self.m.engine, "") if self.m.engine else (None, str(self.m.engine_error))  # type: ignore[return-value]

    def compose_version(self):  # type: ignore[no-untyped-def]
        return self.m.compose

    def is_root(self) -> bool:
        return bool(self.m.root)

    def os_release(self) -> dict[str, str]:
        return dict(self.m.release)  # type: ignore[arg-type]

    def image_local(self, name: str) -> bool:
        return name in self.m.local

    def file_exists(self, path: str) -> bool:
        return path in self.m.files

    def apt_mirror(self) -> str | None:
        return "http://deb.debian.org/debian"

    def data_volume(self, settings: settings.Settings) -> str | None:
        return self.m.volume  # type: ignore[return-value]

    def database_login(self, project: str, password: str) -> str | None:
        return self.m.login  # type: ignore[return-value]

    def engine_sees(self, folder: Path, token: str, image: str) -> bool | None:
        return self.m.sees  # type: ignore[return-value]

    def app_edits(self, project: str) -> str | None:
        return ""  # a bind-mounted app; sync mode's doctor line: tests/e2e/test_sync.py on the remote engine

    def edit_arrival(self, project: str, folder: Path) -> tuple[str, float] | str:
        return self.m.arrivals.get(folder, self.m.arrival)  # type: ignore[union-attr, return-value]

    def watching(self, project: str) -> dict[str, object] | None:
        return self.m.watching  # type: ignore[return-value]


class FakeActions(host.Actions):
    """Changes to a FakeHost, recorded."""

    def __init__(self, machine: FakeHost) -> None:
        self.m = machine
        self.probes = machine.probes

    def pull(self, name: str) -> bool:
        self.m.actions.append(f"pull {name}")
        if name in self.m.pullable:
            self.m.local.add(name)
            return True
        return False

    def apt_install(self, *packages: str) -> None:
        self.m.actions.append(f"apt {' '.join(packages)}")
        self.m.dockerd = True
        self.m.commands.update(packages)

    def start_engine(self) -> None:
        self.m.actions.append("start engine")
        self.m.engine = "20.10.24"

    def install_compose_from_debian(self, mirror: str) -> None:
        self.m.actions.append("install compose")
        self.m.compose = (2, 26, 1)

    def build_base(self, mirror: str, suite: str) -> None:
        self.m.actions.append(f"build {host.BASES[suite]}")
        self.m.local.add(host.BASES[suite])

    def build_image(self, image: str, context: Path, base: str) -> None:
        assert base in self.m.local, f"{image} built before its base {base}"
        self.m.actions.append(f"build {image}")
        self.m.local.add(image)


OFFICIAL = {"python:3.12-slim", "mysql:8.4", "nginx:1.27-alpine"}
STANDINS = {s.image for s in provision.STANDINS.values()}


def run(project: Path, machine: FakeHost) -> tuple[list[str], list[str]]:
    lines: list[str] = []
    changed = provision.setup(settings.load(project, environ={}), machine.act, lines.append, environ={})
    return changed, lines


def test_a_ready_machine_changes_nothing(project: Path) -> None:
    machine = FakeHost(local=OFFICIAL)
    changed, lines = run(project, machine)
    assert changed == ["db passwords"]  # the only thing a fresh clone lacks
    assert machine.actions == []
    assert run(project, machine)[0] == []
    assert "left alone" in lines[0]


def test_no_engine_on_debian_as_root_installs_and_starts_one(project: Path) -> None:
    machine = FakeHost(engine=None, dockerd=False, compose=None, local=OFFICIAL)
    changed, _ = run(project, machine)
    engine_steps = [a for a in machine.actions if a != "install compose"]  # Compose is fetched meanwhile
    assert engine_steps == ["apt docker.io iptables ca-certificates", "start engine"] and "install compose" in machine.actions
    assert changed[:2] == ["engine", "compose"]


class Meeting(FakeActions):
    """Actions that only finish once the other step of a pair has started too: done one after the other, they time out."""

    def __init__(self, machine: FakeHost, pairs: dict[str, threading.Barrier]) -> None:
        super().__init__(machine)
        self.pairs = pairs

    def meet(self, step: str) -> None:
        if step in self.pairs:
            self.pairs[step].wait()

    def install_compose_from_debian(self, mirror: str) -> None:
        self.meet("compose")
        super().install_compose_from_debian(mirror)

    def apt_install(self, *packages: str) -> None:
        self.meet(packages[0])
        super().apt_install(*packages)

    def build_base(self, mirror: str, suite: str) -> None:
        self.meet(suite)
        super().build_base(mirror, suite)

    def build_image(self, image: str, context: Path, base: str) -> None:
        self.meet(image.split(":")[0])
        super().build_image(image, context, base)


def test_independent_steps_run_side_by_side(project: Path) -> None:
    machine = FakeHost(engine=None, dockerd=False, compose=None)
    engine_and_compose = threading.Barrier(2, timeout=10)
    suites = threading.Barrier(2, timeout=10)
    stand_ins = threading.Barrier(2, timeout=10)  # the two of one suite
    pairs = {"docker.io": engine_and_compose, "compose": engine_and_compose, "bookworm": suites, "sid": suites}
    pairs.update({"standin/python": stand_ins, "standin/nginx": stand_ins})
    machine.act = Meeting(machine, pairs)
    provision.setup(settings.load(project, environ={}), machine.act, lambda line: None, environ={})
    assert machine.actions.count("apt mmdebstrap") == 1


def test_an_installed_but_stopped_engine_is_only_started(project: Path) -> None:
    machine = FakeHost(engine=None, local=OFFICIAL)
    run(project, machine)
    assert machine.actions == ["start engine"]


def test_no_engine_and_not_root_says_what_to_do(project: Path) -> None:
    with pytest.raises(DevloopError, match="needs root"):
        run(project, FakeHost(engine=None, root=False))


def test_no_engine_off_debian_says_what_to_install(project: Path) -> None:
    machine = FakeHost(engine=None, release={"ID": "fedora", "PRETTY_NAME": "Fedora 41"})
    with pytest.raises(DevloopError, match=r"Fedora 41 is not Debian/Ubuntu: install Docker"):
        run(project, machine)
    assert machine.actions == []


def test_an_unanswering_docker_host_is_not_replaced_by_a_local_engine(project: Path) -> None:
    machine = FakeHost(engine=None, docker_host="unix:///nonexistent.sock")
    with pytest.raises(DevloopError, match=r"DOCKER_HOST=unix:///nonexistent.sock is set and does not answer"):
        run(project, machine)
    assert machine.actions == []


def test_an_ssh_engine_that_does_not_answer_is_ssh_s_own_line_and_setup_leaves_it(project: Path) -> None:
    said = "ssh to ssh://me@bigbox failed: ssh: connect to host bigbox port 22: Connection refused"
    machine = FakeHost(engine=None, engine_error=said, docker_host="ssh://me@bigbox")
    line = next(c.line() for c in checks.doctor(settings.load(project, environ={}), machine.probes) if c.name == "engine")
    assert line == f"problem  engine: no Docker engine answers -> {said}"
    with pytest.raises(DevloopError, match=r"^ssh to ssh://me@bigbox failed: ssh: connect to host bigbox port 22: Connection refused$"):
        run(project, machine)
    assert machine.actions == []


def test_too_old_compose_is_replaced_on_debian(project: Path) -> None:
    machine = FakeHost(compose=(2, 20, 2), local=OFFICIAL)
    run(project, machine)
    assert machine.actions == ["install compose"]


def test_too_old_compose_elsewhere_is_a_clear_error(project: Path) -> None:
    with pytest.raises(DevloopError, match=r"2.20.2 is older than 2.22.0 .*: install the docker compose plugin"):
        run(project, FakeHost(compose=(2, 20, 2), root=False))


def test_pullable_official_images_are_pulled_and_nothing_is_built(project: Path) -> None:
    machine = FakeHost(pullable=OFFICIAL)
    run(project, machine)
    assert sorted(a for a in machine.actions if a.startswith("build")) == []
    assert not (project / ".env").exists() or "IMAGE" not in (project / ".env").read_text()


def test_without_a_registry_stand_ins_are_built_and_recorded(project: Path) -> None:
    machine = FakeHost()
    changed, _ = run(project, machine)
    built = [a for a in machine.actions if a.startswith("build")]
    assert "apt mmdebstrap" in machine.actions
    assert set(built) == {*(f"build {base}" for base in host.BASES.values()), *(f"build {image}" for image in STANDINS)}
    recorded = envfile.read(project / ".env")
    assert recorded["PYTHON_IMAGE"] == "standin/python:3.11-bookworm"
    assert recorded["MYSQL_IMAGE"] == "standin/mysql:9.7-sid"
    assert any(".env" in c for c in changed)
    machine.actions.clear()
    assert run(project, machine)[0] == []
    assert machine.actions == []


def test_an_explicit_image_that_cannot_be_had_is_an_error_not_a_stand_in(project: Path) -> None:
    (project / ".env").write_text("PYTHON_IMAGE=registry.example/python:custom\n")
    with pytest.raises(DevloopError, match=r"PYTHON_IMAGE=registry.example/python:custom is neither local nor pullable"):
        run(project, FakeHost(local={"mysql:8.4", "nginx:1.27-alpine"}))


def test_the_host_ca_bundle_is_recorded_when_present(project: Path) -> None:
    machine = FakeHost(local=OFFICIAL, files={"/etc/ssl/certs/ca-certificates.crt"})
    run(project, machine)
    assert envfile.read(project / ".env")["CA_BUNDLE"] == "/etc/ssl/certs/ca-certificates.crt"


def test_doctor_without_engine_blocks_and_says_how_to_fix(project: Path) -> None:
    found = checks.doctor(settings.load(project, environ={}), FakeHost(engine=None, docker_host="unix:///nonexistent.sock").probes)
    assert not found[0].ok and found[0].blocking
    assert found[0].line().startswith("problem  engine: no Docker engine answers -> DOCKER_HOST=unix:///nonexistent.sock")


def test_doctor_reports_missing_images_as_blocking(project: Path) -> None:
    found = checks.doctor(settings.load(project, environ={}), FakeHost(local={"mysql:8.4", "nginx:1.27-alpine"}).probes)
    by_name = {c.name: c for c in found}
    assert not by_name["PYTHON_IMAGE"].ok and by_name["PYTHON_IMAGE"].blocking
    assert by_name["MYSQL_IMAGE"].ok
    assert not by_name["db-passwords"].blocking


def test_an_installed_mmdebstrap_is_used_as_it_is(project: Path) -> None:
    machine = FakeHost(commands={"mmdebstrap"})
    run(project, machine)
    assert not any(a.startswith("apt") for a in machine.actions)
    assert f"build {host.BASES['bookworm']}" in machine.actions


def test_a_denied_docker_socket_says_so_in_setup_and_doctor(project: Path) -> None:
    denied = "permission denied on the Docker socket (unix:///var/run/docker.sock): add your user to the docker group (or use sudo)"
    machine = FakeHost(engine=None, root=False, engine_error=denied)
    with pytest.raises(DevloopError) as caught:
        run(project, machine)
    assert str(caught.value) == denied
    line = checks.doctor(settings.load(project, environ={}), machine.probes)[0].line()
    assert "permission denied on the Docker socket" in line and "needs root" not in line
    assert machine.actions == []


def test_lost_password_files_over_an_existing_volume_are_not_regenerated(project: Path) -> None:
    machine = FakeHost(local=OFFICIAL, volume="myproj_db-data")
    with pytest.raises(DevloopError, match=r"database volume myproj_db-data exists.*invoke rekey"):
        run(project, machine)
    assert not (project / "db/secrets/password.txt").exists()
    by_name = {c.name: c for c in checks.doctor(settings.load(project, environ={}), machine.probes)}
    assert not by_name["db-passwords"].ok and by_name["db-passwords"].blocking
    assert "invoke rekey" in by_name["db-passwords"].line()


def test_doctor_names_password_files_the_running_database_rejects(project: Path) -> None:
    passwords.generate(project)
    denied = "ERROR 1045 (28000): Access denied for user 'blog'@'127.0.0.1' (using password: YES)"
    found = checks.doctor(settings.load(project, environ={}), FakeHost(local=OFFICIAL, volume="v", login=denied).probes)
    line = next(c.line() for c in found if c.name == "db-passwords")
    assert line.startswith("problem  db-passwords: the password files do not match the database volume") and "invoke rekey" in line


@pytest.mark.parametrize(
    ("sees", "arrival", "expected"),
    [
        (True, ("inotify", 0.031), "ok       edits: a save under app/src reached the dev server in 31 ms (bind mount of app/src"),
        (True, "the app is not running", "ok       edits: bind mount of app/src, which the engine sees; a save was not timed: the app"),
        (True, "", "problem  edits: the engine sees app/src, but a save there did not reach the running dev server within 5 s"),
        (False, "", "ok       edits: the engine at ssh://me@bigbox does not see this machine's app/src: `invoke up` syncs it"),
        (None, "the app is not running", "warning  edits: not checked: python:3.12-slim is not on the engine yet"),
    ],
)
def test_doctor_says_whether_saves_reach_the_dev_server(project: Path, sees: bool | None, arrival: object, expected: str) -> None:
    (project / "app/src").mkdir(parents=True)
    probes = FakeHost(local=OFFICIAL, sees=sees, arrival=arrival, endpoint="ssh://me@bigbox").probes  # a context, no DOCKER_HOST
    line = next(c.line() for c in checks.doctor(settings.load(project, environ={}), probes) if c.name == "edits")
    assert line.startswith(expected), line


def fuse(source: str) -> dict[str, object]:
    """What the dev server records when /code is a FUSE view of source."""
    why = f"/code is a fuse mount (of {source}), where a save made beyond it raises no event in the container"
    return {"mode": "both", "why": why, "interval": 0.25, "mount": {"point": "/code", "fstype": "fuse", "source": source, "root": "/"}}


def edits_line(project: Path, **state: object) -> str:
    (project / "app/src").mkdir(parents=True, exist_ok=True)
    probes = FakeHost(local=OFFICIAL, sees=True, **state).probes
    return next(c.line() for c in checks.doctor(settings.load(project, environ={}), probes) if c.name == "edits")


def test_doctor_says_a_timed_save_speaks_for_every_writer_on_a_local_filesystem(project: Path) -> None:
    local = {"mode": "inotify", "why": "/code is on ext4, a local filesystem: every save raises an event", "interval": 0.25}
    line = edits_line(project, arrival=("inotify", 0.031), watching=local)
    assert line.endswith(
        "in 31 ms (bind mount of app/src, which the engine sees; inotify); /code is on ext4, a local filesystem: every save raises an event"
    )


def test_doctor_times_a_save_behind_a_fuse_view_where_the_editor_writes(project: Path, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    line = edits_line(project, arrival=("inotify", 0.04), arrivals={real: ("polling", 0.262)}, watching=fuse(str(real)))
    assert line.startswith(
        f"ok       edits: a save to {real}, the folder behind app/src where an editor writes, reached the dev server in 262 ms (polling)"
    )
    assert "the dev server also polls every 0.25 s: /code is a fuse mount" in line
    lost = edits_line(project, arrival=("inotify", 0.04), arrivals={real: ""}, watching=fuse(str(real)))
    assert lost.startswith(
        f"problem  edits: a save to {real}, the folder behind app/src where an editor writes, did not reach the dev server"
    )


def test_doctor_says_what_it_did_not_prove_when_it_cannot_write_behind_the_view(project: Path) -> None:
    line = edits_line(project, arrival=("inotify", 0.04), watching=fuse("grpcfuse"))
    assert line.startswith("ok       edits: a save under app/src reached the dev server in 40 ms")
    assert line.endswith(
        "not proved: that a save made beyond the mount, where your editor may write, arrives (this machine cannot write there)"
    )
