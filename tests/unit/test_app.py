"""The Flask app through its test client, with the database behind a seam."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import mysql.connector
import pytest
from blog import config_from_env, create_app


class FakeDb:
    """An in-memory blog table that can be switched off."""

    def __init__(self) -> None:
        self.titles = ["Blog post #0"]
        self.up = True
        self.opened = self.closed = 0

    def connect(self) -> FakeConnection:
        if not self.up:
            raise mysql.connector.errors.InterfaceError("2003: Can't connect to MySQL server on 'db:3306'")
        self.opened += 1
        return FakeConnection(self)


class FakeConnection:
    def __init__(self, db: FakeDb) -> None:
        self.db = db

    def cursor(self) -> FakeCursor:
        return FakeCursor(self.db)

    def commit(self) -> None:
        pass

    def close(self) -> None:
        self.db.closed += 1


class FakeCursor:
    def __init__(self, db: FakeDb) -> None:
        self.db = db
        self.rows: list[tuple[Any, ...]] = []
        self.with_rows = False

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        if sql.startswith("INSERT"):
            self.db.titles.append(params[0])
        else:
            self.with_rows = True
            self.rows = [(1,)] if sql == "SELECT 1" else [(t,) for t in self.db.titles]

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def close(self) -> None:
        pass


@pytest.fixture
def db() -> FakeDb:
    return FakeDb()


@pytest.fixture
def client(db: FakeDb) -> Iterator[Any]:
    app = create_app({"TESTING": True, "DB_CONNECT": db.connect})
    yield app.test_client()


def test_hello(client: Any) -> None:
    assert client.get("/").get_json() == {"response": "Hello from Docker!"}


def test_post_then_list(client: Any, db: FakeDb) -> None:
    created = client.post("/blogs", json={"title": "  New post "})
    assert created.status_code == 201
    assert client.get("/blogs").get_json() == {"response": ["Blog post #0", "New post"]}
    assert db.opened == db.closed == 2


@pytest.mark.parametrize(
    ("body", "kwargs", "message"),
    [
        (None, {"data": "not json", "content_type": "application/json"}, "JSON object"),
        (None, {"data": "title=x"}, "JSON object"),
        ([1, 2], {}, "JSON object"),
        ({}, {}, "title must be a string"),
        ({"title": 5}, {}, "title must be a string"),
        ({"title": "   "}, {}, "must not be empty"),
        ({"title": "x" * 256}, {}, "at most 255"),
        (None, {"data": "[" * 5000 + "]" * 5000, "content_type": "application/json"}, "nested too deeply"),
        (None, {"data": '{"title": "\\ud800"}', "content_type": "application/json"}, "lone surrogates"),
    ],
)
def test_bad_bodies_are_400_with_a_json_error(client: Any, db: FakeDb, body: Any, kwargs: dict[str, Any], message: str) -> None:
    response = client.post("/blogs", json=body, **kwargs) if body is not None else client.post("/blogs", **kwargs)
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert db.titles == ["Blog post #0"]


def test_a_title_of_exactly_255_characters_is_stored(client: Any) -> None:
    assert client.post("/blogs", json={"title": "x" * 255}).status_code == 201


def test_database_down_is_503_and_recovers_by_itself(client: Any, db: FakeDb) -> None:
    assert client.get("/healthz").status_code == 200
    db.up = False
    for path in ("/healthz", "/blogs"):
        response = client.get(path)
        assert response.status_code == 503
        assert "database unavailable" in response.get_json()["error"]
    assert client.get("/").status_code == 200
    db.up = True
    assert client.get("/blogs").status_code == 200


def test_password_comes_from_the_secret_file(tmp_path: Any) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    config = config_from_env({"MYSQL_PASSWORD_FILE": str(secret), "MYSQL_HOST": "db"})
    assert config["DB_PASSWORD"] == "s3cret"
    assert config["DB_HOST"] == "db"
