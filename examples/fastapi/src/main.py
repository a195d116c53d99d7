"""The blog's three routes in FastAPI (an ASGI app): run with APP_DIR=examples/fastapi APP_MODULE=main:app."""

import os
from typing import Any

import mysql.connector
from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

app = FastAPI()
MAX_TITLE = 255


class DatabaseUnavailable(Exception):
    """The database could not be reached."""


@app.exception_handler(DatabaseUnavailable)
def database_unavailable(_request: Request, exc: DatabaseUnavailable) -> JSONResponse:
    """Answer 503 while the database is down, as the Flask blog does."""
    return JSONResponse({"error": f"database unavailable: {exc}"}, 503)


def connect() -> Any:
    """A connection with the stack's settings (the password from its secret file)."""
    with open(os.environ["MYSQL_PASSWORD_FILE"], encoding="utf-8") as secret:
        password = secret.read().strip()
    return mysql.connector.connect(
        host=os.environ.get("MYSQL_HOST", "db"),
        database=os.environ.get("MYSQL_DATABASE", "blog"),
        user=os.environ.get("MYSQL_USER", "blog"),
        password=password,
        connection_timeout=3,
    )


def query(sql: str, params: tuple[Any, ...] = (), commit: bool = False) -> list[tuple[Any, ...]]:
    """Run one statement on a new connection; a database that does not answer is a 503."""
    try:
        conn = connect()
    except mysql.connector.Error as exc:
        raise DatabaseUnavailable(str(exc)) from exc
    try:
        cursor = conn.cursor()
        cursor.execute(sql, params)
        rows = cursor.fetchall() if cursor.with_rows else []
        if commit:
            conn.commit()
        return rows
    finally:
        conn.close()


@app.get("/")
def hello() -> dict[str, str]:
    """Greet."""
    return {"response": "Hello from Docker!"}


@app.get("/blogs")
async def list_blogs() -> dict[str, list[str]]:
    """List the stored titles (an async endpoint; the database call runs in a thread)."""
    titles = [row[0] for row in await run_in_threadpool(query, "SELECT title FROM blog ORDER BY id")]
    return {"response": titles}


@app.post("/blogs")
def create_blog(body: Any = Body(None)) -> JSONResponse:  # noqa: B008 -- FastAPI's way to take a body
    """Store a title from a JSON body."""
    title = body.get("title") if isinstance(body, dict) else None
    if not isinstance(title, str) or not title.strip() or len(title.strip()) > MAX_TITLE:
        return JSONResponse({"error": f"title must be a non-empty string of at most {MAX_TITLE} characters"}, 400)
    query("INSERT INTO blog (title) VALUES (%s)", (title.strip(),), commit=True)
    return JSONResponse({"response": title.strip()}, 201)


@app.get("/healthz")
def healthz() -> JSONResponse:
    """Answer 200 when the database answers, 503 when not."""
    query("SELECT 1")
    return JSONResponse({"status": "ok"})
