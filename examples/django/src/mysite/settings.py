"""Settings for the Django example: development only, the database from the stack's environment."""

import os

DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
SECRET_KEY = "development-only: this example never runs in production"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "mysite.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
USE_TZ = True


def _password() -> str:
    """The database password, from the stack's secret file."""
    with open(os.environ["MYSQL_PASSWORD_FILE"], encoding="utf-8") as secret:
        return secret.read().strip()


DATABASES = {
    "default": {
        "ENGINE": "mysql.connector.django",
        "HOST": os.environ.get("MYSQL_HOST", "db"),
        "NAME": os.environ.get("MYSQL_DATABASE", "blog"),
        "USER": os.environ.get("MYSQL_USER", "blog"),
        "PASSWORD": _password() if os.environ.get("MYSQL_PASSWORD_FILE") else "",
        "OPTIONS": {"connection_timeout": 3},
        "CONN_MAX_AGE": 0,
    }
}
