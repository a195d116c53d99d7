"""An ASGI app in a child: served by uvicorn's Server on the socket the parent owns, retired the way the parent
retires WSGI children (stop accepting at once, say so, let the requests under way finish)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any

import uvicorn

QUIET_PATH = os.environ.get("DEVSERVER_QUIET_PATH", "/healthz")  # requests not logged


class Quiet(logging.Filter):
    """Leaves the health check's requests out of the access log (their verdict shows in `invoke status`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.args, tuple) and len(record.args) > 2 and record.args[2] == QUIET_PATH)


class Retiring(uvicorn.Server):
    """uvicorn's server, told to retire through the child's control pipe (any byte)."""

    def __init__(self, config: uvicorn.Config, control: int, ack: int) -> None:
        super().__init__(config)
        self.control, self.ack = control, ack

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start serving, and listen to the parent."""
        await super().startup(sockets=sockets)
        asyncio.get_running_loop().add_reader(self.control, self.retire)

    def retire(self) -> None:
        """Accept nothing more (the next child takes the backlog), say so, then shut down gracefully."""
        asyncio.get_running_loop().remove_reader(self.control)
        for server in self.servers:
            server.close()
        os.write(self.ack, b".")
        self.should_exit = True


def prepare(app: Any) -> uvicorn.Config:
    """uvicorn's configuration for the app, its protocol modules imported (so the parent preloads them too)."""
    config = uvicorn.Config(app, lifespan="auto", timeout_graceful_shutdown=5)
    config.load()
    logging.getLogger("uvicorn.access").addFilter(Quiet())
    return config


def serve(config: uvicorn.Config, listener: socket.socket, control: int, ack: int) -> None:
    """Serve until retired and every request under way has finished."""
    Retiring(config, control, ack).run(sockets=[listener])
