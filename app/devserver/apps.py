"""The user's code, as the dev server finds it: APP_MODULE names the app in the forms users know,
`blog:create_app()` (a factory, called), `myproject.wsgi:application` (Django), `main:app` (FastAPI,
Starlette); a bare module looks for `app`, `application`, then the factories `create_app()` and
`make_app()`, as Flask does. What it speaks, WSGI or ASGI, decides who
serves it. A process (a worker) is named the same way: `blog.worker:main`, called and left to run.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
from typing import Any

DEFAULT_APP = "blog:create_app()"


def app_spec() -> str:
    """The app to serve: APP_MODULE, else the sample blog."""
    return os.environ.get("APP_MODULE", "").strip() or DEFAULT_APP


def load(spec: str) -> Any:
    """Import `module[:attribute]` (`attribute()` is called) and return what it names."""
    module_name, _, expr = spec.partition(":")
    module = importlib.import_module(module_name.strip())
    names = [expr.strip()] if expr.strip() else ["app", "application", "create_app()", "make_app()"]  # as Flask looks
    for name in names:
        try:
            found = functools.reduce(getattr, name.removesuffix("()").split("."), module)
        except AttributeError:
            continue
        return found() if name.endswith("()") else found
    raise ImportError(f"{module_name} has no {' or '.join(names)} (APP_MODULE={spec!r})")


def is_asgi(app: Any) -> bool:
    """Whether an app object speaks ASGI (its call is a coroutine function) rather than WSGI."""
    call = app if inspect.isroutine(app) else getattr(app, "__call__", None)  # noqa: B004 -- the method, to inspect it
    return inspect.iscoroutinefunction(call)


def debug_flask(app: Any) -> Any:
    """Put a Flask app in debug mode as `flask run --debug` does (FLASK_DEBUG): its errors then reach the server."""
    if type(app).__module__.split(".")[0] == "flask":
        from flask.helpers import get_debug_flag

        app.debug = get_debug_flag()
    return app
