"""moto in-process for the handler tests: fake credentials, a topic with an SQS queue to read alerts,
and helpers to create, stop and inspect trails the way the real records name them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from aws_support import (
    ACCOUNT,
    GUARD_ROLE,
    TOPIC_NAME,
    Alerts,
    MotoAccount,
    envelope,
    function_env,
    moto_region,
)
from aws_support import REGION as HANDLER_REGION
from trailguard import aws
from trailguard.events import Record, records_from_object

__all__ = ["GUARD_ROLE", "HANDLER_REGION", "TOPIC_NAME", "moto_region"]


def load_records(path: Path) -> list[Record]:
    return records_from_object(json.loads(path.read_text()))


def guardduty_envelope(finding: Mapping[str, Any]) -> dict[str, Any]:
    """Wrap a bare GuardDuty finding the way EventBridge delivers it (``GuardDuty Finding``)."""
    region = finding.get("Region") or finding.get("region") or HANDLER_REGION
    account = finding.get("AccountId") or finding.get("accountId") or ACCOUNT
    return envelope(
        "GuardDuty Finding",
        "aws.guardduty",
        finding,
        event_id="3b1f6bd2-5e4b-4a41-9a2c-0c6f1d1d2f00",
        account=account,
        region=region,
    )


@dataclass
class Cloud(MotoAccount):
    """The moto account as a test sees it: trails per region, the alert topic and its SQS reader."""

    buckets: set[str] = field(default_factory=set)

    def cloudtrail(self, region: str) -> Any:
        return boto3.client("cloudtrail", region_name=region)

    def create_trail(
        self,
        name: str,
        region: str,
        *,
        multi_region: bool = False,
        logging: bool = True,
        validation: bool = False,
    ) -> str:
        bucket = f"trail-logs-{region}"
        if bucket not in self.buckets:
            s3 = boto3.client("s3", region_name="us-east-1")
            s3.create_bucket(Bucket=bucket)
            self.buckets.add(bucket)
        arn = self.cloudtrail(region).create_trail(
            Name=name,
            S3BucketName=bucket,
            IsMultiRegionTrail=multi_region,
            EnableLogFileValidation=validation,
        )["TrailARN"]
        if logging:
            self.cloudtrail(region).start_logging(Name=name)
        return str(arn)

    def stop(self, name: str, region: str) -> None:
        self.cloudtrail(region).stop_logging(Name=name)
        assert not self.is_logging(name, region)

    def is_logging(self, name: str, region: str) -> bool:
        return bool(self.cloudtrail(region).get_trail_status(Name=name)["IsLogging"])

    def invoke(self, handler: Any, event: Any, region: str = HANDLER_REGION, **extra: str) -> dict[str, Any]:
        """Run a handler with the function's environment bound, as the local cloud's runner does."""
        env = {**self.env, "AWS_REGION": region, "AWS_DEFAULT_REGION": region, **extra}
        with aws.using_environ(env):
            result: dict[str, Any] = handler(event, None)
        return result


@pytest.fixture
def cloud(moto_aws: dict[str, str], alerts: Alerts) -> Cloud:
    env = function_env(
        moto_aws,
        alerts,
        TRAILGUARD_RULE_NAMES="trailguard-api-calls,trailguard-findings",
        TRAILGUARD_FUNCTION_NAMES="trailguard-api-call,trailguard-finding",
    )
    return Cloud(alerts=alerts, env=env)
