"""Every task fails in one line, and ends quietly when its reader goes away."""

from __future__ import annotations

import subprocess
import sys

import pytest
from invoke import Exit

from devloop.errors import DevloopError, one_line_errors
from tests.support.harness import ROOT


def test_a_devloop_error_is_one_line_and_exit_1() -> None:
    @one_line_errors
    def task() -> None:
        raise DevloopError("port 5000 is taken")

    with pytest.raises(Exit) as caught:
        task()
    assert caught.value.code == 1 and caught.value.message == "error: port 5000 is taken"


PRINTS_A_LOT = """
import sys
from invoke import Exit
from devloop.errors import one_line_errors

@one_line_errors
def status():
    for n in range(100000):
        print(f"line {n}")

try:
    status()
except Exit as exc:
    sys.exit(exc.code)
"""


def test_a_reader_that_goes_away_ends_the_task_quietly() -> None:
    done = subprocess.run(
        ["sh", "-c", f'"{sys.executable}" -c "$0" | head -1', PRINTS_A_LOT], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.stdout == "line 0\n"
    assert done.stderr == "", done.stderr
