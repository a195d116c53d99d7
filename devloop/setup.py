"""Preflight-and-fix (`invoke setup`) and its report-only twin (`invoke doctor`).

Every decision reads the machine through `Host`, a small seam the unit tests replace:
engine, Compose, base images (official, pulled, or a locally built stand-in), CA bundle.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from . import compose as compose_cli
from . import passwords
from .errors import DevloopError
from .settings import ENV_FILE, Settings, update_env_file

Printer = Callable[[str], None]

BASE_IMAGE = "standin/debian:bookworm"
BASE_SUITE = "bookworm"
COMPOSE_SUITE = "trixie"  # Debian 13 packages Compose v2 (2.26); Debian 12 has none.
PLUGIN_DIR = Path("/usr/libexec/docker/cli-plugins")
CA_CANDIDATES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/cert.pem",  # macOS, Alpine
)


@dataclass(frozen=True)
class Standin:
    """A locally built image that stands in for an official one, named for what it is."""

    image: str
    context: str
    official_default: str


STANDINS = {
    "PYTHON_IMAGE": Standin("standin/python:3.11-bookworm", "images/python", "python:3.12-slim"),
    "MYSQL_IMAGE": Standin("standin/mysql-mariadb:10.11-bookworm", "images/mysql", "mysql:8.4"),
    "NGINX_IMAGE": Standin("standin/nginx:1.22-bookworm", "images/nginx", "nginx:1.27-alpine"),
}


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    blocking: bool = True

    def line(self) -> str:
        """Render as `ok`/`problem`, name, detail and the fix."""
        if self.ok:
            return f"ok       {self.name}: {self.detail}"
        label = "problem " if self.blocking else "warning "
        return f"{label} {self.name}: {self.detail}" + (f" -> {self.fix}" if self.fix else "")


class Host:
    """The machine: probes that read it and actions that change it."""

    def __init__(self, cli: compose_cli.Cli | None = None) -> None:
        self.cli = cli or compose_cli.Cli()

    # probes
    def docker_host(self) -> str:
        """The DOCKER_HOST variable ("" when unset)."""
        return os.environ.get("DOCKER_HOST", "")

    def docker_context(self) -> str:
        """The docker CLI's current context."""
        result = self.cli.capture(["docker", "context", "show"], timeout=10)
        return result.stdout.strip() if result.ok else "default"

    def has_command(self, name: str) -> bool:
        """Whether a program is installed (docker, dockerd, mmdebstrap)."""
        return _which(name) is not None

    def engine_version(self) -> str | None:
        """The engine's version, or None when no engine answers."""
        result = self.cli.capture(["docker", "version", "--format", "{{.Server.Version}}"], timeout=20)
        return result.stdout.strip() if result.ok and result.stdout.strip() else None

    def compose_version(self) -> tuple[int, int, int] | None:
        """Compose v2's version, or None."""
        return compose_cli.version(self.cli)

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
        return self.cli.capture(["docker", "image", "inspect", name], timeout=30).ok

    def pull(self, name: str) -> bool:
        """Try to pull an image from its registry."""
        return self.cli.capture(["docker", "pull", "--quiet", name], timeout=600).ok

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

    # actions
    def run(self, argv: list[str], what: str, env: Mapping[str, str] | None = None, cwd: str | None = None) -> str:
        """Run a setup step quietly; on failure, fail with its output's telling line."""
        result = self.cli.capture(argv, {"PATH": _SEARCH_PATH, **(env or {})}, timeout=1800, cwd=cwd)
        if not result.ok:
            raise DevloopError(f"{what} failed: {compose_cli.error_line(result.stderr + result.stdout)}")
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
            dockerd = _which("dockerd")
            if dockerd is None:
                raise DevloopError("dockerd is not installed even after installing docker.io: see `apt-get install docker.io`")
            log = open("/var/log/dockerd.log", "ab")  # noqa: SIM115 -- handed to the daemon
            # dockerd finds containerd and iptables on its PATH, which must hold the sbin folders.
            env = {**os.environ, "PATH": _SEARCH_PATH}
            subprocess.Popen([dockerd], env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.engine_version():
                return
            time.sleep(0.5)
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

    def build_base(self, mirror: str) -> None:
        """Make the Debian base image with mmdebstrap, from the host's own mirror."""
        script = 'mmdebstrap --quiet --variant=minbase --include=ca-certificates "$1" - "$2" | docker import - "$3"'
        self.run(["sh", "-c", script, "sh", BASE_SUITE, mirror, BASE_IMAGE], f"building {BASE_IMAGE} with mmdebstrap")

    def build_standin(self, standin: Standin, root: Path) -> None:
        """Build a stand-in image from its Dockerfile on the Debian base."""
        self.run(
            ["docker", "build", "--quiet", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "-t", standin.image, str(root / standin.context)],
            f"building {standin.image}",
        )


_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])


def _which(name: str) -> str | None:
    """Find a program on PATH or in the sbin folders (dockerd lives there; a PATH may lack them)."""
    return shutil.which(name, path=_SEARCH_PATH)


# decisions


def custom_endpoint(host: Host) -> str:
    """Return the engine address the user chose (DOCKER_HOST or a context), or ""."""
    if host.docker_host():
        return f"DOCKER_HOST={host.docker_host()}"
    context = host.docker_context()
    return "" if context in ("", "default") else f"docker context {context}"


def why_not_managed(host: Host) -> str:
    """Return why setup may not install or start an engine here ("" when it may)."""
    chosen = custom_endpoint(host)
    if chosen:
        return f"{chosen} is set and does not answer; start that engine, or unset it to use a local one"
    if not debian_family(host):
        where = host.os_release().get("PRETTY_NAME") or platform.system()
        return (
            f"{where} is not Debian/Ubuntu: install Docker Desktop or Docker Engine with the compose plugin "
            "(https://docs.docker.com/engine/install/), start it, then run `invoke setup` again"
        )
    if not host.is_root():
        return "installing the engine needs root: run `sudo .venv/bin/invoke setup`, or install docker.io and start dockerd yourself"
    return ""


def debian_family(host: Host) -> bool:
    """Whether the host is Debian, Ubuntu or a derivative (so apt has docker.io)."""
    distro = host.os_release()
    return bool({distro.get("ID", ""), *distro.get("ID_LIKE", "").split()} & {"debian", "ubuntu"})


def check_engine(host: Host) -> Check:
    """Whether a Docker engine answers."""
    if not host.has_command("docker"):
        return Check("engine", False, "the docker client is not installed", "run `invoke setup` (Debian/Ubuntu, root) or install Docker")
    version = host.engine_version()
    if version:
        return Check("engine", True, f"Docker {version} answers")
    reason = why_not_managed(host)
    return Check("engine", False, "no Docker engine answers", reason or "run `invoke setup` to install and start one")


def check_compose(host: Host) -> Check:
    """Whether Compose v2 is recent enough."""
    found = host.compose_version()
    want = ".".join(map(str, compose_cli.MIN_VERSION))
    if found is None:
        return Check(
            "compose",
            False,
            f"Docker Compose v2 is not installed (need >= {want})",
            "run `invoke setup` or install the docker compose plugin",
        )
    have = ".".join(map(str, found))
    if found < compose_cli.MIN_VERSION:
        return Check("compose", False, f"Docker Compose {have} is older than {want}", "run `invoke setup` or upgrade the compose plugin")
    return Check("compose", True, f"Docker Compose {have}")


def check_image(host: Host, var: str, name: str) -> Check:
    """Whether a base image is present locally."""
    if host.image_local(name):
        kind = "stand-in built from Debian packages" if name.startswith("standin/") else "local"
        return Check(var, True, f"{name} ({kind})")
    return Check(
        var, False, f"{name} is not on this engine", "run `invoke setup` (pulls it, or builds a stand-in when there is no registry)"
    )


def default_ca_bundle(host: Host, environ: Mapping[str, str]) -> str:
    """Return the host's CA bundle path ("" when there is none)."""
    for var in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        if environ.get(var) and host.file_exists(environ[var]):
            return environ[var]
    return next((path for path in CA_CANDIDATES if host.file_exists(path)), "")


def check_ca(host: Host, settings: Settings) -> Check:
    """Whether builds will hand pip a CA bundle (only needed behind TLS-intercepting proxies)."""
    if settings.ca_bundle and host.file_exists(settings.ca_bundle):
        return Check("ca-bundle", True, f"{settings.ca_bundle} is passed to pip as a build secret")
    if settings.ca_bundle:
        return Check(
            "ca-bundle",
            False,
            f"CA_BUNDLE={settings.ca_bundle} does not exist; builds use no extra CA",
            "fix CA_BUNDLE in .env",
            blocking=False,
        )
    return Check("ca-bundle", True, "none configured (set CA_BUNDLE behind a TLS-intercepting proxy)")


def doctor(settings: Settings, host: Host) -> list[Check]:
    """Run every check, changing nothing."""
    checks = [check_engine(host)]
    if not checks[0].ok:
        return [*checks, Check("compose", False, "not checked: no engine", blocking=False)]
    checks.append(check_compose(host))
    checks += [check_image(host, var, name) for var, name in settings.images.items()]
    checks.append(check_ca(host, settings))
    missing = [name for name in passwords.FILES if not settings.path(f"{passwords.SECRETS_DIR}/{name}").exists()]
    checks.append(
        Check(
            "db-passwords",
            not missing,
            "generated" if not missing else f"{', '.join(missing)} not generated yet",
            "created by `invoke setup` or `invoke up`",
            blocking=False,
        )
    )
    return checks


# setup


def ensure_engine(host: Host, out: Printer) -> bool:
    """Make a Docker engine answer; return whether anything changed."""
    version = host.engine_version() if host.has_command("docker") else None
    if version:
        out(f"ok       engine: Docker {version} answers (left alone)")
        return False
    reason = why_not_managed(host)
    if reason:
        raise DevloopError(f"no Docker engine answers: {reason}")
    if not host.has_command("dockerd") or not host.has_command("docker"):
        out("fixing   engine: installing Debian's docker.io")
        host.apt_install("docker.io", "iptables", "ca-certificates")
    out("fixing   engine: starting dockerd")
    host.start_engine()
    out(f"ok       engine: Docker {host.engine_version()} answers")
    return True


def ensure_compose(host: Host, out: Printer) -> bool:
    """Make Compose v2 >= MIN_VERSION available; return whether anything changed."""
    check = check_compose(host)
    if check.ok:
        out(check.line())
        return False
    if not (host.is_root() and debian_family(host)):
        raise DevloopError(f"{check.detail}: install the docker compose plugin (https://docs.docker.com/compose/install/)")
    if host.os_release().get("ID") == "ubuntu":
        out("fixing   compose: installing docker-compose-v2")
        host.apt_install("docker-compose-v2", "docker-buildx")
    else:
        mirror = host.apt_mirror()
        if not mirror:
            raise DevloopError("cannot find the host's Debian mirror in /etc/apt/sources*: install the docker compose plugin by hand")
        out(f"fixing   compose: installing Compose v2 and buildx from Debian {COMPOSE_SUITE}'s packages")
        host.install_compose_from_debian(mirror)
    check = check_compose(host)
    if not check.ok:
        raise DevloopError(f"{check.detail} even after installing it")
    out(check.line())
    return True


def ensure_image(host: Host, settings: Settings, var: str, name: str, out: Printer) -> str | None:
    """Make one base image available; return the stand-in to record, if one replaced it."""
    standin = STANDINS[var]
    if host.image_local(name):
        out(check_image(host, var, name).line())
        return None
    if name != standin.image:
        out(f"fixing   {var}: {name} is not local; pulling it")
        if host.pull(name):
            out(f"ok       {var}: {name} (pulled)")
            return None
        if name != standin.official_default:
            raise DevloopError(f"{var}={name} is neither local nor pullable: fix {var} in .env, or unset it to use a stand-in")
        out(f"fixing   {var}: no registry answers; using a stand-in built from Debian packages")
    if not host.image_local(standin.image):
        ensure_base(host, out)
        out(f"fixing   {var}: building {standin.image}")
        host.build_standin(standin, settings.root)
    out(f"ok       {var}: {standin.image} (stand-in built from Debian packages)")
    return standin.image


def ensure_base(host: Host, out: Printer) -> None:
    """Make the Debian base image the stand-ins build on."""
    if host.image_local(BASE_IMAGE):
        return
    mirror = host.apt_mirror()
    if not mirror or not host.is_root():
        raise DevloopError(f"building {BASE_IMAGE} needs root and a Debian host (mmdebstrap): pull the official images instead")
    if not host.has_command("mmdebstrap"):
        out("fixing   base image: installing mmdebstrap")
        host.apt_install("mmdebstrap")
    out(f"fixing   base image: making {BASE_IMAGE} with mmdebstrap from {mirror}")
    host.build_base(mirror)


def setup(settings: Settings, host: Host, out: Printer = print, environ: Mapping[str, str] | None = None) -> list[str]:
    """Check everything `invoke up` needs and fix what can be fixed; return what changed."""
    environ = os.environ if environ is None else environ
    changed = []
    if ensure_engine(host, out):
        changed.append("engine")
    if ensure_compose(host, out):
        changed.append("compose")
    record: dict[str, str] = {}
    for var, name in settings.images.items():
        standin = ensure_image(host, settings, var, name, out)
        if standin and standin != name:
            record[var] = standin
    if not settings.ca_bundle:
        found = default_ca_bundle(host, environ)
        if found:
            record["CA_BUNDLE"] = found
            out(f"fixing   ca-bundle: builds will hand {found} to pip as a build secret")
    else:
        out(check_ca(host, settings).line())
    if record and update_env_file(settings.path(ENV_FILE), record):
        changed.append(f"{ENV_FILE} ({', '.join(sorted(record))})")
        out(f"fixing   recorded {', '.join(f'{k}={v}' for k, v in sorted(record.items()))} in {ENV_FILE}")
    created = passwords.ensure(settings.root)
    if created:
        changed.append("db passwords")
        out(f"fixing   db-passwords: generated {', '.join(p.name for p in created)} in {passwords.SECRETS_DIR}/")
    else:
        out("ok       db-passwords: present")
    return changed
