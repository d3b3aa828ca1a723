"""The real records of ``tests/data/events`` as the event-view tests read them: by the manifest."""

from __future__ import annotations

import csv
import inspect
import json
from pathlib import Path
from typing import Any

from trailguard.events import Record

EVENTS = Path(__file__).parent.parent / "data" / "events"


def manifest(*kinds: str) -> list[dict[str, str]]:
    """The rows of ``MANIFEST.tsv`` whose ``kind`` is one of ``kinds`` (every row if none given)."""
    with (EVENTS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert rows, "MANIFEST.tsv lists no records"
    return [row for row in rows if not kinds or row["kind"] in kinds]


def ids(rows: list[dict[str, str]]) -> list[str]:
    return [row["file"] for row in rows]


def column(row: dict[str, str], name: str) -> str | None:
    """A manifest cell, ``None`` for ``-``."""
    value = row[name]
    return None if value == "-" else value


def load(relpath: str) -> Any:
    return json.loads((EVENTS / relpath).read_text(encoding="utf-8"))


def properties(cls: type = Record) -> list[str]:
    """The public read-only properties of the record interface."""
    return sorted(
        name for name, member in inspect.getmembers(cls) if isinstance(member, property) and name[0] != "_"
    )


def answers(record: Record) -> dict[str, Any]:
    """Every property of the interface, as the record answers it."""
    return {name: getattr(record, name) for name in properties()}
