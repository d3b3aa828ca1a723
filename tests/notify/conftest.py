"""moto in-process for the notification tests: the alert topic with an SQS reader, the stack's state
table (keys ``pk``/``sk``, TTL ``expires_at``, as the template makes it) and Security Hub enabled."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from aws_support import REGION, TABLE, Alerts, MotoAccount, create_state_table, function_env, moto_region
from aws_support import load_event as event
from trailguard import aws, handlers
from trailguard.events import Record, records_from_object
from trailguard.inventory import parse_trail_ref
from trailguard.notify import ledger, notice

__all__ = ["REGION", "TABLE", "FakeClock", "event"]

DETECTED_AT = "2024-05-01T03:00:07+00:00"


def records(path: str) -> list[Record]:
    return records_from_object(event(path))


@dataclass
class Cloud(MotoAccount):
    buckets: set[str] = field(default_factory=set)

    def cloudtrail(self, region: str) -> Any:
        return boto3.client("cloudtrail", region_name=region)

    def trail_for(self, record: Record, *, stopped: bool = True) -> tuple[str, str]:
        """Create (and stop) the trail a record names; returns (name, region)."""
        ref = record.request_parameters.get("name") if record.kind == "cloudtrail" else record.finding_trail
        assert isinstance(ref, str) and ref
        name, arn_region = parse_trail_ref(ref)
        region = moto_region(arn_region, record.region)
        bucket = f"trail-logs-{region}"
        if bucket not in self.buckets:
            boto3.client("s3", region_name=REGION).create_bucket(Bucket=bucket)
            self.buckets.add(bucket)
        existing = {t["Name"] for t in self.cloudtrail(region).describe_trails()["trailList"]}
        if name not in existing:
            self.cloudtrail(region).create_trail(Name=name, S3BucketName=bucket)
        self.cloudtrail(region).start_logging(Name=name)
        if stopped:
            self.cloudtrail(region).stop_logging(Name=name)
        return name, region

    def is_logging(self, name: str, region: str) -> bool:
        return bool(self.cloudtrail(region).get_trail_status(Name=name)["IsLogging"])

    def invoke(self, handler: Any, payload: Any, region: str = REGION, **extra: str) -> dict[str, Any]:
        env = {**self.env, "AWS_REGION": region, "AWS_DEFAULT_REGION": region, **extra}
        with aws.using_environ(env):
            result: dict[str, Any] = handler(payload, None)
        return result


@pytest.fixture
def cloud(moto_aws: dict[str, str], alerts: Alerts, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    monkeypatch.setattr(notice, "_now", lambda: DETECTED_AT)
    create_state_table()
    boto3.client("securityhub", region_name=REGION).enable_security_hub()
    env = function_env(
        moto_aws,
        alerts,
        TRAILGUARD_STATE_TABLE=TABLE,
        TRAILGUARD_RULE_NAMES="trailguard-api-calls,trailguard-findings",
        TRAILGUARD_FUNCTION_NAMES="trailguard-api-call,trailguard-finding",
    )
    return Cloud(alerts=alerts, env=env)


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
