"""Every container and volume label devloop reads or sets: Compose's own, and ours (`devloop.*`)."""

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
VOLUME = "com.docker.compose.volume"
CONFIG_HASH = "com.docker.compose.config-hash"  # of the service configuration the container was created from

MODE = "devloop.mode"  # normal, debug or debug-wait: from DEVLOOP_MODE (docker-compose.yml)
EDITS = "devloop.edits"  # how app/src reaches /code: "sync" on an app whose folder is copied in (devloop/carry.py)
SOURCE_ID = "devloop.source-id"  # the token of the bind-mounted source folder: a folder made again recreates the service
RELOAD_SIGNAL = "devloop.reload-signal"  # a service that reloads its code on this signal needs no restart
CARRIED = "devloop.carried"  # a hash of the files carried in as configs: a changed file recreates the service
