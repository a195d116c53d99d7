"""The machine setup works on: probes that only read it, and actions that change it.

`invoke doctor` is given the probes alone, so it cannot change anything; the unit tests
replace both with fakes.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import compose, engine, labels, modes, mounts, places
from .commands import Cli, error_line
from .errors import DevloopError
from .settings import Settings
from .waiting import wait_until

if TYPE_CHECKING:
    import docker

# Debian bases the stand-ins build on, by suite: bookworm for most, sid for Oracle's MySQL.
BASES = {"bookworm": "standin/debian:bookworm", "sid": "standin/debian:sid"}
COMPOSE_SUITE = "trixie"  # Debian 13 packages Compose v2 (2.26); Debian 12 has none.
PLUGIN_DIR = Path("/usr/libexec/docker/cli-plugins")
# dockerd, containerd and iptables live in the sbin folders, which a user's PATH may lack.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])


def which(name: str) -> str | None:
    """Find a program on PATH or in the sbin folders."""
    return shutil.which(name, path=SEARCH_PATH)


class Probes:
    """Read-only questions about the machine (and its engine, through one connection)."""

    def __init__(self, cli: Cli | None = None) -> None:
        self.cli = cli or Cli()
        self._client: docker.DockerClient | None = None

    def docker_host(self) -> str:
        """The DOCKER_HOST variable ("" when unset)."""
        return places.docker_host()

    def docker_context(self) -> str:
        """The docker CLI's current context."""
        result = self.cli.capture(["docker", "context", "show"], timeout=10)
        return result.stdout.strip() if result.ok else "default"

    def endpoint(self) -> str:
        """The engine's address, as the docker CLI resolves it (DOCKER_HOST, else the context)."""
        return places.endpoint(self.cli)

    def has_command(self, name: str) -> bool:
        """Whether a program is installed (docker, dockerd, mmdebstrap)."""
        return which(name) is not None

    def client(self) -> docker.DockerClient:
        """The engine, connected on first use (or fail in one line saying why not)."""
        if self._client is None:
            self._client = places.choose(self.endpoint()).connect(timeout=20)
        return self._client

    def engine(self) -> tuple[str | None, str]:
        """The engine's version and "", or None and why no engine answers."""
        try:
            return self.client().version().get("Version", "unknown"), ""
        except DevloopError as exc:
            return None, str(exc)

    def compose_version(self) -> tuple[int, int, int] | None:
        """Compose v2's version, or None."""
        return compose.version(self.cli)

    def is_root(self) -> bool:
        """Whether this process may install packages."""
        return hasattr(os, "geteuid") and os.geteuid() == 0

    def os_release(self) -> dict[str, str]:
        """The fields of /etc/os-release (empty off Linux)."""
        try:
            return dict(platform.freedesktop_os_release())
        except OSError:
            return {}

    def image_local(self, name: str) -> bool:
        """Whether the engine has an image."""
        return engine.image_id(self.client(), name) is not None

    def engine_sees(self, folder: Path, token: str, image: str) -> bool | None:
        """Whether the engine finds this machine's folder (by its marker token) in a bind mount; None without the image."""
        return mounts.engine_sees(self.client(), folder, token, image) if self.image_local(image) else None

    def app_edits(self, project: str) -> str | None:
        """How the project's app container was started to get its source (its devloop.edits label); None without one."""
        container = engine.containers(self.client(), project).get("app")
        return None if container is None else container.labels.get(labels.EDITS, "")

    def edit_arrival(self, project: str, folder: Path) -> tuple[str, float] | str:
        """Time a save under the folder until the running dev server sees it: (watcher, seconds),
        or why it was not timed ("" when the save never arrived)."""
        container = engine.containers(self.client(), project).get("app")
        if container is None or container.status != "running":
            return "the app is not running"
        if modes.named(container.labels.get(labels.MODE, "")).waits_for_debugger:
            return "the app waits for a debugger"
        return mounts.edit_arrival(container, folder)

    def watching(self, project: str) -> dict[str, Any] | None:
        """How the running dev server watches its source, and why (None when no app runs, or it does not say)."""
        container = engine.containers(self.client(), project).get("app")
        return mounts.watching(container) if container is not None and container.status == "running" else None

    def data_volume(self, settings: Settings) -> str | None:
        """The name of the project's database volume, if it exists (found from Compose's model)."""
        name = compose.Compose(settings, cli=self.cli).data_volume()
        return name if name and engine.volume_exists(self.client(), name) else None

    def database_login(self, project: str, password: str) -> str | None:
        """What the running database answers the app user's login with that password ("" if it works); None if no db runs."""
        container = engine.containers(self.client(), project).get("db")
        if container is None or container.status != "running":
            return None
        script = 'c=$(command -v mysql || command -v mariadb) && "$c" -h127.0.0.1 --protocol=tcp -u"$MYSQL_USER" -e "SELECT 1" 2>&1'
        code, out = container.exec_run(["sh", "-c", script], environment={"MYSQL_PWD": password})
        lines = out.decode(errors="replace").strip().splitlines()
        return "" if code == 0 else (lines[-1] if lines else f"exit {code}")

    def file_exists(self, path: str) -> bool:
        """Whether a host file exists."""
        return Path(path).is_file()

    def apt_mirror(self) -> str | None:
        """The Debian archive URI the host's apt uses (deb822 or one-line sources)."""
        sources = sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
        for path in [*sources, Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*.list"))]:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError:
                continue
            for line in text.splitlines():
                words = line.split()
                uri = ""
                if words[:1] == ["URIs:"] and len(words) > 1:
                    uri = words[1]
                elif words[:1] == ["deb"]:
                    uri = next((w for w in words[1:] if "://" in w), "")
                if uri.rstrip("/").endswith("/debian"):
                    return uri
        return None


class Actions:
    """What setup may change: packages, the engine, images."""

    def __init__(self, probes: Probes, cli: Cli | None = None) -> None:
        self.probes = probes
        self.cli = cli or probes.cli

    def run(self, argv: list[str], what: str, env: Mapping[str, str] | None = None, cwd: str | None = None) -> str:
        """Run a setup step quietly; on failure, fail with its output's telling line."""
        result = self.cli.capture(argv, {"PATH": SEARCH_PATH, **(env or {})}, timeout=1800, cwd=cwd)
        if not result.ok:
            raise DevloopError(f"{what} failed: {error_line(result.stderr + result.stdout)}")
        return result.stdout

    def apt_install(self, *packages: str) -> None:
        """Install Debian packages."""
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        self.run(["apt-get", "update", "-q"], "apt-get update", env)
        self.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], f"installing {' '.join(packages)}", env)

    def start_engine(self) -> None:
        """Start dockerd (through systemd when it runs) and wait until it answers."""
        if Path("/run/systemd/system").is_dir():
            self.run(["systemctl", "start", "docker"], "systemctl start docker")
        else:
            dockerd = which("dockerd")
            if dockerd is None:
                raise DevloopError("dockerd is not installed even after installing docker.io: see `apt-get install docker.io`")
            self.cli.spawn([dockerd], Path("/var/log/dockerd.log"), env={"PATH": SEARCH_PATH})
        if not wait_until(lambda: self.probes.engine()[0], 60, interval=0.5):
            raise DevloopError("dockerd did not answer within 60s: see /var/log/dockerd.log")

    def install_compose_from_debian(self, mirror: str) -> None:
        """Install Compose v2 and buildx from Debian 13's packages, leaving apt's sources alone."""
        with tempfile.TemporaryDirectory() as tmp:
            os.chmod(tmp, 0o755)
            (Path(tmp) / "lists/partial").mkdir(parents=True)
            (Path(tmp) / "cache/archives/partial").mkdir(parents=True)
            (Path(tmp) / "sources.list").write_text(f"deb {mirror} {COMPOSE_SUITE} main\n", encoding="utf-8")
            apt_dirs = {
                "Dir::Etc::SourceList": f"{tmp}/sources.list",
                "Dir::Etc::SourceParts": "/dev/null",
                "Dir::State::Lists": f"{tmp}/lists",
                "Dir::Cache": f"{tmp}/cache",
                "APT::Sandbox::User": "root",
            }
            opts = [arg for key, value in apt_dirs.items() for arg in ("-o", f"{key}={value}")]
            self.run(["apt-get", "-q", *opts, "update"], f"reading Debian {COMPOSE_SUITE}'s package lists")
            self.run(["apt-get", "-q", *opts, "download", "docker-compose", "docker-buildx"], "downloading Compose v2", cwd=tmp)
            for deb in Path(tmp).glob("*.deb"):
                self.run(["dpkg-deb", "-x", str(deb), f"{tmp}/root"], f"unpacking {deb.name}")
            PLUGIN_DIR.mkdir(parents=True, exist_ok=True)
            for plugin in (Path(tmp) / "root/usr/libexec/docker/cli-plugins").iterdir():
                shutil.copy2(plugin, PLUGIN_DIR / plugin.name)

    def pull(self, name: str) -> bool:
        """Try to pull an image from its registry."""
        return self.cli.capture(["docker", "pull", "--quiet", name], timeout=600).ok

    def build_base(self, mirror: str, suite: str) -> None:
        """Make a Debian base image with mmdebstrap, from the host's own mirror."""
        # sid's archive can lag the clock by weeks: its Release file must not count as expired.
        script = (
            'mmdebstrap --quiet --variant=minbase --include=ca-certificates --aptopt="Acquire::Check-Valid-Until \\"false\\"" '
            '"$1" - "$2" | docker import - "$3"'
        )
        self.run(["sh", "-c", script, "sh", suite, mirror, BASES[suite]], f"building {BASES[suite]} with mmdebstrap")

    def build_image(self, image: str, context: Path, base: str) -> None:
        """Build a stand-in image from its Dockerfile on a Debian base."""
        self.run(["docker", "build", "--quiet", "--build-arg", f"BASE_IMAGE={base}", "-t", image, str(context)], f"building {image}")
