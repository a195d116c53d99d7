"""What a save the doctor timed proves about the user's own saves, given how the dev server watches /code: on a
local filesystem every save raises an event, so one that arrived speaks for all; on a FUSE or shared-folder view the
doctor's save, written here, may take another road than the editor's, written behind the view."""

from __future__ import annotations

from pathlib import Path

from .. import mounts
from ..findings import Arrival, Check, Watching


def proven(timed: tuple[str, float], way: str, watching: Watching, arrival: Arrival, folder: Path, shown: str) -> Check:
    """The doctor's line for a save through `folder` (`shown` as the user names it) that reached the dev server (`way`:
    how edits reach /code)."""
    how, seconds = timed
    said = f"a save under {shown} reached the dev server in {seconds * 1000:.0f} ms ({way}; {how})"
    if not watching:
        return Check("edits", True, said)  # a dev server from before it said how it watches
    if watching.get("mode") == "inotify":
        return Check("edits", True, f"{said}; {watching['why']}")
    polled = f"the dev server also polls every {watching.get('interval')} s: {watching['why']}"
    real = mounts.behind(watching, folder)
    if real is None:
        not_proved = "not proved: that a save made beyond the mount, where your editor may write, arrives (this machine cannot write there)"
        return Check("edits", True, f"{said}; {polled}; {not_proved}")
    beyond, where = arrival(real), f"a save to {real}, the folder behind {shown} where an editor writes,"
    if isinstance(beyond, tuple):
        return Check("edits", True, f"{where} reached the dev server in {beyond[1] * 1000:.0f} ms ({beyond[0]}); {polled}")
    detail = f"{where} did not reach the dev server: {beyond or 'not within 5 s'} ({polled})"
    return Check("edits", False, detail, "`invoke logs --service app` says how it watches")
