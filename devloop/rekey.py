"""`invoke rekey`: set the existing database's passwords to the password files, keeping every row.

For when db/secrets/ was lost (`git clean -fdX`) or changed while the data volume stayed:
the one-off container runs db/rekey.sh on the volume, with the server's grant checks off
and no networking, then the stack starts as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import passwords
from .errors import DevloopError

if TYPE_CHECKING:
    from .stack import Stack

SCRIPT = "db/rekey.sh"


def rekey(stack: Stack) -> None:
    """Make the database volume's users take the passwords in the files (made now if missing)."""
    stack.require_engine()
    volume = stack.data_volume()
    if volume is None:
        raise DevloopError("there is no database volume yet: `invoke up` creates one with the password files")
    for path in passwords.generate(stack.settings.root):
        stack.out(f"rekey: generated {path.relative_to(stack.settings.root)}")
    was_running = stack.running()
    if was_running:
        stack.compose.check(stack.compose.capture("stop"), "stopping the stack")
    script = stack.settings.path(SCRIPT)
    args = ["run", "--rm", "--no-deps", "-T", "--volume", f"{script}:/rekey.sh:ro", "--entrypoint", "sh", "db", "/rekey.sh"]
    result = stack.compose.capture(*args)
    stack.compose.check(result, f"rekeying {volume}")
    stack.out(result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "rekey: done")
    if was_running:
        stack.starter().start(300, set())
        stack.out("rekey: the stack is running again")
    else:
        stack.out("rekey: `invoke up` starts the stack")
