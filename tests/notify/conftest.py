"""The notification tests' moto account: the ``cloud`` of tests/conftest.py (trails per region, the
alert topic with an SQS reader) plus the stack's state table and Security Hub enabled, and the
detection time frozen; the ledger's clock, moved by hand."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from aws_support import REGION, TABLE, Account, Cloud
from aws_support import load_event as event
from trailguard import handlers
from trailguard.events import Record, records_from_object
from trailguard.notify import ledger, notice

__all__ = ["REGION", "TABLE", "Cloud", "FakeClock", "event"]

DETECTED_AT = "2024-05-01T03:00:07+00:00"


def records(path: str) -> list[Record]:
    return records_from_object(event(path))


@pytest.fixture
def cloud(cloud: Cloud, account: Account, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    """The handler tests' cloud with the state table and Security Hub, detection time frozen."""
    monkeypatch.setattr(notice, "_now", lambda: DETECTED_AT)
    monkeypatch.setattr(ledger, "FINDING_GRACE_SECONDS", 0.0)  # the race tests set their own
    cloud.env["TRAILGUARD_STATE_TABLE"] = account.state_table()
    account.security_hub()
    return cloud


@dataclass
class FakeClock:
    """The ledger's clock, moved by hand: storms and windows without sleeping."""

    now: float

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def ledgers_on(monkeypatch: pytest.MonkeyPatch, clock: Callable[[], float], *modules: Any) -> None:
    """Every ledger the handler (or ``modules``) opens runs on ``clock``."""
    real = ledger.ledger_for

    def on_clock(config: Any, region: str) -> ledger.Ledger | None:
        return real(config, region, clock)

    monkeypatch.setattr(handlers, "ledger_for", on_clock)
    for module in modules:
        monkeypatch.setattr(module, "ledger_for", on_clock)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A frozen ledger clock starting at the real time (so the store's TTLs and dates agree with it)."""
    fake = FakeClock(time.time())
    ledgers_on(monkeypatch, fake)
    return fake
