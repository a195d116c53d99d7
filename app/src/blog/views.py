"""HTTP routes of the blog service."""

from typing import Any

from flask import Blueprint, Response, jsonify, request

from . import db

bp = Blueprint("blog", __name__)

MAX_TITLE = 255


def _error(status: int, message: str) -> tuple[Response, int]:
    """Return a JSON error body with its status."""
    return jsonify({"error": message}), status


def read_json() -> Any:
    """Return the request's JSON body; raise ValueError when it is not usable JSON."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        # json.loads gives up on deeply nested input with RecursionError, not a ValueError.
        raise ValueError("body is nested too deeply") from None


def validate_title(body: Any) -> str:
    """Return the title of a POST body, or raise ValueError saying what is wrong."""
    if not isinstance(body, dict):
        raise ValueError('body must be a JSON object like {"title": "..."}')
    title = body.get("title")
    if not isinstance(title, str):
        raise ValueError("title must be a string")
    title = title.strip()
    if not title:
        raise ValueError("title must not be empty")
    if len(title) > MAX_TITLE:
        raise ValueError(f"title must be at most {MAX_TITLE} characters")
    try:
        title.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("title must be valid Unicode text (no lone surrogates)") from None
    return title


@bp.errorhandler(db.DatabaseUnavailable)
def database_unavailable(exc: db.DatabaseUnavailable) -> tuple[Response, int]:
    """Answer 503 while the database is down; the next request tries again."""
    return _error(503, f"database unavailable: {exc}")


@bp.get("/")
def hello() -> Response:
    """Greet."""
    return jsonify({"response": "Hello from Docker!"})


@bp.get("/blogs")
def list_blogs() -> Response:
    """List the stored titles."""
    titles = db.list_titles()
    return jsonify({"response": titles})


@bp.post("/blogs")
def create_blog() -> tuple[Response, int]:
    """Store a title from a JSON body."""
    try:
        title = validate_title(read_json())
    except ValueError as exc:
        return _error(400, str(exc))
    db.add_title(title)
    return jsonify({"response": title}), 201


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Answer 200 when the database answers, 503 when not."""
    db.ping()
    return jsonify({"status": "ok"}), 200
