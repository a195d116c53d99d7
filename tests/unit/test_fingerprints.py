"""The reload decision table, from content hashes: restart, rebuild or recreate, and why."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from devloop import fingerprints, source
from tests.support.harness import ROOT


@pytest.fixture
def app_dir(project: Path) -> Path:
    app = project / "app"
    (app / "src" / "blog").mkdir(parents=True)
    (app / "Dockerfile").write_text("FROM python\n")
    shutil.copy(ROOT / "app" / ".dockerignore", app / ".dockerignore")
    (app / "requirements.txt").write_text("Flask\n")
    (app / "src" / "blog" / "views.py").write_text("x = 1\n")
    return app


def model(app: Path, port: str = "5000") -> dict[str, Any]:
    return {
        "services": {
            "app": {
                "build": {"context": str(app), "target": "dev"},
                "volumes": [{"type": "bind", "source": str(app / "src"), "target": "/code"}],
                "ports": [{"published": port, "target": 5000}],
            },
            "db": {"image": "mysql:8.4", "volumes": [{"type": "volume", "source": "db-data"}]},
        }
    }


def test_nothing_changed_means_nothing_to_do(app_dir: Path) -> None:
    fp = fingerprints.fingerprint(model(app_dir))
    assert fingerprints.plan(fp, fingerprints.fingerprint(model(app_dir))).nothing


def test_source_edit_restarts_the_process_only(app_dir: Path) -> None:
    before = fingerprints.fingerprint(model(app_dir))
    (app_dir / "src" / "blog" / "views.py").write_text("x = 2\n")
    todo = fingerprints.plan(before, fingerprints.fingerprint(model(app_dir)))
    assert (todo.restart, todo.rebuild, todo.recreate) == (["app"], [], [])
    assert "source changed" in todo.reasons[0]


def test_a_new_source_file_counts_and_caches_do_not(app_dir: Path) -> None:
    before = fingerprints.fingerprint(model(app_dir))
    (app_dir / "src" / "blog" / "__pycache__").mkdir()
    (app_dir / "src" / "blog" / "__pycache__" / "views.cpython-311.pyc").write_bytes(b"\0")
    assert fingerprints.plan(before, fingerprints.fingerprint(model(app_dir))).nothing
    (app_dir / "src" / "blog" / "extra.py").write_text("")
    assert fingerprints.plan(before, fingerprints.fingerprint(model(app_dir))).restart == ["app"]


@pytest.mark.parametrize("changed", ["requirements.txt", "Dockerfile"])
def test_requirements_or_dockerfile_edit_rebuilds_and_recreates(app_dir: Path, changed: str) -> None:
    before = fingerprints.fingerprint(model(app_dir))
    (app_dir / changed).write_text("something else\n")
    (app_dir / "src" / "blog" / "views.py").write_text("x = 3\n")
    todo = fingerprints.plan(before, fingerprints.fingerprint(model(app_dir)))
    assert (todo.rebuild, todo.recreate, todo.restart) == (["app"], [], [])
    assert "rebuild" in todo.reasons[0]


def test_compose_or_env_change_recreates_what_changed(app_dir: Path) -> None:
    before = fingerprints.fingerprint(model(app_dir))
    todo = fingerprints.plan(before, fingerprints.fingerprint(model(app_dir, port="5001")))
    assert (todo.recreate, todo.rebuild, todo.restart) == (["app"], [], [])
    assert "compose file or environment changed" in todo.reasons[0]


def test_a_build_setting_change_rebuilds(app_dir: Path) -> None:
    before = fingerprints.fingerprint(model(app_dir))
    changed = model(app_dir)
    changed["services"]["app"]["build"]["args"] = {"PYTHON_IMAGE": "standin/python:3.11-bookworm"}
    assert fingerprints.plan(before, fingerprints.fingerprint(changed)).rebuild == ["app"]


def test_timestamps_alone_change_nothing(app_dir: Path) -> None:
    before = fingerprints.fingerprint(model(app_dir))
    views = app_dir / "src" / "blog" / "views.py"
    views.write_text(views.read_text())
    assert fingerprints.plan(before, fingerprints.fingerprint(model(app_dir))).nothing


def test_without_a_record_everything_is_rebuilt_and_recreated(app_dir: Path) -> None:
    todo = fingerprints.plan(None, fingerprints.fingerprint(model(app_dir)))
    assert todo.rebuild == ["app"] and todo.recreate == ["app", "db"]


def test_state_round_trips_per_project(project: Path, app_dir: Path) -> None:
    fp = fingerprints.fingerprint(model(app_dir))
    fingerprints.save(project, "one", fp)
    assert fingerprints.load(project, "one") == fp
    assert fingerprints.load(project, "two") is None


def test_dockerignore_patterns_match_at_any_depth_and_only_what_they_say() -> None:
    patterns = [fingerprints.re.compile(fingerprints._translate(p)) for p in ("**/__pycache__", "**/*.py[co]", "*.log")]
    assert fingerprints.ignored("src/blog/__pycache__/views.cpython-311.pyc", patterns)
    assert fingerprints.ignored("views.pyc", patterns)
    assert fingerprints.ignored("build.log", patterns) and not fingerprints.ignored("src/build.log", patterns)
    assert not fingerprints.ignored("src/blog/views.py", patterns)


def test_a_source_folder_made_again_on_the_host_recreates_its_service(app_dir: Path) -> None:
    def with_identity(token: str) -> fingerprints.Fingerprint:
        return fingerprints.fingerprint(model(app_dir), source.Source("app", app_dir / "src", "/code", token))

    before = with_identity("5e2a")
    todo = fingerprints.plan(before, with_identity("77c1"))
    assert (todo.recreate, todo.restart, todo.rebuild) == (["app"], [], [])
    assert "source folder was deleted and made again on the host" in todo.reasons[0]
    assert fingerprints.plan(before, with_identity("5e2a")).nothing


def test_a_synced_source_folder_is_never_part_of_the_build(app_dir: Path) -> None:
    synced = model(app_dir)
    synced["services"]["app"]["volumes"] = []  # sync mode's overlay: the folder is copied in, not mounted
    found = source.Source("app", app_dir / "src", "/code", "5e2a")
    before = fingerprints.fingerprint(synced, found)
    (app_dir / "src" / "blog" / "views.py").write_text("x = 2\n")
    todo = fingerprints.plan(before, fingerprints.fingerprint(synced, found))
    assert (todo.restart, todo.rebuild, todo.recreate) == (["app"], [], [])
