"""The remediation actions run in ``us-west-2`` (so CreateBucket needs its LocationConstraint): the
``stack`` fixture of tests/conftest.py builds :class:`worlds.RepairStack` there."""

from __future__ import annotations

from typing import Any

import pytest

from aws_support import ACCOUNT, EVENTS, TABLE
from worlds import RepairStack

__all__ = [
    "ACCOUNT",
    "BASELINE_RULES",
    "BUCKET",
    "EVENTS",
    "REGION",
    "TABLE",
    "TRAIL",
    "Stack",
    "tamper_event",
]

Stack = RepairStack
REGION = RepairStack.REGION
TRAIL = RepairStack.TRAIL
BUCKET = RepairStack.BUCKET
BASELINE_RULES = RepairStack.BASELINE_RULES
tamper_event = RepairStack.tamper_event


def remediation_of(message: dict[str, Any]) -> dict[str, Any]:
    """The action's outcome as the published JSON document carries it."""
    found = message["incident"]["remediation"]
    assert isinstance(found, dict)
    return found


@pytest.fixture
def aws_region() -> str:
    return REGION
