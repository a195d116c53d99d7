"""The dev image's server: serves the app from /code (Flask, Django, FastAPI: apps.py) and reloads
it on every save, fast.

Part of the tooling, not of the app (that is src/). A long-lived parent (parent.py) holds the
listening socket and has already imported Flask and the app's dependencies. It keeps a spare
child (child.py) forked ahead of time (and, under debugpy, already attached to the debugger)
that has imported nothing of the user's. On a change the serving child stops accepting (it
finishes the requests it has) and the spare imports the code on disk and serves; then a new
spare is forked. Connections that arrive meanwhile wait in the socket's backlog, so none is
refused and none accepted after the save is answered by the old code.

- Changes (watchers.py): inotify on the source tree only (no polling of sys.path); on mounts
  where inotify does not see the host's writes (Docker Desktop's file sharing, WSL2 drives),
  or where a watch cannot be added (the inotify watch limit), it also polls the tree's .py
  files. DEVSERVER_WATCH=inotify|poll|both|auto (default auto).
- A SyntaxError (or any import error) leaves the server answering 500 with the traceback;
  the next good save is served.
- Under debugpy, each forked child attaches to the debugger by itself (debugpy follows
  fork), so breakpoints keep working after a reload.
- SIGHUP reloads (`invoke reload`); SIGTERM/SIGINT stop.

Usage: python -m devserver [--host H] [--port P] [--no-debugger] [--process MODULE:FUNCTION]
(APP_MODULE names the app; --process runs a worker instead, restarted on every save)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SOURCE = Path(os.environ.get("DEVSERVER_SOURCE", "/code"))


def log(message: str) -> None:
    """Print a line of the server's own."""
    print(f" * devserver: {message}", file=sys.stderr, flush=True)
