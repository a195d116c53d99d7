"""All database access: one connection per request, closed on teardown."""

import contextlib
from typing import Any, Protocol

import mysql.connector
from flask import Flask, current_app, g


class DatabaseUnavailable(Exception):
    """The database could not be reached or answered with an error."""


class Connection(Protocol):
    """The part of a DB-API connection the app uses."""

    def cursor(self) -> Any: ...
    def commit(self) -> None: ...
    def close(self) -> None: ...


def connect() -> Connection:
    """Open a connection with the app's settings."""
    cfg = current_app.config
    return mysql.connector.connect(
        host=cfg["DB_HOST"],
        port=cfg["DB_PORT"],
        database=cfg["DB_NAME"],
        user=cfg["DB_USER"],
        password=cfg["DB_PASSWORD"],
        connection_timeout=cfg["DB_CONNECT_TIMEOUT"],
    )


def get_db() -> Connection:
    """Return this request's connection, opening it on first use."""
    if "db" not in g:
        connector = current_app.config.get("DB_CONNECT", connect)
        try:
            g.db = connector()
        except mysql.connector.Error as exc:
            raise DatabaseUnavailable(str(exc)) from exc
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    """Close this request's connection, if one was opened."""
    conn = g.pop("db", None)
    if conn is not None:
        # A connection the server already dropped has nothing left to close.
        with contextlib.suppress(mysql.connector.Error):
            conn.close()


def _query(sql: str, params: tuple[Any, ...] = (), *, commit: bool = False) -> list[tuple[Any, ...]]:
    """Run one statement and return its rows; database errors become DatabaseUnavailable."""
    try:
        conn = get_db()
        cursor = conn.cursor()
        try:
            cursor.execute(sql, params)
            rows = cursor.fetchall() if cursor.with_rows else []
        finally:
            cursor.close()
        if commit:
            conn.commit()
        return rows
    except mysql.connector.Error as exc:
        raise DatabaseUnavailable(str(exc)) from exc


def ping() -> None:
    """Raise DatabaseUnavailable unless the database answers a query."""
    _query("SELECT 1")


def list_titles() -> list[str]:
    """Return every blog title, oldest first."""
    return [title for (title,) in _query("SELECT title FROM blog ORDER BY id")]


def add_title(title: str) -> None:
    """Store a new blog title."""
    _query("INSERT INTO blog (title) VALUES (%s)", (title,), commit=True)


def init_app(app: Flask) -> None:
    """Register the teardown that closes each request's connection."""
    app.teardown_appcontext(close_db)
