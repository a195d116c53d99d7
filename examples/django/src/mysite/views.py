"""The blog's views: raw SQL on the stack's MySQL table (the table is the blog's, made by db/init)."""

import json
from typing import Any

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

MAX_TITLE = 255


def query(sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement and return its rows."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []


def unavailable(exc: Exception) -> JsonResponse:
    """503 while the database is down, as the Flask blog answers."""
    return JsonResponse({"error": f"database unavailable: {exc}"}, status=503)


def hello(_request: HttpRequest) -> JsonResponse:
    """Greet."""
    return JsonResponse({"response": "Hello from Docker!"})


@csrf_exempt
def blogs(request: HttpRequest) -> JsonResponse:
    """GET: list the stored titles. POST {"title": ...}: store one."""
    try:
        if request.method == "POST":
            return create(request)
        titles = [row[0] for row in query("SELECT title FROM blog ORDER BY id")]
        return JsonResponse({"response": titles})
    except DatabaseError as exc:
        return unavailable(exc)


def create(request: HttpRequest) -> JsonResponse:
    """Store a title from a JSON body."""
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        body = None
    title = body.get("title") if isinstance(body, dict) else None
    if not isinstance(title, str) or not title.strip() or len(title.strip()) > MAX_TITLE:
        return JsonResponse({"error": f"title must be a non-empty string of at most {MAX_TITLE} characters"}, status=400)
    query("INSERT INTO blog (title) VALUES (%s)", (title.strip(),))
    return JsonResponse({"response": title.strip()}, status=201)


def healthz(_request: HttpRequest) -> JsonResponse:
    """200 when the database answers, 503 when not."""
    try:
        query("SELECT 1")
    except DatabaseError as exc:
        return unavailable(exc)
    return JsonResponse({"status": "ok"})
