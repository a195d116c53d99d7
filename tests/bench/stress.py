"""`nox -s stress`: the moment users judge the debugger by, again and again. Each round stops the stack, starts it
cold in debug mode, and attaches at once as VS Code does (launch.json resolved, `startDebugging` followed, a
breakpoint in a view, a request that must stop there). Two ways: the attach right after `invoke debug` returns, and
an attach that starts while `invoke debug` runs (it reaches debugpy as `invoke debug`'s own handshake is closing).
Counts how many attached the first time; writes the figure into docs/benchmarks.md (below the marker the bench keeps).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.bench import report
from tests.support import dap
from tests.support.harness import Project, copy_project

ROUNDS = int(os.environ.get("STRESS_ROUNDS", "20"))
VIEWS = "app/src/blog/views.py"
RETURN = '    return jsonify({"response": titles})'
START, END = "<!-- stress: written by `nox -s stress` -->", "<!-- /stress -->"


def attach_and_stop(project: Project, deadline: float) -> str:
    """Attach as VS Code does and stop at a breakpoint in /blogs; return "" or what went wrong."""
    line = (project.root / VIEWS).read_text().splitlines().index(RETURN) + 1
    config = {**dap.resolve_launch(project.root), "connect": {"host": "127.0.0.1", "port": project.ports["DEBUG_PORT"]}}
    while True:
        try:
            session = dap.Session(config, {str(project.root / VIEWS): [{"line": line}]})
            break
        except (dap.DapError, OSError) as exc:
            # Closed at once: nothing listens in the container yet (the engine's port forwarder accepts anyway). A
            # user would click again; an attach that waited and got no answer is the failure counted here.
            if "closed before" not in str(exc) or time.monotonic() > deadline:
                return f"attach: {exc}"
            time.sleep(0.1)
    try:
        while time.monotonic() < deadline:
            request = threading.Thread(target=project.get, args=("/blogs",), kwargs={"timeout": 60}, daemon=True)
            request.start()
            try:
                conn, stopped = session.stopped(timeout=3)
            except dap.DapError:
                request.join(60)
                continue
            conn.request("continue", threadId=stopped["threadId"])
            request.join(30)
            return ""
        return "the breakpoint was never hit"
    finally:
        session.close()


def cold_start(project: Project, during: bool) -> str:
    """`invoke down`, `invoke debug`, and an attach (after it returned, or while it ran); "" when it stopped first time."""
    project.invoke("down")
    if not during:
        project.invoke("debug")
        return attach_and_stop(project, time.monotonic() + 60)
    debug = subprocess.Popen([sys.executable, "-m", "invoke", "debug"], cwd=project.root, env={**os.environ, **project.env})
    try:
        while not project.app_running():
            time.sleep(0.05)
        return attach_and_stop(project, time.monotonic() + 90)
    finally:
        debug.wait(300)


def main() -> int:
    """Run the rounds on this machine's engine; print and record the counts."""
    work = Path(tempfile.mkdtemp(prefix="devloop-stress-"))
    project = copy_project(work / "blog", prefix="stress")
    results: dict[str, list[str]] = {"after": [], "during": []}
    try:
        project.invoke("vscode")
        for n in range(ROUNDS):
            for way in results:
                said = cold_start(project, during=way == "during")
                results[way].append(said)
                print(f"round {n + 1} ({way}): {said or 'attached and stopped first time'}", flush=True)
    finally:
        project.teardown()
    record(results)
    return 0 if not any(said for saids in results.values() for said in saids) else 1


def record(results: dict[str, list[str]]) -> None:
    """Write the counts into docs/benchmarks.md's kept part."""
    rows = {"after": "attach right after `invoke debug` returned", "during": "attach while `invoke debug` runs (its handshake closing)"}
    lines = [
        "## Debugger: attach right after a cold start (`nox -s stress`)",
        "",
        "Each round: `invoke down`, `invoke debug` (cold), then VS Code's attach (launch.json resolved, startDebugging",
        "followed) and a request that must stop at a breakpoint. Docker engine: this machine's.",
        "",
        "| way | attached and stopped first time | failures |",
        "| --- | --- | --- |",
    ]
    for way, saids in results.items():
        failed = sorted({s for s in saids if s})
        lines.append(f"| {rows[way]} | {saids.count('')}/{len(saids)} | {'; '.join(failed) or '-'} |")
    report.write_kept(START, END, lines)


if __name__ == "__main__":
    sys.exit(main())
