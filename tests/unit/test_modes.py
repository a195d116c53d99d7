"""Modes: each owns its compose overlays, its published ports and the label its containers carry."""

from __future__ import annotations

import pytest

from devloop import modes
from devloop.errors import DevloopError


def test_each_mode_owns_its_overlays_and_ports() -> None:
    base = ("docker-compose.yml",)
    assert modes.NORMAL.files(base) == base
    assert modes.DEBUG.files(base) == (*base, "compose/debug.yml")
    assert modes.DEBUG_WAIT.files(base) == (*base, "compose/debug.yml", "compose/debug-wait.yml")
    assert modes.DEBUG.env() == {"DEVLOOP_MODE": "debug"}


def test_start_interval_is_added_only_on_engines_that_allow_it() -> None:
    base = ("docker-compose.yml",)
    assert modes.DEBUG.files(base, api=(1, 41)) == (*base, "compose/debug.yml")  # Engine 20.10
    assert modes.DEBUG.files(base, api=(1, 43)) == (*base, "compose/debug.yml")  # Engine 24
    assert modes.DEBUG.files(base, api=(1, 44)) == (*base, "compose/start-interval.yml", "compose/debug.yml")  # Engine 25
    assert modes.NORMAL.files(base, api=(1, 51)) == (*base, "compose/start-interval.yml")


def test_flags_choose_a_mode_and_an_unknown_label_reads_as_normal() -> None:
    assert modes.choose(debug=False) is modes.NORMAL
    assert modes.choose(debug=True) is modes.DEBUG
    assert modes.choose(debug=True, wait=True) is modes.DEBUG_WAIT
    with pytest.raises(DevloopError, match="--wait only makes sense"):
        modes.choose(debug=False, wait=True)
    assert modes.named("debug-wait") is modes.DEBUG_WAIT
    assert modes.named("something else") is modes.NORMAL
