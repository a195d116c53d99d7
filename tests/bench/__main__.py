"""`nox -s bench`: the inner loop, measured side by side with what users would use instead.

One run, one machine, one copy of the project (its own compose project and free ports):
edit-to-served for our dev server, Werkzeug's stock reloader, `docker compose watch`
(sync+restart) and the restart floor, with and without a debugger attached; a warm
`invoke reload` against `docker compose restart app`; idle CPU. Then, on the host's engine and
on a current one in turn (tests/bench/on_engine.py): a warm `invoke up` against
`docker compose up --wait`, and `up` and `reload` with nothing changed. Then your own app: Django,
FastAPI and a worker (tests/bench/frameworks.py, also alone: `nox -s bench -- frameworks`). Last, the
inner loop on a remote engine over ssh:// (tests/bench/remote.py). Writes docs/benchmarks.{md,json,png}.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from devloop import modes
from devloop.runtime import Runtime
from tests.support.harness import ROOT, Project, copy_project

from . import frameworks, measure, on_engine, overlays, remote, report

RUNS = int(os.environ.get("BENCH_RUNS", "7"))
UP_RUNS = int(os.environ.get("BENCH_UP_RUNS", "5"))


def wait_debugger(project: Project) -> None:
    """Wait until debugpy listens in the app container (without using up its connection)."""
    Runtime(project.resolved_settings(), mode=modes.DEBUG).wait_for_debugger()


def debug_run(project: Project, results: dict[str, list[float]], key: str) -> None:
    """Measure edit-to-served with a debugger attached that follows every reload."""
    attached = measure.attach_like_vscode(project)
    try:
        time.sleep(1)
        results[key] = measure.edit_to_served(project, RUNS)
    finally:
        attached.close()


def watch_run(project: Project, results: dict[str, list[float]]) -> None:
    """Measure edit-to-served under `docker compose watch` (sync+restart)."""
    overlay = measure.write(
        project,
        "watch.yml",
        overlays.watch(project.name),
    )
    project.compose("build", "app", files=[overlay])
    measure.switch(project, [overlay])
    watcher = project.compose_runner([overlay]).start("watch", "--no-up", "app")
    try:
        time.sleep(3)  # compose prints nothing reliable when its watch is armed
        results["compose_watch"] = measure.edit_to_served(project, RUNS)
    finally:
        watcher.terminate()
        watcher.wait(10)


def reload_runs(project: Project) -> dict[str, list[float]]:
    """A source-only change applied by `invoke reload` vs `docker compose restart app`."""
    path = project.root / measure.VIEWS
    original = path.read_text()
    port = project.ports["APP_PORT"]
    ours: list[float] = []
    plain: list[float] = []
    try:
        for n in range(UP_RUNS):
            for samples, action in (
                (ours, lambda: project.invoke("reload")),
                (plain, lambda: project.compose("restart", "app")),
            ):
                marker = f"Hello, reload {n} {len(samples)} {time.time_ns()}"
                path.write_text(original.replace(measure.ORIGINAL, marker))
                samples.append(measure.timed(action, lambda m=marker: measure.response_of(port) == m))
                time.sleep(measure.SETTLE)
    finally:
        path.write_text(original)
        project.invoke("reload")
    return {"ours": ours, "compose_restart": plain}


def main(parts: list[str]) -> int:
    """Run every measurement (or, with `frameworks`, only your own app's), print the tables, write docs/benchmarks.*."""
    if parts == ["frameworks"]:
        print(frameworks.main(RUNS))
        return 0
    if parts:
        print(f"bench: unknown part {' '.join(parts)!r} (the only one that runs alone: frameworks)", file=sys.stderr)
        return 2
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="devloop-bench-"))
    project = copy_project(work / "blog", prefix="bench")
    latency: dict[str, list[float]] = {}
    other: dict[str, dict[str, list[float]]] = {}
    cpu: dict[str, float] = {}
    try:
        print("bench: starting the stack", flush=True)
        project.invoke("up")
        print("bench: edit-to-served, ours", flush=True)
        latency["ours"] = measure.edit_to_served(project, RUNS)
        latency["floor"] = measure.restart_floor(project, RUNS)
        cpu["ours"] = measure.idle_cpu_percent(project)
        print("bench: edit-to-served, ours, app/src a FUSE view saved behind (polling)", flush=True)
        with measure.fuse_view(project) as real:
            project.invoke("up")
            latency["ours_fuse"] = measure.edit_to_served(project, RUNS, path=real / "blog/views.py")
            cpu["ours_fuse"] = measure.idle_cpu_percent(project)
        project.invoke("up")
        print("bench: invoke reload vs docker compose restart", flush=True)
        other["reload_source"] = reload_runs(project)
        print("bench: edit-to-served, stock reloader", flush=True)
        measure.switch(project, [measure.write(project, "stock.yml", overlays.STOCK)])
        latency["stock"] = measure.edit_to_served(project, RUNS)
        cpu["stock"] = measure.idle_cpu_percent(project)
        print("bench: edit-to-served, docker compose watch", flush=True)
        watch_run(project, latency)
        print("bench: edit-to-served with a debugger attached, ours", flush=True)
        project.invoke("debug")
        debug_run(project, latency, "ours_debug")
        print("bench: edit-to-served with a debugger attached, stock", flush=True)
        measure.switch(project, ["compose/debug.yml", measure.write(project, "stock-debug.yml", overlays.STOCK_DEBUG)])
        wait_debugger(project)
        debug_run(project, latency, "stock_debug")
    finally:
        project.teardown()
        subprocess.run(["docker", "image", "rm", "-f", f"{project.name}-app-watch:dev"], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)
    own_app = frameworks.measure_all(RUNS)
    on_engines = on_engine.measure_each()
    other["up_warm"] = on_engines["host"]["up_warm"]
    on_remote = remote.measure_remote()
    results = report.Results(latency, other, cpu, on_engines, on_remote)
    table = report.write(ROOT / "docs", results, report.machine(project), time.perf_counter() - started)
    print(table)
    print(frameworks.record(own_app))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
