"""What the event-view tests ask of every view: the properties of the one interface."""

from __future__ import annotations

import inspect
from typing import Any

from trailguard.events import Record


def properties(cls: type = Record) -> list[str]:
    """The public read-only properties of the record interface."""
    return sorted(
        name for name, member in inspect.getmembers(cls) if isinstance(member, property) and name[0] != "_"
    )


def answers(record: Record) -> dict[str, Any]:
    """Every property of the interface, as the record answers it."""
    return {name: getattr(record, name) for name in properties()}
