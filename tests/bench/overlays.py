"""The compose overlays the bench runs the alternatives to our dev server with (the bench is not in CI; an e2e case
holds each a valid model on top of docker-compose.yml)."""

FLASK_RUN = ["python", "-m", "flask", "run", "--host", "0.0.0.0", "--port", "5000"]

STOCK = f"""
# (b) The stock Flask reloader: `flask run --debug` (Werkzeug's default reloader), same image and mount.
services:
  app:
    command: {[*FLASK_RUN[:4], "--debug", *FLASK_RUN[4:]]}
"""

STOCK_DEBUG = f"""
# (b) under debugpy, the way VS Code's docs run it: debugpy's CLI around `flask run --debug`.
services:
  app:
    command: {["python", "-m", "debugpy", "--listen", "0.0.0.0:5678", "-m", *FLASK_RUN[2:4], "--debug", "--no-debugger", *FLASK_RUN[4:]]}
"""

SOURCE_IN_IMAGE = """services:
  app:
    image: {image}
    build:
      dockerfile: !reset null  # the app's is app/Dockerfile by path; this overlay's is inline
      dockerfile_inline: |
        FROM {dev_image} AS dev
        COPY --chown=app:app src/ /code/
"""

WATCH = (
    """
# (c) `docker compose watch` with sync+restart, as its docs recommend: source copied into the image,
# no bind mount, a fast stop (init: true). As root: this engine's (20.10) `docker cp`, which sync
# uses, looks a non-root container user up on the host and fails.
"""
    + SOURCE_IN_IMAGE
    + """    user: root
    command: {command}
    init: true
    volumes: !reset []
    develop:
      watch:
        - action: sync+restart
          path: ./app/src
          target: /code
"""
)

REMOTE_WATCH = (
    """
# `docker compose watch` into the same dev server: the source copied into the image (no bind
# mount, none possible on this engine), then each save sent by Compose's watch.
"""
    + SOURCE_IN_IMAGE
    + """    develop:
      watch:
        - action: {action}
          path: ./app/src
          target: /code
"""
)


def watch(project: str) -> str:
    """(c) for a project: its watch image built from its dev image."""
    return WATCH.format(image=f"{project}-app-watch:dev", dev_image=f"{project}-app:dev", command=FLASK_RUN)


def remote_watch(project: str, action: str) -> str:
    """Compose watch on the remote engine for a project, with the given action."""
    return REMOTE_WATCH.format(image=f"{project}-app-watch:dev", dev_image=f"{project}-app:dev", action=action)
