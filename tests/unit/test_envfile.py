""".env: read as Compose reads it (tests/e2e holds the table against `docker compose config`), written keeping the user's lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from devloop import envfile
from tests.support.dotenv_cases import TRICKY


@pytest.mark.parametrize(("line", "value"), TRICKY)
def test_tricky_lines_read_as_compose_reads_them(tmp_path: Path, line: str, value: str) -> None:
    env = tmp_path / ".env"
    env.write_text(f"B=b\n{line}\n")
    assert envfile.read(env)["A"] == value


def test_update_keeps_the_users_lines_and_quotes_only_when_needed(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("# my ports\nAPP_PORT=5001 # mine\nPYTHON_IMAGE=old\n")
    assert envfile.update(env, {"PYTHON_IMAGE": "new", "CA_BUNDLE": "/etc/ssl/ca file.pem"})
    text = env.read_text()
    assert text.startswith("# my ports\nAPP_PORT=5001 # mine\n")
    assert envfile.read(env) == {"APP_PORT": "5001", "PYTHON_IMAGE": "new", "CA_BUNDLE": "/etc/ssl/ca file.pem"}
    assert not envfile.update(env, {"PYTHON_IMAGE": "new"})
    assert env.read_text() == text
