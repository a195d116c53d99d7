"""The benchmark's report: a table (medians, min-max, ratios), a plot, and JSON medians."""

from __future__ import annotations

import json
import os
import platform
import statistics
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

from devloop import compose
from tests.support.harness import ROOT, Project

from . import on_engine, remote

LATENCY_ROWS = [
    ("ours", "(a) ours: fork-per-save dev server"),
    ("stock", "(b) stock: `flask run --debug` (Werkzeug reloader)"),
    ("compose_watch", "(c) `docker compose watch`, sync+restart"),
    ("floor", "(d) restart floor: fresh process importing the app"),
    ("ours_fuse", "(a) ours, app/src a FUSE view (bindfs), saved behind it: inotify + polling"),
    ("ours_debug", "(a) ours, debugger attached"),
    ("stock_debug", "(b) stock, debugger attached"),
]


def machine(project: Project) -> dict[str, str]:
    """Describe the machine the figures come from."""
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "?"
    )
    mem_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")))
    version = compose.version(compose.Cli())
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": f"{mem_kb / 1024 / 1024:.0f} GiB",
        "os": f"{platform.platform()}",
        "docker engine": project.client.version()["Version"],
        "compose": ".".join(map(str, version)) if version else "?",
        "app image base": (project.root / ".env").read_text().split("PYTHON_IMAGE=")[-1].split()[0]
        if (project.root / ".env").exists()
        else "python:3.12-slim",
    }


def _stats(samples: list[float]) -> tuple[float, float, float]:
    return statistics.median(samples), min(samples), max(samples)


def row(label: str, samples: list[float], base: dict[str, float], unit: float = 1.0, suffix: str = "s") -> str:
    """A table row: median, min-max, runs, and the median's ratio to each base ("-" for a zero base)."""
    med, low, high = _stats(samples)
    ratios = " | ".join(f"{med / b:.2f}x" if b else "-" for b in base.values())
    return f"| {label} | {med * unit:.3f}{suffix} | {low * unit:.3f}-{high * unit:.3f}{suffix} | {len(samples)} | {ratios} |"


def engine_rows(on_engines: dict[str, dict[str, Any]]) -> list[str]:
    """Render warm and no-op starts on each engine as table rows."""
    rows = []
    for name, each in on_engines.items():
        compose_up = statistics.median(each["up_warm"]["compose"])
        label = f"Docker {each['version']} ({name})"
        rows += [
            row(f"{label}: warm `invoke up`", each["up_warm"]["ours"], {"c": compose_up}),
            row(f"{label}: warm `docker compose up -d --wait`", each["up_warm"]["compose"], {"c": compose_up}),
            row(f"{label}: `invoke up`, nothing changed", each["up_noop"], {}),
            row(f"{label}: `invoke reload`, nothing changed", each["reload_noop"], {}),
        ]
    return rows


REMOTE_ROWS = [
    ("ours", "ours: devloop's sync into the fork-per-save dev server"),
    ("ours_debug", "ours, debugger attached"),
    ("compose_watch_sync", "`docker compose watch`, sync into the same dev server"),
    ("compose_watch_sync_restart", "`docker compose watch`, sync+restart"),
]


def remote_rows(samples: dict[str, Any]) -> list[str]:
    """Render the remote engine's inner loop as table rows."""
    ref = {"w": statistics.median(samples["compose_watch_sync"])}
    rows = [row(label, samples[key], ref) for key, label in REMOTE_ROWS]
    ours = samples["ours"]
    return [
        *rows,
        f"| ours, p95 | {remote.p95(ours):.3f}s | | {len(ours)} | |",
        f"| first `invoke up` of a fresh checkout (build, database, whole tree synced) | {samples['first_up']:.1f}s | | 1 | |",
    ]


@dataclass(frozen=True)
class Results:
    """Every sample of one run: latency by variant, commands, idle CPU, each engine, the remote engine."""

    latency: dict[str, list[float]]
    other: dict[str, dict[str, list[float]]]
    cpu: dict[str, float]
    on_engines: dict[str, dict[str, Any]]
    on_remote: dict[str, Any]


def table(results: Results) -> str:
    """Render the results as Markdown tables."""
    latency, other, cpu, on_engines, on_remote = astuple(results)
    refs = {
        "stock": statistics.median(latency["stock"]),
        "compose_watch": statistics.median(latency["compose_watch"]),
        "floor": statistics.median(latency["floor"]),
    }
    lines = [
        "### Edit-to-served latency (file saved -> first response with the new code)",
        "",
        "| variant | median | min-max | runs | vs (b) stock | vs (c) watch | vs (d) floor |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [row(label, latency[key], refs) for key, label in LATENCY_ROWS if key in latency]
    debug_ref = {"stock_debug": statistics.median(latency["stock_debug"])}
    lines += [
        "",
        "With a debugger attached (a DAP client that follows every reload, as VS Code does):",
        "",
        "| variant | median | min-max | runs | vs (b) stock, debugger attached |",
        "| --- | --- | --- | --- | --- |",
        row("(a) ours, debugger attached", latency["ours_debug"], debug_ref),
        row("(b) stock, debugger attached", latency["stock_debug"], debug_ref),
        "",
        "### Commands",
        "",
        "| measurement | median | min-max | runs | vs the plain Compose command |",
        "| --- | --- | --- | --- | --- |",
        row(
            "`invoke reload`, source edit (until served)",
            other["reload_source"]["ours"],
            {"c": statistics.median(other["reload_source"]["compose_restart"])},
        ),
        row(
            "`docker compose restart app` (until served)",
            other["reload_source"]["compose_restart"],
            {"c": statistics.median(other["reload_source"]["compose_restart"])},
        ),
        "",
        "### Starting, on each engine (warm: images built, data volume present; until serving)",
        "",
        "| measurement | median | min-max | runs | vs `docker compose up -d --wait` on that engine |",
        "| --- | --- | --- | --- | --- |",
        *engine_rows(on_engines),
        "",
        f"### On a remote engine over ssh:// (Docker {on_remote['version']}; it sees none of this machine's files)",
        "",
        "Edit-to-served, as above, through SSH connections on this machine's loopback.",
        "",
        "| variant | median | min-max | runs | vs Compose watch's sync |",
        "| --- | --- | --- | --- | --- |",
        *remote_rows(on_remote),
        "",
        "### Idle CPU of the app container (reloader running, mean over 10 s, % of one core)",
        "",
        "| variant | CPU |",
        "| --- | --- |",
        f"| (a) ours | {cpu['ours']:.2f}% |",
        f"| (a) ours, polling a FUSE view every 0.25 s | {cpu['ours_fuse']:.2f}% |",
        f"| (b) stock | {cpu['stock']:.2f}% |",
    ]
    return "\n".join(lines)


def plot(latency: dict[str, list[float]], path: Path) -> None:
    """Draw the latency distributions (log scale) to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(label, latency[key]) for key, label in LATENCY_ROWS if key in latency][::-1]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    ax.boxplot([samples for _, samples in rows], vert=False, widths=0.5)
    for y, (_, samples) in enumerate(rows, start=1):
        ax.scatter(samples, [y] * len(samples), s=12, alpha=0.6, zorder=3)
    ax.set_yticks(range(1, len(rows) + 1), [label for label, _ in rows], fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("seconds from save to the new code served (log scale)")
    ax.set_title("Edit-to-served latency")
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def medians(results: Results) -> dict[str, Any]:
    """The medians, in seconds (CPU in %), in the documented shape."""
    latency, other, cpu, on_engines, on_remote = astuple(results)

    def med(samples: list[float]) -> float:
        return round(statistics.median(samples), 4)

    return {
        "edit_to_served": {key: med(latency[key]) for key, _ in LATENCY_ROWS},
        "up_warm": {key: med(v) for key, v in other["up_warm"].items()},
        "reload_source": {key: med(v) for key, v in other["reload_source"].items()},
        "idle_cpu_percent": {key: round(v, 3) for key, v in cpu.items()},
        "engines": on_engine.medians(on_engines),
        "remote": remote.medians(on_remote),
    }


KEPT = "<!-- Below: measurements not made by `nox -s bench`; it keeps them when it rewrites this file. -->"


def kept(path: Path) -> str:
    """The part of a benchmarks page that other measurements wrote (from the KEPT marker on)."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    return text[text.index(KEPT) :] if KEPT in text else KEPT + "\n"


def write_kept(start: str, end: str, lines: list[str], page: Path = ROOT / "docs/benchmarks.md") -> None:
    """Put a section between its start and end markers into a benchmarks page's kept part (replacing the old one)."""
    text = page.read_text(encoding="utf-8") if page.is_file() else KEPT + "\n"
    others = kept(page)
    if start in others:
        others = others[: others.index(start)] + others[others.index(end) + len(end) :].lstrip("\n")
    head = text[: text.index(KEPT)] if KEPT in text else text
    page.write_text(head + others.rstrip("\n") + "\n\n" + "\n".join([start, "", *lines, end]) + "\n", encoding="utf-8")


def write(docs: Path, results: Results, host: dict[str, str], seconds: float) -> str:
    """Write docs/benchmarks.md (keeping what other measurements wrote below the marker), .json and .png; return the table."""
    docs.mkdir(exist_ok=True)
    others = kept(docs / "benchmarks.md")
    rendered = table(results)
    plot(results.latency, docs / "benchmarks.png")
    (docs / "benchmarks.json").write_text(json.dumps(medians(results), indent=2) + "\n")
    machine_lines = "\n".join(f"- {key}: {value}" for key, value in host.items())
    (docs / "benchmarks.md").write_text(
        "# Benchmarks of the inner loop\n\n"
        "Written by `nox -s bench` (`tests/bench/`): every variant measured in one run, on one machine,\n"
        "against the same copy of the stack. Medians, min-max and ratios of medians; latency is\n"
        "from the moment the file is saved to the first response that contains the new code\n"
        "(content checked, a fresh connection every 2 ms).\n\n"
        f"## Machine\n\n{machine_lines}\n- whole run: {seconds:.0f} s\n\n"
        f"## Results\n\n{rendered}\n\n![Edit-to-served latency](benchmarks.png)\n\n"
        "## Variants\n\n"
        "- (a) ours: `app/devserver`. A parent that has imported Flask and the app's dependencies\n"
        "  owns the listening socket and watches `app/src` with inotify; on a save it kills the\n"
        "  serving child and forks a new one, which imports only the user's code.\n"
        "- (a) with a FUSE view: `app/src` made a bindfs view of a folder beside it, and each save written to that\n"
        "  folder, as an editor on the other side of a WSL2 or Docker Desktop share writes: no inotify event reaches\n"
        "  the container, so the dev server's polling (every 0.25 s) sees it. Each poll's stat asks the filesystem\n"
        "  (statx with AT_STATX_FORCE_SYNC): a plain one can see the old file for up to 1 s, FUSE's attribute cache.\n"
        "- (b) stock: `flask run --debug`, Werkzeug's default (stat) reloader, same image and bind mount.\n"
        "- (c) `docker compose watch` with `sync+restart`, no bind mount, source `COPY --chown` into\n"
        "  the image, `init: true` so the restart does not wait out the stop timeout.\n"
        "- (d) the floor of any reloader that restarts the process: a fresh `python` importing the\n"
        "  app inside the container (no serving included).\n"
        "- With a debugger: debugpy in the container and a DAP client that attaches to each new\n"
        "  process (`debugpyAttach`), as VS Code does.\n"
        "- Remote engine: Docker in a container reached only over `ssh://` on this machine's loopback\n"
        "  (`tests/support/engines.py`). Ours: `invoke up` chose sync mode by itself; a save goes into\n"
        "  the app through the Engine API over one SSH connection, and the port through another.\n"
        "  Compose watch: the source `COPY`ed into the image, its watch sending each save.\n\n" + others
    )
    return rendered
