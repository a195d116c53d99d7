"""Starting and no-op runs on one engine: warm `invoke up` against `docker compose up --wait`,
`invoke up` and `invoke reload` with nothing changed. `python -m tests.bench.on_engine OUT.json`
measures the engine DOCKER_HOST names; `measure_each` runs it on the host's and the current one
(tests/bench/remote.py measures the inner loop on the remote one).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.support import engines
from tests.support.harness import copy_project

from . import measure

RUNS = int(os.environ.get("BENCH_UP_RUNS", "5"))


def runs(runs: int = RUNS) -> dict[str, Any]:
    """Measure on the engine this process uses; return samples in seconds."""
    work = Path(tempfile.mkdtemp(prefix="devloop-bench-"))  # under TMPDIR: the current engine sees it
    project = copy_project(work / "blog", prefix="bench")
    try:
        project.invoke("up")
        up_warm = measure.up_runs(project, runs)
        project.invoke("up")
        up_noop = [measure.timed(lambda: project.invoke("up"), lambda: True) for _ in range(runs)]
        reload_noop = [measure.timed(lambda: project.invoke("reload"), lambda: True) for _ in range(runs)]
        return {"version": project.client.version()["Version"], "up_warm": up_warm, "up_noop": up_noop, "reload_noop": reload_noop}
    finally:
        project.teardown()
        shutil.rmtree(work, ignore_errors=True)


def measure_each(names: tuple[str, ...] = ("host", "current")) -> dict[str, dict[str, Any]]:
    """Run the measurements on each engine in turn (never side by side); return samples by engine name."""
    found: dict[str, dict[str, Any]] = {}
    work = Path(tempfile.mkdtemp(prefix="devloop-engine-", dir="/tmp"))
    try:
        for name in names:
            with engines.context(name, work) as each:
                out = work / f"{name}.json"
                print(f"bench: up and reload on {each.label}", flush=True)
                subprocess.run([sys.executable, "-m", "tests.bench.on_engine", str(out)], env={**os.environ, **each.env}, check=True)
                found[name] = json.loads(out.read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return found


def medians(samples: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Return the medians in the documented shape: {engine version: {up_warm: {ours, compose}, up_noop, reload_noop}}."""

    def med(values: list[float]) -> float:
        return round(statistics.median(values), 4)

    return {
        each["version"]: {
            "up_warm": {key: med(values) for key, values in each["up_warm"].items()},
            "up_noop": med(each["up_noop"]),
            "reload_noop": med(each["reload_noop"]),
        }
        for each in samples.values()
    }


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(json.dumps(runs()))
