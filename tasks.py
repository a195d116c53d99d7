"""The inner loop of containerized Python development: one task per verb.

`invoke --list` lists them, `invoke --help TASK` explains each flag. The logic lives in
the `devloop` package (docs/architecture.md maps it); settings come from the compose
file's defaults, .env, invoke.yaml (key `devloop`) and the environment.
"""

from __future__ import annotations

import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path

from invoke import Context, Exit, task

from devloop import checks, host, lock, modes, provision
from devloop import settings as config
from devloop import vscode as launch
from devloop.edits import sync as syncing
from devloop.errors import DevloopError, one_line_errors
from devloop.stack import Stack, running_stack

ROOT = Path(__file__).resolve().parent


def _settings(c: Context) -> config.Settings:
    """Resolve this project's settings (invoke.yaml's `devloop` key included)."""
    return config.load(ROOT, c.config.get("devloop", {}))


def _one_at_a_time(stack: Stack, task: str) -> AbstractContextManager[None]:
    """Hold the project's lock while a task changes its stack (once the engine answers this user)."""
    stack.require_engine()
    return lock.exclusive(stack.settings.root, stack.settings.project, task)


@task
@one_line_errors
def setup(c: Context) -> None:
    """Prepare this machine: engine, Compose v2, base images, CA bundle, DB passwords."""
    started = time.monotonic()
    changed = provision.setup(_settings(c), host.Actions(host.Probes()))
    took = f"{time.monotonic() - started:.1f} s"
    print(f"setup: changed {', '.join(changed)} in {took}" if changed else f"setup: everything was in place; nothing changed ({took})")


@task
@one_line_errors
def doctor(c: Context) -> None:
    """Check what `invoke up` needs, changing nothing; exit 1 if something blocks it."""
    found = checks.doctor(_settings(c), host.Probes())
    for check in found:
        print(check.line())
    if any(not check.ok and check.blocking for check in found):
        raise Exit("doctor: `invoke up` would fail; fix the problems above", code=1)


@task(
    help={
        "service": "the service to build (default: every service with a Dockerfile)",
        "no-cache": "build without BuildKit's layer cache",
        "target": "Dockerfile stage: dev (what `up` runs) or prod (gunicorn, tagged :prod)",
    }
)
@one_line_errors
def build(c: Context, service: str = "", no_cache: bool = False, target: str = "dev") -> None:
    """Build the app image (dev by default, or --target prod)."""
    if target not in ("dev", "prod"):
        raise DevloopError(f"--target must be dev or prod, got {target!r}")
    stack = Stack(_settings(c))
    with _one_at_a_time(stack, "build"):
        stack.build([service] if service else [], no_cache=no_cache, target=target)


@task(
    help={
        "build": "rebuild images even when their inputs did not change",
        "debug": "start in debug mode (same as `invoke debug`)",
    }
)
@one_line_errors
def up(c: Context, build: bool = False, debug: bool = False) -> None:
    """Build what is stale, start the stack, wait until healthy, print its URLs."""
    stack = Stack(_settings(c), mode=modes.choose(debug))
    with _one_at_a_time(stack, "up"):
        stack.up(build=build)
    if stack.mode.debugger:
        _say_how_to_attach(stack)


@task(help={"wait": "hold the app until a debugger attaches (the other services start anyway)"})
@one_line_errors
def debug(c: Context, wait: bool = False) -> None:
    """Start the stack with the app under debugpy; `invoke up` returns to normal."""
    stack = Stack(_settings(c), mode=modes.choose(debug=True, wait=wait))
    with _one_at_a_time(stack, "debug"):
        stack.up()
    _say_how_to_attach(stack)


def _say_how_to_attach(stack: Stack) -> None:
    """Say how to attach (`up` has checked that debugpy answers a DAP handshake from here)."""
    port = stack.settings.debug_port
    print(f"debugpy answers on 127.0.0.1:{port}: in VS Code run 'Python: Remote Attach' (.vscode/launch.json)")
    if not launch.up_to_date(stack.settings):
        print(f"{launch.LAUNCH_FILE} does not match your settings (a port, APP_DIR): `invoke vscode` updates it")
    if stack.mode.waits_for_debugger:
        print("the app starts serving once a debugger attaches")


@task(
    help={
        "volumes": "also delete the database volume (asks first; all data is lost)",
        "yes": "confirm --volumes without asking (needed when there is no TTY)",
    }
)
@one_line_errors
def down(c: Context, volumes: bool = False, yes: bool = False) -> None:
    """Stop the stack; the database volume is kept unless --volumes."""
    stack = running_stack(_settings(c))
    if volumes and not yes:
        if not sys.stdin.isatty():
            raise DevloopError("refusing to delete the database volume without confirmation: pass --yes (no TTY to ask on)")
        names = ", ".join(stack.volumes()) or "the project's volumes"
        if input(f"Delete {names}? All data in it is lost. [y/N] ").strip().lower() not in ("y", "yes"):
            raise DevloopError("nothing done: the stack and its data are as they were")
    with _one_at_a_time(stack, "down"):
        stack.down(volumes=volumes)
    print("stack is down; " + ("its volumes are deleted" if volumes else "the database volume is kept"))


@task(
    help={
        "service": "service name(s), comma-separated (default: all)",
        "follow": "keep printing new lines",
        "tail": "how many lines to show from the end of each log (a number, or all)",
        "since": "only lines since this time (e.g. 10m, 2026-01-02T13:00:00)",
    }
)
@one_line_errors
def logs(c: Context, service: str = "", follow: bool = False, tail: str = "all", since: str = "") -> None:
    """Show the services' logs."""
    if tail != "all" and not tail.isdigit():
        raise DevloopError(f"--tail must be a number or 'all', got {tail!r}")
    stack = Stack(_settings(c))
    stack.require_engine()
    names = stack.compose.require_services([s.strip() for s in service.split(",") if s.strip()])
    args = ["logs", f"--tail={tail}", *(["--follow"] if follow else []), *([f"--since={since}"] if since else [])]
    if not sys.stdout.isatty():
        args.append("--no-color")
    code = stack.compose.interactive(*args, *names)
    if code not in (0, 130):
        raise Exit(code=code)


@task
@one_line_errors
def reload(c: Context) -> None:
    """Apply what changed since the last up, the cheapest correct way; say why."""
    stack = running_stack(_settings(c))
    with _one_at_a_time(stack, "reload"):
        todo = stack.reload()
    if todo.nothing:
        print("reload: nothing changed since the last build/up")
    for reason in todo.reasons:
        print(f"reload: {reason}")


@task(name="rekey")
@one_line_errors
def rekey_(c: Context) -> None:
    """Set the database's passwords to db/secrets/ (lost or changed files); keeps every row."""
    stack = running_stack(_settings(c))
    with _one_at_a_time(stack, "rekey"):
        stack.rekey()


@task
@one_line_errors
def status(c: Context) -> None:
    """Show each service: state, health, ports, mode, image freshness."""
    for line in running_stack(_settings(c)).status():
        print(line)


@task(name="sync", help={"follow": "then print each change the sync sends, until Ctrl-C"})
@one_line_errors
def sync_(c: Context, follow: bool = False) -> None:
    """Say how the sync of app/src into the app is (sync mode: an engine that does not see app/src)."""
    settings = _settings(c)
    if not syncing.process(settings.root, settings.project).read():
        raise DevloopError("this stack has never synced app/src: `invoke status` says how edits reach it")
    print(f"edits     {syncing.describe(settings.root, settings.project)}")
    if follow:
        syncing.follow(settings.root, settings.project, print)


@task(help={"service": "the service to open a shell in (default: app)"})
@one_line_errors
def shell(c: Context, service: str = "app") -> None:
    """Open a shell in a running service's container."""
    stack = Stack(_settings(c))
    stack.require_engine()
    stack.compose.require_services([service])
    tty = [] if sys.stdin.isatty() and sys.stdout.isatty() else ["-T"]
    code = stack.compose.interactive("exec", *tty, service, "sh", "-c", "command -v bash >/dev/null && exec bash || exec sh")
    if code != 0:
        raise Exit(code=code)


@task
@one_line_errors
def vscode(c: Context) -> None:
    """Write .vscode/launch.json (Python: Remote Attach) from the compose files."""
    changed = launch.write(_settings(c))
    print(f"{launch.LAUNCH_FILE} {'written' if changed else 'already up to date'}")
