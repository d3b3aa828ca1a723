"""What the event-view tests ask of every view: the properties of the one interface."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from trailguard.events import Record, readers


def properties(cls: type = Record) -> list[str]:
    """The public read-only properties of the record interface."""
    return sorted(
        name for name, member in inspect.getmembers(cls) if isinstance(member, property) and name[0] != "_"
    )


def answers(record: Record) -> dict[str, Any]:
    """Every property of the interface, as the record answers it."""
    return {name: getattr(record, name) for name in properties()}


@pytest.fixture(params=["stream", "whole"])
def log_reading(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each log file read by the stream alone, then (with the optional msgspec) whole where it can be:
    a test that uses this holds for both ways of reading (``readers.FAST_LOG_FILE_BYTES``)."""
    if request.param == "stream":
        monkeypatch.setattr(readers, "FAST_LOG_FILE_BYTES", 0)
    elif readers._fast() is None:
        pytest.skip("msgspec (trailguard[fast]) is not installed")
    return str(request.param)
