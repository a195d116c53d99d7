"""Your own app, measured (`nox -s bench -- frameworks` alone, or as part of every `nox -s bench`): edit-to-served
for the Django and FastAPI examples, our dev server against each framework's own reloader (`manage.py runserver`,
`uvicorn --reload` with watchfiles) in the same image and bind mount, with and without a debugger attached as VS Code
attaches; and the worker's save-to-new-code-running. Writes its table into docs/benchmarks.md's kept part.
"""

from __future__ import annotations

import datetime
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from docker.models.containers import Container

from devloop import envfile
from tests.support.harness import Project, copy_project
from tests.support.waiting import wait_until

from . import measure, report

START, END = "<!-- frameworks: written by `nox -s bench` (or `nox -s bench -- frameworks`) -->", "<!-- /frameworks -->"
WORKER = "app/src/blog/worker.py"
NOTE = 'NOTE = "processed"'
EDIT_TIMEOUT = 30.0  # the longest wait for one edit to be served
DEBUGPY = ["python", "-m", "debugpy", "--listen", "0.0.0.0:5678"]  # compose/debug.yml publishes DEBUG_PORT to it


@dataclass(frozen=True)
class Framework:
    """An example app and its framework's own reloader."""

    name: str
    app_dir: str
    module: str
    views: str
    stock: list[str]  # the stock reloader's command, run in /code; debugpy's CLI runs it with its first word dropped
    stock_label: str


FRAMEWORKS = [
    Framework(
        "Django",
        "examples/django",
        "mysite.wsgi:application",
        "examples/django/src/mysite/views.py",
        ["python", "manage.py", "runserver", "0.0.0.0:5000"],
        "`manage.py runserver` (its autoreloader)",
    ),
    Framework(
        "FastAPI",
        "examples/fastapi",
        "main:app",
        "examples/fastapi/src/main.py",
        ["python", "-m", "uvicorn", "main:app", "--reload", "--host", "0.0.0.0", "--port", "5000"],
        "`uvicorn --reload` (watchfiles)",
    ),
]


def overlay(project: Project, name: str, command: list[str]) -> str:
    """A compose overlay that runs the app with another command; return its path."""
    return measure.write(project, f"{name}.yml", f"services:\n  app:\n    command: {command}\n")


def debug_run(project: Project, runs: int) -> list[float]:
    """Edit-to-served with VS Code's attach following every new process."""
    attached = measure.attach_like_vscode(project)
    try:
        time.sleep(1)
        return measure.edit_to_served(project, runs, timeout=EDIT_TIMEOUT, path=project.root / _views(project))
    finally:
        attached.close()


def _views(project: Project) -> str:
    """The views file of the example the copy serves (from its .env)."""
    app_dir = envfile.read(project.root / ".env").get("APP_DIR", "app")
    return next(f.views for f in FRAMEWORKS if f.app_dir == app_dir)


def measure_framework(framework: Framework, runs: int) -> dict[str, list[float]]:
    """Ours and the stock reloader, each with and without a debugger, on a copy serving the example."""
    with tempfile.TemporaryDirectory(prefix=f"devloop-bench-{framework.name.lower()}-") as work:
        project = copy_project(Path(work) / "blog", prefix=f"bench-{framework.name.lower()}")
        envfile.update(project.root / ".env", {"APP_DIR": framework.app_dir, "APP_MODULE": framework.module})
        views = project.root / framework.views
        samples: dict[str, list[float]] = {}
        try:
            print(f"bench: {framework.name}, ours", flush=True)
            project.invoke("up")
            samples["ours"] = measure.edit_to_served(project, runs, path=views)
            print(f"bench: {framework.name}, {framework.stock_label}", flush=True)
            measure.switch(project, [overlay(project, "stock", framework.stock)])
            samples["stock"] = measure.edit_to_served(project, runs, path=views)
            print(f"bench: {framework.name}, ours with a debugger", flush=True)
            project.invoke("debug")
            samples["ours_debug"] = debug_run(project, runs)
            print(f"bench: {framework.name}, stock with a debugger", flush=True)
            measure.switch(project, ["compose/debug.yml", overlay(project, "stock-debug", [*DEBUGPY, *framework.stock[1:]])])
            try:
                samples["stock_debug"] = debug_run(project, runs)
            except RuntimeError as exc:  # Django's reloader under debugpy: "changed, reloading", then nothing (debugpy#343)
                print(f"bench: {framework.name}, stock with a debugger: {exc}", flush=True)
                samples["stock_debug"] = []
        finally:
            project.teardown()
        return samples


def _logged_at(stamp: str) -> float:
    """An engine log timestamp (RFC 3339, nanoseconds) as a Unix time."""
    day, _, rest = stamp.partition("T")
    clock, _, fraction = rest.rstrip("Z").partition(".")
    whole = datetime.datetime.fromisoformat(f"{day}T{clock}+00:00").timestamp()
    return whole + float(f"0.{fraction or 0}")


def _logged(container: Container, text: str, since: float) -> str:
    """The container's first log line since then (with its timestamp) that holds the text, or ""."""
    return next((x for x in container.logs(timestamps=True, since=int(since) - 1).decode().splitlines() if text in x), "")


def worker_runs(runs: int) -> list[float]:
    """Save the sample worker with a new note; time until the new code's first line is logged (engine timestamps)."""
    with tempfile.TemporaryDirectory(prefix="devloop-bench-worker-") as work:
        project = copy_project(Path(work) / "blog", prefix="bench-worker")
        envfile.update(project.root / ".env", {"COMPOSE_PROFILES": "worker"})
        path = project.root / WORKER
        original = path.read_text()
        samples = []
        try:
            project.invoke("up")
            worker = project.client.containers.get(project.states()["worker"].container_id)
            for n in range(runs):
                marker = f"bench {n} {time.time_ns()}"
                saved = time.time()
                path.write_text(original.replace(NOTE, f'NOTE = "{marker}"'))
                found = wait_until(lambda m=marker, t=saved: _logged(worker, f"marking new posts as '{m}'", t), 30, 0.05, "new code")
                samples.append(_logged_at(found.split()[0]) - saved)
                time.sleep(measure.SETTLE)
        finally:
            path.write_text(original)
            project.teardown()
        return samples


def measure_all(runs: int) -> dict[str, dict[str, list[float]]]:
    """Every framework's samples, and the worker's."""
    results = {f.name: measure_framework(f, runs) for f in FRAMEWORKS}
    results["worker"] = {"ours": worker_runs(runs)}
    return results


def _row(label: str, samples: list[float], ref: list[float]) -> str:
    """A row of the table; no samples: the edit was never served."""
    if not samples:
        return f"| {label} | never: the first edit was not served within {EDIT_TIMEOUT:.0f} s | | 0 | - |"
    return report.row(label, samples, {"ref": statistics.median(ref) if ref else 0})


def record(results: dict[str, dict[str, list[float]]]) -> str:
    """Write the table into docs/benchmarks.md's kept part; return it."""
    lines = [
        "## Your own app: Django and FastAPI, and a worker",
        "",
        "Edit-to-served as above (a save in the example's views, the first response with it), our dev server against the",
        "framework's own reloader in the same image and bind mount; with a debugger, VS Code's attach following every new",
        "process (debugpy's CLI around the stock command). The worker: a save of `app/src/blog/worker.py` to its new code's",
        "first log line (engine timestamps, so the log's own delay is not counted).",
        "",
        "| app | variant | median | min-max | runs | vs stock |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for framework in FRAMEWORKS:
        samples = results[framework.name]
        for key, label, ref in (
            ("ours", "ours", "stock"),
            ("stock", framework.stock_label, "stock"),
            ("ours_debug", "ours, debugger attached", "stock_debug"),
            ("stock_debug", f"{framework.stock_label}, debugger attached", "stock_debug"),
        ):
            lines.append(_row(f"{framework.name} | {label}", samples[key], samples[ref]))
    lines.append(_row("worker | ours: save to the new code running", results["worker"]["ours"], []))
    if not results["Django"]["stock_debug"]:
        lines += [
            "",
            "Django's reloader under debugpy logs `changed, reloading` and its process never ends, so nothing new is served",
            "(microsoft/debugpy#343); VS Code's own Django configuration runs `runserver --noreload`: a restart per edit.",
        ]
    report.write_kept(START, END, lines)
    return "\n".join(lines)


def main(runs: int) -> str:
    """Measure and record; return the table."""
    return record(measure_all(runs))
