"""`invoke setup`: make this machine ready for `invoke up`, changing only what is missing.

Engine, Compose v2, the base images (official, pulled, or a stand-in built from Debian
packages when there is no registry), the CA bundle for pip, the database passwords.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from . import envfile, passwords
from .checks import check_ca, check_compose, check_image, debian_family, why_not_managed
from .errors import DevloopError
from .host import BASES, COMPOSE_SUITE, Actions
from .settings import ENV_FILE, Settings, official_images

Printer = Callable[[str], None]
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
    suite: str = "bookworm"  # the Debian base it builds on


STANDINS = {
    "PYTHON_IMAGE": Standin("standin/python:3.11-bookworm", "images/python"),
    "MYSQL_IMAGE": Standin("standin/mysql:9.7-sid", "images/mysql", suite="sid"),  # Oracle's MySQL, as sid packages it
    "NGINX_IMAGE": Standin("standin/nginx:1.22-bookworm", "images/nginx"),
}


def ensure_engine(act: Actions, out: Printer) -> bool:
    """Make a Docker engine answer; return whether anything changed."""
    probes, started = act.probes, time.monotonic()
    version, error = probes.engine() if probes.has_command("docker") else (None, "")
    if version:
        out(f"ok       engine: Docker {version} answers (left alone)")
        return False
    reason = why_not_managed(probes, error)
    if reason == error:  # the engine runs; this user may not use it
        raise DevloopError(reason)
    if reason:
        raise DevloopError(f"no Docker engine answers: {reason}")
    if not probes.has_command("dockerd") or not probes.has_command("docker"):
        out("fixing   engine: installing Debian's docker.io")
        act.apt_install("docker.io", "iptables", "ca-certificates")
    out("fixing   engine: starting dockerd")
    act.start_engine()
    out(f"ok       engine: Docker {probes.engine()[0]} answers ({_since(started)})")
    return True


def ensure_compose(act: Actions, out: Printer, engine_ready: Callable[[], object] = lambda: None) -> bool:
    """Make Compose v2 >= MIN_VERSION available (beside the engine's install, which brings the docker CLI it
    plugs into: engine_ready waits for it); return whether anything changed."""
    probes, started = act.probes, time.monotonic()
    check = check_compose(probes)
    if check.ok:
        out(check.line())
        return False
    if not (probes.is_root() and debian_family(probes)):
        raise DevloopError(f"{check.detail}: install the docker compose plugin (https://docs.docker.com/compose/install/)")
    if probes.os_release().get("ID") == "ubuntu":
        engine_ready()  # both are apt installs: one at a time
        out("fixing   compose: installing docker-compose-v2")
        act.apt_install("docker-compose-v2", "docker-buildx")
    else:
        mirror = probes.apt_mirror()
        if not mirror:
            raise DevloopError("cannot find the host's Debian mirror in /etc/apt/sources*: install the docker compose plugin by hand")
        out(f"fixing   compose: installing Compose v2 and buildx from Debian {COMPOSE_SUITE}'s packages")
        act.install_compose_from_debian(mirror)  # apt in folders of its own: no lock shared with the engine's install
    engine_ready()
    check = check_compose(probes)
    if not check.ok:
        raise DevloopError(f"{check.detail} even after installing it")
    out(f"{check.line()} ({_since(started)})")
    return True


def needs_standin(act: Actions, settings: Settings, var: str, name: str, out: Printer) -> Standin | None:
    """Make one base image available if it is local or pullable; else return the stand-in to build (None if none is needed)."""
    standin = STANDINS[var]
    probes = act.probes
    if probes.image_local(name):
        out(check_image(probes, var, name).line())
        return None
    if name != standin.image:
        out(f"fixing   {var}: {name} is not local; pulling it")
        if act.pull(name):
            out(f"ok       {var}: {name} (pulled)")
            return None
        if name != official_images(settings.root)[var]:
            raise DevloopError(f"{var}={name} is neither local nor pullable: fix {var} in .env, or unset it to use a stand-in")
        out(f"fixing   {var}: no registry answers; using a stand-in built from Debian packages")
    return standin


def ensure_images(act: Actions, settings: Settings, out: Printer) -> dict[str, str]:
    """Make every base image available: pulled, or stand-ins built side by side (one chain per Debian suite,
    its base first); return the stand-ins to record."""
    with ThreadPoolExecutor(len(settings.images)) as pool:
        wanted = dict(
            zip(settings.images, pool.map(lambda item: needs_standin(act, settings, *item, out), settings.images.items()), strict=True)
        )
    missing = {var: standin for var, standin in wanted.items() if standin and not act.probes.image_local(standin.image)}
    suites = {standin.suite: [s for s in missing.values() if s.suite == standin.suite] for standin in missing.values()}
    if any(not act.probes.image_local(BASES[suite]) for suite in suites):
        prepare_bases(act)
    with ThreadPoolExecutor(max(len(suites), 1)) as pool:
        list(pool.map(lambda suite: build_suite(act, settings, suite, suites[suite], out), suites))
    for var, standin in wanted.items():
        if standin and var not in missing:
            out(f"ok       {var}: {standin.image} (stand-in built from Debian packages)")
    return {var: standin.image for var, standin in wanted.items() if standin and standin.image != settings.images[var]}


def build_suite(act: Actions, settings: Settings, suite: str, standins: list[Standin], out: Printer) -> None:
    """Make a suite's Debian base if missing, then its stand-ins side by side."""
    ensure_base(act, suite, out)

    def build(standin: Standin) -> None:
        started = time.monotonic()
        out(f"fixing   {_var_of(standin)}: building {standin.image}")
        act.build_image(standin.image, settings.path(standin.context), BASES[suite])
        out(f"ok       {_var_of(standin)}: {standin.image} (stand-in built from Debian packages in {_since(started)})")

    with ThreadPoolExecutor(len(standins)) as pool:
        list(pool.map(build, standins))


def _var_of(standin: Standin) -> str:
    """The setting a stand-in stands in for."""
    return next(var for var, s in STANDINS.items() if s == standin)


def prepare_bases(act: Actions) -> None:
    """Check that Debian bases can be made here, and install mmdebstrap once (before bases are made side by side)."""
    probes = act.probes
    if not probes.apt_mirror() or not probes.is_root():
        raise DevloopError("building a Debian base image needs root and a Debian host (mmdebstrap): pull the official images instead")
    if not probes.has_command("mmdebstrap"):
        act.apt_install("mmdebstrap")


def ensure_base(act: Actions, suite: str, out: Printer) -> None:
    """Make the Debian base image of a suite, which stand-ins build on."""
    probes = act.probes
    image = BASES[suite]
    if probes.image_local(image):
        return
    prepare_bases(act)
    mirror, started = probes.apt_mirror(), time.monotonic()
    out(f"fixing   base image: making {image} with mmdebstrap from {mirror}")
    act.build_base(str(mirror), suite)
    out(f"ok       base image: {image} ({_since(started)})")


def _one_line_at_a_time(out: Printer) -> Printer:
    """Return a printer that steps running side by side can share without mixing their lines."""
    lock = threading.Lock()

    def say(line: str) -> None:
        with lock:
            out(line)

    return say


def _since(started: float) -> str:
    """How long a step took, as setup prints it."""
    return f"{time.monotonic() - started:.1f} s"


def default_ca_bundle(act: Actions, environ: Mapping[str, str]) -> str:
    """Return the host's CA bundle path ("" when there is none)."""
    exists = act.probes.file_exists
    for var in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        if environ.get(var) and exists(environ[var]):
            return environ[var]
    return next((path for path in CA_CANDIDATES if exists(path)), "")


def setup(settings: Settings, act: Actions, out: Printer = print, environ: Mapping[str, str] | None = None) -> list[str]:
    """Check everything `invoke up` needs and fix what can be fixed (side by side where independent); return what changed."""
    environ = os.environ if environ is None else environ
    out = _one_line_at_a_time(out)
    with ThreadPoolExecutor(1) as pool:  # Compose's package is fetched while the engine installs
        engine = pool.submit(ensure_engine, act, out)
        compose = ensure_compose(act, out, engine.result)
        changed = [name for name, done in (("engine", engine.result()), ("compose", compose)) if done]
    record = ensure_images(act, settings, out)
    if not settings.ca_bundle:
        found = default_ca_bundle(act, environ)
        if found:
            record["CA_BUNDLE"] = found
            out(f"fixing   ca-bundle: builds will hand {found} to pip as a build secret")
    else:
        out(check_ca(act.probes, settings).line())
    if record and envfile.update(settings.path(ENV_FILE), record):
        changed.append(f"{ENV_FILE} ({', '.join(sorted(record))})")
        out(f"fixing   recorded {', '.join(f'{k}={v}' for k, v in sorted(record.items()))} in {ENV_FILE}")
    volume = act.probes.data_volume(settings) if passwords.missing(settings.root) else None
    created = passwords.ensure(settings.root, volume)  # fails, saying what to do, over an existing volume
    if created:
        changed.append("db passwords")
        out(f"fixing   db-passwords: generated {', '.join(p.name for p in created)} in {passwords.SECRETS_DIR}/")
    else:
        out("ok       db-passwords: present")
    return changed
