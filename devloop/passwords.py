"""The database's password files: generated locally on first use, never committed."""

import secrets
from pathlib import Path

SECRETS_DIR = "db/secrets"
FILES = ("password.txt", "root-password.txt")


def missing(root: Path) -> list[str]:
    """Return the names of the password files that do not exist yet."""
    return [name for name in FILES if not (root / SECRETS_DIR / name).exists()]


def ensure(root: Path) -> list[Path]:
    """Create any missing password file; return the ones created."""
    folder = root / SECRETS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    created = []
    for name in missing(root):
        path = folder / name
        path.write_text(secrets.token_urlsafe(24), encoding="utf-8")
        # Readable by the container's non-root user through the bind mount; the folder
        # (0700) keeps other host users out.
        path.chmod(0o644)
        created.append(path)
    return created
