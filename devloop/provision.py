"""`invoke setup`: make this machine ready for `invoke up`, changing only what is missing.

Engine, Compose v2, the base images (official, pulled, or a stand-in built from Debian
packages when there is no registry), the CA bundle for pip, the database passwords.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
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
    probes = act.probes
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
    out(f"ok       engine: Docker {probes.engine()[0]} answers")
    return True


def ensure_compose(act: Actions, out: Printer) -> bool:
    """Make Compose v2 >= MIN_VERSION available; return whether anything changed."""
    probes = act.probes
    check = check_compose(probes)
    if check.ok:
        out(check.line())
        return False
    if not (probes.is_root() and debian_family(probes)):
        raise DevloopError(f"{check.detail}: install the docker compose plugin (https://docs.docker.com/compose/install/)")
    if probes.os_release().get("ID") == "ubuntu":
        out("fixing   compose: installing docker-compose-v2")
        act.apt_install("docker-compose-v2", "docker-buildx")
    else:
        mirror = probes.apt_mirror()
        if not mirror:
            raise DevloopError("cannot find the host's Debian mirror in /etc/apt/sources*: install the docker compose plugin by hand")
        out(f"fixing   compose: installing Compose v2 and buildx from Debian {COMPOSE_SUITE}'s packages")
        act.install_compose_from_debian(mirror)
    check = check_compose(probes)
    if not check.ok:
        raise DevloopError(f"{check.detail} even after installing it")
    out(check.line())
    return True


def ensure_image(act: Actions, settings: Settings, var: str, name: str, out: Printer) -> str | None:
    """Make one base image available; return the stand-in to record, if one replaced it."""
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
    if not probes.image_local(standin.image):
        ensure_base(act, standin.suite, out)
        out(f"fixing   {var}: building {standin.image}")
        act.build_image(standin.image, settings.path(standin.context), BASES[standin.suite])
    out(f"ok       {var}: {standin.image} (stand-in built from Debian packages)")
    return standin.image


def ensure_base(act: Actions, suite: str, out: Printer) -> None:
    """Make the Debian base image of a suite, which stand-ins build on."""
    probes = act.probes
    image = BASES[suite]
    if probes.image_local(image):
        return
    mirror = probes.apt_mirror()
    if not mirror or not probes.is_root():
        raise DevloopError(f"building {image} needs root and a Debian host (mmdebstrap): pull the official images instead")
    if not probes.has_command("mmdebstrap"):
        out("fixing   base image: installing mmdebstrap")
        act.apt_install("mmdebstrap")
    out(f"fixing   base image: making {image} with mmdebstrap from {mirror}")
    act.build_base(mirror, suite)


def default_ca_bundle(act: Actions, environ: Mapping[str, str]) -> str:
    """Return the host's CA bundle path ("" when there is none)."""
    exists = act.probes.file_exists
    for var in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        if environ.get(var) and exists(environ[var]):
            return environ[var]
    return next((path for path in CA_CANDIDATES if exists(path)), "")


def setup(settings: Settings, act: Actions, out: Printer = print, environ: Mapping[str, str] | None = None) -> list[str]:
    """Check everything `invoke up` needs and fix what can be fixed; return what changed."""
    environ = os.environ if environ is None else environ
    changed = [name for name, ensure in (("engine", ensure_engine), ("compose", ensure_compose)) if ensure(act, out)]
    record: dict[str, str] = {}
    for var, name in settings.images.items():
        standin = ensure_image(act, settings, var, name, out)
        if standin and standin != name:
            record[var] = standin
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
    volume = act.probes.data_volume(settings.project) if passwords.missing(settings.root) else None
    created = passwords.ensure(settings.root, volume)  # fails, saying what to do, over an existing volume
    if created:
        changed.append("db passwords")
        out(f"fixing   db-passwords: generated {', '.join(p.name for p in created)} in {passwords.SECRETS_DIR}/")
    else:
        out("ok       db-passwords: present")
    return changed
