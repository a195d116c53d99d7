"""Running programs: the one seam every call to a command line goes through (tests fake it)."""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class Result:
    """How a command ended and what it printed."""

    code: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        """Whether the command succeeded."""
        return self.code == 0


class Cli:
    """Runs commands; tests replace it with a fake that records argv."""

    def capture(
        self, argv: Sequence[str], env: Mapping[str, str] | None = None, timeout: float | None = None, cwd: str | None = None
    ) -> Result:
        """Run quietly and return what it printed."""
        try:
            done = subprocess.run(
                list(argv),
                cwd=cwd,
                env=_environ(env),
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError:
            return Result(127, "", f"{argv[0]}: command not found")
        except subprocess.TimeoutExpired:
            return Result(124, "", f"{' '.join(argv[:3])} did not answer within {timeout:.0f}s")
        return Result(done.returncode, done.stdout, done.stderr)

    def stream(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> Result:
        """Run with output shown as it comes; keep its last lines for the error message."""
        tail: collections.deque[str] = collections.deque(maxlen=200)
        try:
            proc = self.start(argv, env)
        except FileNotFoundError:
            return Result(127, "", f"{argv[0]}: command not found")
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            tail.append(line)
        return Result(proc.wait(), "".join(tail), "".join(tail))

    def start(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        """Start in the background, output captured; the caller polls and collects it."""
        return subprocess.Popen(
            list(argv),
            env=_environ(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )

    def spawn(
        self, argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.Popen[bytes]:
        """Start a program that outlives this task (a session of its own), its output appended to a log file."""
        with log.open("ab") as output:
            return subprocess.Popen(
                list(argv), cwd=cwd, env=_environ(env), stdin=subprocess.DEVNULL, stdout=output, stderr=output, start_new_session=True
            )

    def interactive(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> int:
        """Run attached to this terminal (logs --follow, a shell); return its exit code."""
        try:
            return subprocess.call(list(argv), env=_environ(env))
        except FileNotFoundError:
            return 127
        except KeyboardInterrupt:
            return 130


def _environ(extra: Mapping[str, str] | None) -> dict[str, str] | None:
    """Return this process's environment with extra variables on top."""
    return None if extra is None else {**os.environ, **extra}


def error_line(output: str) -> str:
    """Return the one line of a command's output that says what went wrong."""
    lines = [_ANSI.sub("", line).strip() for line in output.splitlines()]
    lines = [line for line in lines if line]
    for line in reversed(lines):
        if re.search(r"error|failed|invalid|not found|denied|no such", line, re.IGNORECASE):
            return line
    return lines[-1] if lines else "no output"
