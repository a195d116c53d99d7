"""`python -m devserver`: parse the command line and serve the app (APP_MODULE), or run a process (--process)."""

from __future__ import annotations

import argparse
import errno
import os
import sys

from . import SOURCE
from .parent import Server
from .watchers import choose


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(
        prog="python -m devserver", description="Serve the app (APP_MODULE: WSGI or ASGI) and reload it on every save."
    )
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--no-debugger", action="store_true", help="no Werkzeug debugger (use with debugpy)")
    parser.add_argument("--process", default="", metavar="MODULE:FUNCTION", help="run this (a worker) instead of serving")
    args = parser.parse_args(argv)
    if os.environ.get("DEVSERVER_DEBUGGER", "1").strip().lower() in ("0", "false", "no", "off"):
        args.no_debugger = True
    os.environ.setdefault("FLASK_DEBUG", "1")
    sys.path.insert(0, str(SOURCE))
    os.chdir(SOURCE)
    try:
        Server(args.host, args.port, args.no_debugger, choose(SOURCE), args.process).run()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise SystemExit(f"devserver: port {args.port} is already in use") from None
        raise


if __name__ == "__main__":
    main()
