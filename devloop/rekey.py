"""`invoke rekey`: set the existing database's passwords to the password files, keeping every row.

For when db/secrets/ was lost (`git clean -fdX`) or changed while the data volume stayed:
the one-off container runs db/rekey.sh on the volume, with the server's grant checks off
and no networking, then the stack starts as before.
"""

from __future__ import annotations

from . import passwords
from .errors import DevloopError
from .runtime import Runtime

SCRIPT = "db/rekey.sh"


def rekey(rt: Runtime) -> None:
    """Make the database volume's users take the passwords in the files (made now if missing)."""
    rt.require_engine()
    volume = rt.data_volume()
    if volume is None:
        raise DevloopError("there is no database volume yet: `invoke up` creates one with the password files")
    for path in passwords.generate(rt.settings.root):
        rt.out(f"rekey: generated {path.relative_to(rt.settings.root)}")
    was_running = rt.running()
    if was_running:
        rt.compose.check(rt.compose.capture("stop"), "stopping the stack")
    script = rt.settings.path(SCRIPT)
    args = ["run", "--rm", "--no-deps", "-T", "--volume", f"{script}:/rekey.sh:ro", "--entrypoint", "sh", "db", "/rekey.sh"]
    result = rt.compose.capture(*args)
    rt.compose.check(result, f"rekeying {volume}")
    rt.out(result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "rekey: done")
    if was_running:
        rt.starter().start(rt.start_timeout, set())
        rt.out("rekey: the stack is running again")
    else:
        rt.out("rekey: `invoke up` starts the stack")
