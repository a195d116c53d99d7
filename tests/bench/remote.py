"""The inner loop on a remote engine reached over ssh:// (it sees none of this machine's files):
the first `invoke up` of a fresh checkout (build on the engine, database made, the whole tree
synced), then edit-to-served through devloop's sync (devloop/syncer.py), with and without a
debugger, against `docker compose watch` into the same dev server (action `sync`, and
`sync+restart`). `python -m tests.bench.remote OUT.json` measures the engine DOCKER_HOST names;
`measure` runs it on the remote engine of tests/support/engines.py.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from devloop.compose import Compose
from devloop.runtime import Runtime
from tests.support import engines
from tests.support.harness import Project, copy_project
from tests.support.waiting import wait_until

from . import measure, overlays

RUNS = int(os.environ.get("BENCH_REMOTE_RUNS", "21"))  # enough for a p95


def synced_compose(project: Project, *extra: str) -> Compose:
    """Compose for the copy as `invoke up` runs it on this engine (files carried, app synced), plus extra files."""
    synced = Runtime(project.resolved_settings(), edits_label="sync").compose
    return synced.with_files(extra)


def compose_watch(project: Project, action: str) -> list[float]:
    """Edit-to-served with `docker compose watch` doing the given action into the app."""
    overlay = measure.write(
        project,
        f"watch-{action}.yml",
        overlays.remote_watch(project.name, action),
    )
    runner = synced_compose(project, overlay)
    runner.check(runner.capture("build", "app"), "build of the watch image")
    runner.check(runner.capture("up", "--detach", "--wait", "--no-deps", "app"), "the app under watch")
    wait_until(lambda: measure.served(project), timeout=60, what="app serving")
    watcher = runner.start("watch", "--no-up", "app")
    try:
        time.sleep(3)  # compose prints nothing reliable when its watch is armed
        return measure.edit_to_served(project, RUNS)
    finally:
        watcher.terminate()
        watcher.wait(10)


def runs() -> dict[str, Any]:
    """Measure on the engine this process uses; return samples in seconds."""
    work = Path(tempfile.mkdtemp(prefix="devloop-bench-remote-"))
    project = copy_project(work / "blog", prefix="remote")
    try:
        first_up = measure.timed(lambda: project.invoke("up"), lambda: measure.served(project))
        print("bench: remote edit-to-served, ours", flush=True)
        ours = measure.edit_to_served(project, RUNS)
        project.invoke("debug")
        attached = measure.attach_like_vscode(project)
        try:
            time.sleep(1)
            print("bench: remote edit-to-served, ours with a debugger", flush=True)
            ours_debug = measure.edit_to_served(project, RUNS)
        finally:
            attached.close()
        project.invoke("up")
        print("bench: remote edit-to-served, docker compose watch", flush=True)
        watch_sync = compose_watch(project, "sync")
        watch_restart = compose_watch(project, "sync+restart")
        return {
            "version": project.client.version()["Version"],
            "first_up": first_up,
            "ours": ours,
            "ours_debug": ours_debug,
            "compose_watch_sync": watch_sync,
            "compose_watch_sync_restart": watch_restart,
        }
    finally:
        project.teardown()
        subprocess.run(["docker", "image", "rm", "-f", f"{project.name}-app-watch:dev"], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)


def measure_remote() -> dict[str, Any]:
    """Run the measurements on the remote engine; return the samples."""
    work = Path(tempfile.mkdtemp(prefix="devloop-engine-", dir="/tmp"))
    try:
        with engines.context("remote", work) as remote:
            out = work / "remote.json"
            print(f"bench: the inner loop on {remote.label}, over ssh://", flush=True)
            subprocess.run([sys.executable, "-m", "tests.bench.remote", str(out)], env={**os.environ, **remote.env}, check=True)
            return json.loads(out.read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)


def p95(samples: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def medians(samples: dict[str, Any]) -> dict[str, Any]:
    """Medians (and a p95), in seconds, in the shape docs/benchmarks.json documents under "remote"."""

    def med(values: list[float]) -> float:
        return round(statistics.median(values), 4)

    return {
        "engine": samples["version"],
        "edit_to_served": {
            "ours": med(samples["ours"]),
            "ours_p95": round(p95(samples["ours"]), 4),
            "ours_debug": med(samples["ours_debug"]),
            "compose_watch_sync": med(samples["compose_watch_sync"]),
            "compose_watch_sync_restart": med(samples["compose_watch_sync_restart"]),
        },
        "first_up": round(samples["first_up"], 3),
    }


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(json.dumps(runs()))
