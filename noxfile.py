"""Sessions: lint, unit tests (no Docker), end-to-end tests (real Docker); bench on request.

`nox` runs lint, tests and e2e: the README's test command.
"""

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"

PYPROJECT = nox.project.load_toml("pyproject.toml")
DEV = nox.project.dependency_groups(PYPROJECT, "dev")
APP_REQUIREMENTS = ("-r", "app/requirements.txt", "-r", "app/devserver/requirements.txt", "-r", "examples/fastapi/requirements.txt")


@nox.session
def lint(session: nox.Session) -> None:
    """Lint and check formatting with ruff."""
    session.install(*DEV)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def tests(session: nox.Session) -> None:
    """Unit tests: tasks' decisions, settings, reload table, launch.json, the app, the dev server. No Docker needed."""
    session.install(*DEV, *APP_REQUIREMENTS)
    session.run("pytest", "tests/unit", *session.posargs)


@nox.session
def e2e(session: nox.Session) -> None:
    """End-to-end: hot reload, debugger, data, exposure, failure paths, the page in a browser; on the host's
    engine and on a current one (Docker 28, in a container) side by side. E2E_ENGINES=host (or current) runs one.
    """
    session.install(*DEV)
    session.run("python", "-m", "tests.support.engines", "pytest", "tests/e2e", "-v", "-p", "no:cacheprovider", *session.posargs)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmark the inner loop (edit-to-served, up, reload, idle CPU); writes docs/benchmarks.*."""
    session.install(*DEV, "matplotlib==3.11.2")
    session.run("python", "-m", "tests.bench", *session.posargs)


@nox.session(default=False)
def stress(session: nox.Session) -> None:
    """Cold start then attach at once as VS Code does, STRESS_ROUNDS (20) times two ways; writes docs/benchmarks.md."""
    session.install(*DEV)
    session.run("python", "-m", "tests.bench.stress", *session.posargs)
