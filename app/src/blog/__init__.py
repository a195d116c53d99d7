"""The blog service: a Flask application factory."""

import os
from typing import Any

from flask import Flask

from . import db, views


def _read_secret(path: str | None) -> str | None:
    """Return the stripped contents of a secret file, or None when no path is set."""
    if not path:
        return None
    with open(path, encoding="utf-8") as secret:
        return secret.read().strip()


def config_from_env(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Return the database settings from the environment (passwords from *_FILE)."""
    env = os.environ if environ is None else environ
    password = env.get("MYSQL_PASSWORD") or _read_secret(env.get("MYSQL_PASSWORD_FILE"))
    return {
        "DB_HOST": env.get("MYSQL_HOST", "db"),
        "DB_PORT": int(env.get("MYSQL_PORT", "3306")),
        "DB_NAME": env.get("MYSQL_DATABASE", "blog"),
        "DB_USER": env.get("MYSQL_USER", "blog"),
        "DB_PASSWORD": password or "",
        "DB_CONNECT_TIMEOUT": int(env.get("MYSQL_CONNECT_TIMEOUT", "3")),
    }


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the app; settings come from the environment unless test_config is given."""
    app = Flask(__name__)
    app.config.update(config_from_env() if test_config is None else test_config)
    db.init_app(app)
    app.register_blueprint(views.bp)
    return app
