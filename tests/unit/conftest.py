"""Fakes shared by the unit tests: a recording CLI and a scriptable host."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from devloop.compose import Cli, Result

ROOT = Path(__file__).resolve().parents[2]


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
    """An empty project directory."""
    root = tmp_path / "myproj"
    root.mkdir()
    return root
