"""`invoke doctor`: what `invoke up` needs, checked through read-only probes, one line each."""

from __future__ import annotations

import platform

from . import compose, edits, engine, passwords
from .errors import DevloopError
from .findings import Check
from .host import Probes
from .settings import Settings

STANDIN_PREFIX = "standin/"


def custom_endpoint(probes: Probes) -> str:
    """Return the engine address the user chose (DOCKER_HOST or a context), or ""."""
    if probes.docker_host():
        return f"DOCKER_HOST={probes.docker_host()}"
    context = probes.docker_context()
    return "" if context in ("", "default") else f"docker context {context}"


def debian_family(probes: Probes) -> bool:
    """Whether the host is Debian, Ubuntu or a derivative (so apt has docker.io)."""
    distro = probes.os_release()
    return bool({distro.get("ID", ""), *distro.get("ID_LIKE", "").split()} & {"debian", "ubuntu"})


def why_not_managed(probes: Probes, engine_error: str = "") -> str:
    """Return why setup may not install or start an engine here ("" when it may)."""
    if engine.DENIED in engine_error or engine_error.startswith("ssh to "):
        return engine_error  # its own words say what to do: setup cannot install an engine behind either
    chosen = custom_endpoint(probes)
    if chosen:
        return f"{chosen} is set and does not answer; start that engine, or unset it to use a local one"
    if not debian_family(probes):
        where = probes.os_release().get("PRETTY_NAME") or platform.system()
        return (
            f"{where} is not Debian/Ubuntu: install Docker Desktop or Docker Engine with the compose plugin "
            "(https://docs.docker.com/engine/install/), start it, then run `invoke setup` again"
        )
    if not probes.is_root():
        return "installing the engine needs root: run `sudo .venv/bin/invoke setup`, or install docker.io and start dockerd yourself"
    return ""


def check_engine(probes: Probes) -> Check:
    """Whether a Docker engine answers."""
    if not probes.has_command("docker"):
        return Check("engine", False, "the docker client is not installed", "run `invoke setup` (Debian/Ubuntu, root) or install Docker")
    version, error = probes.engine()
    if version:
        return Check("engine", True, f"Docker {version} answers")
    return Check(
        "engine", False, "no Docker engine answers", why_not_managed(probes, error) or "run `invoke setup` to install and start one"
    )


def check_compose(probes: Probes) -> Check:
    """Whether Compose v2 is recent enough."""
    found = probes.compose_version()
    problem = compose.version_problem(found)
    if problem:
        return Check("compose", False, problem, "run `invoke setup` or install/upgrade the docker compose plugin")
    return Check("compose", True, f"Docker Compose {'.'.join(map(str, found or ()))}")


def check_image(probes: Probes, var: str, name: str) -> Check:
    """Whether a base image is present locally."""
    if probes.image_local(name):
        kind = "stand-in built from Debian packages" if name.startswith(STANDIN_PREFIX) else "local"
        return Check(var, True, f"{name} ({kind})")
    return Check(
        var, False, f"{name} is not on this engine", "run `invoke setup` (pulls it, or builds a stand-in when there is no registry)"
    )


def check_ca(probes: Probes, settings: Settings) -> Check:
    """Whether builds will hand pip a CA bundle (only needed behind TLS-intercepting proxies)."""
    if settings.ca_bundle and probes.file_exists(settings.ca_bundle):
        return Check("ca-bundle", True, f"{settings.ca_bundle} is passed to pip as a build secret")
    if settings.ca_bundle:
        detail = f"CA_BUNDLE={settings.ca_bundle} does not exist; builds use no extra CA"
        return Check("ca-bundle", False, detail, "fix CA_BUNDLE in .env", blocking=False)
    return Check("ca-bundle", True, "none configured (set CA_BUNDLE behind a TLS-intercepting proxy)")


def check_passwords(settings: Settings, probes: Probes) -> Check:
    """Whether the database password files exist and, with the database running, still open it."""
    missing = passwords.missing(settings.root)
    try:
        volume = probes.data_volume(settings)
    except DevloopError:
        volume = None  # no usable Compose: its own line says so
    if missing and volume:
        detail = f"{', '.join(missing)} missing while the database volume {volume} exists (its users keep their old passwords)"
        return Check("db-passwords", False, detail, f"restore {passwords.SECRETS_DIR}/ from a backup, or {passwords.REKEY_HINT}")
    if missing:
        return Check("db-passwords", False, f"{', '.join(missing)} not generated yet", "created by `invoke up`", blocking=False)
    answer = probes.database_login(settings.project, passwords.read(settings.root, passwords.FILES[0]))
    if answer and "Access denied" in answer:
        return Check("db-passwords", False, f"{passwords.MISMATCH} ({answer})", passwords.REKEY_HINT)
    return Check("db-passwords", True, "present" + ("; the running database accepts them" if answer == "" else ""))


def check_edits(settings: Settings, probes: Probes) -> Check:
    """Whether edits under the source folder reach the app, the way the running app gets them (a bind mount
    the engine sees, or the sync), or the way `up` would choose."""
    try:
        found = compose.Compose(settings, cli=probes.cli).source()
    except DevloopError as exc:
        return Check("edits", False, f"not checked: {exc}", blocking=False)
    if found is None:
        return Check("edits", False, "no bind-mounted source folder found in docker-compose.yml", blocking=False)
    way = edits.running(settings, probes.app_edits(settings.project), found, probes.endpoint())
    return way.prove(
        lambda folder: probes.edit_arrival(settings.project, folder),
        lambda: probes.engine_sees(found.folder, found.token, settings.python_image),
        probes.watching(settings.project),
    )


def doctor(settings: Settings, probes: Probes) -> list[Check]:
    """Run every check; nothing is changed (the probes cannot)."""
    answer = check_engine(probes)
    if not answer.ok:
        return [answer, Check("compose", False, "not checked: no engine", blocking=False)]
    checks = [answer, check_compose(probes)]
    checks += [check_image(probes, var, name) for var, name in settings.images.items()]
    return [*checks, check_ca(probes, settings), check_passwords(settings, probes), check_edits(settings, probes)]
