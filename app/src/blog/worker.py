"""The sample worker: a second Python process beside the app (docker-compose.yml, profile `worker`).
It marks each new post as processed, in a table of its own, so what it did shows in the database."""

import signal
import sys
import time
from typing import Any

import mysql.connector

from . import config_from_env

POLL = 0.2  # seconds between two looks for new posts
SCHEMA = "CREATE TABLE IF NOT EXISTS processed (blog_id INT PRIMARY KEY, note VARCHAR(64) NOT NULL)"  # the worker's own
NOTE = "processed"  # what the worker writes beside each post it processed


def process_new(cursor: Any) -> int:
    """Mark the posts not processed yet; return how many."""
    cursor.execute("INSERT INTO processed (blog_id, note) SELECT id, %s FROM blog WHERE id NOT IN (SELECT blog_id FROM processed)", (NOTE,))
    return int(cursor.rowcount)


def main() -> None:
    """Process new posts until told to stop (SIGTERM: the dev server on a save, Docker on `down`)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    cfg = config_from_env()
    conn = mysql.connector.connect(
        host=cfg["DB_HOST"], port=cfg["DB_PORT"], database=cfg["DB_NAME"], user=cfg["DB_USER"], password=cfg["DB_PASSWORD"]
    )
    conn.autocommit = True
    cursor = conn.cursor()
    cursor.execute(SCHEMA)
    print(f"worker: marking new posts as {NOTE!r}", flush=True)
    while True:
        done = process_new(cursor)
        if done:
            print(f"worker: {done} post(s) marked as {NOTE!r}", flush=True)
        time.sleep(POLL)
