"""Fakes shared by the unit tests: a recording command runner and a bare project directory."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from devloop.commands import Cli, Result
from devloop.settings import BASE_FILE, OVERLAY_DIR
from tests.support.harness import ROOT


class FakeCli(Cli):
    """Records each command line and answers from a table of argv prefixes."""

    def __init__(self, answers: Mapping[tuple[str, ...], Result] | None = None) -> None:
        self.answers = dict(answers or {})
        self.calls: list[list[str]] = []

    def _answer(self, argv: Sequence[str]) -> Result:
        self.calls.append(list(argv))
        for prefix, result in self.answers.items():
            if tuple(argv[: len(prefix)]) == prefix:
                return result
        return Result(0, "", "")

    def capture(self, argv, env=None, timeout=None, cwd=None):  # type: ignore[no-untyped-def]
        return self._answer(argv)

    def stream(self, argv, env=None):  # type: ignore[no-untyped-def]
        return self._answer(argv)

    def interactive(self, argv, env=None):  # type: ignore[no-untyped-def]
        return self._answer(argv).code


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project directory with nothing but the compose files (which hold the defaults)."""
    root = tmp_path / "myproj"
    root.mkdir()
    shutil.copy(ROOT / BASE_FILE, root / BASE_FILE)
    shutil.copytree(ROOT / OVERLAY_DIR, root / OVERLAY_DIR)
    return root
