"""The database's password files: generated locally on first use, never committed, and never
generated over an existing database (whose users keep the passwords they were created with).
"""

import secrets
from pathlib import Path

from .errors import DevloopError

SECRETS_DIR = "db/secrets"
FILES = ("password.txt", "root-password.txt")
MISMATCH = "the password files do not match the database volume"
REKEY_HINT = "run `invoke rekey` (it sets the database's passwords to the files; no row is lost)"


def missing(root: Path) -> list[str]:
    """Return the names of the password files that do not exist yet."""
    return [name for name in FILES if not (root / SECRETS_DIR / name).exists()]


def generate(root: Path) -> list[Path]:
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


def ensure(root: Path, data_volume: str | None = None) -> list[Path]:
    """Create missing password files, unless a database volume already exists (then fail saying what to do)."""
    gone = missing(root)
    if gone and data_volume:
        raise DevloopError(
            f"{SECRETS_DIR}/ lacks {', '.join(gone)} but the database volume {data_volume} exists, and its users keep "
            f"their old passwords: restore {SECRETS_DIR}/ from a backup, or {REKEY_HINT}"
        )
    return generate(root)


def read(root: Path, name: str) -> str:
    """Return one password file's content."""
    return (root / SECRETS_DIR / name).read_text(encoding="utf-8").strip()
