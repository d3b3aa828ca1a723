"""The real records of ``tests/data/events`` and their ``MANIFEST.tsv``, for any test area. Pure (no
boto3, no moto); a uniquely named module (``tests`` is on ``pythonpath``)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).parent / "data" / "events"


def manifest(*kinds: str) -> list[dict[str, str]]:
    """The rows of ``MANIFEST.tsv`` whose ``kind`` is one of ``kinds`` (every row if none given)."""
    with (EVENTS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert rows, "MANIFEST.tsv lists no records"
    return [row for row in rows if not kinds or row["kind"] in kinds]


def ids(rows: list[dict[str, str]]) -> list[str]:
    """Test ids for parametrised rows: their file names."""
    return [row["file"] for row in rows]


def column(row: dict[str, str], name: str) -> str | None:
    """A manifest cell, ``None`` for ``-``."""
    value = row[name]
    return None if value == "-" else value


def load(relpath: str) -> Any:
    """A file of ``tests/data/events`` (``"tamper/cloudtrail_stoplogging_stratus.json"``), parsed."""
    return json.loads((EVENTS / relpath).read_text(encoding="utf-8"))


def rows_in(folder: str, *kinds: str) -> list[dict[str, str]]:
    """The rows of ``MANIFEST.tsv`` for the files of one folder (``"tamper"``), of ``kinds`` if given:
    what a test over that folder must have seen (never a count written by hand)."""
    return [row for row in manifest(*kinds) if row["file"].split("/", 1)[0] == folder]


def names(rows: list[dict[str, str]]) -> list[str]:
    """The file names (without their folder) of manifest rows, sorted."""
    return sorted(row["file"].split("/", 1)[1] for row in rows)
