"""Fixtures every test area may use."""

from __future__ import annotations

from pathlib import Path

import pytest

EVENTS_DIR = Path(__file__).parent / "data" / "events"


@pytest.fixture(scope="session")
def events_dir() -> Path:
    """``tests/data/events``: the real records and their ``MANIFEST.tsv``."""
    return EVENTS_DIR
