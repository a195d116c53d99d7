"""Starting the stack with `compose up`: progress while it waits, health until every service is ready, and a diagnosis when it fails."""

from __future__ import annotations

import contextlib
import re
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence

from . import engine, passwords
from .commands import error_line
from .compose import Compose
from .errors import DevloopError
from .waiting import wait_until

Printer = Callable[[str], None]
States = Callable[[], dict[str, engine.ServiceState]]
REPORT_EVERY = 5.0  # seconds between two "waiting for" lines that say the same thing
RECOVERY_GRACE = 15.0
POLL = 0.05  # seconds between two looks at the services' health, once Compose has started them all


class Starter:
    """Runs `compose up` for one stack, waits until it is healthy, and explains what went wrong."""

    def __init__(
        self, compose: Compose, states: States, logs: Callable[[str], str], out: Printer, after_start: Callable[[], None] | None = None
    ) -> None:
        self.compose, self.states, self.logs, self.out, self.after_start = compose, states, logs, out, after_start

    def start(self, timeout: float, running_before: set[str], retry: bool = True) -> None:
        """Start every service (then run after_start: the sync fills a new app's /code) and wait until healthy; fail with a diagnosis."""
        # Not `--wait`: Compose polls health every 500 ms, and the last service is seen healthy
        # sooner here (Compose still orders the start by depends_on and its conditions).
        proc = self.compose.start("up", "--detach", "--no-build", "--remove-orphans")
        order = self.compose.services()
        deadline = time.monotonic() + timeout
        self._report_progress(proc, order, deadline)
        if proc.poll() is None:
            proc.kill()
        output = proc.communicate()[0] or ""
        if proc.returncode == 0:
            if self.after_start:
                self.after_start()
            if self._all_ready(self._awaited(order), deadline):
                return
            output = ""  # Compose did its part: its output would only say "Started"
        if retry and self._unhealthy(order) and self._recovers(order):
            # Compose gives up at once on a dependency that is unhealthy *now*; one that was
            # fixed (a save after an error) turns healthy at its next check.
            self.start(max(deadline - time.monotonic(), 30), running_before, retry=False)
            return
        self.diagnose(output, running_before, timed_out=time.monotonic() >= deadline)

    @contextlib.contextmanager
    def early(self, services: Sequence[str]) -> Iterator[None]:
        """Start these services while the caller does something else (a build); wait for Compose afterwards (a failure
        shows in the start that follows, with its diagnosis)."""
        proc = self.compose.start("up", "--detach", "--no-build", "--no-deps", *services) if services else None
        try:
            yield
        finally:
            if proc is not None:
                proc.communicate()

    def _awaited(self, order: Sequence[str]) -> list[str]:
        """Return the services to wait for: all but one-shot jobs others wait to complete (as `--wait` does)."""
        services = self.compose.model()["services"]
        jobs = {
            name
            for spec in services.values()
            for name, dep in (spec.get("depends_on") or {}).items()
            if dep.get("condition") == "service_completed_successfully"
        }
        return [s for s in order if s not in jobs]

    def _all_ready(self, order: Sequence[str], deadline: float) -> bool:
        """Wait until every service is ready; False as soon as one fails, or at the deadline."""

        def settled() -> str:
            states = self.states()
            if all(s in states and states[s].ready for s in order):
                return "ready"
            return "failed" if self._unhealthy(order, states) or self._stopped(order, states) else ""

        return wait_until(settled, max(deadline - time.monotonic(), 0), interval=POLL) == "ready"

    def _unhealthy(self, order: Sequence[str], states: dict[str, engine.ServiceState] | None = None) -> list[str]:
        """Return the services that run but are unhealthy."""
        states = self.states() if states is None else states
        return [s for s in order if s in states and states[s].status == "running" and states[s].health == "unhealthy"]

    def _stopped(self, order: Sequence[str], states: dict[str, engine.ServiceState]) -> list[str]:
        """Return the services whose container is not running (or missing) after Compose started them."""
        return [s for s in order if s not in states or states[s].status in ("exited", "dead", "created")]

    def _report_progress(self, proc: subprocess.Popen[str], order: Sequence[str], deadline: float) -> None:
        """Say which service is awaited, and how it is, until Compose returns or time is up."""
        last: tuple[str, str] | None = None
        last_time = 0.0
        since: dict[str, float] = {}
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                proc.wait(timeout=0.5)  # returns the moment Compose does: a sleep would add up to 0.5 s to `up`
                break
            except subprocess.TimeoutExpired:
                pass
            states = self.states()
            waiting = next((s for s in order if s not in states or not states[s].ready), None)
            if waiting is None:
                continue
            since.setdefault(waiting, time.monotonic())
            shown = states[waiting].shown if waiting in states else "not created yet"
            now = time.monotonic()
            if (waiting, shown) != last or now - last_time >= REPORT_EVERY:
                self.out(f"waiting for {waiting}: {shown} ({now - since[waiting]:.0f}s)")
                last, last_time = (waiting, shown), now

    def _recovers(self, order: Sequence[str], grace: float = RECOVERY_GRACE) -> bool:
        """Whether every running but unhealthy service turns healthy within the grace period."""

        ill = self._unhealthy(order)
        if ill:
            self.out(f"waiting for {', '.join(ill)}: unhealthy; giving it {grace:.0f}s to recover")
        return wait_until(lambda: not self._unhealthy(order), grace, interval=1) is not None

    def taken_port(self, output: str) -> str:
        """Say which port the engine could not publish, and its setting, in Compose's own words."""
        said = error_line(output)
        for var, port in self.compose.settings.ports.items():
            if re.search(rf"[:\s]{port}\b", said):
                return f"port {port} is already taken where the engine publishes ({var}): set {var} to a free port; Compose said: {said}"
        return f"a port is already taken: {said}"

    def diagnose(self, output: str, running_before: set[str], timed_out: bool) -> None:
        """Show the failing service's last log lines, then fail saying what is left running."""
        states = self.states()
        if "port is already allocated" in output or "address already in use" in output:
            # Started by this attempt and useless without their port: leave nothing half-started.
            new = [s for s, st in states.items() if st.status == "running" and s not in running_before]
            if new:
                self.compose.capture("stop", *new)
            raise DevloopError(f"{self.taken_port(output)}; stopped {', '.join(new) or 'nothing'}")
        order = [s for s in self.compose.services() if s in states]
        # A service that ran and failed explains more than one never started because of it.
        broken = [s for s in order if states[s].health == "unhealthy" or states[s].status in ("exited", "dead", "restarting")]
        failing = next(iter(broken), None) or next((s for s in order if not states[s].ready), None)
        if failing:
            explained = self.logs(failing).rstrip()
            self.out(f"--- last log lines of {failing} ---")
            self.out(explained)
            self.out("---")
            what = f"{failing} is {states[failing].shown}"
            if "Access denied" in explained:
                what += f"; {passwords.MISMATCH}: {passwords.REKEY_HINT}"
            said = error_line(output)
            if said and said != "no output":
                what += f"; Compose said: {said}"
        else:
            what = error_line(output)
        running = sorted(s for s, st in states.items() if st.status == "running")
        left = ", ".join(running) if running else "nothing"
        reason = "timed out" if timed_out else "failed"
        raise DevloopError(f"start {reason}: {what}; left running: {left} (`invoke down` stops it, `invoke logs` shows more)")
